"""Every fenced ``bash`` and ``python`` block of the README and docs/ is executed (see ``codeblocks`` for the
directives). The pages run in reading order in one temporary workspace that holds small inputs under the names
the docs use (``train.txt``: 300 real demo rows, ``val.txt``, ``demo_train.txt``, ``test_sequences.txt``, the real
``test_subset_ids/``) and links to the repository's ``training/`` and ``benchmarks/`` (the docs are read in a clone). Ports 8500/8501 become free
ports; a ``seq2exp serve ... &`` line is followed by a wait for its port, and background jobs end with the block.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEMO_DIR, require_shared
from tests.docs.wait_port import wait_port
from tests.docs.codeblocks import REPO_ROOT, SHELL_LANGUAGES, CodeBlock, all_blocks, documents, extract_blocks

BLOCKS = all_blocks()
_WORKSPACES: dict[str, Path] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workspace(block: CodeBlock, root: Path) -> Path:
    if "docs" in _WORKSPACES:
        return _WORKSPACES["docs"]
    folder = root / "workspace"
    folder.mkdir(parents=True)
    demo = require_shared(DEMO_DIR / "demo_train.txt").read_text().splitlines(keepends=True)
    (folder / "train.txt").write_text("".join(demo[:300]))
    (folder / "val.txt").write_text("".join(demo[300:400]))
    (folder / "demo_train.txt").write_text("".join(demo))
    (folder / "test_sequences.txt").write_text("".join(line.split("\t")[0] + "\n" for line in demo[400:440]))
    (folder / "test_sequences.fa").write_text("".join(f">demo{i}\n" + line.split("\t")[0] + "\n"
                                                      for i, line in enumerate(demo[400:440])))
    (folder / "test_subset_ids").symlink_to(DEMO_DIR / "test_subset_ids")
    for name in ("training", "benchmarks"):
        (folder / name).symlink_to(REPO_ROOT / name)
    _WORKSPACES["docs"] = folder
    return folder


def _shell_script(code: str) -> str:
    out = ["set -eo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT"]
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        command = [line]
        while command[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        text = "\n".join(command)
        out.append(text)
        if re.match(r"\s*seq2exp serve\b", text) and re.search(r"&\s*(#.*)?$", text):
            ports = [m.group(2) for m in re.finditer(r"--(port|rest-port)[ =](\d+)", text)] or ["8500"]
            out += [f"{sys.executable} -m tests.docs.wait_port {port} 180" for port in ports]
        i += 1
    return "\n".join(out) + "\n"


def _run(block: CodeBlock, workspace: Path) -> subprocess.CompletedProcess:
    code = block.runnable_code()
    ports = {"8500": str(_free_port()), "8501": str(_free_port())}
    code = re.sub(r"\b(8500|8501)\b", lambda m: ports[m.group(1)], code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
               MPLBACKEND="Agg")
    for command in block.before:
        subprocess.run(["bash", "-c", command], cwd=workspace, env=env, check=True, timeout=block.timeout)
    server = None
    if block.server:
        argv = [sys.executable, "-c", "import sys; from seq2exp.cli import main; sys.exit(main())", "serve",
                *shlex.split(block.server), "--port", ports["8500"], "--rest-port", ports["8501"]]
        server = subprocess.Popen(argv, cwd=workspace, env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(workspace / "_server.log", "w"))
    try:
        if server is not None:
            assert wait_port(int(ports["8500"]), 180) and wait_port(int(ports["8501"]), 30), \
                (workspace / "_server.log").read_text()[-3000:]
        return _run_block(block, code, workspace, env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(60)


def _run_block(block: CodeBlock, code: str, workspace: Path, env: dict) -> subprocess.CompletedProcess:
    if block.language in SHELL_LANGUAGES:
        script = workspace / "_block.sh"
        script.write_text(_shell_script(code))
        argv = ["bash", str(script)]
    else:
        script = workspace / "_block.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    return subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True, timeout=block.timeout)


def _params():
    for block in BLOCKS:
        if block.language not in SHELL_LANGUAGES | {"python"}:
            continue
        marks = [pytest.mark.slow] if block.slow else []
        if block.skip:
            marks.append(pytest.mark.skip(reason=f"not executed: {block.skip}"))
        yield pytest.param(block, id=block.id, marks=marks)


@pytest.fixture(scope="session")
def docs_workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("docs")


@pytest.mark.parametrize("block", list(_params()))
def test_code_block(block: CodeBlock, docs_workspace: Path) -> None:
    workspace = _workspace(block, docs_workspace)
    result = _run(block, workspace)
    assert result.returncode == 0, (
        f"{block.id} failed (exit {result.returncode})\n--- block ---\n{block.runnable_code()}"
        f"--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-5000:]}")


def test_directives_parse_and_every_page_is_found() -> None:
    """Every page parses (a bad directive is an error), each skip has a reason, replacements match."""
    assert (REPO_ROOT / "README.md") in documents()
    for path in documents():
        for block in extract_blocks(path):
            if block.language in SHELL_LANGUAGES | {"python"}:
                block.runnable_code()


def test_extractor_reads_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- docs-test: slow; replace: a => b;\n  before: touch x -->\n```bash\necho a\n```\n\n"
                    "```python\nprint(1)\n```\n<!-- docs-test: skip: needs a TPU -->\n~~~sh\nexit 1\n~~~\n")
    first, second, third = extract_blocks(page)
    assert (first.slow, first.replace, first.before, first.runnable_code()) == (True, [("a", "b")], ["touch x"],
                                                                               "echo b\n")
    assert (second.language, second.slow, second.skip, second.line) == ("python", False, None, 9)
    assert third.skip == "needs a TPU" and not third.executed
    shutil.rmtree(tmp_path)


def test_serve_page_rest_block_works_after_a_second_export(tmp_path: Path) -> None:
    """docs/serve.md's REST block (a server on ``--model-base-path models``) answers after dream was exported twice,
    as it is by export.md and deployment.md: ``--model-base-path`` serves only the newest version, so a block that
    pins version 1 gets 404 (the user walkthrough's failure). Tiny exports stand in for the docs' models."""
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import make_tiny_run

    run = make_tiny_run(tmp_path / "run", seed=1)
    for _ in range(2):
        export_run(run, tmp_path / "models", "dream", verify=False)
    (block,) = [b for b in extract_blocks(REPO_ROOT / "docs" / "serve.md") if "/versions/" in b.code]
    assert block.server == "--model-base-path models"
    result = _run(block, tmp_path)
    assert result.returncode == 0, f"{block.id}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert '"version":"2"' in result.stdout
