"""The DREAM nets beyond yeast: seq2exp against the authors' own PyTorch code on the paper's Drosophila STARR-seq and
human lentiMPRA sample files.

For each benchmark (``../shared/data/dream_benchmarks/``: 1,000 train / val / test rows; Drosophila 249 bp x 2 tasks,
human 230 bp x 1 task with ``_Reversed:`` ids) this trains on ``sample_train``, picks the best epoch by the validation
file and reports Pearson r per task on ``sample_test`` for:

* a 1-6-mer ridge regression (numpy, k-mer frequencies, alpha chosen per task on the validation file: the
  README's yardstick);
* seq2exp's DREAM-RNN / DREAM-CNN / DREAM-Attn through the benchmark configs
  (``training/configs/benchmarks/<benchmark>_dream_<net>.yaml``: the authors' batch size, learning rate, loss and
  best-epoch rule), predicted with each test row's orientation on the is_reverse channel;
* the authors' own PyTorch code for the same nets (``_prixfixe.py``: their ``PrixFixeNet`` composed as the benchmark
  notebook composes it, their ``AutosomeDataProcessor`` / ``SeqDatasetProb`` encoding, their ``AutosomeTrainer``
  with the notebook's learning rate, their best checkpoint), each run in a fresh CPU process.

Both sides train the same epochs with the same seeds (``--seeds N``: seeds 0..N-1; the seed seeds seq2exp's run and
the notebook's ``generator`` + torch's RNG). Per net and task: each side's mean, sd, min and max of test r over the
seeds; a paired bootstrap over test rows (the same resampled rows for both sides; each side's r on a resample is the
mean of its seeds' r) of ours minus theirs with a 95% interval; the verdict "within the seed-to-seed spread" when
|mean(ours) - mean(theirs)| <= 2 x the pooled seed sd; and each side against the ridge (bootstrap interval), with a
per-task note saying whether any network beats the ridge on these 1,000 rows.

``--quick``: DREAM-RNN and DREAM-Attn, narrow on both sides with equal parameter counts (first block 16 filters;
RNN: BiLSTM 8, core 8; Attn: one block), 1 epoch, 2 seeds. DREAM-CNN is left out of ``--quick`` because the authors'
``AutosomeCoreBlock`` has fixed widths (128, 128, 64, 64, 64 x 4 channels, 1M parameters at 249 bp: minutes of CPU an
epoch); ``--quick --nets cnn`` runs it narrow-first-block with that core on both sides. Full: the notebooks' sizes,
``--epochs`` (default 5, the notebooks' demo value; the paper's 80 take hours on a CPU) and ``--seeds`` (default 3).
Run from the repo root; stdout is one JSON line; progress and a table go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from _common import paired_pearson_differences  # noqa: E402
from _prixfixe import SHARED  # noqa: E402  (torch-free at import)

DATA = SHARED / "data" / "dream_benchmarks"
BENCHMARKS = {"drosophila": ("drosophila_starr", "sample_val.txt"), "human": ("human_mpra", "sample_valid.txt")}
NETS = ("rnn", "cnn", "attn")
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)
BOOTSTRAP_SAMPLES = 2000
# --quick widths, the same network on both sides (equal parameter counts but the BiLSTM's second torch bias):
# (the authors' build_net sizes, seq2exp's model-config overrides)
QUICK_SIZES = {
    "rnn": ({"first": 16, "lstm": 8, "core": 8}, {"first": {"filters": 16}, "core": {"lstm_units": 8, "filters": 8}}),
    "cnn": ({"first": 16}, {"first": {"filters": 16}}),
    "attn": ({"attn_first": 16, "blocks": 1}, {"first": {"filters": 16}, "core": {"n_blocks": 1}}),
}


def kmer_features(sequences: list[str], ks=(1, 2, 3, 4, 5, 6)) -> np.ndarray:
    """k-mer frequencies (k-mers with N skipped), one block per k."""
    index = {c: i for i, c in enumerate("ACGT")}
    blocks = []
    for k in ks:
        block = np.zeros((len(sequences), 4 ** k), np.float64)
        for row, sequence in enumerate(sequences):
            codes = np.array([index.get(c, -1) for c in sequence])
            windows = np.lib.stride_tricks.sliding_window_view(codes, k)
            windows = windows[(windows >= 0).all(axis=1)]
            ids = (windows * (4 ** np.arange(k - 1, -1, -1))).sum(axis=1)
            np.add.at(block[row], ids, 1.0)
            block[row] /= max(len(windows), 1)
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


def ridge_predictions(train, val, test) -> tuple[np.ndarray, list[float]]:
    """Test predictions [n, T] of a ridge per task (dual form), alpha chosen on val Pearson; and the alphas."""
    x_train, x_val, x_test = (kmer_features(t.sequences) for t in (train, val, test))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-8
    x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    gram = x_train @ x_train.T
    out, chosen = np.zeros((len(test), train.targets.shape[1])), []
    for task in range(train.targets.shape[1]):
        keep = np.isfinite(train.targets[:, task])
        y = train.targets[keep, task]
        best = (-np.inf, None, None)
        for alpha in ALPHAS:
            dual = np.linalg.solve(gram[np.ix_(keep, keep)] + alpha * np.eye(keep.sum()), y - y.mean())
            weights = x_train[keep].T @ dual
            score = pearson(x_val @ weights + y.mean(), val.targets[:, task])
            if score > best[0]:
                best = (score, alpha, weights)
        out[:, task] = x_test @ best[2] + y.mean()
        chosen.append(best[1])
    return out, chosen


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def spread(values: list[float]) -> dict:
    """Mean, sd (n - 1; null for one seed), min and max of per-seed r."""
    array = np.asarray(values, np.float64)
    return {"mean": float(array.mean()), "sd": float(array.std(ddof=1)) if len(array) > 1 else None,
            "min": float(array.min()), "max": float(array.max()), "per_seed": [float(v) for v in array]}


def interval(measured, first, second, samples: int = BOOTSTRAP_SAMPLES) -> dict:
    """The paired bootstrap of r(first) - r(second) over test rows: point estimate, 95% interval, share <= 0."""
    difference = paired_pearson_differences(measured, first, second, samples=samples, seed=0)
    point = (np.mean([pearson(p, measured) for p in np.atleast_2d(first)])
             - np.mean([pearson(p, measured) for p in np.atleast_2d(second)]))
    return {"difference": float(point), "ci95": [float(np.quantile(difference, 0.025)),
                                                  float(np.quantile(difference, 0.975))],
            "p_not_above_zero": float(np.mean(difference <= 0))}


def verdict(ours: dict, theirs: dict) -> str:
    """"within the seed-to-seed spread" when the means differ by at most 2 pooled seed sds."""
    if ours["sd"] is None or theirs["sd"] is None:
        return "n/a (one seed: no seed-to-seed spread)"
    pooled = float(np.sqrt((ours["sd"] ** 2 + theirs["sd"] ** 2) / 2))
    gap = ours["mean"] - theirs["mean"]
    if abs(gap) <= 2 * pooled:
        return "within the seed-to-seed spread"
    return f"outside the seed-to-seed spread (ours {'better' if gap > 0 else 'worse'} by {abs(gap):.3f}, " \
           f"2 x pooled seed sd {2 * pooled:.3f})"


def net_predictions(config: Path, train_path: Path, val_path: Path, test, out: Path, *, epochs: int, seed: int,
                    sizes: dict | None) -> tuple[np.ndarray, int]:
    """Train a benchmark config (``sizes``: model-config overrides), predict the test rows with their
    orientation flags: ([n, T], trainable parameter count)."""
    import tensorflow as tf

    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.training import train

    overrides = {"epochs": epochs, "seed": seed, **({"model": {"config": sizes}} if sizes else {})}
    run = train(config, data=train_path, val=val_path, out=out, strategy="default", overrides=overrides)
    graph = run.prediction_graph()
    codes, lengths = sequences_to_codes(test.sequences)
    encoder = graph.encoder

    def encode(c, n, **options):
        return encoder.tf_encode(c, n, orientation=tf.constant(test.reverse), **options)

    values = graph.tf_predict_codes(tf.constant(codes), tf.constant(lengths), encode=encode)["expression"].numpy()
    return values.reshape(len(test), -1), int(sum(int(np.prod(w.shape)) for w in run.model.trainable_weights))


def authors_predictions(benchmark: str, net: str, paths: dict, workdir: Path, *, epochs: int, seed: int,
                        sizes: dict | None) -> dict:
    """The authors' code in a fresh process (``_prixfixe.py``): {"predictions": [n, T], "params", "seconds"}."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = {"benchmark": benchmark, "net": net, "epochs": epochs, "seed": seed, "sizes": sizes,
            "workdir": str(workdir), **{key: str(value) for key, value in paths.items()}}
    out = workdir / "result.json"
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "_prixfixe.py"), json.dumps(spec), str(out)],
                            capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"}, cwd=REPO)
    if result.returncode:
        raise RuntimeError(f"the authors' {net} on {benchmark} failed: {result.stderr.strip()[-2000:]}")
    loaded = json.loads(out.read_text())
    loaded["predictions"] = np.asarray(loaded["predictions"], np.float64)
    return loaded


def compare(tasks: list[str], truth: np.ndarray, ridge: np.ndarray, ours: list[np.ndarray],
            theirs: list[np.ndarray]) -> dict:
    """Per task: both sides' seed spread, the paired bootstrap of ours - theirs, each side against the ridge."""
    out = {}
    for j, task in enumerate(tasks):
        keep = np.isfinite(truth[:, j])
        y = truth[keep, j]
        mine, authors = (np.stack([p[keep, j] for p in side]) for side in (ours, theirs))
        row = {"ours": spread([pearson(p, y) for p in mine]), "theirs": spread([pearson(p, y) for p in authors])}
        row["ours_minus_theirs"] = interval(y, mine, authors)
        row["verdict"] = verdict(row["ours"], row["theirs"])
        row["ours_minus_ridge"] = interval(y, mine, ridge[keep, j])
        row["theirs_minus_ridge"] = interval(y, authors, ridge[keep, j])
        out[task] = row
    return out


def ridge_notes(entry: dict) -> dict:
    """Per task: whether any network (ours or theirs, any net) beats the ridge (bootstrap interval above 0)."""
    notes = {}
    for task, ridge_r in entry["kmer_ridge"]["pearson"].items():
        rows = [(f"{side} dream_{net}", entry[f"dream_{net}"]["per_task"][task])
                for net in NETS if f"dream_{net}" in entry for side in ("ours", "theirs")]
        best_name, best = max(rows, key=lambda item: item[1][item[0].split()[0]]["mean"])
        beating = [name for name, row in rows if row[f"{name.split()[0]}_minus_ridge"]["ci95"][0] > 0]
        notes[task] = (f"{', '.join(beating)} beat the ridge (r {ridge_r:.3f})" if beating else
                       f"no network beats the k-mer ridge (r {ridge_r:.3f}) on 1,000 training rows: the best, "
                       f"{best_name}, has mean r {best[best_name.split()[0]]['mean']:.3f}")
    return notes


def table(results: dict) -> str:
    """A human-readable table of the results (stderr)."""
    lines = [f"{'benchmark':10} {'task':20} {'model':11} {'ours r (sd)':>15} {'theirs r (sd)':>15} "
             f"{'ours-theirs [95% CI]':>26}  verdict"]
    for name, entry in results["benchmarks"].items():
        for task in entry["tasks"]:
            lines.append(f"{name:10} {task:20} {'ridge':11} {entry['kmer_ridge']['pearson'][task]:15.3f}")
            for net in NETS:
                if f"dream_{net}" not in entry:
                    continue
                row = entry[f"dream_{net}"]["per_task"][task]

                def cell(side):
                    sd = row[side]["sd"]
                    return f"{row[side]['mean']:.3f} ({'-' if sd is None else f'{sd:.3f}'})"

                d = row["ours_minus_theirs"]
                lines.append(f"{'':10} {'':20} {'dream_' + net:11} {cell('ours'):>15} {cell('theirs'):>15} "
                             f"{d['difference']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]  {row['verdict']}")
            lines.append(f"{'':10} {'':20} note: {entry['notes'][task]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="narrow DREAM-RNN and DREAM-Attn on both sides, 1 epoch, 2 seeds")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for both sides (default 5; --quick 1)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 for both sides (default 3; --quick 2)")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--nets", nargs="+", default=None, choices=list(NETS),
                        help="default: all three (--quick: rnn attn)")
    args = parser.parse_args(argv)
    from seq2exp.data.formats import read_table
    from seq2exp.training.config import load_config

    epochs = args.epochs or (1 if args.quick else 5)
    nets = args.nets or (["rnn", "attn"] if args.quick else list(NETS))
    seeds = list(range(args.seeds or (2 if args.quick else 3)))
    results: dict = {"benchmark": "dream_benchmarks", "quick": args.quick, "epochs": epochs, "seeds": seeds,
                     "bootstrap_samples": BOOTSTRAP_SAMPLES, "benchmarks": {}}
    started = time.perf_counter()
    config_dir = REPO / "training" / "configs" / "benchmarks"
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.benchmarks:
            folder, val_name = BENCHMARKS[name]
            paths = {"train": DATA / folder / "sample_train.txt", "val": DATA / folder / val_name,
                     "test": DATA / folder / "sample_test.txt"}
            spec = load_config(config_dir / f"{name}_dream_rnn.yaml")["data"]["table"]
            train_t, val_t, test_t = (read_table(paths[k], spec) for k in ("train", "val", "test"))
            tasks = train_t.target_names
            ridge, alphas = ridge_predictions(train_t, val_t, test_t)
            entry = {"tasks": tasks, "kmer_ridge": {"pearson": {t: pearson(ridge[:, j], test_t.targets[:, j])
                                                                for j, t in enumerate(tasks)}, "alphas": alphas}}
            print(f"{name} kmer_ridge: " + ", ".join(f"{t} r={v:.3f}" for t, v in
                                                     entry["kmer_ridge"]["pearson"].items()), file=sys.stderr)
            for net in nets:
                theirs_sizes, our_sizes = QUICK_SIZES[net] if args.quick else (None, None)
                ours, theirs, timing = [], [], {"ours_s": [], "theirs_s": []}
                for seed in seeds:
                    t0 = time.perf_counter()
                    predicted, our_params = net_predictions(
                        config_dir / f"{name}_dream_{net}.yaml", paths["train"], paths["val"], test_t,
                        Path(tmp) / f"{name}_{net}_{seed}", epochs=epochs, seed=seed, sizes=our_sizes)
                    ours.append(predicted)
                    timing["ours_s"].append(round(time.perf_counter() - t0, 1))
                    t0 = time.perf_counter()
                    authors = authors_predictions(name, net, paths, Path(tmp) / f"{name}_{net}_{seed}_authors",
                                                  epochs=epochs, seed=seed, sizes=theirs_sizes)
                    theirs.append(authors["predictions"])
                    timing["theirs_s"].append(round(time.perf_counter() - t0, 1))
                    print(f"{name} dream_{net} seed {seed}: " + ", ".join(
                        f"{t} ours r={pearson(ours[-1][:, j], test_t.targets[:, j]):.3f} "
                        f"theirs r={pearson(theirs[-1][:, j], test_t.targets[:, j]):.3f}"
                        for j, t in enumerate(tasks)) + f" ({timing['ours_s'][-1]} s / {timing['theirs_s'][-1]} s)",
                        file=sys.stderr, flush=True)
                entry[f"dream_{net}"] = {"per_task": compare(tasks, test_t.targets, ridge, ours, theirs),
                                         "ours_params": our_params, "theirs_params": authors["params"], **timing}
            entry["notes"] = ridge_notes(entry)
            results["benchmarks"][name] = entry
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(table(results), file=sys.stderr)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
