"""``seq2exp predict --server`` and ``seq2exp batch --server`` are TensorFlow-free clients: the CLI itself (not only
the client library) runs them with TensorFlow's import blocked, and gives the same values as the served model."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.conftest import REPO_ROOT

from .conftest import make_tiny_run, random_promoters

BLOCKED_CLI = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_serving", "keras"):
                raise ImportError(f"{name} is blocked: a --server client must not need it")
    sys.meta_path.insert(0, Block())
    from seq2exp.cli import main
    code = main(sys.argv[1:])
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
    assert not loaded, loaded
    sys.exit(code)
""")


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.export import export_run
    from seq2exp.serving.server import ModelServer

    root = tmp_path_factory.mktemp("clients")
    export_run(make_tiny_run(root / "run", seed=3), root / "models", "tiny", verify=False)
    server = ModelServer(discover_models(root / "models"), port=0, poll_seconds=0).start()
    yield server, root
    server.stop(grace=1)


def _blocked_cli(*argv: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", BLOCKED_CLI, *argv], capture_output=True, text=True, env=env,
                            timeout=300, cwd=REPO_ROOT)
    return result, time.perf_counter() - start


def _expected(root, sequences):
    from seq2exp.inference.runs import load_run

    return load_run(root / "run").prediction_graph().predict(sequences)


def test_predict_server_runs_with_tensorflow_blocked(tiny_server, tmp_path):
    server, root = tiny_server
    sequences = random_promoters(50, seed=11)
    (tmp_path / "in.fa").write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    result, seconds = _blocked_cli("predict", str(tmp_path / "in.fa"), "-o", str(tmp_path / "out.txt"),
                                   "--server", server.target, "--model", "tiny", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    values = np.array([float(line.split("\t")[1]) for line in (tmp_path / "out.txt").read_text().splitlines()])
    np.testing.assert_allclose(values, _expected(root, sequences), atol=1e-5, rtol=0)
    print(f"predict --server, 50 rows, whole process: {seconds:.2f} s")


@pytest.mark.slow  # a Beam DirectRunner pipeline in a fresh process (~20 s)
def test_batch_server_runs_with_tensorflow_blocked(tiny_server, tmp_path):
    pytest.importorskip("apache_beam")
    server, root = tiny_server
    sequences = random_promoters(40, seed=12)
    (tmp_path / "in.txt").write_text("".join(f"{s}\t0\n" for s in sequences))
    result, seconds = _blocked_cli("batch", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"),
                                   "--server", server.target, "--model", "tiny")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for path in sorted((tmp_path / "out").glob("predictions*"))
            for line in path.read_text().splitlines()]
    predicted = dict((s, float(v)) for s, v in rows)
    np.testing.assert_allclose([predicted[s] for s in sequences], _expected(root, sequences), atol=1e-5, rtol=0)
    print(f"batch --server, 40 rows, whole process: {seconds:.2f} s")
