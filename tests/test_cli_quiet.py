"""TensorFlow's C++ start-up noise is hidden on a CPU-only machine unless -v is given."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq2exp import cli

from tests.conftest import REPO_ROOT

NOISE = ("InitializeLog", "cudart_stub", "cuInit", "oneDNN custom operations")
CODE = ("import os, sys; sys.path.insert(0, {repo!r}); {setup}; import tensorflow as tf; "
        "print(int(tf.reduce_sum(tf.ones(3)))); sys.stdout.flush()")


def _run(setup: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_CPP")}
    return subprocess.run([sys.executable, "-c", CODE.format(repo=str(REPO_ROOT), setup=setup)], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.mark.slow  # two TensorFlow start-ups in fresh processes
def test_quiet_start_captures_the_noise_a_plain_import_prints():
    plain = _run("pass")
    quiet = _run("from seq2exp.cli import quiet_tensorflow_start as q; q()")
    assert plain.returncode == 0 and quiet.returncode == 0, quiet.stderr
    assert plain.stdout.strip() == quiet.stdout.strip() == "3"
    if not any(word in plain.stderr for word in NOISE):  # a TensorFlow build that prints nothing here
        return
    assert not any(word in quiet.stderr for word in NOISE), quiet.stderr


def test_main_quiets_tensorflow_stages_unless_verbose(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "quiet_tensorflow_start", lambda: calls.append(True) or "")
    monkeypatch.setattr(cli, "_has_gpu_driver", lambda: False)
    missing = str(tmp_path / "no-run")
    arguments = ["export", missing, "--model-base-path", str(tmp_path / "base"), "--name", "m"]
    assert cli.main(arguments) == 2
    assert calls == [True]
    assert cli.main(["-v", *arguments]) == 2
    assert calls == [True]  # -v: TensorFlow's own messages are shown
    monkeypatch.setattr(cli, "_has_gpu_driver", lambda: True)
    assert cli.main(arguments) == 2
    assert calls == [True]  # a GPU machine: its device messages matter


def test_every_stage_that_starts_tensorflow_is_quieted():
    """A stage whose ``main`` imports TensorFlow is in ``TENSORFLOW_STAGES``; the light ones stay light."""
    import ast
    import importlib.util

    def imports_tensorflow(module_name: str, seen: set) -> bool:
        if module_name in seen or not module_name.startswith("seq2exp"):
            return module_name.split(".")[0] in {"tensorflow", "keras"}
        seen.add(module_name)
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return False
        tree = ast.parse(open(spec.origin, encoding="utf-8").read())
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                     else [])
            if any(imports_tensorflow(name, seen) for name in names):
                return True
        return False

    heavy = {command for command, (module, _) in cli.STAGES.items() if imports_tensorflow(module, set())}
    assert heavy <= cli.TENSORFLOW_STAGES, sorted(heavy - cli.TENSORFLOW_STAGES)
    assert "score" not in cli.TENSORFLOW_STAGES and "simulate" not in cli.TENSORFLOW_STAGES
