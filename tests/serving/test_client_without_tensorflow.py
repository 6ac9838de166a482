"""The client needs no TensorFlow: grpcio + protobuf + numpy only."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

CLIENT_SCRIPT = textwrap.dedent("""
    import sys
    from seq2exp.serving.client import Client
    target, sequences = sys.argv[1], sys.argv[2:]
    with Client(target, "tiny") as client:
        values = client.predict(sequences)
        assert client.status()[0]["state"] == "AVAILABLE"
        assert client.metadata()["signatures"]["serving_default"]["inputs"]["sequences"]["dtype"] == "DT_STRING"
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tensorflow_serving", "keras"))
    assert not loaded, loaded
    print(" ".join(repr(float(v)) for v in values))
""")

BLOCK_TENSORFLOW = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_serving", "keras"):
                raise ImportError(f"{name} is blocked: the client must not need it")
    sys.meta_path.insert(0, Block())
""")


def _run_client(python: str, server, sequences, prelude: str = "") -> np.ndarray:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([python, "-c", prelude + CLIENT_SCRIPT, server.target, *sequences],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return np.array([float(v) for v in result.stdout.split()])


def test_client_imports_and_predicts_with_tensorflow_blocked(server, loaded_runs, sequences):
    values = _run_client(sys.executable, server, sequences[:25], BLOCK_TENSORFLOW)
    expected = loaded_runs["tiny"].prediction_graph().predict(sequences[:25])
    np.testing.assert_allclose(values, expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_client_in_a_fresh_venv_without_tensorflow(tmp_path, server, loaded_runs, sequences):
    """`python3 -m venv` + `pip install grpcio protobuf numpy` (the [client] extra), then talk to the server."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "grpcio", "protobuf", "numpy"], check=True, timeout=600)
    check = subprocess.run([python, "-c", "import tensorflow"], capture_output=True)
    assert check.returncode != 0, "the venv must not have TensorFlow"
    values = _run_client(python, server, sequences[:25])
    expected = loaded_runs["tiny"].prediction_graph().predict(sequences[:25])
    np.testing.assert_allclose(values, expected, atol=1e-5, rtol=0)
