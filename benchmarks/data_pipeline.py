"""Benchmark the data layer at the challenge's scale: parsing, cache building, tf.data iteration vs LegNet's appetite.

Writes a synthetic DREAM training file shaped like the real one (default 6,739,258 rows, the full training set:
flanked promoters, 82% exactly 110 bp, lengths 87-135, ~58% integer expressions, a few N) in a temporary folder,
then runs each measured part in its own subprocess, so every peak RSS (``ru_maxrss``) belongs to that part alone:

- pipeline (``peak_rss_mib``: parse + cache + iterate, the whole 6.7 M-row pipeline, TensorFlow included):
  ``parse_rows_per_s`` = ``iter_dream_chunks`` over the file (bytes -> code matrices + floats);
  ``cache_rows_per_s`` = ``build_cache`` (parse + packed ``.npy`` arrays + sha256 of the source);
  ``iterate_rows_per_s`` = ``make_dataset`` over the memory-mapped cache with autosome's encoding (one-hot 150 x 6,
  random reverse complement, full shuffle, soft-bin targets, batch 1024, prefetch), consumed in Python.
- read (``read_peak_rss_mib``): ``read_dream`` (the same parse plus one Python string per row) on the first
  ``--read-rows`` rows: the path for prediction inputs, not for training.
- legnet (``legnet_peak_rss_mib``): training steps of the registered ``autosome`` model (LegNet, real size) with
  ``model.train_on_batch`` (AdamW, KL divergence on ``bins``) on batches taken from the same pipeline beforehand;
  one warm-up step (graph building) is not timed, the median timed step gives ``legnet_train_rows_per_s``.
  ``iterate_over_legnet_ratio`` = ``iterate_rows_per_s / legnet_train_rows_per_s`` (goal >= 10: the input pipeline
  never starves training on the same CPU).

    python3 benchmarks/data_pipeline.py [--quick] [--rows N] [--batches B] [--legnet-steps K] [--legnet-batch-size S]

The last stdout line is one JSON object (CONTRACT.md keys: benchmark, rows, parse_rows_per_s, cache_rows_per_s,
iterate_rows_per_s, peak_rss_mib).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seq2exp.data.alphabet import FLANK3, FLANK5  # noqa: E402

FULL_ROWS = 6_739_258
ITERATE_BATCH_SIZE = 1024
_VALUE_WIDTH = 24
_MAX_VARIABLE = 105  # 80 bp + up to 25 more: rows of 87..135 bp with both flanks


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ------------------------------------------------------------------------------------------------ synthetic data
def write_synthetic(path: Path, rows: int, seed: int = 0, block_rows: int = 250_000) -> None:
    """A DREAM file with the real data's shape (see module docstring), built per block with numpy.

    Each block is a byte matrix ``[flank5 | variable | flank3 | TAB | value | NEWLINE]``; a keep-mask drops the unused
    tail of each variable region and value, so the kept bytes in row-major order are exactly the file's lines.
    """
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", np.uint8)
    flank5, flank3 = np.frombuffer(FLANK5.encode(), np.uint8), np.frombuffer(FLANK3.encode(), np.uint8)
    var_start, var_end = len(flank5), len(flank5) + _MAX_VARIABLE
    tab_col = var_end + len(flank3)
    width = tab_col + 1 + _VALUE_WIDTH + 1
    with open(path, "wb") as handle:
        for start in range(0, rows, block_rows):
            n = min(block_rows, rows - start)
            block = np.empty((n, width), np.uint8)
            block[:, :var_start] = flank5
            block[:, var_start:var_end] = letters[rng.integers(0, 4, size=(n, _MAX_VARIABLE), dtype=np.uint8)]
            block[:, var_start:var_end][rng.random((n, _MAX_VARIABLE), dtype=np.float32) < 5e-5] = ord("N")
            block[:, var_end:tab_col] = flank3
            block[:, tab_col] = ord("\t")
            variable_length = 80 + np.where(rng.random(n) < 0.82, 0, rng.integers(-23, 26, size=n))
            values = np.where(rng.random(n) < 0.58, rng.integers(0, 18, size=n).astype(float),
                              np.round(rng.normal(11.15, 2.3, size=n).clip(0, 17), 10))
            text = values.astype(f"S{_VALUE_WIDTH}")  # shortest round-trip repr, e.g. b"12.0", b"9.8163025402"
            block[:, tab_col + 1: width - 1] = text.view(np.uint8).reshape(n, _VALUE_WIDTH)
            block[:, width - 1] = ord("\n")
            keep = np.ones((n, width), bool)
            keep[:, var_start:var_end] = np.arange(_MAX_VARIABLE) < variable_length[:, None]
            keep[:, tab_col + 1: width - 1] = np.arange(_VALUE_WIDTH) < np.char.str_len(text)[:, None]
            handle.write(block[keep].tobytes())


def _autosome_encoder():
    from seq2exp import models
    from seq2exp.data.encoding import Encoder

    return Encoder(models.get("autosome").config()["input"])


# ------------------------------------------------------------------------------------------------ child stages
def stage_pipeline(source: Path, cache_dir: Path, rows: int, batches: int) -> dict:
    """Parse, build the cache, iterate: the whole training-data pipeline in this process."""
    from seq2exp.data.cache import build_cache
    from seq2exp.data.formats import iter_dream_chunks

    started = time.perf_counter()
    parsed = sum(chunk.lengths.size for chunk in iter_dream_chunks(source))
    parse_seconds = time.perf_counter() - started
    if parsed != rows:
        raise RuntimeError(f"parsed {parsed} rows, wrote {rows}")

    started = time.perf_counter()
    cache = build_cache(source, cache_dir, force=True)
    cache_seconds = time.perf_counter() - started
    rss_after_cache = peak_rss_mib()

    import tensorflow as tf  # noqa: F401 - imported here so the figures above exclude it

    from seq2exp.data.datasets import make_dataset

    encoder = _autosome_encoder()
    dataset = make_dataset(cache, encoder, batch_size=ITERATE_BATCH_SIZE, rc_augment=True, repeat=True, target="bins")
    iterator = iter(dataset)
    for _ in range(5):  # warm-up: tracing and the first prefetches
        next(iterator)
    started = time.perf_counter()
    seen = 0
    for _ in range(batches):
        inputs, _targets = next(iterator)
        seen += int(inputs.shape[0])
    iterate_seconds = time.perf_counter() - started
    return {
        "parse_rows_per_s": round(rows / parse_seconds),
        "cache_rows_per_s": round(rows / cache_seconds),
        "iterate_rows_per_s": round(seen / iterate_seconds),
        "iterate_rows": seen,
        "iterate_batch_size": ITERATE_BATCH_SIZE,
        "iterate_input_shape": list(encoder.input_shape),
        "cache_mib": round(sum(p.stat().st_size for p in cache_dir.iterdir()) / 2**20, 1),
        "peak_rss_parse_and_cache_mib": round(rss_after_cache, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def stage_read(source: Path, rows: int) -> dict:
    """``read_dream`` (Python strings per row) on the first ``rows`` rows of ``source``."""
    from seq2exp.data.formats import read_dream

    prefix = source.with_name("read_prefix.txt")
    with open(source, "rb") as src, open(prefix, "wb") as dst:
        for _ in range(rows):
            line = src.readline()
            if not line:
                break
            dst.write(line)
    started = time.perf_counter()
    table = read_dream(prefix)
    seconds = time.perf_counter() - started
    prefix.unlink()
    return {"read_rows": len(table), "read_rows_per_s": round(len(table) / seconds),
            "read_peak_rss_mib": round(peak_rss_mib(), 1)}


def stage_legnet(cache_dir: Path, batch_size: int, steps: int) -> dict:
    """Time ``steps`` training steps of the real-size LegNet (after one warm-up step) on batches of the pipeline."""
    import keras

    from seq2exp import models
    from seq2exp.data.cache import TrainingCache
    from seq2exp.data.datasets import make_dataset

    architecture = models.get("autosome")
    model = architecture.build()
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01),
                  loss={"bins": keras.losses.KLDivergence()})
    dataset = make_dataset(TrainingCache.open(cache_dir), _autosome_encoder(), batch_size=batch_size,
                           rc_augment=True, repeat=True, target="bins")
    batches = list(dataset.take(steps + 1))  # in memory first: the step alone is timed, not the pipeline
    started = time.perf_counter()
    model.train_on_batch(*batches[0])
    warmup_seconds = time.perf_counter() - started
    times = []
    for inputs, targets in batches[1:]:
        started = time.perf_counter()
        model.train_on_batch(inputs, targets)
        times.append(time.perf_counter() - started)
        print(f"  legnet step: {times[-1]:.2f} s", file=sys.stderr, flush=True)
    return {
        "legnet_train_rows_per_s": round(batch_size / statistics.median(times), 2),
        "legnet_batch_size": batch_size,
        "legnet_timed_steps": len(times),
        "legnet_step_s": [round(t, 3) for t in times],
        "legnet_warmup_step_s": round(warmup_seconds, 1),
        "legnet_params": int(model.count_params()),
        "legnet_peak_rss_mib": round(peak_rss_mib(), 1),
    }


def _run_stage(arguments: list[str]) -> dict:
    """Run one stage in a fresh interpreter; its last stdout line is the stage's JSON."""
    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), *arguments], cwd=REPO,
                               stdout=subprocess.PIPE, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"stage {arguments[:2]} failed with exit code {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help=f"rows of the synthetic file (default {FULL_ROWS:,}; quick 200,000)")
    parser.add_argument("--quick", action="store_true", help="a short run (200,000 rows, fewer batches and steps)")
    parser.add_argument("--batches", type=int, help="batches of 1024 to iterate (default 400; quick 60)")
    parser.add_argument("--read-rows", type=int, help="rows for the read_dream figure (default 1,000,000; quick all)")
    parser.add_argument("--legnet-steps", type=int, help="timed LegNet training steps (default 4; quick 2)")
    parser.add_argument("--legnet-batch-size", type=int, default=64, help="LegNet batch size (default %(default)s)")
    parser.add_argument("--skip-legnet", action="store_true", help="leave out the LegNet comparison")
    parser.add_argument("--stage", choices=("pipeline", "read", "legnet"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else FULL_ROWS)
    batches = args.batches or (60 if args.quick else 400)
    read_rows = min(rows, args.read_rows or (rows if args.quick else 1_000_000))
    legnet_steps = args.legnet_steps or (2 if args.quick else 4)

    if args.stage:  # child process
        workdir = Path(args.workdir)
        if args.stage == "pipeline":
            result = stage_pipeline(workdir / "train.txt", workdir / "cache", rows, batches)
        elif args.stage == "read":
            result = stage_read(workdir / "train.txt", read_rows)
        else:
            result = stage_legnet(workdir / "cache", args.legnet_batch_size, legnet_steps)
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="seq2exp-bench-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        write_synthetic(workdir / "train.txt", rows)
        write_seconds = time.perf_counter() - started
        file_mib = round((workdir / "train.txt").stat().st_size / 2**20, 1)
        common = ["--workdir", tmp, "--rows", str(rows), "--batches", str(batches)]
        pipeline = _run_stage(["--stage", "pipeline", *common])
        read = _run_stage(["--stage", "read", *common, "--read-rows", str(read_rows)])
        legnet = {} if args.skip_legnet else _run_stage(
            ["--stage", "legnet", *common, "--legnet-steps", str(legnet_steps),
             "--legnet-batch-size", str(args.legnet_batch_size)])

    result = {"benchmark": "data_pipeline", "rows": rows, "file_mib": file_mib, **pipeline, **read, **legnet}
    if legnet:
        ratio = pipeline["iterate_rows_per_s"] / legnet["legnet_train_rows_per_s"]
        result["iterate_over_legnet_ratio"] = round(ratio, 1)
    result.update(write_synthetic_s=round(write_seconds, 2), cpu_count=os.cpu_count())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
