"""How close a model runs to this machine's arithmetic limit: FLOPs per sequence, the cores' nominal peak and the rate
a large matrix product reaches here.

- ``forward_flops(model)``: TensorFlow's own FLOP counter (``tf.compat.v1.profiler`` float operations, the
  statistics each op registers: MatMul, Conv2D incl. grouped, depthwise, BiasAdd, elementwise ...) on the frozen
  graph of one sequence through ``model(x, training=False)``. The profiler counts a ``While`` loop's body once, so
  the matrix products of recurrent layers (LSTM/GRU, also inside ``Bidirectional``) are added from their weight
  shapes: length x 2 x (inputs + units) x gates*units per direction (``recurrent_flops_per_seq``; their
  elementwise gate arithmetic, a few percent, is left out).
- ``nominal_peak_gflops()``: cores x clock x FP32 FLOPs per cycle of the widest FMA the CPU flags show (AVX-512:
  2 units x 16 lanes x 2 = 64; AVX2+FMA: 2 x 8 x 2 = 32), i.e. what the silicon could do with every port busy;
  with ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN kept to AVX2 on an AVX-512 machine) the AVX2 figure.
- ``matmul_gflops()``: the measured rate of a 2048^3 float32 ``tf.matmul`` with TensorFlow's threads (oneDNN), the
  practical ceiling for dense layers here.

A training step is taken as 3x the forward FLOPs (forward, plus gradients with respect to activations and weights),
the usual estimate; the backward of convolutions and matrix products is two products of the forward's size each.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

try:
    from seq2exp.utils import cpu_flags, cpuinfo_values, onednn_isa_below_avx512
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from seq2exp.utils import cpu_flags, cpuinfo_values, onednn_isa_below_avx512


def forward_flops(model) -> dict:
    """FLOPs of ``model(x, training=False)`` for one sequence, counted by TensorFlow's profiler on the frozen graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1, *model.inputs[0].shape[1:]), model.inputs[0].dtype)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete, aggressive_inlining=True).graph  # loops lowered to Enter/Exit
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph, options=options)
    types = [op.type for op in graph.get_operations()]
    recurrent = recurrent_flops(model)
    return {"forward_flops_per_seq": int(profile.total_float_ops) + recurrent,
            "has_loops": any(kind in ("While", "StatelessWhile", "Enter") for kind in types),
            "recurrent_flops_per_seq": recurrent,
            # a call the freezing could not inline (e.g. Keras's XLA-compiled grouped Conv1D) is not counted
            "uncounted_function_calls": sum(kind in ("PartitionedCall", "StatefulPartitionedCall") for kind in types)}


def recurrent_flops(model) -> int:
    """Matrix-product FLOPs per sequence of the model's LSTM/GRU layers (each direction of a ``Bidirectional``)."""
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(layer, keras.Model):
            total += recurrent_flops(layer)
            continue
        directions = [layer.forward_layer, layer.backward_layer] if isinstance(layer, keras.layers.Bidirectional) \
            else [layer] if isinstance(layer, keras.layers.RNN) else []
        for direction in directions:
            kernel, recurrent = direction.cell.kernel, direction.cell.recurrent_kernel
            length = layer.input.shape[1]
            total += length * 2 * (kernel.shape[0] + recurrent.shape[0]) * kernel.shape[1]
    return total


_cpu_flags = cpu_flags  # a module name of its own, so a test can stand in for the CPU


def _cpu_mhz() -> float | None:
    try:
        values = [float(value) for value in cpuinfo_values("cpu MHz")]
    except ValueError:
        return None
    return max(values) if values else None


def _cpu_vendor_family() -> tuple[str | None, int | None]:
    """``vendor_id`` and ``cpu family`` of /proc/cpuinfo (None where not read)."""
    vendors, families = cpuinfo_values("vendor_id"), cpuinfo_values("cpu family")
    try:
        family = int(families[0]) if families else None
    except ValueError:
        family = None
    return (vendors[0] if vendors else None), family


# AMD Zen 4 (family 25) runs AVX-512 on its two 256-bit FMA pipes: AVX2's 32 FP32 FLOPs per cycle, not 64
HALF_WIDTH_AVX512 = {("AuthenticAMD", 25)}


def nominal_peak_gflops() -> dict:
    """Cores x MHz x FP32 FLOPs per cycle (two FMA units of the widest vector width the flags show; AVX-512 on a
    256-bit datapath, as on AMD Zen 4, counts as 256-bit)."""
    flags = _cpu_flags()
    if onednn_isa_below_avx512():  # oneDNN kept to a narrower ISA (e.g. AVX2 on AVX-512)
        flags = flags - {"avx512f"}
    if "avx512f" in flags and _cpu_vendor_family() in HALF_WIDTH_AVX512:
        isa, per_cycle = "avx512 (256-bit datapath)", 32
    elif "avx512f" in flags:
        isa, per_cycle = "avx512", 64
    elif {"avx2", "fma"} <= flags:
        isa, per_cycle = "avx2", 32
    else:
        isa, per_cycle = "sse", 8
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mhz = _cpu_mhz()
    peak = round(cores * mhz * per_cycle / 1000.0, 1) if mhz else None
    return {"isa": isa, "cores": cores, "cpu_mhz": mhz, "flops_per_cycle_per_core": per_cycle,
            "nominal_peak_gflops": peak}


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Median GFLOP/s of a ``size``^3 float32 matrix product with TensorFlow's thread settings."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.normal(size=(size, size)).astype(np.float32))
    b = tf.constant(rng.normal(size=(size, size)).astype(np.float32))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    product()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        float(product())
        times.append(time.perf_counter() - started)
    return round(2.0 * size ** 3 / statistics.median(times) / 1e9, 1)


def fractions(forward_flops_per_seq: int, train_seq_per_s: float | None, infer_seq_per_s: float | None,
              peak: dict, matmul: float | None) -> dict:
    """Achieved GFLOP/s of training (3x forward) and inference, and their fractions of the nominal peak and of the
    measured large-matmul rate."""
    out = {}
    for phase, rate, factor in (("train", train_seq_per_s, 3), ("infer", infer_seq_per_s, 1)):
        if not rate:
            continue
        achieved = factor * forward_flops_per_seq * rate / 1e9
        out[f"{phase}_gflops"] = round(achieved, 1)
        if peak.get("nominal_peak_gflops"):
            out[f"{phase}_fraction_of_nominal_peak"] = round(achieved / peak["nominal_peak_gflops"], 3)
        if matmul:
            out[f"{phase}_fraction_of_matmul"] = round(achieved / matmul, 3)
    return out
