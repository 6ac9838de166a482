"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a missing page, a docstring
mkdocstrings cannot render is an error), and its CLI reference is the command's own parsers."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

from tests.docs.codeblocks import REPO_ROOT, nav_pages


def _parsers(parser: argparse.ArgumentParser, prefix: str) -> dict[str, argparse.ArgumentParser]:
    found = {prefix: parser}
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                found.update(_parsers(sub, f"{prefix} {name}"))
    return found


def test_mkdocs_build_strict_and_cli_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-5000:]
    for page in nav_pages():
        assert page.exists(), page
    cli = unescape(re.sub(r"<[^>]+>", "", (site / "cli" / "index.html").read_text()))
    from seq2exp.cli import build_parser

    # every stage, sub-command and option of the command is on the page, with its help text's first words
    for name, parser in _parsers(build_parser(), "seq2exp").items():
        assert name in cli, name
        for action in parser._actions:  # noqa: SLF001
            for option in action.option_strings:
                assert option in cli, (name, option)
            if action.help and action.help != argparse.SUPPRESS:
                words = " ".join(action.help.split()[:3]).split("%(")[0].strip()
                assert words in " ".join(cli.split()), (name, words)
    api = (site / "api" / "index.html").read_text()
    for name in ("seq2exp.evaluation.metrics.score", "seq2exp.serving.client.Client", "seq2exp.job.run"):
        assert f'id="{name}"' in api, name
