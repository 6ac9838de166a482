"""The command line a newcomer meets: a closed pipe ends quietly, every flag says its default, typos get a
"did you mean", and TensorFlow-free paths stay TensorFlow-free."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq2exp import cli

from tests.conftest import REPO_ROOT

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_into_a_closed_pipe(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``seq2exp ARGV | head -0``, deterministically: stdout is a pipe whose reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "seq2exp.cli", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, env=ENV, cwd=REPO_ROOT)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("stage", [None, *cli.STAGES])
def test_help_into_a_closed_pipe_ends_without_a_traceback(stage):
    result = run_into_a_closed_pipe(*([stage] if stage else []), "--help")
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode in (0, 141)  # 0: argparse itself swallows a failed write of a long help text


def test_configs_list_into_a_closed_pipe():
    result = run_into_a_closed_pipe("configs", "list")
    assert result.returncode == 141 and result.stderr == ""


def test_score_json_into_a_closed_pipe(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    sequences = ["".join(row) for row in np.array(list("ACGT"))[rng.integers(0, 4, size=(40, 20))]]
    truth = tmp_path / "truth.txt"
    truth.write_text("".join(f"{s}\t{v:.3f}\n" for s, v in zip(sequences, rng.normal(size=40))))
    (tmp_path / "pred.txt").write_text("".join(f"{s}\t{v:.3f}\n" for s, v in zip(sequences, rng.normal(size=40))))
    result = run_into_a_closed_pipe("score", "--predictions", str(tmp_path / "pred.txt"), "--truth", str(truth),
                                    "--json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_models_json_into_a_closed_pipe():
    result = run_into_a_closed_pipe("models", "--json")
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert result.returncode == 141
