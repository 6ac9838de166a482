"""The DREAM nets beyond yeast: the paper's Drosophila STARR-seq and human lentiMPRA sample files.

For each benchmark (``../shared/data/dream_benchmarks/``: 1,000 train / val / test rows) this trains on
``sample_train``, picks by ``sample_val`` and reports Pearson r per task on ``sample_test`` for:

* a 1-6-mer ridge regression (numpy, k-mer frequencies, alpha chosen per task on the validation file: the
  README's yardstick);
* seq2exp's DREAM-RNN / DREAM-CNN / DREAM-Attn through the benchmark configs
  (``training/configs/benchmarks/<benchmark>_dream_<net>.yaml``, the authors' batch size, learning rate, loss),
  predicted with each test row's orientation on the is_reverse channel, as the authors' notebooks predict.

``--quick``: smoke-size nets (the architectures' smoke configs), 2 epochs, one seed. Full: the configs' sizes and
``--epochs`` (default 5, the notebooks' demo value; the paper's 80 take hours on a CPU) over ``--seeds``.
A paired bootstrap over test rows compares each net with the ridge (share of resamples where the net's r is higher).
The authors' own PyTorch code is not run here (no torch in this environment).
Run from the repo root; the last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dream_benchmarks"
BENCHMARKS = {"drosophila": ("drosophila_starr", "sample_val.txt"), "human": ("human_mpra", "sample_valid.txt")}
NETS = ("rnn", "cnn", "attn")
ALPHAS = (1.0, 10.0, 100.0, 1000.0, 10000.0)


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


def paired_bootstrap(a: np.ndarray, b: np.ndarray, truth: np.ndarray, n: int = 1000, seed: int = 0) -> float:
    """Share of row resamples in which predictions ``a`` correlate better with ``truth`` than ``b``."""
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(n):
        rows = rng.integers(0, len(truth), len(truth))
        wins += pearson(a[rows], truth[rows]) > pearson(b[rows], truth[rows])
    return wins / n


def net_predictions(config: Path, train_path: Path, val_path: Path, test, out: Path, *, quick: bool, epochs: int,
                    seed: int) -> np.ndarray:
    """Train a benchmark config, predict the test rows with their orientation flags: [n, T]."""
    import tensorflow as tf

    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.training import train

    run = train(config, data=train_path, val=val_path, out=out, smoke=quick, strategy="default",
                overrides={"epochs": epochs, "seed": seed, **({"steps_per_epoch": None} if quick else {})})
    graph = run.prediction_graph()
    codes, lengths = sequences_to_codes(test.sequences)
    encoder = graph.encoder

    def encode(c, n, **options):
        return encoder.tf_encode(c, n, orientation=tf.constant(test.reverse), **options)

    values = graph.tf_predict_codes(tf.constant(codes), tf.constant(lengths), encode=encode)["expression"].numpy()
    return values.reshape(len(test), -1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-size nets, 2 epochs, one seed")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), choices=list(BENCHMARKS))
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    args = parser.parse_args()
    from seq2exp.data.formats import read_table
    from seq2exp.training.config import load_config

    epochs, seeds = (2, [0]) if args.quick else (args.epochs, args.seeds)
    results: dict = {"quick": args.quick, "epochs": epochs, "seeds": seeds, "benchmarks": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.benchmarks:
            folder, val_name = BENCHMARKS[name]
            paths = {"train": DATA / folder / "sample_train.txt", "val": DATA / folder / val_name,
                     "test": DATA / folder / "sample_test.txt"}
            config_dir = Path("training/configs/benchmarks")
            spec = load_config(config_dir / f"{name}_dream_rnn.yaml")["data"]["table"]
            train_t, val_t, test_t = (read_table(paths[k], spec) for k in ("train", "val", "test"))
            tasks = train_t.target_names
            ridge, alphas = ridge_predictions(train_t, val_t, test_t)
            entry = {"tasks": tasks, "kmer_ridge": {"pearson": {t: pearson(ridge[:, j], test_t.targets[:, j])
                                                                for j, t in enumerate(tasks)}, "alphas": alphas}}
            for net, seed in product(args.nets, seeds):
                t0 = time.perf_counter()
                predicted = net_predictions(config_dir / f"{name}_dream_{net}.yaml", paths["train"], paths["val"],
                                            test_t, Path(tmp) / f"{name}_{net}_{seed}", quick=args.quick,
                                            epochs=epochs, seed=seed)
                row = entry.setdefault(f"dream_{net}", {"pearson": {t: [] for t in tasks},
                                                        "p_beats_ridge": {t: [] for t in tasks}, "seconds": []})
                for j, task in enumerate(tasks):
                    row["pearson"][task].append(pearson(predicted[:, j], test_t.targets[:, j]))
                    row["p_beats_ridge"][task].append(paired_bootstrap(predicted[:, j], ridge[:, j],
                                                                       test_t.targets[:, j]))
                row["seconds"].append(round(time.perf_counter() - t0, 1))
                print(f"{name} dream_{net} seed {seed}: " + ", ".join(
                    f"{t} r={row['pearson'][t][-1]:.3f}" for t in tasks), flush=True)
            print(f"{name} kmer_ridge: " + ", ".join(f"{t} r={v:.3f}" for t, v in
                                                     entry["kmer_ridge"]["pearson"].items()), flush=True)
            results["benchmarks"][name] = entry
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
