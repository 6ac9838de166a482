"""The Prix Fixe DREAM nets: seq2exp's Keras models against the authors' own PyTorch code, same shapes and batch.

Run from the repository root: ``python3 benchmarks/dream_nets.py [--quick] [--nets rnn,cnn,attn]
[--shapes drosophila,human] [--batch-size 32]``. For each net and benchmark shape (Drosophila: 249 bp x 2 tasks;
human: 230 bp x 1 task; 4 one-hot channels + is_reverse) each side trains and predicts in its own fresh process:

- the authors: their ``PrixFixeNet`` from ``../shared/reference/prixfixe_benchmarks/<shape>/prixfixe`` built with
  the benchmark notebook's arguments (``_prixfixe.build_net``, as ``dream_benchmarks.py`` builds it), trained with
  their own ``train_step`` (summed per-task MSE) and AdamW + OneCycleLR as their ``AutosomeTrainer`` does,
  inference = ``model(x)`` under ``torch.no_grad`` in eval mode; ``torch.set_num_threads(2)`` and glibc malloc
  tuned as for the LegNet peer (``GLIBC_TUNABLES``);
- seq2exp: the same architecture from the benchmark recipe (``training/configs/benchmarks/<shape>_dream_<net>.yaml``),
  seq2exp's AdamW + one-cycle built before the first step, ``train_on_batch`` on the masked per-task MSE; inference =
  the BatchNorm-folded model that prediction and export use, in a ``tf.function``.

Random one-hot batches are made before timing; ``--warmup`` steps are untimed; the median of the timed steps gives
sequences/s. ``--repeats N`` runs N back-to-back pairs per net and shape and reports the spread of their ratios
(the first pair's figures stay at the top level of each row, the others under ``pairs``). Reported per pair: train
and inference seq/s of each, the ratios (goal: training >= 1.2x, inference
>= 1.5x), peak RSS of each process, parameter counts, and how close each side runs to the machine's limit
(``_peak.py``: forward FLOPs per sequence of the Keras model, LSTM products added from their shapes; GFLOP/s and
fractions of the nominal FP32 peak and of a measured large matmul). The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _common import ratio_spread  # noqa: E402
from _peak import fractions, nominal_peak_gflops  # noqa: E402
TUNED_MALLOC = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
SHAPES = {"drosophila": {"length": 249, "tasks": 2}, "human": {"length": 230, "tasks": 1}}

# the same timing in both children: untimed warm-up steps, then the median of the timed ones
_TIMED = r"""
import json, sys
sys.path.insert(0, json.loads(sys.argv[1])["benchmarks"])
from _common import median_step_seconds as timed
"""

_TORCH = r"""
import json, resource, statistics, sys, time
import numpy as np, torch
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["benchmarks"])
from _prixfixe import build_net  # the authors' PrixFixeNet as the benchmark notebook builds it
torch.set_num_threads(2)
torch.manual_seed(0)
L, B, net = spec["length"], spec["batch"], spec["net"]
model = build_net(spec["shape"], net, torch.Generator().manual_seed(42))
rng = np.random.default_rng(0)
x = np.zeros((B, 5, L), np.float32)
x[np.arange(B)[:, None], rng.integers(0, 4, (B, L)), np.arange(L)[None, :]] = 1.0
x = torch.from_numpy(x)
y = torch.from_numpy(rng.normal(size=(B, spec["tasks"])).astype(np.float32))
if spec["tasks"] == 1:
    y = y[:, 0]
optimizer = torch.optim.AdamW(model.parameters(), lr=0.005, weight_decay=0.01)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.005, total_steps=1000, pct_start=0.3)
def train_step():
    model.train()
    optimizer.zero_grad()
    _, loss = model.train_step({"x": x, "y": y})
    loss.backward(); optimizer.step(); schedule.step()
def infer_step():
    model.eval()
    with torch.no_grad():
        model(x)
out = {"train_step_s": timed(train_step, spec["warmup"], spec["steps"]),
       "infer_step_s": timed(infer_step, spec["warmup"], spec["steps"]),
       "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
       "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
print(json.dumps(out))
"""

_KERAS = r"""
import json, os, resource, statistics, sys, time
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["repo"])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import seq2exp  # noqa: F401  (its CPU-kernel default, as users get it)
import numpy as np, tensorflow as tf, keras, yaml
from seq2exp import models
from seq2exp.inference.optimize import fold_batchnorm
from seq2exp.training.losses import get_loss, multitask_loss
from seq2exp.training.optimizers import build_optimizer, build_optimizer_variables
config = yaml.safe_load(open(spec["recipe"]))
L, B, T = spec["length"], spec["batch"], spec["tasks"]
model_config = dict(config["model"].get("config") or {})
if T > 1:
    model_config["tasks"] = [f"task{i}" for i in range(T)]
model = models.build(config["model"]["architecture"], model_config)
loss = get_loss(config["loss"])  # the recipe's loss, as the training driver compiles it
loss = multitask_loss(loss, T) if T > 1 else loss
model.compile(optimizer=build_optimizer(config["optimizer"], config.get("schedule"), 1000),
              loss={loss.output: loss.fn})
rng = np.random.default_rng(0)
x = tf.constant(np.eye(model.input_shape[-1], dtype=np.float32)[rng.integers(0, 4, (B, L))])
y = {"expression": tf.constant(rng.normal(size=(B, T) if T > 1 else (B,)).astype(np.float32))}
build_optimizer_variables(model)
train_s = timed(lambda: model.train_on_batch(x, y), spec["warmup"], spec["steps"])
folded = fold_batchnorm(model)
predict = tf.function(lambda v: folded(v, training=False))
infer_s = timed(lambda: np.asarray(predict(x)["expression"]), spec["warmup"], spec["steps"])
sys.path.insert(0, spec["benchmarks"])
from _peak import forward_flops, matmul_gflops  # after timing: the FLOP count and the matmul ceiling
print(json.dumps({"train_step_s": train_s, "infer_step_s": infer_s, **forward_flops(folded),
                  "matmul_gflops": matmul_gflops(),
                  "params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, spec: dict, env: dict | None = None) -> dict:
    result = subprocess.run([sys.executable, "-c", _TIMED + code, json.dumps(spec)], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, cwd=REPO, timeout=3600)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="DREAM-RNN on the Drosophila shape only, 3 timed steps")
    parser.add_argument("--nets", default="rnn,cnn,attn", help="comma-separated: rnn, cnn, attn")
    parser.add_argument("--shapes", default="drosophila,human", help="comma-separated: drosophila, human")
    parser.add_argument("--batch-size", type=int, default=32, help="the authors' batch size (32)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1,
                        help="back-to-back (seq2exp, authors) pairs per net and shape; the ratios' median, min, max "
                             "and spread are reported")
    args = parser.parse_args()
    nets = ["rnn"] if args.quick else args.nets.split(",")
    shapes = ["drosophila"] if args.quick else args.shapes.split(",")
    steps = 3 if args.quick else args.steps
    rows = []
    peak = nominal_peak_gflops()
    for shape in shapes:
        for net in nets:
            spec = {"net": net, "batch": args.batch_size, "warmup": args.warmup, "steps": steps, **SHAPES[shape],
                    "shape": shape, "benchmarks": str(REPO / "benchmarks"), "repo": str(REPO),
                    "recipe": str(REPO / "training" / "configs" / "benchmarks" / f"{shape}_dream_{net}.yaml")}
            pairs = []
            for _ in range(args.repeats):  # back-to-back (seq2exp, authors) pairs: each ratio under one load
                keras_row = _child(_KERAS, spec)
                torch_row = _child(_TORCH, spec, {"GLIBC_TUNABLES": TUNED_MALLOC})
                pair = {"keras": keras_row, "torch": torch_row}
                if "error" not in keras_row and "error" not in torch_row:
                    for phase in ("train", "infer"):
                        pair[f"{phase}_seq_per_s_keras"] = round(args.batch_size / keras_row[f"{phase}_step_s"], 1)
                        pair[f"{phase}_seq_per_s_torch"] = round(args.batch_size / torch_row[f"{phase}_step_s"], 1)
                        pair[f"{phase}_ratio"] = round(torch_row[f"{phase}_step_s"] / keras_row[f"{phase}_step_s"], 3)
                    for side in ("keras", "torch"):  # the same architecture: both sides against the same limits
                        pair[f"{side}_peak"] = fractions(
                            keras_row["forward_flops_per_seq"], pair[f"train_seq_per_s_{side}"],
                            pair[f"infer_seq_per_s_{side}"], peak, keras_row["matmul_gflops"])
                pairs.append(pair)
            row = {"net": f"dream_{net}", "shape": shape, "length": spec["length"], "tasks": spec["tasks"],
                   "batch_size": args.batch_size, **pairs[0],  # the first pair's figures, as before
                   "train_ratio_spread": ratio_spread([pair.get("train_ratio") for pair in pairs]),
                   "infer_ratio_spread": ratio_spread([pair.get("infer_ratio") for pair in pairs]),
                   "pairs": pairs[1:]}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"benchmark": "dream_nets", "goal": {"train_ratio": 1.2, "infer_ratio": 1.5}, "results": rows,
                      "cpu": peak,
                      "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
