"""Benchmark the data layer: DREAM parsing, training-cache building and tf.data iteration.

Writes a synthetic DREAM training file shaped like the real one (flanked 110-bp promoters, 82% exactly 110 bp,
lengths 87-135, ~58% integer expressions, a few N), then times:

- ``parse_rows_per_s``: ``iter_dream_chunks`` (bytes -> code matrices + floats; what the cache builder runs);
- ``read_rows_per_s``: ``read_dream`` (the same, plus Python strings);
- ``cache_rows_per_s``: ``build_cache`` (parse + memory-mapped arrays + sha256 of the source);
- ``iterate_rows_per_s``: ``make_dataset`` over the cache with autosome's encoding (one-hot 150 x 6, random reverse
  complement, shuffled, batch 1024), consumed in Python.

``peak_rss_mib`` is the process's peak resident memory over the whole run (TensorFlow included);
``peak_rss_parse_and_cache_mib`` the peak after parsing and building the cache (no Python strings), and
``peak_rss_before_tf_mib`` after ``read_dream`` too (one Python string per row), both before TensorFlow is imported.

    python3 benchmarks/data_pipeline.py [--rows N] [--quick]

The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seq2exp.data.alphabet import FLANK3, FLANK5  # noqa: E402
from seq2exp.data.cache import build_cache  # noqa: E402
from seq2exp.data.formats import iter_dream_chunks, read_dream  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_synthetic(path: Path, rows: int, seed: int = 0) -> None:
    """A DREAM file with the real data's shape (see module docstring), written in blocks."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    flank5, flank3 = FLANK5.encode(), FLANK3.encode()
    with open(path, "wb") as handle:
        for start in range(0, rows, 200_000):
            n = min(200_000, rows - start)
            variable = letters[rng.integers(0, 4, size=(n, 80 + 25))]
            variable[rng.random((n, 105)) < 0.00005] = ord("N")
            delta = np.where(rng.random(n) < 0.82, 0, rng.integers(-23, 26, size=n))
            values = np.where(rng.random(n) < 0.58, rng.integers(0, 18, size=n).astype(float),
                              np.round(rng.normal(11.15, 2.3, size=n).clip(0, 17), 10))
            lines = [flank5 + variable[i, : 80 + int(delta[i])].tobytes() + flank3 + b"\t" + repr(float(values[i])).encode()
                     for i in range(n)]
            handle.write(b"\n".join(lines) + b"\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="rows of the synthetic file (default 2,000,000; quick 200,000)")
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--batches", type=int, help="batches to iterate (default 300; quick 60)")
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    batches = args.batches or (60 if args.quick else 300)
    batch_size = 1024

    with tempfile.TemporaryDirectory(prefix="seq2exp-bench-") as tmp:
        source = Path(tmp) / "train.txt"
        started = time.perf_counter()
        write_synthetic(source, rows)
        write_seconds = time.perf_counter() - started
        file_mib = round(source.stat().st_size / 2**20, 1)

        started = time.perf_counter()
        parsed = sum(chunk.lengths.size for chunk in iter_dream_chunks(source))
        parse_seconds = time.perf_counter() - started
        assert parsed == rows

        started = time.perf_counter()
        cache = build_cache(source, Path(tmp) / "cache", force=True)
        cache_seconds = time.perf_counter() - started
        rss_after_cache = peak_rss_mib()

        started = time.perf_counter()
        table = read_dream(source)
        read_seconds = time.perf_counter() - started
        assert len(table) == rows
        del table

        rss_before_tf = peak_rss_mib()

        import tensorflow as tf  # noqa: F401 - imported here so the numbers above exclude it

        from seq2exp.data.encoding import Encoder
        from seq2exp.data.pipeline import make_dataset

        encoder = Encoder({"length": 150, "pad": "plasmid_left", "trim": "left", "rc_channel": True,
                           "singleton_channel": True})
        dataset = make_dataset(cache, encoder, batch_size=batch_size, rc_augment=True, repeat=True, target="bins")
        iterator = iter(dataset)
        for _ in range(5):  # warm-up: tracing and the first prefetches
            next(iterator)
        started = time.perf_counter()
        seen = 0
        for _ in range(batches):
            inputs, _ = next(iterator)
            seen += int(inputs.shape[0])
        iterate_seconds = time.perf_counter() - started

    result = {
        "benchmark": "data_pipeline",
        "rows": rows,
        "file_mib": file_mib,
        "parse_rows_per_s": round(rows / parse_seconds),
        "read_rows_per_s": round(rows / read_seconds),
        "cache_rows_per_s": round(rows / cache_seconds),
        "iterate_rows_per_s": round(seen / iterate_seconds),
        "iterate_batch_size": batch_size,
        "iterate_input_shape": list(encoder.input_shape),
        "peak_rss_parse_and_cache_mib": round(rss_after_cache, 1),
        "peak_rss_before_tf_mib": round(rss_before_tf, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "write_synthetic_s": round(write_seconds, 2),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
