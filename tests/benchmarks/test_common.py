"""benchmarks/_common.py: the spread of per-pair ratios that models.py and dream_nets.py report, and the step timing."""
from __future__ import annotations

from tests.benchmarks import load_benchmark


def test_ratio_spread_skips_missing_pairs_and_reports_median_min_max_spread():
    common = load_benchmark("_common.py")
    assert common.ratio_spread([1.0, 1.2, None, 1.1]) == {"median": 1.1, "min": 1.0, "max": 1.2,
                                                          "spread_pct": 18.2, "n": 3}
    assert common.ratio_spread([None]) == {}


def test_median_step_seconds_leaves_the_warmup_calls_untimed_and_takes_the_median():
    import time

    common = load_benchmark("_common.py")
    durations = iter([0.3, 0.3, 0.12, 0.0, 0.0])  # two slow warm-up calls, then 120, 0 and 0 ms
    calls = []

    def step():
        calls.append(1)
        time.sleep(next(durations))

    seconds = common.median_step_seconds(step, 2, 3)
    assert len(calls) == 5
    assert seconds < 0.03  # the median of (0.12, 0, 0), not their mean (0.04), and no warm-up call in it
