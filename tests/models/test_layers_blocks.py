"""``FusedLayerNormalization`` and ``FusedDropout`` (``seq2exp.models.blocks.layers``) against a numpy reference
and against the Keras layers they replace (same weights), in training and in inference."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import keras

from seq2exp.models.blocks import layers as blocks_layers
from seq2exp.models.blocks.layers import (
    MIN_FUSED_ELEMENTS, FusedDropout, FusedLayerNormalization, FusedSeparableConv1D, onednn_enabled,
)


def numpy_layer_norm(x, gamma, beta, epsilon):
    x = x.astype(np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def _gradients(layer, x, training, weights_of=None):
    """Outputs and the gradients of a loss that weights every output differently (a plain sum would give a zero
    input gradient through a normalisation)."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, training=training) if training is not None else layer(x)
        probe = tf.constant(np.random.default_rng(7).normal(size=outputs.shape).astype("float32"))
        values = tf.cast(outputs, "float32")
        loss = tf.reduce_sum(values * probe) + 0.1 * tf.reduce_sum(tf.square(values))
    weights = (weights_of or layer).trainable_weights
    return [np.asarray(t) for t in [outputs, *tape.gradient(loss, [x, *weights])]]


# epsilon 0.7 is of the order of the rows' variance: a dropped or doubled epsilon moves the outputs
@pytest.mark.parametrize("epsilon", [1e-3, 0.7])
@pytest.mark.parametrize("training", [True, False])
def test_fused_layer_norm_matches_numpy_and_keras_gradients(epsilon, training):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 40, 128)) * rng.uniform(0.5, 2.0, size=(3, 40, 1)) + 1.5).astype("float32")
    fused, reference = FusedLayerNormalization(epsilon=epsilon), keras.layers.LayerNormalization(epsilon=epsilon)
    fused.build(x.shape)
    reference.build(x.shape)
    gamma, beta = rng.normal(size=128).astype("float32"), rng.normal(size=128).astype("float32")
    fused.set_weights([gamma, beta])
    reference.set_weights([gamma, beta])
    assert fused._fusable(tf.constant(x))
    got, want = _gradients(fused, x, training), _gradients(reference, x, None)
    np.testing.assert_allclose(got[0], numpy_layer_norm(x, gamma, beta, epsilon), rtol=1e-5, atol=2e-5)
    for name, a, b in zip(["outputs", "d_x", "d_gamma", "d_beta"], got, want):
        scale = float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * scale, err_msg=name)


def test_fused_layer_norm_falls_back_to_keras_where_not_fused():
    """Two axes, no centre, a small input: Keras's own code runs, with the same results."""
    rng = np.random.default_rng(1)
    for kwargs, shape in [({"axis": [1, 2]}, (2, 40, 128)), ({"center": False}, (2, 40, 128)), ({}, (2, 8, 16))]:
        x = rng.normal(size=shape).astype("float32")
        fused, reference = FusedLayerNormalization(**kwargs), keras.layers.LayerNormalization(**kwargs)
        fused.build(shape)
        reference.build(shape)
        weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
        fused.set_weights(weights)
        reference.set_weights(weights)
        assert not fused._fusable(tf.constant(x))
        for a, b in zip(_gradients(fused, x, True), _gradients(reference, x, None)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_fused_layer_norm_under_mixed_precision_returns_the_compute_dtype():
    x = np.random.default_rng(2).normal(size=(2, 40, 128)).astype("float16")
    layer = FusedLayerNormalization(dtype="mixed_float16")
    out = layer(x, training=True)
    assert out.dtype == tf.float16
    np.testing.assert_allclose(np.asarray(out, np.float32), numpy_layer_norm(x, 1.0, 0.0, 1e-3), atol=5e-3)


@pytest.mark.parametrize("rate", [0.3, 0.1])
def test_fused_dropout_keeps_one_minus_rate_scaled_and_its_gradient_uses_the_same_mask(rate):
    layer = FusedDropout(rate, seed=11)
    x = np.random.default_rng(3).uniform(1.0, 2.0, size=(8, 50, 128)).astype("float32")  # no zeros of its own
    outputs, d_x = _gradients(layer, x, True)
    kept = outputs != 0
    n = kept.size
    # the kept fraction within 5 binomial standard deviations of 1 - rate
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(outputs[kept], x[kept] / (1 - rate), rtol=1e-6)
    probe = np.random.default_rng(7).normal(size=x.shape).astype("float32")
    expected = np.where(kept, (probe + 0.2 * outputs) / (1 - rate), 0.0)  # d/dx of sum(y * probe) + 0.1 sum(y^2)
    np.testing.assert_allclose(d_x, expected, rtol=1e-5, atol=1e-5)


def test_fused_dropout_draws_a_new_mask_per_call_reproducibly_and_is_identity_in_inference():
    x = np.ones((4, 50, 128), "float32")
    first, second = FusedDropout(0.5, seed=5), FusedDropout(0.5, seed=5)
    masks = [np.asarray(first(x, training=True)) != 0 for _ in range(2)]
    assert (masks[0] != masks[1]).any()
    np.testing.assert_array_equal(np.asarray(second(x, training=True)) != 0, masks[0])  # same seed, same masks
    np.testing.assert_array_equal(np.asarray(first(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(first(x)), x)


def test_fused_dropout_with_a_noise_shape_or_a_small_input_runs_keras_dropout():
    x = np.ones((4, 50, 128), "float32")
    shared = np.asarray(FusedDropout(0.5, noise_shape=(4, 1, 128), seed=3)(x, training=True))
    np.testing.assert_array_equal(shared, np.broadcast_to(shared[:, :1], shared.shape))  # one mask per position
    small = np.ones((4, MIN_FUSED_ELEMENTS - 1), "float32")
    layer = FusedDropout(0.5, seed=3)
    assert not (np.asarray(layer(small, training=True)) == 1).all()


def test_fused_layers_round_trip_through_a_keras_file(tmp_path):
    inputs = keras.Input((40, 128))
    outputs = FusedDropout(0.2, seed=1)(FusedLayerNormalization(epsilon=0.01)(inputs))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in loaded.layers[1:]] == ["FusedLayerNormalization", "FusedDropout"]
    assert loaded.layers[1].epsilon == 0.01 and loaded.layers[2].rate == 0.2


def numpy_separable_conv1d(x, depthwise, pointwise, bias, padding):
    """float64 separable convolution (stride 1, TensorFlow's SAME split), its pre-activation output and the gradients
    of ``sum(relu(z) * probe)`` for the depthwise kernel: the oracle for :class:`FusedSeparableConv1D`."""
    x = x.astype(np.float64)
    size, channels, multiplier = depthwise.shape
    if padding == "same":
        before = (size - 1) // 2
        x = np.pad(x, ((0, 0), (before, size - 1 - before), (0, 0)))
    length = x.shape[1] - size + 1
    windows = np.stack([x[:, j:j + length] for j in range(size)], axis=2)  # [B, L, k, C]
    mid = np.einsum("bljc,jcq->blcq", windows, depthwise).reshape(x.shape[0], length, channels * multiplier)
    z = mid @ pointwise[0] + bias
    return z, windows


def _separable_pair(shape, rng, scale=1.0, **kwargs):
    """A FusedSeparableConv1D and a Keras SeparableConv1D built for ``shape`` with the same random weights."""
    fused, reference = FusedSeparableConv1D(**kwargs), keras.layers.SeparableConv1D(**kwargs)
    fused.build(shape)
    reference.build(shape)
    weights = [(rng.normal(size=w.shape) * scale).astype("float32") for w in reference.get_weights()]
    fused.set_weights(weights)
    reference.set_weights(weights)
    return fused, reference, weights


@pytest.mark.skipif(not onednn_enabled(), reason="the fast path runs on TensorFlow's oneDNN kernels only")
@pytest.mark.parametrize("size, padding, multiplier", [(15, "same", 1), (16, "same", 2), (14, "valid", 1)])
def test_fused_separable_conv_matches_numpy_and_keras_gradients(size, padding, multiplier):
    """k=16 and valid padding expose the padding split; a depth multiplier of 2 the kernel-gradient layout."""
    rng = np.random.default_rng(size)
    x = rng.normal(size=(3, 40, 24)).astype("float32")
    fused, reference, weights = _separable_pair(x.shape, rng, 0.3, filters=20, kernel_size=size, padding=padding,
                                                depth_multiplier=multiplier, activation="relu")
    assert fused._fast_training(tf.constant(x), True)
    got, want = _gradients(fused, x, True), _gradients(reference, x, None)
    depthwise, pointwise, bias = weights
    z, windows = numpy_separable_conv1d(x, depthwise, pointwise, bias, padding)
    np.testing.assert_allclose(got[0], np.maximum(z, 0), rtol=0, atol=1e-5)
    # d loss / d z for loss = sum(y * probe) + 0.1 sum(y^2), y = relu(z); then through the pointwise kernel
    probe = np.random.default_rng(7).normal(size=z.shape)
    d_z = np.where(z > 0, probe + 0.2 * np.maximum(z, 0), 0.0)
    d_mid = (d_z @ pointwise[0].T).reshape(*z.shape[:2], x.shape[-1], multiplier)
    d_depthwise = np.einsum("bljc,blcq->jcq", windows, d_mid)
    np.testing.assert_allclose(got[2], d_depthwise, rtol=0, atol=1e-4 * np.abs(d_depthwise).max())
    for name, a, b in zip(["outputs", "d_x", "d_depthwise", "d_pointwise", "d_bias"], got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * float(np.abs(b).max()), err_msg=name)


@pytest.mark.parametrize("case", ["inference", "short_kernel", "strides", "dilation", "float16", "gpu", "no_onednn"])
def test_fused_separable_conv_leaves_other_cases_to_keras(case, monkeypatch):
    """Each case runs Keras's own code, with Keras's results."""
    if case == "gpu":
        monkeypatch.setattr(blocks_layers, "gpu_visible", lambda: True)
    if case == "no_onednn":
        monkeypatch.setattr(blocks_layers, "onednn_enabled", lambda: False)
    kwargs = dict(filters=8, kernel_size=15, padding="same", activation="relu")
    kwargs.update({"short_kernel": {"kernel_size": 13}, "strides": {"strides": 2}, "dilation": {"dilation_rate": 2},
                   "float16": {"dtype": "mixed_float16"}}.get(case, {}))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 40, 32)).astype("float32")
    fused, reference, _ = _separable_pair(x.shape, rng, **kwargs)
    training = case != "inference"
    assert not fused._fast_training(tf.constant(x), training)
    for a, b in zip(_gradients(fused, x, training), _gradients(reference, x, None)):
        np.testing.assert_array_equal(a, b)


def test_fused_separable_conv_round_trips_through_a_keras_file_and_builds_the_conformer(tmp_path):
    from seq2exp.models.blocks.attention import apply_conformer_swiglu_block

    inputs = keras.Input((40, 32))
    model = keras.Model(inputs, apply_conformer_swiglu_block(inputs, num_heads=2, kernel_size=15, name="block"))
    conv = model.get_layer("block_conv")
    assert type(conv) is FusedSeparableConv1D and conv.kernel_size == (15,)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("block_conv")) is FusedSeparableConv1D
    x = np.random.default_rng(4).normal(size=(2, 40, 32)).astype("float32")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


# Run in a child process with a timeout: on oneDNN, TensorFlow's own bfloat16 depthwise convolution with k=15 never
# returns on 16 channels, which FusedSeparableConv1D avoids (a regression must fail, not hang the suite).
BFLOAT16_CHECK = """
import json
import numpy as np, tensorflow as tf, keras
from seq2exp.models.blocks.layers import FusedSeparableConv1D
rng = np.random.default_rng(5)
x = tf.constant(rng.normal(size=(2, 40, 16)).astype("float32"))
kwargs = dict(filters=8, kernel_size=15, padding="same")  # linear: a ReLU mask flipped by rounding moves d_x
fused = FusedSeparableConv1D(dtype="mixed_bfloat16", **kwargs)
reference = keras.layers.SeparableConv1D(**kwargs)  # float32
fused.build(x.shape)
reference.build(x.shape)
weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
fused.set_weights(weights)
reference.set_weights(weights)
probe = tf.constant(rng.normal(size=(2, 40, 8)).astype("float32"))
def run(layer, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = tf.cast(layer(x, training=training), "float32")
        loss = tf.reduce_sum(outputs * probe)
    return [outputs, *tape.gradient(loss, [x, *layer.trainable_weights])]
result = {"fast_training": bool(fused._fast_training(tf.cast(x, "bfloat16"), True)),
          "output_dtype": fused(x).dtype.name}
for mode, training in (("training", True), ("inference", False)):
    got, want = run(fused, training), run(reference, training)
    result[mode] = [float(np.abs(np.asarray(a, "float32") - np.asarray(b)).max() / np.abs(np.asarray(b)).max())
                    for a, b in zip(got, want)]
print(json.dumps(result))
"""


@pytest.mark.skipif(not onednn_enabled(), reason="the bfloat16 path concerns TensorFlow's oneDNN kernels")
def test_fused_separable_conv_under_mixed_bfloat16_returns_on_16_channels_with_float32_results():
    """Training (the fast path) and inference under mixed_bfloat16 on 16 channels, k=15: they return, in bfloat16,
    and their outputs and gradients equal a float32 Keras SeparableConv1D's to bfloat16 precision."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", BFLOAT16_CHECK], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["fast_training"] and result["output_dtype"] == "bfloat16"
    for mode in ("training", "inference"):
        names = ["outputs", "d_x", "d_depthwise", "d_pointwise", "d_bias"]
        assert len(result[mode]) == len(names)
        for name, relative in zip(names, result[mode]):
            assert relative < 3e-2, (mode, name, relative)


_ISA_PROBE = """
import seq2exp.models.blocks.layers as layers
import tensorflow as tf
tf.nn.conv2d(tf.ones([1, 1, 8, 4]), tf.ones([1, 3, 4, 4]), 1, "SAME")  # oneDNN reports its ISA on first use
print("onednn_avx512", layers.onednn_avx512())
"""


@pytest.mark.parametrize("cap", [None, "AVX2", "AVX512_CORE"])
def test_onednn_avx512_agrees_with_the_isa_onednn_reports(cap):
    """``onednn_avx512()`` (which decides whether grouped convolutions run in chunks) against oneDNN's own word:
    the ISA line of ``ONEDNN_VERBOSE``, on this CPU and with ``ONEDNN_MAX_CPU_ISA`` keeping it narrower."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    env.update(ONEDNN_VERBOSE="1", TF_ENABLE_ONEDNN_OPTS="1", **({"ONEDNN_MAX_CPU_ISA": cap} if cap else {}))
    done = subprocess.run([sys.executable, "-c", _ISA_PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    output = done.stdout + done.stderr
    isa = [line.rpartition("isa:")[2] for line in output.splitlines() if ",info,cpu,isa:" in line]
    assert isa, output[-2000:]
    assert f"onednn_avx512 {'AVX-512' in isa[0]}" in output, (isa[0], cap)
    if cap == "AVX2":
        assert "AVX-512" not in isa[0]


def _conv2d_count(function, *specs) -> int:
    return sum(op.type == "Conv2D" for op in function.get_concrete_function(*specs).graph.get_operations())


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("avx512", [True, False])
def test_a_long_kernel_runs_in_halves_on_avx512_with_numpys_outputs_and_keras_gradients(avx512, padding,
                                                                                       monkeypatch):
    """A 14-tap ``LongKernelConv1D`` over 64 channels (an even width: "same" pads one more on the right) runs as two
    convolutions on oneDNN's AVX-512 kernels and as one elsewhere; either way its outputs are numpy's convolution
    and its gradients those of ``keras.layers.Conv1D`` with the same weights (TensorFlow's own convolution
    gradients)."""
    from seq2exp.models.blocks.layers import LongKernelConv1D
    from tests.inference.test_optimize import _numpy_conv1d

    monkeypatch.setattr(blocks_layers, "onednn_avx512", lambda: avx512)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 23, 64)).astype(np.float32)
    layer = LongKernelConv1D(6, 14, padding=padding, activation="relu", use_bias=True)
    layer.build(x.shape)
    layer.set_weights([rng.normal(size=(14, 64, 6)).astype(np.float32) * 0.1,
                       rng.normal(size=6).astype(np.float32)])
    keras_conv = keras.layers.Conv1D(6, 14, padding=padding, activation="relu", use_bias=True)
    keras_conv.build(x.shape)
    keras_conv.set_weights(layer.get_weights())

    expected = np.maximum(_numpy_conv1d(x.astype(np.float64), layer.kernel.numpy().astype(np.float64),
                                        layer.bias.numpy(), padding=padding), 0.0)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    halved = onednn_enabled() and avx512
    assert _conv2d_count(tf.function(layer), tf.TensorSpec(x.shape)) == (2 if halved else 1)

    weights = tf.constant(rng.normal(size=expected.shape).astype(np.float32))
    gradients = []
    for conv in (layer, keras_conv):
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(conv(inputs) * weights)
        gradients.append(tape.gradient(loss, [inputs, conv.kernel, conv.bias]))
    for got, want in zip(*gradients):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_blocks_build_a_long_kernel_conv_only_for_14_to_21_taps():
    from seq2exp.models.blocks.conv import apply_conv_bn_act
    from seq2exp.models.blocks.layers import LongKernelConv1D

    inputs = keras.Input((30, 8))
    kinds = {taps: type(keras.Model(inputs, apply_conv_bn_act(inputs, 4, taps, name=f"c{taps}")).get_layer(
        f"c{taps}_conv")) for taps in (13, 14, 21, 22)}
    assert kinds == {13: keras.layers.Conv1D, 14: LongKernelConv1D, 21: LongKernelConv1D, 22: keras.layers.Conv1D}
