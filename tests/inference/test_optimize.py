"""fold_batchnorm: folded (convolution -> BatchNorm) pairs give the original model's inference outputs."""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.models import harness  # noqa: F401,I001  (two logical CPUs before TensorFlow starts)
import keras

from seq2exp import models
from seq2exp.inference.optimize import find_conv_bn_pairs, fold_batchnorm
from seq2exp.models.blocks.layers import GatedPointwiseConv1D, GroupedConv1D


def _randomise_batchnorms(model, seed=0):
    """Non-trivial BN statistics and affine weights (fresh ones are the identity, which would prove nothing)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(size=channels))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, size=channels))
            layer.gamma.assign(rng.uniform(0.5, 2.0, size=channels))
            layer.beta.assign(rng.normal(size=channels))


@pytest.fixture(scope="module")
def legnet():
    model = harness.seeded_smoke_model("autosome")
    _randomise_batchnorms(model)
    return model


def test_folded_model_equals_the_original_at_inference(legnet, demo_train):
    model, name = legnet, "autosome"
    before = [w.numpy().copy() for w in model.weights]
    inputs = harness.demo_inputs(demo_train, name, 16)
    folded = fold_batchnorm(model)
    pairs = find_conv_bn_pairs(model)
    assert len(pairs) == sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) > 0
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    expected, got = harness.predict(model, inputs), harness.predict(folded, inputs)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-5)  # float32 rounding
    assert np.ptp(expected["expression"]) > 1e-3  # outputs really vary with the input
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))  # original untouched
    assert folded.count_params() < model.count_params()


def test_fold_matches_a_numpy_convolution_and_batchnorm():
    rng = np.random.default_rng(1)
    inputs = keras.Input((9, 3))
    y = keras.layers.Conv1D(4, 3, padding="valid", use_bias=True, name="conv")(inputs)
    y = keras.layers.BatchNormalization(epsilon=1e-3, name="bn")(y)
    model = keras.Model(inputs, y)
    _randomise_batchnorms(model, seed=2)
    kernel, bias = rng.normal(size=(3, 3, 4)), rng.normal(size=4)
    model.get_layer("conv").set_weights([kernel, bias])
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    bn = model.get_layer("bn")
    conv = np.stack([sum(x[:, t + s, :] @ kernel[s] for s in range(3)) for t in range(7)], axis=1) + bias
    expected = ((conv - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3) * bn.gamma.numpy()
                + bn.beta.numpy())
    np.testing.assert_allclose(fold_batchnorm(model)(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_fold_is_cached_until_the_weights_change(legnet):
    model = legnet
    first = fold_batchnorm(model)
    assert fold_batchnorm(model) is first
    layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    layer.beta.assign(layer.beta.numpy() + 1.0)
    try:
        assert fold_batchnorm(model) is not first
    finally:
        layer.beta.assign(layer.beta.numpy() - 1.0)


def test_a_model_without_conv_batchnorm_pairs_is_returned_unchanged():
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Dense(3)(inputs)))
    assert find_conv_bn_pairs(model) == []
    assert fold_batchnorm(model) is model


def test_the_folded_copy_keeps_the_build_record_and_its_task_names():
    """A multi-task model's folded copy still names its tasks (the export names its per-task outputs from them)."""
    from seq2exp.inference.graph import model_task_names
    from seq2exp.models import registry

    spec = registry.get("autosome")
    model = spec.build_from(spec.config({"tasks": ["dev", "hk"]}, smoke=True))
    folded = fold_batchnorm(model)
    assert folded is not model and find_conv_bn_pairs(model)
    assert model_task_names(folded) == ["dev", "hk"]
    assert registry.build_info(folded) == registry.build_info(model)


def _numpy_conv1d(x, kernel, bias, *, strides=1, dilation=1, padding="valid", groups=1):
    """Reference 1-D convolution (channels last, TensorFlow's "same" padding rule), kernel ``[k, C_in/groups, F]``
    with output channel ``f`` reading input group ``f // (F / groups)``."""
    batch, length, channels = x.shape
    width, per_group, filters = kernel.shape
    span = dilation * (width - 1) + 1
    if padding == "same":
        out_length = -(-length // strides)
        total = max((out_length - 1) * strides + span - length, 0)
        x = np.pad(x, ((0, 0), (total // 2, total - total // 2), (0, 0)))
    else:
        out_length = -(-(length - span + 1) // strides)
    out = np.zeros((batch, out_length, filters))
    out_per_group = filters // groups
    for f in range(filters):
        group = f // out_per_group
        inputs = x[:, :, group * per_group:(group + 1) * per_group]
        for t in range(out_length):
            window = inputs[:, t * strides:t * strides + span:dilation, :]  # [B, k, C_in/groups]
            out[:, t, f] = np.einsum("bkc,kc->b", window, kernel[:, :, f])
    return out + bias


def _silu(values):
    return values / (1.0 + np.exp(-values))


FUSED_CASES = {  # (layer builder, its call's inputs, BatchNorm activation)
    "conv_strided_same": (lambda: keras.layers.Conv1D(5, 3, strides=2, padding="same", use_bias=True), "silu"),
    "conv_dilated_valid": (lambda: keras.layers.Conv1D(5, 3, dilation_rate=2, padding="valid"), None),
    "grouped_same": (lambda: GroupedConv1D(6, 3, groups=2, padding="same", use_bias=True), "silu"),
    "gated_pointwise": (lambda: GatedPointwiseConv1D(5, use_bias=True), "silu"),
}


@pytest.mark.parametrize("case", sorted(FUSED_CASES))
def test_fused_folded_convolutions_match_a_numpy_convolution_batchnorm_and_silu(case):
    """Each 1-D convolution kind with its BatchNorm (and SiLU) folded runs as one FoldedConv1D; its outputs are
    numpy's convolution -> BatchNorm -> SiLU on the original weights (non-trivial statistics, odd lengths)."""
    from seq2exp.models.blocks.layers import FusedBatchNorm

    build, activation = FUSED_CASES[case]
    rng = np.random.default_rng(5)
    x_in = keras.Input((11, 4))
    conv = build()
    gated = isinstance(conv, GatedPointwiseConv1D)
    gates_in = keras.Input((1, 4))
    y = conv([x_in, gates_in] if gated else x_in)
    y = FusedBatchNorm(epsilon=1e-3, activation=activation, name="bn")(y)
    model = keras.Model([x_in, gates_in] if gated else x_in, y)
    _randomise_batchnorms(model, seed=6)
    for weight in conv.weights:
        weight.assign(rng.normal(size=weight.shape))
    x = rng.normal(size=(3, 11, 4)).astype(np.float32)
    gates = rng.uniform(0.1, 1.0, size=(3, 1, 4)).astype(np.float32)

    folded = fold_batchnorm(model)
    assert type(folded.get_layer(conv.name)).__name__ == "FoldedConv1D"
    got = folded([x, gates] if gated else x).numpy()

    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    bias = conv.bias.numpy() if conv.bias is not None else np.zeros(conv.filters)
    if isinstance(conv, GroupedConv1D):
        kernel = np.asarray(conv.grouped_kernel(conv.kernel), np.float64)
        values = _numpy_conv1d(x, kernel, bias, padding="same", groups=2)
    elif gated:
        values = _numpy_conv1d(x * gates, kernel, bias)
    else:
        values = _numpy_conv1d(x, kernel, bias, strides=conv.strides[0], dilation=conv.dilation_rate[0],
                               padding=conv.padding)
    bn = model.get_layer("bn")
    expected = ((values - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3) * bn.gamma.numpy()
                + bn.beta.numpy())
    expected = _silu(expected) if activation == "silu" else expected
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("avx512", [True, False])
def test_folded_grouped_conv_of_512_channels_in_chunks_matches_numpy(avx512, monkeypatch):
    """A folded 512-channel grouped convolution (LegNet's widest, run in 128-channel chunks by oneDNN's AVX-512
    kernels, whole on its AVX2 ones) with its BatchNorm and SiLU equals numpy's convolution -> BatchNorm -> SiLU on
    the original weights."""
    from seq2exp.models.blocks import layers
    from seq2exp.models.blocks.layers import FusedBatchNorm

    monkeypatch.setattr(layers, "onednn_avx512", lambda: avx512)

    rng = np.random.default_rng(7)
    x_in = keras.Input((9, 512))
    conv = GroupedConv1D(512, 7, groups=256, padding="same", use_bias=True)
    model = keras.Model(x_in, FusedBatchNorm(epsilon=1e-3, activation="silu", name="bn")(conv(x_in)))
    _randomise_batchnorms(model, seed=8)
    for weight in conv.weights:
        weight.assign(rng.normal(size=weight.shape))
    x = rng.normal(size=(2, 9, 512)).astype(np.float32)
    got = fold_batchnorm(model)(x).numpy()
    kernel = np.asarray(conv.grouped_kernel(conv.kernel), np.float64)
    values = _numpy_conv1d(x, kernel, conv.bias.numpy(), padding="same", groups=256)
    bn = model.get_layer("bn")
    expected = _silu((values - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3)
                     * bn.gamma.numpy() + bn.beta.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_tf_servings_session_runs_each_folded_convolution_as_one_fused_kernel(legnet, tmp_path):
    """The exported folded LegNet, loaded by TF Serving's own loading path and run with a full trace: every
    convolution executes as one fused kernel with its bias (no BiasAdd / AddV2 of its own), and with oneDNN also
    with its SiLU, except the grouped ones (oneDNN runs their SiLU post-op slower than a separate pass)."""
    import tensorflow as tf

    from seq2exp.data.encoding import Encoder
    from seq2exp.inference.graph import PredictionGraph
    from seq2exp.models.blocks.layers import native_grouped_convolution
    from seq2exp.serving import signatures as names
    from seq2exp.serving.export import export_graph

    folded = fold_batchnorm(legnet)
    convolutions = {layer.name: layer for layer in folded.layers if type(layer).__name__ == "FoldedConv1D"}
    assert len(convolutions) == len(find_conv_bn_pairs(legnet))
    config = models.get("autosome").config(smoke=True)
    version = export_graph(PredictionGraph(folded, Encoder(config["input"]), {}), tmp_path, "autosome",
                           version=1, verify=False).path
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version))
        signature = meta_graph.signature_def[names.ONEHOT_SIGNATURE]
        shape = [dim.size for dim in signature.inputs[names.ONEHOT_INPUT].tensor_shape.dim]
        x = np.eye(shape[-1], dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (4, shape[1]))]
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        metadata = tf.compat.v1.RunMetadata()
        session.run({alias: info.name for alias, info in signature.outputs.items()},
                    {signature.inputs[names.ONEHOT_INPUT].name: x}, options=options, run_metadata=metadata)
    executed = [node.timeline_label for device in metadata.step_stats.dev_stats for node in device.node_stats
                if " = " in node.timeline_label]
    onednn = native_grouped_convolution()  # TensorFlow's oneDNN kernels are on
    for name, layer in convolutions.items():
        scope = re.compile(rf"/{name}(_\d+)?/")  # Keras scopes a layer's ops as <name> or <name>_<n>
        ops = [label.split(" = ")[1].split("(")[0] for label in executed if scope.search(label.split(" = ")[0])]
        kernels = [op for op in ops if "Conv2D" in op]
        assert len(kernels) == 1 and "Fused" in kernels[0], (name, ops)
        assert not any(op in ("BiasAdd", "AddV2", "Add") for op in ops), (name, ops)
        activation_ops = [op for op in ops if "Swish" in op or op == "Sigmoid" or (op == "Mul" and not layer.gated)]
        if onednn and layer.groups == 1:  # (a gated convolution's own Mul is its gating)
            assert not activation_ops, (name, ops)
        elif onednn:
            assert activation_ops, (name, ops)


def test_a_model_compiled_with_an_unregistered_loss_still_folds(demo_train):
    """A model compiled with a loss Keras cannot deserialise (as seq2exp's multi-task loss, a closure): clone_model
    would re-compile the copy from that config and fail, and prediction would silently run the unfolded graph."""
    model = harness.seeded_smoke_model("autosome", seed=3)
    _randomise_batchnorms(model, seed=4)

    def unregistered_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    model.compile(optimizer="adam", loss={"expression": unregistered_loss})
    folded = fold_batchnorm(model)
    assert folded is not model
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    inputs = harness.demo_inputs(demo_train, "autosome", 8)
    np.testing.assert_allclose(harness.predict(folded, inputs)["expression"],
                               harness.predict(model, inputs)["expression"], rtol=1e-5, atol=1e-5)


def test_dense_swiglu_pairs_run_as_one_layer_with_a_numpy_swiglu_and_the_originals_outputs():
    """A linear Dense -> fixed-beta SwiGLU becomes one SwiGLUDense (two products with the kernel's halves): its
    outputs equal numpy's ``a * b * sigmoid(b)`` of the original Dense, and the whole model's outputs the original's.
    A learnable-beta SwiGLU and a Dense with a second consumer are left alone."""
    from seq2exp.inference.optimize import find_dense_swiglu_pairs
    from seq2exp.models.blocks.attention import SwiGLU

    rng = np.random.default_rng(3)
    inputs = keras.Input((30, 24))
    expanded = keras.layers.Dense(40, name="expand")(inputs)
    glu = SwiGLU(name="glu")(expanded)
    shared = keras.layers.Dense(16, use_bias=False, name="shared")(glu)  # feeds a SwiGLU and the output
    learnable = SwiGLU(learnable_beta=True, name="learnable")(keras.layers.Dense(32, name="expand2")(glu))
    model = keras.Model(inputs, keras.layers.Concatenate()([SwiGLU(name="glu3")(shared), shared, learnable]))
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32") * 0.5)
    assert find_dense_swiglu_pairs(model) == [("expand", "glu")]
    folded = fold_batchnorm(model)
    assert type(folded.get_layer("expand")).__name__ == "SwiGLUDense"
    assert type(folded.get_layer("learnable")).__name__ == "SwiGLU"
    x = rng.normal(size=(5, 30, 24)).astype("float32")
    kernel, bias = [np.asarray(w, np.float64) for w in model.get_layer("expand").weights]
    a, b = np.split(x @ kernel + bias, 2, axis=-1)
    probe = keras.Model(folded.input, folded.get_layer("expand").output)
    np.testing.assert_allclose(np.asarray(probe(x)), a * b / (1 + np.exp(-b)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(folded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("avx512", [True, False])
def test_a_folded_long_kernel_runs_in_halves_on_avx512_with_numpys_outputs(avx512, monkeypatch):
    """A folded 15-tap convolution over 64 channels with its BatchNorm and SiLU (DREAM-RNN's and BHI's kernel width)
    runs as two convolutions on oneDNN's AVX-512 kernels and one elsewhere, and equals numpy's convolution ->
    BatchNorm -> SiLU on the original weights."""
    import tensorflow as tf

    from seq2exp.models.blocks import layers
    from seq2exp.models.blocks.layers import FusedBatchNorm, LongKernelConv1D, onednn_enabled

    monkeypatch.setattr(layers, "onednn_avx512", lambda: avx512)
    rng = np.random.default_rng(9)
    x_in = keras.Input((19, 64))
    conv = LongKernelConv1D(5, 15, padding="same", use_bias=True)
    model = keras.Model(x_in, FusedBatchNorm(epsilon=1e-3, activation="silu", name="bn")(conv(x_in)))
    _randomise_batchnorms(model, seed=10)
    for weight in conv.weights:
        weight.assign(rng.normal(size=weight.shape) * 0.2)
    x = rng.normal(size=(2, 19, 64)).astype(np.float32)
    folded = fold_batchnorm(model)
    assert type(folded.get_layer(conv.name)).__name__ == "FoldedConv1D"
    graph = tf.function(folded).get_concrete_function(tf.TensorSpec(x.shape)).graph
    assert sum(op.type == "Conv2D" for op in graph.get_operations()) == (2 if avx512 and onednn_enabled() else 1)
    values = _numpy_conv1d(x, conv.kernel.numpy().astype(np.float64), conv.bias.numpy(), padding="same")
    bn = model.get_layer("bn")
    expected = _silu((values - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-3)
                     * bn.gamma.numpy() + bn.beta.numpy())
    np.testing.assert_allclose(folded(x).numpy(), expected, rtol=1e-4, atol=1e-4)
