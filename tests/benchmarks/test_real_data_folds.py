"""benchmarks/real_data.py's cross-validation pieces: the fold files partition the real demo rows with their
values' text kept, and the within-fold paired bootstrap matches a direct scipy computation on the same resamples."""
from __future__ import annotations


import numpy as np
import pytest
from scipy.stats import pearsonr

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def real_data():
    return load_benchmark("real_data.py")


def test_folds_partition_the_rows_and_keep_their_text(real_data, demo_dir, tmp_path):
    source = demo_dir / "demo_train.txt"
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    folds = real_data.write_folds(source, 5, tmp_path)
    held = np.concatenate([held_out for *_, held_out in folds])
    assert sorted(held.tolist()) == list(range(len(lines)))  # every row held out exactly once
    for train_file, val_file, held_out in folds:
        train_lines, val_lines = train_file.read_text().splitlines(), val_file.read_text().splitlines()
        assert val_lines == [lines[i] for i in held_out]  # byte-for-byte lines: "12" stays an integer singleton
        assert sorted(train_lines + val_lines) == sorted(lines)  # the rest of the rows train, none twice
    assert [f[2].tolist() for f in real_data.write_folds(source, 5, tmp_path / "again")] == [
        f[2].tolist() for f in folds]  # seeded


def test_within_fold_bootstrap_matches_scipy(real_data):
    rng = np.random.default_rng(3)
    measured = rng.normal(size=300)
    first, second = measured + rng.normal(scale=0.8, size=300), measured + rng.normal(scale=1.2, size=300)
    folds = [np.arange(0, 120), np.arange(120, 300)]
    result = real_data.paired_bootstrap(measured, first, second, samples=200, seed=11, folds=folds)
    replay = np.random.default_rng(11)  # the same draws, scored by scipy
    difference = np.zeros(200)
    for fold in folds:
        rows = fold[replay.integers(0, len(fold), size=(200, len(fold)))]
        difference += [(pearsonr(first[r], measured[r])[0] - pearsonr(second[r], measured[r])[0]) * len(fold) / 300
                       for r in rows]
    assert result["margin_ci95"] == pytest.approx([np.quantile(difference, 0.025), np.quantile(difference, 0.975)],
                                                  abs=1e-12)
    assert result["p_autosome_not_better"] == pytest.approx(np.mean(difference <= 0))
    assert result["margin_ci95"][0] > 0  # first is the better predictor here
