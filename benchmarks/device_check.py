"""GPU check: train LegNet and BHI under MirroredStrategy (float32 / mixed_float16, with and without XLA), export,
load the export with TF Serving's session loader on the device, compare with CPU predictions.

Usage (from the repo root)::

    python3 benchmarks/device_check.py [--quick] [--steps 300] [--models autosome,bhi]

Per setting (model x precision x jit_compile), in a fresh process: ``MirroredStrategy`` over all GPUs (the default
strategy on a machine without one), ``model.fit`` on random sequences (one-hot through the project's ``Encoder``;
KL on the 18 soft bins for LegNet, MSE on the scaled expression otherwise) for ``--steps`` steps after one warm-up
step; sequences/s of the timed steps, peak GPU memory (``tf.config.experimental.get_memory_info``, summed over the
GPUs; peak RSS on CPU), loss finite. Then the trained model goes through the project's export
(``seq2exp.serving.export.export_graph`` of ``PredictionGraph(fold_batchnorm(model), encoder)``), the SavedModel is
loaded the way TF Serving loads it (``tf.compat.v1.saved_model.loader.load`` + ``Session.run`` by the
SignatureDef's tensor names) on the device, and its predictions are compared with the same model's float32
predictions computed on the CPU (``rel_max_diff`` = max |served - cpu| / range of cpu; tolerance 1e-3 for float32
(TF32 matmuls on Ampere+), 3e-2 for mixed_float16).

Without a GPU only the float32, no-XLA settings run (XLA and float16 are slow paths on CPU; they are reported as
skipped); ``--quick`` also shrinks the models to their smoke sizes and trains 3 steps of 16 sequences, which is
the path this script can take on a CPU-only machine. Last stdout line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sequences(n: int, seed: int) -> list[str]:
    import numpy as np

    letters = np.array(list("ACGT"))
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in letters[rng.integers(0, 4, size=(n, 110))]]


def _session_predict(export_dir: str, sequences: list[str]) -> tuple:
    """Predict through TF Serving's loading path (MetaGraph import + restore + Session.run by tensor names)."""
    import numpy as np
    import tensorflow as tf

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        chosen = None
        for key, signature in meta.signature_def.items():
            inputs = list(signature.inputs.values())
            if len(inputs) == 1 and inputs[0].dtype == tf.string.as_datatype_enum:
                chosen = key, signature
                break
        if chosen is None:
            raise RuntimeError(f"no signature with one string input in {export_dir}: {list(meta.signature_def)}")
        key, signature = chosen
        output_key = "expression" if "expression" in signature.outputs else next(iter(signature.outputs))
        feed = {next(iter(signature.inputs.values())).name: np.asarray(sequences, dtype=object)}
        values = session.run(signature.outputs[output_key].name, feed_dict=feed)
        devices = sorted({device.device_type for device in session.list_devices()})
    return np.asarray(values, np.float64).reshape(-1), key, output_key, devices


def child_main(args: argparse.Namespace) -> dict:
    """One setting, in this fresh process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    import keras
    import numpy as np
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    if args.precision != "float32":
        keras.mixed_precision.set_global_policy(args.precision)
    keras.utils.set_random_seed(0)
    from seq2exp import models
    from seq2exp.data.encoding import Encoder
    from seq2exp.data.targets import soft_bin_targets
    from seq2exp.inference.graph import PredictionGraph
    from seq2exp.inference.optimize import fold_batchnorm

    architecture = models.get(args.model)
    config = architecture.config(smoke=args.quick)
    encoder = Encoder(config["input"])
    strategy = tf.distribute.MirroredStrategy() if gpus else tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    batch = args.batch_size * replicas
    train_sequences = _sequences(batch * 4, seed=1)
    x = np.asarray(encoder.encode(train_sequences))
    expression = np.random.default_rng(2).uniform(0, 17, size=len(train_sequences)).astype(np.float32)
    if architecture.head == "bins":
        targets, loss = {"bins": np.asarray(soft_bin_targets(expression))}, {"bins": keras.losses.KLDivergence()}
    else:
        targets, loss = {"expression": expression / 17.0}, {"expression": keras.losses.MeanSquaredError()}
    dataset = tf.data.Dataset.from_tensor_slices((x, targets)).repeat().batch(batch).prefetch(2)
    with strategy.scope():
        model = architecture.build(smoke=args.quick)
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01), loss=loss,
                      jit_compile=args.jit_compile)
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)  # graph building (+ XLA compilation)
    first_step_s = time.perf_counter() - started
    for index in range(len(gpus)):
        tf.config.experimental.reset_memory_stats(f"GPU:{index}")
    started = time.perf_counter()
    history = model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    losses = [float(v) for v in history.history["loss"]]
    result = {
        "model": args.model, "precision": args.precision, "jit_compile": args.jit_compile, "replicas": replicas,
        "device": "GPU" if gpus else "CPU", "global_batch": batch, "steps": args.steps,
        "seq_per_s": round(args.steps * batch / seconds, 1), "first_step_s": round(first_step_s, 1),
        "loss_last": losses[-1], "loss_finite": all(math.isfinite(v) for v in losses),
    }
    if gpus:
        result["peak_gpu_memory_mib"] = round(sum(tf.config.experimental.get_memory_info(f"GPU:{i}")["peak"]
                                                  for i in range(len(gpus))) / 2 ** 20, 1)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)

    # export + TF Serving's session loader on the device, against float32 CPU predictions of the same weights
    check = _sequences(64, seed=3)
    try:
        from seq2exp.serving.export import export_graph

        with tempfile.TemporaryDirectory(prefix="seq2exp-device-check-") as base:
            export_graph(PredictionGraph(fold_batchnorm(model), encoder), base, args.model, 1, verify=False)
            served, signature, output, devices = _session_predict(str(Path(base) / args.model / "1"), check)
        keras.mixed_precision.set_global_policy("float32")
        with tf.device("/CPU:0"):
            reference_model = architecture.build(smoke=args.quick)
            reference_model.set_weights(model.get_weights())
            cpu = np.asarray(PredictionGraph(reference_model, encoder).predict(check), np.float64).reshape(-1)
        scale = max(float(np.ptp(cpu)), 1e-6)
        tolerance = 1e-3 if args.precision == "float32" else 3e-2
        difference = float(np.max(np.abs(served - cpu))) / scale
        result.update(export_signature=signature, export_output=output, session_devices=devices,
                      served_vs_cpu_rel_max_diff=difference, served_vs_cpu_tolerance=tolerance,
                      served_equals_cpu=bool(difference <= tolerance))
    except Exception as error:  # noqa: BLE001 - report it; the speed figures above still count
        result["export_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="autosome,bhi")
    parser.add_argument("--precisions", default="float32,mixed_float16")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps (default 300, quick 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="per replica (default 1024, quick 16)")
    parser.add_argument("--setting-timeout-s", type=int, default=900)
    parser.add_argument("--quick", action="store_true", help="smoke-size models, 3 steps of 16: the CPU path")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--precision", help=argparse.SUPPRESS)
    parser.add_argument("--jit-compile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.steps = args.steps or (3 if args.quick else 300)
    args.batch_size = args.batch_size or (16 if args.quick else 1024)
    if args.child:
        print(json.dumps(child_main(args)), flush=True)
        return 0

    started = time.perf_counter()
    has_gpu = _has_gpu()
    results = []
    for model in [m for m in args.models.split(",") if m]:
        for precision in [p for p in args.precisions.split(",") if p]:
            for jit in (False, True):
                setting = {"model": model, "precision": precision, "jit_compile": jit}
                if not has_gpu and (jit or precision != "float32"):
                    results.append({**setting, "skipped": "no GPU (XLA and float16 are slow paths on CPU)"})
                    continue
                command = [sys.executable, __file__, "--child", "--model", model, "--precision", precision,
                           "--steps", str(args.steps), "--batch-size", str(args.batch_size)]
                command += (["--jit-compile"] if jit else []) + (["--quick"] if args.quick else [])
                print(f"{model} {precision}{' XLA' if jit else ''}", file=sys.stderr, flush=True)
                try:
                    done = subprocess.run(command, capture_output=True, text=True, timeout=args.setting_timeout_s,
                                          cwd=REPO)
                except subprocess.TimeoutExpired:
                    results.append({**setting, "error": f"timed out after {args.setting_timeout_s} s"})
                    continue
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode or not lines:
                    results.append({**setting, "error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]})
                else:
                    results.append(json.loads(lines[-1]))
    ran = [r for r in results if "seq_per_s" in r]
    report = {
        "benchmark": "device_check", "gpu": has_gpu, "quick": args.quick, "results": results,
        "all_losses_finite": bool(ran) and all(r["loss_finite"] for r in ran),
        "all_served_equal_cpu": bool(ran) and all(r.get("served_equals_cpu") for r in ran),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report), flush=True)
    return 0


def _has_gpu() -> bool:
    """Ask a throw-away process (so this one never initialises CUDA) whether TensorFlow sees a GPU."""
    code = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return done.returncode == 0 and done.stdout.strip().splitlines()[-1:] != ["0"]


if __name__ == "__main__":
    sys.exit(main())
