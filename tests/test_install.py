"""A plain (non-editable) install works outside the repository: the package is copied, installed into a fresh
virtual environment, and used from an empty folder, as a newcomer would.

The venv sees the system site-packages (``--system-site-packages``: TensorFlow and the other dependencies are not
downloaded again) and gets seq2exp with ``pip install --no-deps --no-build-isolation`` from a copy of the working
tree (tracked and untracked, not ignored, files), so the installed package holds exactly what setup.py ships."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seq2exp.cli import STAGES

from tests.conftest import REPO_ROOT


def _copy_tree(destination: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO_ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())


@pytest.mark.slow  # a venv, a pip install and a smoke training in fresh processes (~60-90 s on 2 busy cores)
def test_a_plain_install_trains_a_recipe_and_answers_help_from_an_empty_folder(tmp_path, demo_train):
    timings = {}
    start = time.perf_counter()
    source, venv, empty = tmp_path / "source", tmp_path / "venv", tmp_path / "empty"
    _copy_tree(source)
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python, command = str(venv / "bin" / "python"), str(venv / "bin" / "seq2exp")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
                   check=True, env=env, cwd=empty, timeout=600, capture_output=True)
    timings["install"] = time.perf_counter() - start

    def run(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([command, *argv], cwd=empty, env=env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, (argv, result.stderr[-3000:])
        return result

    where = subprocess.run([python, "-c", "import seq2exp; print(seq2exp.__file__)"], cwd=empty, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the installed copy, not the repository or an editable one

    listed = run("configs", "list").stdout
    assert listed.startswith("auth ") and "\nautosome " in listed and "\nkmer_ridge " in listed
    assert run("configs", "show", "autosome").stdout.startswith("# Autosome.org")
    for stage in ["", *STAGES]:
        text = run(*([stage] if stage else []), "--help").stdout
        assert text.startswith(f"usage: seq2exp {stage}".rstrip()), (stage, text[:200])
    assert "3,369,937" in run("models").stdout

    start = time.perf_counter()
    trained = run("train", "autosome", "--smoke", "--data", str(demo_train), "--out", "run", "--quiet")
    timings["train_smoke"] = time.perf_counter() - start
    assert '"architecture": "autosome"' in trained.stdout
    assert (empty / "run" / "run.json").is_file() and (empty / "run" / "model.keras").is_file()
    assert sorted(p.name for p in empty.iterdir()) == ["run"]  # nothing else written to the working folder
    print("first-hour timings (s):", {k: round(v, 1) for k, v in timings.items()})
