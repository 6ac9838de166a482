"""Per-architecture speed and memory on this machine: parameters, training and inference throughput, peak RSS.

Usage (from the repo root)::

    python3 benchmarks/models.py [--models autosome,bhi] [--batch-size 1024] [--dtype float32|mixed_bfloat16]
                                 [--jit-compile] [--torch-python /work/torchvenv/bin/python] [--quick]

Every (model, phase) runs in its own subprocess, so each peak RSS (``ru_maxrss``) belongs to that phase alone.
Training = ``model.train_on_batch`` (forward + loss + backward + optimizer step: seq2exp's AdamW, built before the
first step as the training driver builds it, KL divergence on ``bins`` for bin heads, MSE on ``expression``
otherwise) on random one-hot batches made before timing; the first ``--warmup`` steps (graph tracing) are not timed;
the median of the timed steps gives sequences/s, and ``train_first_step_overhead_s`` is the first step (optimiser
variables, tracing, graph optimisation, first run) minus that median, split into ``train_trace_s`` (Python tracing
of the step function) and ``train_optimise_and_first_run_s`` (the rest: TensorFlow's graph optimisation, kernel
set-up and the first run's extra); ``train_first_step_minor_faults`` against ``train_step_minor_faults`` and
``train_first_step_extra_system_s`` (kernel CPU seconds over a timed step's) show how much of that extra is the
first touch of the memory the steps keep reusing, which grows with the batch; ``--first-step-split`` measures that
part directly: each training phase runs once more after filling and freeing its peak memory through TensorFlow's
allocator (``train_pretouch_s``), and ``train_first_step_overhead_pretouched_s`` is what is left (tracing, graph
optimisation, kernel set-up). Each LegNet pair also gives both sides' first-step overhead (the PyTorch peer's from
its step log): PyTorch builds no graph, so its overhead is mostly the first touch of its memory. Inference =
``model(x, training=False)`` of the BatchNorm-folded model that prediction and export use
(``seq2exp.inference.optimize.fold_batchnorm``; ``SEQ2EXP_BENCH_NO_FOLD=1`` times the unfolded one), same protocol. The headline compares the Keras LegNet
(``autosome``) with the PyTorch LegNet peer ``../shared/bench/legnet_torch_ref.py`` (run with
``--glibc-malloc-tuned``, its stronger setting) at the same batch size, in the same run, when a Python with torch is
given (``--torch-python``; default ``/work/torchvenv/bin/python`` if present), as ``--pairs`` back-to-back
(Keras, PyTorch) pairs: each pair's ratio is taken under the same background load, and ``legnet_vs_torch`` reports
every pair plus the median, min, max and spread of the ratios. How close each runs to the machine's limit
(``benchmarks/_peak.py``): forward FLOPs per sequence counted by TensorFlow's profiler, training taken as 3x,
as GFLOP/s and as fractions of the cores' nominal FP32 peak and of a measured 2048^3 matmul (``cpu`` in the report;
the PyTorch peer's pairs get the same figures). The last stdout line is one JSON
object (CONTRACT.md: ``results`` = list of ``{name, params, batch_size, dtype, train_seq_per_s, infer_seq_per_s,
train_peak_rss_mib, infer_peak_rss_mib}``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _common import ratio_spread  # noqa: E402
from _peak import fractions, nominal_peak_gflops  # noqa: E402
TORCH_REFERENCE = Path(os.environ.get("SEQ2EXP_SHARED", REPO.parent / "shared")) / "bench" / "legnet_torch_ref.py"
DEFAULT_TORCH_PYTHON = Path("/work/torchvenv/bin/python")
DEFAULT_MODELS = "autosome,bhi,camformers,wztr,mt"


# ------------------------------------------------------------------------------------------------ child phases
def _random_batch(model, head: str, batch_size: int, seed: int):
    """Random inputs of the model's input signature (one-hot + constant flag channels) and matching targets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = tuple(model.inputs[0].shape[1:])
    dtype = model.inputs[0].dtype
    if "int" in str(dtype):
        inputs = rng.integers(0, 5, size=(batch_size, *shape)).astype(str(dtype))
    else:
        length, channels = shape
        inputs = np.zeros((batch_size, length, channels), np.float32)
        letters = rng.integers(0, 4, size=(batch_size, length))
        np.put_along_axis(inputs[:, :, :4], letters[:, :, None], 1.0, axis=2)
        if channels > 4:
            inputs[:, :, 4:] = rng.integers(0, 2, size=(batch_size, 1, channels - 4))
    expression = rng.uniform(0, 17, size=batch_size).astype(np.float32)
    if head == "bins":
        from scipy.stats import norm

        edges = np.concatenate([[-np.inf], np.arange(1, 18), [np.inf]])
        cdf = norm.cdf((edges[None, :] - (expression[:, None] + 0.5)) / 0.5)
        return inputs, {"bins": (cdf[:, 1:] - cdf[:, :-1]).astype(np.float32)}
    return inputs, {"expression": expression / 17.0}


def _build(name: str, dtype: str, jit_compile: bool, compile_model: bool):
    import keras

    if dtype != "float32":
        keras.mixed_precision.set_global_policy(dtype)
    from seq2exp import models

    architecture = models.get(name)
    model = architecture.build()
    if compile_model:  # seq2exp's own AdamW (what `seq2exp train` builds), compiled as the driver compiles
        from seq2exp.training.optimizers import build_optimizer

        loss = ({"bins": keras.losses.KLDivergence()} if architecture.head == "bins"
                else {"expression": keras.losses.MeanSquaredError()})
        optimizer = build_optimizer({"name": "adamw", "learning_rate": 1e-3, "weight_decay": 0.01}, None, 1000)
        model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)
    return architecture, model


def _usage() -> tuple[int, float]:
    """(minor page faults, kernel CPU seconds) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_stime


def _timed(run_step, warmup: int, steps: int, budget_s: float) -> tuple[list[float], float, dict]:
    """Run ``warmup`` untimed + up to ``steps`` timed steps (at least 2 timed, then stop past ``budget_s``); also
    the page faults and kernel time of the first step against the median timed step (first touch of new memory)."""
    start, started_usage = time.perf_counter(), _usage()
    first, first_usage = None, None
    for _ in range(warmup):
        before, t0 = _usage(), time.perf_counter()
        run_step()
        if first is None:
            first, first_usage = time.perf_counter() - t0, [a - b for a, b in zip(_usage(), before)]
    times: list[float] = []
    usages: list[list[float]] = []
    phase = time.perf_counter()
    for index in range(steps):
        before, t0 = _usage(), time.perf_counter()
        run_step()
        times.append(time.perf_counter() - t0)
        usages.append([a - b for a, b in zip(_usage(), before)])
        print(f"  step {index}: {times[-1]:.2f}s", file=sys.stderr, flush=True)
        if index >= 1 and time.perf_counter() - phase > budget_s:
            break
    if first_usage is None:  # no warm-up: the first timed step stands for it
        first_usage = [a - b for a, b in zip(_usage(), started_usage)]
    faults = statistics.median(usage[0] for usage in usages)
    system_s = statistics.median(usage[1] for usage in usages)
    memory = {"first_step_minor_faults": int(first_usage[0]), "step_minor_faults": int(faults),
              "first_step_extra_system_s": round(first_usage[1] - system_s, 1)}
    return times, (first if first is not None else time.perf_counter() - start), memory


def _pretouch(tf, mib: float) -> dict:
    """Fill and free ``mib`` MiB through TensorFlow's CPU allocator, which keeps the memory, so that a first step
    run after it no longer pays the first touch of that memory (``--first-step-split``); its cost and faults."""
    block = 256 * 2**20 // 4  # float32 elements per 256 MiB block
    before, started = _usage(), time.perf_counter()
    blocks = [tf.fill([block], 1.0) for _ in range(max(1, int(mib // 256)))]
    touched = sum(float(b[-1]) for b in blocks)  # eager ops ran: every block is written
    del blocks
    return {"pretouch_s": round(time.perf_counter() - started, 1), "pretouch_mib": int(touched * 256),
            "pretouch_minor_faults": int(_usage()[0] - before[0])}


class _trace_timer:
    """Seconds spent building TensorFlow function graphs (Python tracing: ``func_graph_from_py_func``) while active;
    the rest of the first step's overhead is TensorFlow's graph optimisation and the first run."""

    def __init__(self):
        from tensorflow.python.framework import func_graph

        self.seconds, self._module, self._original = 0.0, func_graph, func_graph.func_graph_from_py_func

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self._original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        func_graph.func_graph_from_py_func = timed

    def stop(self) -> None:
        self._module.func_graph_from_py_func = self._original


def child_main(phase: str, name: str, batch_size: int, dtype: str, jit_compile: bool, warmup: int, steps: int,
               budget_s: float, threads: dict | None = None) -> dict:
    """One phase (``train`` or ``infer``) of one model, in this (fresh) process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    import numpy as np

    import seq2exp  # noqa: F401 - before TensorFlow: its CPU-kernel default (oneDNN) is what users get
    import tensorflow as tf

    if threads.get("inter"):
        tf.config.threading.set_inter_op_parallelism_threads(threads["inter"])
    if threads.get("intra"):
        tf.config.threading.set_intra_op_parallelism_threads(threads["intra"])
    pretouched = _pretouch(tf, float(os.environ["SEQ2EXP_BENCH_PRETOUCH_MIB"])) if os.environ.get(
        "SEQ2EXP_BENCH_PRETOUCH_MIB") else {}
    architecture, model = _build(name, dtype, jit_compile, compile_model=(phase == "train"))
    inputs, targets = _random_batch(model, architecture.head, batch_size, seed=0)
    inputs_tensor = tf.constant(inputs)
    if phase == "train":
        targets = {key: tf.constant(value) for key, value in targets.items()}
        losses: list[float] = []

        def run_step():
            if not model.optimizer.built:  # the driver builds it before fit: part of the first step's cost
                from seq2exp.training.optimizers import build_optimizer_variables

                build_optimizer_variables(model)
            logs = model.train_on_batch(inputs_tensor, targets, return_dict=True)
            losses.append(float(logs["loss"]))
    else:
        if os.environ.get("SEQ2EXP_BENCH_NO_FOLD") != "1":  # the graph prediction and export use (BN folded)
            from seq2exp.inference.optimize import fold_batchnorm

            model = fold_batchnorm(model)
        if jit_compile:
            predict = tf.function(lambda x: model(x, training=False), jit_compile=True)
        else:
            predict = tf.function(lambda x: model(x, training=False))

        def run_step():
            outputs = predict(inputs_tensor)
            float(np.asarray(outputs["expression"])[0])

    traced = _trace_timer()
    times, first_step_s, memory = _timed(run_step, warmup, steps, budget_s)
    traced.stop()
    median = statistics.median(times)
    result = {
        "phase": phase,
        "seq_per_s": round(batch_size / median, 1),
        "step_s_median": round(median, 3),
        "timed_steps": len(times),
        "first_step_s": round(first_step_s, 1),
        "first_step_overhead_s": round(first_step_s - median, 1),
        "trace_s": round(traced.seconds, 2),  # Python tracing of the step function(s), part of the first step
        **memory,
        **pretouched,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
    }
    if phase == "train":
        result.update(loss_first=round(losses[0], 4), loss_last=round(losses[-1], 4))
    else:  # after timing: the FLOP count and the matmul ceiling, with this process's thread settings
        from _peak import forward_flops, matmul_gflops

        result.update(forward_flops(model), matmul_gflops=matmul_gflops())
    result["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    result["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    return result


# ------------------------------------------------------------------------------------------------ parent
def run_phase(args: argparse.Namespace, phase: str, name: str, env: dict | None = None) -> dict:
    """Run one phase in a subprocess (``env``: extra environment variables); a failure or timeout is recorded,
    not raised."""
    command = [sys.executable, __file__, "--child", phase, "--models", name, "--batch-size", str(args.batch_size),
               "--dtype", args.dtype, "--warmup", str(args.warmup), "--steps", str(args.steps),
               "--phase-budget-s", str(args.phase_budget_s), "--inter-op", str(args.inter_op),
               "--intra-op", str(args.intra_op)] + (["--jit-compile"] if args.jit_compile else [])
    print(f"{name} {phase} (batch {args.batch_size}, {args.dtype}{', XLA' if args.jit_compile else ''})",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.phase_timeout_s, cwd=REPO,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"phase": phase, "error": f"timed out after {args.phase_timeout_s} s"}
    sys.stderr.write(done.stderr[-2000:] if done.returncode else "")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"phase": phase, "error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result = json.loads(lines[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    return result


def run_torch_reference(args: argparse.Namespace) -> dict | None:
    """The PyTorch LegNet peer at the same batch size, tuned allocator (its best setting)."""
    python = Path(args.torch_python) if args.torch_python else None
    if python is None or not python.exists() or not TORCH_REFERENCE.exists():
        return None
    command = [str(python), str(TORCH_REFERENCE), "--glibc-malloc-tuned", "--train-batch-sizes",
               str(args.batch_size), "--infer-batch-sizes", str(args.batch_size), "--steps", str(args.steps),
               "--infer-steps", str(args.steps), "--phase-budget-s", str(args.phase_budget_s)]
    print(f"torch LegNet reference (batch {args.batch_size}, tuned malloc)", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.phase_timeout_s * 2)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result = json.loads(lines[-1])
    for train in result.get("train", []):
        train["first_step_s"] = torch_first_step_s(done.stderr, train["batch_size"])
    return result


def torch_first_step_s(log: str, batch_size: int) -> float | None:
    """The PyTorch peer's first (untimed) training step at ``batch_size``, from its progress lines on stderr
    (``  train bs=1024 step 0 warm 35.04s ...``); None if it printed none."""
    match = re.search(rf"^\s*train bs={batch_size} step 0 \w+ ([0-9.]+)s", log, re.MULTILINE)
    return float(match.group(1)) if match else None


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def legnet_pairs(args: argparse.Namespace, first_keras: dict) -> dict:
    """Keras LegNet vs the PyTorch peer as ``--pairs`` back-to-back (Keras, PyTorch) pairs; the ratio of each pair
    is measured under the same background load, and the spread of the ratios says how far to trust them."""
    pairs = []
    keras_row = first_keras
    for index in range(args.pairs):
        if index:
            train, infer = run_phase(args, "train", "autosome"), run_phase(args, "infer", "autosome")
            keras_row = {"train_seq_per_s": train.get("seq_per_s"), "infer_seq_per_s": infer.get("seq_per_s"),
                         "train_first_step_overhead_s": train.get("first_step_overhead_s"),
                         "train_peak_rss_mib": train.get("peak_rss_mib"), "infer_peak_rss_mib": infer.get("peak_rss_mib")}
        torch_result = run_torch_reference(args)
        if not torch_result or "error" in torch_result:
            return {"error": (torch_result or {}).get("error", "no PyTorch result"), "pairs": pairs}
        torch_train = torch_result["train"][0]["seq_per_s"]
        torch_first = torch_result["train"][0].get("first_step_s")
        torch_infer = torch_result["infer"][0]["seq_per_s"]
        pairs.append({
            "keras_train_seq_per_s": keras_row["train_seq_per_s"], "torch_train_seq_per_s": torch_train,
            "keras_infer_seq_per_s": keras_row["infer_seq_per_s"], "torch_infer_seq_per_s": torch_infer,
            "keras_train_peak_rss_mib": keras_row["train_peak_rss_mib"],
            "torch_train_peak_rss_mib": torch_result["train"][0]["peak_rss_mib"],
            # what each waits before steady training (PyTorch builds no graph: mostly its memory's first touch)
            "keras_train_first_step_overhead_s": keras_row.get("train_first_step_overhead_s"),
            "torch_train_first_step_overhead_s": (round(torch_first - torch_result["train"][0]["step_s_median"], 1)
                                                  if torch_first is not None else None),
            "train_ratio": round(keras_row["train_seq_per_s"] / torch_train, 3) if keras_row["train_seq_per_s"] else None,
            "infer_ratio": round(keras_row["infer_seq_per_s"] / torch_infer, 3) if keras_row["infer_seq_per_s"] else None,
            "load_average_1min": _load(),
        })
        print(f"pair {index + 1}: {json.dumps(pairs[-1])}", file=sys.stderr, flush=True)  # survives a killed run
    return {
        "batch_size": args.batch_size, "torch_params": torch_result["n_params"],
        "torch_glibc_tunables": torch_result.get("glibc_tunables"), "pairs": pairs,
        "train_ratio": ratio_spread([pair["train_ratio"] for pair in pairs]),
        "infer_ratio": ratio_spread([pair["infer_ratio"] for pair in pairs]),
        "keras_train_peak_rss_mib_max": max(pair["keras_train_peak_rss_mib"] or 0 for pair in pairs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated registry names")
    parser.add_argument("--batch-size", type=int, default=None, help="default 1024 (256 with --quick)")
    parser.add_argument("--dtype", choices=["float32", "mixed_bfloat16", "mixed_float16"], default="float32")
    parser.add_argument("--jit-compile", action="store_true", help="XLA (a loss on CPU; see KNOWN_ISSUES)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps (the first one traces the graph)")
    parser.add_argument("--steps", type=int, default=None, help="max timed steps per phase (default 5, quick 2)")
    parser.add_argument("--phase-budget-s", type=float, default=None,
                        help="stop timing a phase after this (default 120 s, quick 30 s; a batch-1024 LegNet step takes ~15-20 s here)")
    parser.add_argument("--phase-timeout-s", type=int, default=500, help="kill a phase after this")
    parser.add_argument("--torch-python", default=str(DEFAULT_TORCH_PYTHON) if DEFAULT_TORCH_PYTHON.exists() else "",
                        help="a Python with torch for the PyTorch LegNet peer ('' to skip)")
    parser.add_argument("--inter-op", type=int, default=0, help="TF inter-op threads (0 = TensorFlow's default)")
    parser.add_argument("--intra-op", type=int, default=0, help="TF intra-op threads (0 = TensorFlow's default)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="(Keras, PyTorch) LegNet pairs run back to back; ratios per pair + spread (default 3, "
                             "quick 1)")
    parser.add_argument("--first-step-split", action="store_true",
                        help="run each training phase once more after filling and freeing its peak memory through "
                             "TensorFlow's allocator: the first-step overhead without the first touch of memory")
    parser.add_argument("--quick", action="store_true", help="batch 256, 2 timed steps")
    parser.add_argument("--child", choices=["train", "infer"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batch_size = args.batch_size or (256 if args.quick else 1024)
    args.steps = args.steps or (2 if args.quick else 5)  # 2-3 timed steps left the pair ratios 30-40% apart
    args.phase_budget_s = args.phase_budget_s or (30.0 if args.quick else 120.0)
    args.pairs = args.pairs or (1 if args.quick else 3)
    names = [name for name in args.models.split(",") if name]

    if args.child:
        print(json.dumps(child_main(args.child, names[0], args.batch_size, args.dtype, args.jit_compile,
                                    args.warmup, args.steps, args.phase_budget_s,
                                    {"inter": args.inter_op, "intra": args.intra_op})), flush=True)
        return 0

    started = time.perf_counter()
    peak = nominal_peak_gflops()
    results, matmuls = [], []
    for name in names:
        train = run_phase(args, "train", name)
        split = (run_phase(args, "train", name, env={"SEQ2EXP_BENCH_PRETOUCH_MIB": str(train["peak_rss_mib"])})
                 if args.first_step_split and train.get("peak_rss_mib") else {})
        infer = run_phase(args, "infer", name)
        matmuls += [infer["matmul_gflops"]] if infer.get("matmul_gflops") else []
        results.append({
            "name": name, "params": train.get("params", infer.get("params")), "batch_size": args.batch_size,
            "dtype": args.dtype, "jit_compile": args.jit_compile,
            "train_seq_per_s": train.get("seq_per_s"), "infer_seq_per_s": infer.get("seq_per_s"),
            "train_peak_rss_mib": train.get("peak_rss_mib"), "infer_peak_rss_mib": infer.get("peak_rss_mib"),
            "train_first_step_s": train.get("first_step_s"), "infer_first_step_s": infer.get("first_step_s"),
            "train_first_step_overhead_s": train.get("first_step_overhead_s"),
            "train_trace_s": train.get("trace_s"),
            "train_optimise_and_first_run_s": (round(train["first_step_overhead_s"] - train["trace_s"], 1)
                                               if "trace_s" in train else None),
            "train_first_step_minor_faults": train.get("first_step_minor_faults"),
            "train_step_minor_faults": train.get("step_minor_faults"),
            "train_first_step_extra_system_s": train.get("first_step_extra_system_s"),
            **({"train_first_step_overhead_pretouched_s": split.get("first_step_overhead_s"),
                "train_pretouch_s": split.get("pretouch_s"), "train_pretouch_mib": split.get("pretouch_mib"),
                "train_pretouch_minor_faults": split.get("pretouch_minor_faults"),
                "train_first_step_minor_faults_pretouched": split.get("first_step_minor_faults")}
               if args.first_step_split else {}),
            "train_timed_steps": train.get("timed_steps"), "infer_timed_steps": infer.get("timed_steps"),
            "forward_flops_per_seq": infer.get("forward_flops_per_seq"),
            "flops_count_has_loops": infer.get("has_loops"),
            **(fractions(infer["forward_flops_per_seq"], train.get("seq_per_s"), infer.get("seq_per_s"), peak,
                         infer.get("matmul_gflops")) if infer.get("forward_flops_per_seq") else {}),
            **({"train_error": train["error"]} if "error" in train else {}),
            **({"infer_error": infer["error"]} if "error" in infer else {}),
        })
    report = {"benchmark": "models", "results": results, "threads": os.cpu_count(),
              "cpu": {**peak, "matmul_gflops": statistics.median(matmuls) if matmuls else None},
              "python": platform.python_version(), "load_average_1min_start": _load()}
    if "autosome" in names and args.torch_python:
        legnet = next(row for row in results if row["name"] == "autosome")
        report["legnet_vs_torch"] = legnet_pairs(args, legnet)
        if legnet.get("forward_flops_per_seq"):  # the same architecture: the peer's rates against the same peak
            for pair in report["legnet_vs_torch"].get("pairs", []):
                pair.update({f"torch_{key}": value for key, value in fractions(
                    legnet["forward_flops_per_seq"], pair["torch_train_seq_per_s"], pair["torch_infer_seq_per_s"],
                    peak, report["cpu"]["matmul_gflops"]).items()})
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
