"""Numpy average ranks against scipy's ``rankdata`` (the independent reference), and a cheap scoring start-up."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from seq2exp.evaluation.metrics import average_ranks, spearman_columns

from .conftest import REPO_ROOT


@pytest.mark.parametrize("seed", range(5))
def test_average_ranks_equal_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        rows, cols = int(rng.integers(0, 60)), int(rng.integers(1, 4))
        values = rng.integers(0, int(rng.integers(1, 12)), size=(rows, cols)).astype(float)
        if rows and rng.random() < 0.5:
            values += rng.normal(size=values.shape) * (rng.random(values.shape) < 0.5)
        assert np.array_equal(average_ranks(values, axis=0), rankdata(values, axis=0))
        assert np.array_equal(average_ranks(values.T, axis=1), rankdata(values.T, axis=1))
        assert np.array_equal(average_ranks(values[:, 0]), rankdata(values[:, 0]))


def test_spearman_columns_equal_scipy():
    rng = np.random.default_rng(3)
    y = np.round(rng.normal(size=500), 1)  # many ties
    x = np.round(y[:, None] + rng.normal(size=(500, 3)), 1)
    expected = [spearmanr(x[:, j], y)[0] for j in range(3)]
    np.testing.assert_allclose(spearman_columns(x, y), expected, rtol=0, atol=1e-12)


def test_score_cli_start_up_does_not_import_scipy_or_tensorflow():
    code = ("import sys; from seq2exp.cli import build_parser; build_parser(); "
            "import seq2exp.evaluation.metrics, seq2exp.evaluation.bootstrap; "
            "print(sorted(m for m in ('scipy', 'tensorflow', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
