"""Shared pieces of the benchmarks: the models they time (run from the repo root: ``python benchmarks/X.py``)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def build_graph(name: str):
    """(PredictionGraph, description) for a registry architecture (smoke size, RC TTA) or the 1-layer 'tiny' CNN."""
    import keras

    from seq2exp.data.encoding import Encoder
    from seq2exp.models import registry
    from seq2exp.inference.graph import PredictionGraph

    keras.utils.set_random_seed(0)
    if name == "tiny":
        encoder = Encoder({"kind": "onehot", "length": 110})
        inputs = keras.Input(shape=encoder.input_shape, name="inputs")
        hidden = keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(8, 7, activation="relu")(inputs))
        model = keras.Model(inputs, {"expression": keras.layers.Flatten()(keras.layers.Dense(1)(hidden))})
        return PredictionGraph(model, encoder), "tiny (Conv1D 8x7 + dense), no TTA"
    config = registry.get(name).config(smoke=True)
    model = registry.build(name, smoke=True)
    tta = {"reverse_complement": True}
    return (PredictionGraph(model, Encoder(config["input"]), tta),
            f"{name} (smoke config, {model.count_params()} params), TTA {tta}")


def _tree_rss_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (KiB), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            status = Path(f"/proc/{entry}/status").read_text()
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS MiB of the process tree), sampled every 100 ms."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss_kib(process.pid))
        time.sleep(0.1)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return time.perf_counter() - started, peak / 1024


def paired_pearson_differences(measured, first, second, samples: int = 10_000, seed: int = 0, folds=None):
    """Bootstrap of Pearson r of ``first`` minus that of ``second`` on the same resampled rows (numpy, vectorised):
    ``samples`` differences. ``first`` / ``second``: predictions ``[n]``, or ``[S, n]`` for S seeds (then each side's
    r on a resample is the mean of its seeds' r on those rows). With ``folds`` (a list of row-index arrays), rows are
    resampled within each fold and the difference is the row-weighted mean over folds of each fold's difference.
    The draws: per fold, ``default_rng(seed).integers(0, len(fold), size=(samples, len(fold)))``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    measured = np.asarray(measured, np.float64)
    first, second = (np.atleast_2d(np.asarray(values, np.float64)) for values in (first, second))

    def mean_r(predicted, rows):
        y = measured[rows]
        y = y - y.mean(1, keepdims=True)
        total = np.zeros(len(rows))
        for one in predicted:
            x = one[rows]
            x = x - x.mean(1, keepdims=True)
            total += (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))
        return total / len(predicted)

    groups = [np.arange(len(measured))] if folds is None else [np.asarray(fold) for fold in folds]
    difference = np.zeros(samples)
    for group in groups:
        rows = group[rng.integers(0, len(group), size=(samples, len(group)))]
        difference += (mean_r(first, rows) - mean_r(second, rows)) * len(group) / len(measured)
    return difference


def median_step_seconds(step, warmup: int, steps: int) -> float:
    """The median wall time of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    import statistics

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ratio_spread(values: list) -> dict:
    """Median, min, max and (max - min) / median in percent of per-pair ratios (``None`` entries skipped)."""
    import statistics

    values = [v for v in values if v is not None]
    if not values:
        return {}
    median = statistics.median(values)
    return {"median": round(median, 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "spread_pct": round(100.0 * (max(values) - min(values)) / median, 1), "n": len(values)}
