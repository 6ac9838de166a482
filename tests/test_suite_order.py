"""The default run's order (tests/conftest.py): the long files and classes it hands out first still exist; and a
crashed test process ends the run instead of hanging it (pytest.ini)."""
from __future__ import annotations

import ast
import configparser
import shlex
import subprocess
import sys

from tests.conftest import LONG_SCOPES_FIRST, REPO_ROOT, long_scope_rank


def test_every_long_scope_names_a_test_file_or_class_that_exists():
    for scope in LONG_SCOPES_FIRST:
        path, _, cls = scope.partition("::")
        assert (REPO_ROOT / path).is_file(), scope
        if cls:
            tree = ast.parse((REPO_ROOT / path).read_text())
            assert any(isinstance(node, ast.ClassDef) and node.name == cls for node in tree.body), scope


def test_long_scopes_rank_first_in_their_listed_order():
    first, second = LONG_SCOPES_FIRST[0], LONG_SCOPES_FIRST[1]
    assert long_scope_rank(f"{first}::test_a[x]") == 0
    assert long_scope_rank(f"{second}::test_b") == 1
    assert long_scope_rank("tests/models/test_registry_smoke.py::test_elsewhere") == len(LONG_SCOPES_FIRST)
    assert long_scope_rank(first.replace(".py", "_more.py") + "::test_c") == len(LONG_SCOPES_FIRST)


def test_this_session_runs_the_long_scopes_first(request):
    """``pytest_collection_modifyitems`` sorted the collected tests by :func:`long_scope_rank`."""
    ranks = [long_scope_rank(item.nodeid) for item in request.session.items]
    assert ranks == sorted(ranks)


CRASHING_TESTS = {
    # a test that takes its process down, with a test after it in the same file (one loadscope unit)
    "test_crash.py": "import os, signal\n\ndef test_before():\n    pass\n\ndef test_crash():\n"
                     "    os.kill(os.getpid(), signal.SIGSEGV)\n\ndef test_after():\n    pass\n",
    **{f"test_other_{index}.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n" for index in range(6)},
}


def test_a_crashed_worker_ends_the_run_with_the_suites_options(tmp_path):
    """The suite's own ``addopts`` over a file whose test segfaults: the run ends within a minute, failing and naming
    that test. (Without ``--max-worker-restart 0``, pytest-xdist 3.8 replaces the worker and this run hangs.)"""
    ini = configparser.ConfigParser()
    ini.read(REPO_ROOT / "pytest.ini")
    addopts = shlex.split(ini["pytest"]["addopts"])
    for name, text in CRASHING_TESTS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", *addopts, str(tmp_path)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"the run hung after the crash: {hung.stdout}") from None
    assert result.returncode == 1, result.stdout + result.stderr
    assert "crashed while running 'test_crash.py::test_crash'" in result.stdout, result.stdout
