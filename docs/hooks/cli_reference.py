"""MkDocs hook: the CLI reference page is generated from the ``seq2exp`` command's own argparse parsers at build
time, so it cannot drift from the code. ``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook
replaces it with every stage's ``--help`` (and each sub-command's). ``python3 docs/hooks/cli_reference.py`` prints
the generated Markdown.
"""
from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"
WIDTH = 110


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its sub-parsers here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help().rstrip() + "\n"


def cli_reference_markdown() -> str:
    """Markdown of ``seq2exp --help`` and of every stage's (and sub-command's) ``--help``."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)  # argparse wraps to the terminal width: fix it for a stable page
    try:
        from seq2exp.cli import build_parser

        top = build_parser()
        parts = ["## seq2exp\n", "```text\n" + _help(top) + "```\n"]
        for stage, parser in _subparsers(top).items():
            parts += [f"## seq2exp {stage}\n", "```text\n" + _help(parser) + "```\n"]
            for command, sub in _subparsers(parser).items():
                parts += [f"### seq2exp {stage} {command}\n", "```text\n" + _help(sub) + "```\n"]
        return "\n".join(parts)
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - MkDocs hook signature
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference_markdown())
    return markdown


if __name__ == "__main__":
    print(cli_reference_markdown())
