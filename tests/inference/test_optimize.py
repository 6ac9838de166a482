"""fold_batchnorm: folded (convolution -> BatchNorm) pairs give the original model's inference outputs."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: F401,I001  (two logical CPUs before TensorFlow starts)
import keras

from seq2exp import models
from seq2exp.inference.optimize import find_conv_bn_pairs, fold_batchnorm


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
