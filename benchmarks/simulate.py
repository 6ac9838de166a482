"""Benchmark of the simulator's training library: rows/s and peak RSS at the challenge's 6,739,258 rows.

Run from the repository root: ``python3 benchmarks/simulate.py [--quick] [--rows N] [--workers W] [--test]``.
The last stdout line is one JSON object: benchmark, rows, seconds, rows_per_s, peak_rss_mib (+ details).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seq2exp.simulate.core import FULL_TRAIN_SIZE, write_test_set, write_training_library  # noqa: E402

QUICK_ROWS = 200_000


def _peak_rss_mib() -> tuple[float, float]:
    """(this process, largest child process) peak resident set size in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows")
    parser.add_argument("--rows", type=int, default=None, help=f"training rows (default {FULL_TRAIN_SIZE:,})")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs available)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", action="store_true", help="also time the full 71,103-sequence test set")
    parser.add_argument("--out", default=None, help="keep the files in this folder (default: a temporary one)")
    args = parser.parse_args()
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_TRAIN_SIZE)
    workers = args.workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="seq2exp-simulate-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        cpu_started = os.times()
        seconds = write_training_library(out / "train.txt", rows, args.seed, workers=workers)
        cpu = os.times()
        cpu_seconds = (cpu.user + cpu.system + cpu.children_user + cpu.children_system
                       - cpu_started.user - cpu_started.system - cpu_started.children_user
                       - cpu_started.children_system)
        result = {
            "benchmark": "simulate",
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "workers": workers,
            "cpu_seconds": round(cpu_seconds, 1),
            "file_mib": round((out / "train.txt").stat().st_size / 2 ** 20, 1),
        }
        if args.test:
            test_started = time.perf_counter()
            write_test_set(out, 71103, args.seed)
            result["test_set_seconds"] = round(time.perf_counter() - test_started, 2)
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
        own, children = _peak_rss_mib()
        result["peak_rss_mib"] = round(max(own, children), 1)
        result["main_peak_rss_mib"] = round(own, 1)
        result["worker_peak_rss_mib"] = round(children, 1)
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
