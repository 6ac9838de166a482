"""autosome (LegNet): exact parameter count, the grouped-conv and CP-bilinear layers against numpy references."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras

from seq2exp import models
from seq2exp.models.blocks.layers import CPBilinear, FusedBatchNorm, GroupedConv1D, cp_rank


def _numpy_grouped_conv(x: np.ndarray, kernel: np.ndarray, groups: int) -> np.ndarray:
    """Reference grouped 'same' convolution; ``kernel`` in GroupedConv1D's [k, C_in, out_per_group] layout."""
    batch, length, channels = x.shape
    k, _, out_per_group = kernel.shape
    in_per_group = channels // groups
    left = (k - 1) // 2
    padded = np.pad(x, ((0, 0), (left, k - 1 - left), (0, 0)))
    out = np.zeros((batch, length, groups * out_per_group), np.float64)
    for g in range(groups):
        for j in range(out_per_group):
            for i in range(in_per_group):
                c = g * in_per_group + i
                for t in range(k):
                    out[:, :, g * out_per_group + j] += padded[:, t:t + length, c] * kernel[t, c, j]
    return out


@pytest.mark.parametrize("channels,filters,groups,kernel_size", [(8, 8, 4, 7), (6, 9, 3, 5), (4, 4, 4, 3)])
def test_grouped_conv_matches_a_grouped_convolution(channels, filters, groups, kernel_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 11, channels)).astype(np.float32)
    layer = GroupedConv1D(filters, kernel_size, groups=groups)
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert kernel.size == kernel_size * (channels // groups) * filters  # same parameters as Conv1D(groups=)
    np.testing.assert_allclose(y, _numpy_grouped_conv(x, kernel, groups), rtol=1e-4, atol=1e-5)


def test_cp_bilinear_is_the_trl_on_the_outer_product():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 16)).astype(np.float32)
    layer = CPBilinear(8, rank_fraction=0.5, init_std=0.5)
    y = keras.ops.convert_to_numpy(layer(x))
    weights = [keras.ops.convert_to_numpy(w) for w in (layer.cp_weights, layer.left_factor, layer.right_factor,
                                                       layer.output_factor, layer.bias)]
    cp_weights, a, b, c, bias = weights
    full = np.einsum("r,ir,jr,kr->ijk", cp_weights, a, b, c)
    expected = np.einsum("bi,bj,ijk->bk", x, x, full) + bias
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert layer.rank == cp_rank(16, 8, 0.5) == round(0.5 * 16 * 16 * 8 / 40)


def test_legnet_has_exactly_the_pytorch_reference_parameter_count():
    model = models.build("autosome")
    assert harness.trainable_params(model) == 1_852_846  # bench/legnet_torch_ref.py / report.pdf
    assert model.inputs[0].shape[1:] == (150, 6)
    assert {layer.name.split("_")[0] for layer in model.layers} >= {"first", "core", "final"}


def test_legnet_head_is_the_expected_bin_of_a_softmax(demo_train):
    model = models.build("autosome", smoke=True)
    sequences, _ = harness.demo_examples(demo_train, 6)
    config = models.get("autosome").config(smoke=True)
    outputs = harness.predict(model, harness.encode(config, sequences))
    assert np.all(outputs["bins"] > 0)
    np.testing.assert_allclose(outputs["expression"], outputs["bins"] @ np.arange(18), rtol=1e-5)


def test_grouped_conv_native_path_equals_the_depthwise_path_with_gradients():
    """TF's native grouped convolution (taken where oneDNN gives it CPU gradients) equals the depthwise + group-sum
    form, outputs and gradients; where Eigen has no such gradient only the forward pass is compared, and the form
    ``call`` picks must still train."""
    import tensorflow as tf

    from seq2exp.models.blocks.layers import native_grouped_convolution

    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(3, 17, 12)).astype(np.float32))
    layer = GroupedConv1D(12, 7, groups=6, use_bias=True, bias_initializer="random_normal")
    layer.build(x.shape)
    results = []
    for path in (layer._grouped_tf, layer._depthwise_sum):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = path(x) + layer.bias
            loss = tf.reduce_sum(y * tf.cos(y))
        gradients = ([g.numpy() for g in tape.gradient(loss, [x, layer.kernel, layer.bias])]
                     if native_grouped_convolution() or path == layer._depthwise_sum else [])
        results.append([y.numpy()] + gradients)
    for native, reference in zip(*results):
        np.testing.assert_allclose(native, reference, rtol=1e-5, atol=1e-5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    assert np.isfinite(tape.gradient(loss, layer.kernel).numpy()).all()


@pytest.mark.parametrize("channels,groups,itemsize,chunks", [
    (512, 256, 4, 4), (1024, 512, 4, 8), (1024, 512, 2, 8),  # rows of 2 / 4 / 2 KiB: chunks of 128 channels
    (528, 264, 4, 1), (768, 384, 4, 1), (256, 128, 4, 1), (512, 256, 2, 1),  # no 2 KiB multiple: one call
    (512, 2, 4, 1),  # 4 chunks would cut a group in two
])
def test_grouped_convolution_chunks_only_where_a_position_spans_a_multiple_of_2_kib(channels, groups, itemsize,
                                                                                     chunks):
    from seq2exp.models.blocks.layers import grouped_convolution_chunks

    assert grouped_convolution_chunks(channels, groups, itemsize) == chunks


@pytest.mark.parametrize("avx512", [True, False])
def test_grouped_conv_of_512_channels_runs_in_chunks_with_the_same_outputs_and_gradients(avx512, monkeypatch):
    """LegNet's 512-wide grouped convolution (2 filters per group) is split into 128-channel chunks by oneDNN's
    AVX-512 kernels, and runs whole on its AVX2 ones: its outputs equal numpy's grouped convolution and its gradients
    the (unsplit) depthwise + group-sum form's either way."""
    import tensorflow as tf

    from seq2exp.models.blocks import layers
    from seq2exp.models.blocks.layers import gpu_visible, native_grouped_convolution

    monkeypatch.setattr(layers, "onednn_avx512", lambda: avx512)

    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(2, 9, 512)).astype(np.float32))
    layer = GroupedConv1D(512, 7, groups=256, use_bias=True, bias_initializer="random_normal")
    layer.build(x.shape)
    expected = _numpy_grouped_conv(x.numpy(), layer.kernel.numpy(), 256) + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    results = []
    for path in (layer.call, lambda inputs: layer._depthwise_sum(inputs) + layer.bias):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = path(x)
            loss = tf.reduce_sum(y * tf.cos(y))
        results.append([g.numpy() for g in tape.gradient(loss, [x, layer.kernel, layer.bias])])
    for chunked, reference in zip(*results):
        np.testing.assert_allclose(chunked, reference, rtol=1e-4, atol=1e-4)
    convolutions = [op for op in tf.function(layer.call).get_concrete_function(x).graph.get_operations()
                    if op.type == "Conv2D"]
    assert len(convolutions) == (4 if native_grouped_convolution() and avx512 and not gpu_visible() else
                                 int(native_grouped_convolution()))


def test_fused_batchnorm_equals_keras_batchnorm_in_both_modes():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(3).normal(2.0, 3.0, size=(4, 13, 6)).astype(np.float32))
    layers = [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5), FusedBatchNorm(momentum=0.9, epsilon=1e-5)]
    results = []
    for layer in layers:
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, 6))
        layer.beta.assign(np.linspace(-1.0, 1.0, 6))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.range(6.0) * tf.sin(y))
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y.numpy(), *[g.numpy() for g in grads], layer.moving_mean.numpy(),
                        layer.moving_variance.numpy(), layer(x, training=False).numpy()])
    for fused, plain in zip(results[1], results[0]):
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)
    assert np.abs(results[0][4]).max() > 0.1  # the moving statistics really moved


@pytest.mark.parametrize("shape, epsilon", [((4, 13, 6), 1e-5), ((3, 150, 8), 1e-5), ((4, 13, 6), 0.7)])
def test_fused_batchnorm_silu_equals_keras_batchnorm_then_silu(shape, epsilon):
    """``FusedBatchNorm(activation="silu")`` (its gradient recomputes the normalised values, XLA-compiled) against
    Keras's own BatchNormalization followed by SiLU, differentiated by TensorFlow: outputs, gradients for x, gamma
    and beta, moving statistics and the inference-mode output. An epsilon near the batch variance (4) exposes one
    the recompute gets wrong."""
    import tensorflow as tf

    channels = shape[-1]
    x = tf.constant(np.random.default_rng(4).normal(1.0, 2.0, size=shape).astype(np.float32))
    weights = tf.constant(np.random.default_rng(5).normal(size=shape).astype(np.float32))
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=epsilon)
    fused = FusedBatchNorm(momentum=0.9, epsilon=epsilon, activation="silu")
    results = []
    for layer, activate in ((plain, keras.activations.silu), (fused, lambda y: y)):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, channels))
        layer.beta.assign(np.linspace(-1.0, 1.0, channels))

        @tf.function
        def step(inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                y = activate(layer(inputs, training=True))
                loss = tf.reduce_sum(y * weights * tf.cos(y))
            return y, tape.gradient(loss, [inputs, layer.gamma, layer.beta])

        y, grads = step(x)
        results.append([y.numpy(), *[g.numpy() for g in grads], layer.moving_mean.numpy(),
                        layer.moving_variance.numpy(), activate(layer(x, training=False)).numpy()])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5)
    assert np.abs(results[0][1]).max() > 1e-3  # the gradient is not trivially zero
    assert FusedBatchNorm.from_config(fused.get_config()).activation == "silu"
    with pytest.raises(ValueError, match="activation"):
        FusedBatchNorm(activation="gelu")


@pytest.mark.parametrize("use_bias", [False, True])
def test_gated_pointwise_conv_equals_multiply_then_conv1d(use_bias):
    """``GatedPointwiseConv1D([x, gates])`` (its gradient recomputes ``x * gates``) against Keras's ``Multiply``
    and ``Conv1D(f, 1)`` with the same weights, differentiated by TensorFlow, in training and inference mode."""
    import tensorflow as tf

    from seq2exp.models.blocks.layers import GatedPointwiseConv1D

    rng = np.random.default_rng(6)
    x = tf.constant(rng.normal(size=(3, 11, 8)).astype(np.float32))
    gates = tf.constant(rng.uniform(0.1, 1.0, size=(3, 1, 8)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(3, 11, 5)).astype(np.float32))
    gated = GatedPointwiseConv1D(5, use_bias=use_bias, bias_initializer="random_normal")
    conv = keras.layers.Conv1D(5, 1, use_bias=use_bias)
    gated.build([x.shape, gates.shape])
    conv.build(x.shape)
    conv.set_weights(gated.get_weights())
    results = []
    for layer, apply in ((gated, lambda a, g, t: gated([a, g], training=t)),
                         (conv, lambda a, g, t: conv(keras.layers.Multiply()([a, g])))):
        @tf.function
        def step(a, g):
            with tf.GradientTape() as tape:
                tape.watch([a, g])
                y = apply(a, g, True)
                loss = tf.reduce_sum(tf.sin(y) * weights)
            return y, tape.gradient(loss, [a, g, *layer.trainable_weights])

        y, grads = step(x, gates)
        results.append([y.numpy(), *[g.numpy() for g in grads], apply(x, gates, False).numpy()])
    assert len(results[0]) == len(results[1]) == (6 if use_bias else 5)
    for got, expected in zip(results[0], results[1]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[-1] for w in gated.weights] == [w.path.split("/")[-1] for w in conv.weights]


def test_a_keras_file_with_plain_batchnorm_layers_still_loads(tmp_path, demo_train, monkeypatch):
    """Files saved before FusedBatchNorm (class BatchNormalization and separate SiLU layers, same weight names)
    load and predict the same; a model built now has the same weights under the same names."""
    from seq2exp.models.blocks import conv

    inputs = harness.demo_inputs(demo_train, "autosome", 4)
    with monkeypatch.context() as patch:
        patch.setattr(conv, "FusedBatchNorm", keras.layers.BatchNormalization)
        patch.setattr(conv, "FUSED_LAYERS", False)
        old = harness.seeded_smoke_model("autosome")
    assert not any(isinstance(layer, FusedBatchNorm) for layer in old.layers)
    assert any(isinstance(layer, keras.layers.Activation) for layer in old.layers)
    old.save(tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(harness.predict(loaded, inputs)["expression"],
                               harness.predict(old, inputs)["expression"], rtol=1e-6, atol=1e-6)
    new = harness.seeded_smoke_model("autosome")
    assert any(isinstance(layer, FusedBatchNorm) for layer in new.layers)
    assert [(w.path, tuple(w.shape)) for w in new.weights] == [(w.path, tuple(w.shape)) for w in old.weights]
    new.set_weights(old.get_weights())  # and old weights drop into the new layers unchanged
    np.testing.assert_allclose(harness.predict(new, inputs)["expression"],
                               harness.predict(old, inputs)["expression"], rtol=1e-5, atol=1e-5)

