"""benchmarks/_common.py: the spread of per-pair ratios that models.py and dream_nets.py report."""
from __future__ import annotations

from tests.benchmarks import load_benchmark


def test_ratio_spread_skips_missing_pairs_and_reports_median_min_max_spread():
    common = load_benchmark("_common.py")
    assert common.ratio_spread([1.0, 1.2, None, 1.1]) == {"median": 1.1, "min": 1.0, "max": 1.2,
                                                          "spread_pct": 18.2, "n": 3}
    assert common.ratio_spread([None]) == {}
