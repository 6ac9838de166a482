"""float32 vs mixed_bfloat16 (or mixed_float16) for LegNet: validation r on the real demo rows, and step speed.

Usage (from the repo root)::

    python3 benchmarks/precision.py [--quick] [--policies float32,mixed_bfloat16] [--epochs 8]

Accuracy: a narrowed LegNet (``seq2exp run``'s default widths) trained on the real DREAM demo rows
(``../shared/data/dream_demo/demo_train.txt``: a fixed 80/20 train/validation split, same seed, same batches) under
each policy, in its own process; the validation Pearson r and Spearman rho of the expected bin against the measured
expression. Speed: the full-size LegNet's training and inference steps at ``--batch-size`` under each policy
(``benchmarks/models.py``'s protocol). Each (policy, phase) runs in a fresh process. Last stdout line: one JSON
object with everything measured, and whether ``precision: auto`` should pick the mixed policy on this machine
(``mixed_wins``: faster in both phases and the validation r within ``--max-r-drop`` of float32's).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO.parent / "shared" / "data" / "dream_demo" / "demo_train.txt"
NARROW = {"first": {"filters": 32}, "core": {"block_sizes": [32, 16, 16, 16]}}


def accuracy_child(policy: str, epochs: int, rows: int, batch_size: int, seed: int) -> dict:
    """Train the narrowed LegNet under ``policy`` on the demo rows; validation r/rho of the expected bin."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    import keras
    import numpy as np

    if policy != "float32":
        keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    from seq2exp import models
    from seq2exp.data.encoding import Encoder
    from seq2exp.data.targets import soft_bin_targets
    from seq2exp.evaluation.metrics import pearson_columns, spearman_columns

    sequences, values = [], []
    for line in DEMO.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0]:
            sequences.append(fields[0].upper())
            values.append(float(fields[1]))
    order = np.random.default_rng(0).permutation(len(sequences))[:rows]
    split = int(0.8 * len(order))
    architecture = models.get("autosome")
    config = architecture.config(NARROW)
    encoder = Encoder(config["input"])
    x = np.asarray(encoder.encode([sequences[i] for i in order]))
    y = np.asarray(values, np.float32)[order]
    model = architecture.build(NARROW)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=5e-3, weight_decay=0.01),
                  loss={"bins": keras.losses.KLDivergence()})
    started = time.perf_counter()
    model.fit(x[:split], {"bins": np.asarray(soft_bin_targets(y[:split]))}, batch_size=batch_size, epochs=epochs,
              shuffle=True, verbose=0)
    train_s = time.perf_counter() - started
    predicted = np.asarray(model.predict(x[split:], batch_size=512, verbose=0)["expression"], np.float64)
    measured = y[split:].astype(np.float64)
    return {"policy": policy, "val_pearson": round(float(pearson_columns(predicted, measured)), 4),
            "val_spearman": round(float(spearman_columns(predicted, measured)), 4), "train_rows": split,
            "val_rows": len(order) - split, "epochs": epochs, "train_s": round(train_s, 1),
            "params": int(model.count_params())}


def _child(arguments: list[str], timeout_s: float) -> dict:
    try:
        done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=timeout_s,
                              cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--epochs", type=int, default=None, help="accuracy runs (default 8, quick 1)")
    parser.add_argument("--rows", type=int, default=None, help="demo rows used (default all, quick 1,000)")
    parser.add_argument("--seeds", type=int, default=None, help="training seeds per policy (default 2, quick 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="speed phases (default 256, quick 32)")
    parser.add_argument("--max-r-drop", type=float, default=0.01, help="accuracy tolerance for mixed precision")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["accuracy"], help=argparse.SUPPRESS)
    parser.add_argument("--policy", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.epochs = args.epochs or (1 if args.quick else 8)
    args.rows = args.rows or (1000 if args.quick else 10 ** 9)
    args.seeds = args.seeds or (1 if args.quick else 2)
    args.batch_size = args.batch_size or (32 if args.quick else 256)
    if args.child == "accuracy":
        print(json.dumps(accuracy_child(args.policy, args.epochs, args.rows, 128, args.seed)), flush=True)
        return 0

    started = time.perf_counter()
    policies = [policy for policy in args.policies.split(",") if policy]
    report: dict = {"benchmark": "precision", "policies": policies, "accuracy": {}, "speed": {}}
    for policy in policies:
        runs = [_child([__file__, "--child", "accuracy", "--policy", policy, "--epochs", str(args.epochs),
                        "--rows", str(args.rows), "--seed", str(seed)], 1800) for seed in range(args.seeds)]
        report["accuracy"][policy] = runs
        print(f"{policy}: {[run.get('val_pearson', run.get('error')) for run in runs]}", file=sys.stderr, flush=True)
        if not args.skip_speed:
            speed = {}
            for phase in ("train", "infer"):
                speed[phase] = _child([str(REPO / "benchmarks" / "models.py"), "--child", phase, "--models",
                                       "autosome", "--batch-size", str(args.batch_size), "--dtype", policy,
                                       "--warmup", "1", "--steps", "2" if args.quick else "4",
                                       "--phase-budget-s", "60"], 900)
            report["speed"][policy] = {phase: result.get("seq_per_s", result.get("error"))
                                       for phase, result in speed.items()}
            report["speed"][policy]["train_peak_rss_mib"] = speed["train"].get("peak_rss_mib")
    if "float32" in policies and len(policies) > 1:
        mixed = next(policy for policy in policies if policy != "float32")

        def mean_r(policy: str) -> float | None:
            values = [run["val_pearson"] for run in report["accuracy"][policy] if "val_pearson" in run]
            return round(statistics.mean(values), 4) if values else None

        r32, rmixed = mean_r("float32"), mean_r(mixed)
        faster = None
        if not args.skip_speed:
            s32, smixed = report["speed"]["float32"], report["speed"][mixed]
            faster = all(isinstance(smixed[p], (int, float)) and isinstance(s32[p], (int, float)) and smixed[p] > s32[p]
                         for p in ("train", "infer"))
            report["speedup"] = {p: (round(smixed[p] / s32[p], 2) if isinstance(smixed[p], (int, float)) and
                                     isinstance(s32[p], (int, float)) else None) for p in ("train", "infer")}
        report.update(mixed=mixed, mean_val_pearson={"float32": r32, mixed: rmixed},
                      r_drop=None if r32 is None or rmixed is None else round(r32 - rmixed, 4),
                      mixed_faster=faster,
                      mixed_wins=bool(faster and r32 is not None and rmixed is not None
                                      and r32 - rmixed <= args.max_r_drop))
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
