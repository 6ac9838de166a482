"""Benchmark of the offline scoring: bootstrap ranking of many models at the real test set's size.

Synthetic truth and predictions (10 models of different quality) over 71,103 test indices with the real subset
structure (the challenge's subset CSVs from ../shared when present, plus 44,340 synthetic SNV pairs, whose CSV is not
public; otherwise every subset is synthesised at the real sizes). Times ``bootstrap_ranks`` (exact within-sample
Spearman, the default, and the ``global`` approximation) and, as the baseline, the challenge's own per-subset
functions from ``../shared/reference/prixfixe/evaluation.py`` on the first samples of the *same* bootstrap,
extrapolated to all samples; the scores of those samples are compared too.

It also times the whole ``seq2exp score`` command (a fresh process: start-up, reading the files, 8 subsets + "all",
private split = public leaderboard items excluded) against the challenge's ``evaluation.py`` run the way its authors
ran it (a fresh process calling ``evaluate_predictions`` in a folder with its hard-coded ``data/`` layout), both on
the same files written for the full 71,103-row test set (``cli_*`` keys; their scores are compared too).

Run from the repo root: ``python3 benchmarks/scoring.py [--quick]``. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
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


SUBSET_FILES = {"high": "high_exp_seqs.csv", "low": "low_exp_seqs.csv", "yeast": "yeast_seqs.csv",
                "random": "all_random_seqs.csv", "challenging": "challenging_seqs.csv", "SNVs": "all_SNVs_seqs.csv",
                "motif_perturbation": "motif_perturbation_seqs.csv", "motif_tiling": "motif_tiling_seqs.csv"}
LEADERBOARD_FILES = {"high": "high_exp_indices.json", "low": "low_exp_indices.json", "yeast": "yeast_exp_indices.json",
                     "random": "random_exp_indices.json", "challenging": "challenging_exp_indices.json",
                     "SNVs": "SNVs_exp_indices.json", "motif_perturbation": "motif_perturbation_exp_indices.json",
                     "motif_tiling": "motif_tiling_exp_indices.json"}


def write_challenge_layout(folder: Path, data: ScoringData, model: int, public_fraction: float = 0.13) -> dict:
    """The challenge script's ``data/`` layout (truth file, subset CSVs, public leaderboard JSONs) + a predictions file
    in DREAM test order; ``public_fraction`` of every subset is public (the private split scores the rest)."""
    rng = np.random.default_rng(5)
    root = folder / "data"
    (root / "test_subset_ids").mkdir(parents=True)
    (root / "public_leaderboard_ids").mkdir()
    letters = np.array(list("ACGT"))
    sequences = ["".join(row) for row in letters[rng.integers(0, 4, size=(data.truth.size, 20))]]
    truth_path = root / "filtered_test_data_with_MAUDE_expression.txt"
    truth_path.write_text("".join(f"{seq}\t{value!r}\n" for seq, value in zip(sequences, data.truth.tolist())))
    predictions_path = folder / "predictions.txt"
    predictions_path.write_text("".join(f"{seq}\t{value!r}\n"
                                        for seq, value in zip(sequences, data.predictions[model].tolist())))
    for name in SUBSET_NAMES[1:]:
        items = data.subsets[name]
        if name in PAIR_SUBSETS:
            lines = [",alt_tag,ref_tag,alt_sequence,ref_sequence,alt_pos,ref_pos,alt_exp,ref_exp"]
            lines += [f"{i},a{a},r{r},ACGT,ACGT,{a},{r},," for i, (a, r) in enumerate(items.tolist())]
        else:
            lines = [",tag,sequence,pos,exp"] + [f"{i},t{v},ACGT,{v}," for i, v in enumerate(items.tolist())]
        (root / "test_subset_ids" / SUBSET_FILES[name]).write_text("\n".join(lines) + "\n")
        public = items[rng.random(len(items)) < public_fraction]
        if name in PAIR_SUBSETS:
            content = {f"{a},{r}": [data.truth[a], data.truth[r]] for a, r in public.tolist()}
        else:
            content = {str(i): data.truth[i] for i in public.tolist()}
        (root / "public_leaderboard_ids" / LEADERBOARD_FILES[name]).write_text(json.dumps(content))
    return {"truth": truth_path, "predictions": predictions_path, "subsets": root / "test_subset_ids",
            "public": root / "public_leaderboard_ids"}


def cli_comparison(data: ScoringData, reference_timeout_s: float, repeats: int = 3) -> dict:
    """Whole ``seq2exp score`` command vs the challenge's ``evaluation.py`` (fresh processes, same files)."""
    result: dict = {}
    # as a user's Python runs: bytecode cached (a PYTHONDONTWRITEBYTECODE=1 shell would recompile seq2exp's modules
    # on every call, ~60 ms here); the first of the repeats writes the cache, the minimum is taken
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryDirectory(prefix="seq2exp-score-bench-") as tmp:
        paths = write_challenge_layout(Path(tmp), data, model=0)
        command = [sys.executable, "-m", "seq2exp.cli", "score", "--predictions", str(paths["predictions"]),
                   "--truth", str(paths["truth"]), "--subsets", str(paths["subsets"]),
                   "--exclude-indices", str(paths["public"]), "--json"]
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
            times.append(time.perf_counter() - started)
            if done.returncode:
                return {"cli_error": done.stderr.strip()[-300:]}
        ours = json.loads(done.stdout)
        result["cli_seconds"] = round(min(times), 3)
        result["cli_seconds_all"] = [round(t, 3) for t in times]
        if not REFERENCE.exists():
            return result
        script = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import evaluation; "
                  "values = [float(line.split('\\t')[1]) for line in open(sys.argv[2])]; "
                  "evaluation.evaluate_predictions(np.array(values), discard_public_leaderboard_indices=True)")
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-c", script, str(REFERENCE.parent), str(paths["predictions"])],
                                  capture_output=True, text=True, cwd=tmp, timeout=reference_timeout_s, env=env)
        except subprocess.TimeoutExpired:
            result["cli_reference_seconds"] = f"> {reference_timeout_s} (timed out)"
            result["cli_speedup"] = f"> {round(reference_timeout_s / min(times), 1)}"
            return result
        reference_seconds = time.perf_counter() - started
        if done.returncode:
            result["cli_reference_error"] = done.stderr.strip()[-300:]
            return result
        pearson = float(re.search(r"Pearson Score: (\S+)", done.stdout).group(1))
        spearman = float(re.search(r"Spearman Score: (\S+)", done.stdout).group(1))
        result.update(cli_reference_seconds=round(reference_seconds, 2),
                      cli_speedup=round(reference_seconds / min(times), 1),
                      cli_max_abs_score_difference=max(abs(pearson - ours["pearson_score"]),
                                                       abs(spearman - ours["spearman_score"])))
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
    parser.add_argument("--skip-cli", action="store_true", help="do not time the whole CLI vs evaluation.py")
    parser.add_argument("--reference-timeout-s", type=float, default=900.0,
                        help="stop the challenge's evaluation.py after this (reported as a lower bound)")
    args = parser.parse_args()
    if args.quick:
        args.models, args.rows, args.bootstraps, args.reference_samples = 3, 20_000, 200, 5
    data, source = synthetic_problem(args.rows, args.models)
    cli = {} if args.skip_cli else cli_comparison(data, args.reference_timeout_s)
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
    result.update(cli)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
