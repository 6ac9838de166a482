"""The reference model (Vaishnav et al. 2022): parameter count from the original code, cooperativity layer."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001  (configures the logical CPUs before TensorFlow starts)
import keras

from seq2exp import models
from seq2exp.errors import ConfigError


def test_parameter_count_matches_the_original_code():
    model = models.build("vaishnav")
    assert harness.trainable_params(model) == 3_369_937  # rr_aux.fitness_function_model with model_params
    assert model.get_layer("motif_conv").kernel.shape == (30, 4, 256)  # one kernel, both strands


def test_cooperativity_conv1d_equals_the_original_conv2d_over_stacked_strands():
    rng = np.random.default_rng(0)
    width, channels, filters, length = 6, 3, 4, 12
    forward, reverse = rng.normal(size=(2, 2, length, channels)).astype("float32")
    kernel2d = rng.normal(size=(2, width, channels, filters)).astype("float32")
    stacked = np.stack([forward, reverse], axis=1)  # [B, 2, L, C]
    padded = keras.layers.ZeroPadding2D(((0, 0), (width // 2 - 1, width // 2)))(stacked)
    conv2d = keras.layers.Conv2D(filters, (2, width), padding="valid", use_bias=False)
    conv2d.build(padded.shape)
    conv2d.kernel.assign(kernel2d)
    expected = np.asarray(conv2d(padded))[:, 0]
    concatenated = np.concatenate([forward, reverse], axis=-1)
    padded1d = keras.layers.ZeroPadding1D((width // 2 - 1, width // 2))(concatenated)
    conv1d = keras.layers.Conv1D(filters, width, padding="valid", use_bias=False)
    conv1d.build(padded1d.shape)
    conv1d.kernel.assign(np.concatenate([kernel2d[0], kernel2d[1]], axis=1))
    np.testing.assert_allclose(np.asarray(conv1d(padded1d)), expected, rtol=1e-4, atol=1e-4)


def test_l2_penalties_and_unsupported_variant():
    model = models.build("vaishnav", smoke=True)
    model(np.zeros((2, 110, 4), "float32"), training=True)
    assert len(model.losses) > 0  # L2(1e-4) on every kernel, as the original
    with pytest.raises(ConfigError, match="cooperativity"):
        models.build("vaishnav", {"add_cooperativity_layer": False}, smoke=True)


@pytest.mark.slow
def test_real_size_training_step():
    model = models.build("vaishnav")
    inputs = harness.encode(models.get("vaishnav").config(), ["A" * 110, "C" * 90])
    harness.compile_for_head(model, "regression")
    model.train_on_batch(inputs, {"expression": np.array([0.2, 0.5], "float32")})
