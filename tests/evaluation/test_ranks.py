"""Numpy average ranks against scipy's ``rankdata`` (the independent reference)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from seq2exp.evaluation.metrics import average_ranks, spearman_columns


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
