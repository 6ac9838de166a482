"""Benchmark of the offline scoring: bootstrap ranking of many models at the real test set's size.

Synthetic truth and predictions (10 models of different quality) over 71,103 test indices with the real subset
structure (the challenge's subset CSVs from ../shared when present, plus 44,340 synthetic SNV pairs, whose CSV is not
public; otherwise every subset is synthesised at the real sizes). Times ``bootstrap_ranks`` (exact within-sample
Spearman, the default, and the ``global`` approximation) and, as the baseline, the challenge's own per-subset
functions from ``../shared/reference/prixfixe/evaluation.py`` on the first samples of the *same* bootstrap,
extrapolated to all samples; the scores of those samples are compared too.

Run from the repo root: ``python3 benchmarks/scoring.py [--quick]``. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from seq2exp.evaluation.bootstrap import bootstrap_ranks, sample_blocks  # noqa: E402
from seq2exp.evaluation.metrics import ScoringData, score_data  # noqa: E402
from seq2exp.evaluation.subsets import PAIR_SUBSETS, SUBSET_NAMES, SUBSET_WEIGHTS  # noqa: E402

SHARED = Path(os.environ.get("SEQ2EXP_SHARED", REPO.parent / "shared"))
SUBSET_DIR = SHARED / "data" / "dream_demo" / "test_subset_ids"
REFERENCE = SHARED / "reference" / "prixfixe" / "evaluation.py"
REAL_SIZES = {"high": 968, "low": 997, "yeast": 997, "random": 6349, "challenging": 1953, "SNVs": 44340,
              "motif_perturbation": 3287, "motif_tiling": 2624}


def synthetic_problem(rows: int, models: int, seed: int = 0) -> tuple[ScoringData, str]:
    """Truth, ``models`` predictions of decreasing quality, and subsets shaped like the real test set."""
    rng = np.random.default_rng(seed)
    subsets: dict[str, np.ndarray] = {}
    source = "synthetic"
    if SUBSET_DIR.is_dir() and rows >= 71103:
        from seq2exp.data.formats import read_test_subsets

        subsets = read_test_subsets(SUBSET_DIR)
        source = "real CSVs + synthetic SNVs"
    used = np.unique(np.concatenate([items.ravel() for items in subsets.values()])) if subsets else np.zeros(0, int)
    free = rng.permutation(np.setdiff1d(np.arange(rows), used))
    cursor = 0
    for name, size in REAL_SIZES.items():
        if name in subsets:
            continue
        size = min(size, max(2, int(size * rows / 71103)))
        if name in PAIR_SUBSETS:
            alt = free[cursor:cursor + size]
            cursor += size
            ref = rng.choice(free, size=alt.size)  # refs shared between pairs, as in the real trajectories
            ref = np.where(ref == alt, free[-1], ref)
            subsets[name] = np.stack([alt, ref], axis=1)
        else:
            subsets[name] = np.sort(free[cursor:cursor + size])
            cursor += size
    truth = rng.normal(11.0, 2.5, size=rows)
    noise = np.linspace(1.0, 2.5, models)
    predictions = np.stack([truth + rng.normal(0, level, size=rows) for level in noise])
    subsets["all"] = np.arange(rows)
    data = ScoringData(truth, predictions, [f"model{i + 1}" for i in range(models)],
                       {name: subsets[name] for name in SUBSET_NAMES if name in subsets})
    return data, source


def load_reference():
    """The challenge's evaluation module (read-only, from ../shared), or ``None`` when absent."""
    if not REFERENCE.exists():
        return None
    spec = importlib.util.spec_from_file_location("dream_reference_evaluation", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_sample_scores(reference, data: ScoringData, keep: np.ndarray) -> np.ndarray:
    """[models, 2] Pearson/Spearman scores of one sample with the challenge's functions (as its script calls them)."""
    lists = {}
    for name, items in data.subsets.items():
        if name in PAIR_SUBSETS:
            lists[name] = [tuple(pair) for pair in items[keep[items[:, 0]]].tolist()]
        else:
            lists[name] = items[keep[items]].tolist()
    truth = data.truth
    result = np.zeros((len(data.names), 2))
    for model in range(len(data.names)):
        expressions = data.predictions[model]
        pearson, spearman, total = 0.0, 0.0, 0.0
        for name in SUBSET_NAMES:
            if name in PAIR_SUBSETS:
                r, rho = reference.calculate_diff_correlations(lists[name], expressions, truth)
            else:
                r, rho = reference.calculate_correlations(lists[name], expressions, truth)
            weight = SUBSET_WEIGHTS[name]
            pearson += weight * r ** 2
            spearman += weight * rho
            total += weight
        result[model] = pearson / total, spearman / total
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 models x 20,000 rows x 200 bootstraps")
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rows", type=int, default=71103)
    parser.add_argument("--bootstraps", type=int, default=10_000)
    parser.add_argument("--reference-samples", type=int, default=20,
                        help="bootstrap samples to run the challenge's script on (extrapolated to all)")
    parser.add_argument("--skip-global", action="store_true", help="do not time the global-rank approximation")
    args = parser.parse_args()
    if args.quick:
        args.models, args.rows, args.bootstraps, args.reference_samples = 3, 20_000, 200, 5
    data, source = synthetic_problem(args.rows, args.models)
    started = time.perf_counter()
    for row in range(len(data.names)):
        score_data(data, row)
    score_seconds = time.perf_counter() - started

    started, cpu_started = time.perf_counter(), time.process_time()
    exact = bootstrap_ranks(data, n_samples=args.bootstraps, seed=1, spearman="exact", return_samples=True)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    seconds_global = None
    if not args.skip_global:
        started, cpu_started = time.perf_counter(), time.process_time()
        approx = bootstrap_ranks(data, n_samples=args.bootstraps, seed=1, spearman="global", return_samples=True)
        seconds_global, cpu_global = time.perf_counter() - started, time.process_time() - cpu_started
        global_spearman_error = float(np.nanmax(np.abs(approx["samples"]["spearman"] -
                                                       exact["samples"]["spearman"])))
        top_agreement = float(np.mean(np.argmax(approx["samples"]["spearman"], axis=1) ==
                                      np.argmax(exact["samples"]["spearman"], axis=1)))

    reference = load_reference()
    reference_seconds = per_sample = reference_cpu_seconds = None
    max_difference = None
    if reference is not None and args.reference_samples > 0:
        count = min(args.reference_samples, args.bootstraps)
        columns = exact["samples"]["columns"]  # test index of each sample-mask column
        # the same samples as bootstrap_ranks(seed=1): replay its block generator, keep the first `count`
        masks = []
        for _first, sampled in sample_blocks(columns.size, args.bootstraps, 0.1, 1, exact["block_size"]):
            masks.extend(sampled[: count - len(masks)])
            if len(masks) >= count:
                break
        differences = []
        elapsed = cpu_elapsed = 0.0
        for number, mask in enumerate(masks):
            keep = np.zeros(data.truth.size, bool)
            keep[columns[mask]] = True
            sink = io.StringIO()
            started, cpu_started = time.perf_counter(), time.process_time()
            with redirect_stdout(sink):
                scores = reference_sample_scores(reference, data, keep)
            elapsed += time.perf_counter() - started
            cpu_elapsed += time.process_time() - cpu_started
            mine = np.stack([exact["samples"]["pearson"][number], exact["samples"]["spearman"][number]], axis=1)
            differences.append(np.abs(scores - mine).max())
        per_sample = elapsed / len(masks)
        reference_seconds = per_sample * args.bootstraps
        reference_cpu_seconds = cpu_elapsed / len(masks) * args.bootstraps
        max_difference = float(max(differences))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {
        "benchmark": "scoring",
        "models": args.models,
        "rows": args.rows,
        "bootstraps": args.bootstraps,
        "subsets": source,
        "seconds": round(seconds, 3),
        "spearman": "exact",
        "cpu_seconds": round(cpu_seconds, 3),
        "score_all_models_seconds": round(score_seconds, 3),
        "reference_seconds": None if reference_seconds is None else round(reference_seconds, 1),
        "reference_cpu_seconds": None if reference_cpu_seconds is None else round(reference_cpu_seconds, 1),
        "reference_samples_timed": args.reference_samples if reference_seconds is not None else 0,
        "reference_seconds_per_sample": None if per_sample is None else round(per_sample, 4),
        "speedup": None if reference_seconds is None else round(reference_seconds / seconds, 1),
        "max_abs_score_difference_vs_reference": max_difference,
        "cpu_count": os.cpu_count(),
        "load_average_1min": None if load is None else round(load, 2),
    }
    if seconds_global is not None:
        result.update({
            "seconds_global_ranks": round(seconds_global, 3),
            "cpu_seconds_global_ranks": round(cpu_global, 3),
            "speedup_global_ranks": None if reference_seconds is None else round(reference_seconds / seconds_global, 1),
            "global_ranks_max_spearman_score_error": round(global_spearman_error, 5),
            "global_ranks_same_spearman_winner_fraction": top_agreement,
        })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
