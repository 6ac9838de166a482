"""The reference model (Vaishnav et al. 2022): parameter count from the original code, cooperativity layer."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras

from seq2exp import models
from seq2exp.errors import ConfigError


def test_parameter_count_matches_the_original_code():
    model = models.build("vaishnav")
    assert harness.trainable_params(model) == 3_369_937  # rr_aux.fitness_function_model with model_params
    assert model.get_layer("motif_conv").kernel.shape == (30, 4, 256)  # one kernel, both strands


def test_hand_count_of_the_original_code_is_the_registrys_paper_count():
    """``rr_aux.fitness_function_model`` with ``train_model_code_cells.py``'s ``model_params``, counted layer by
    layer (trainable only): rc_Conv1D(256, 30, no bias) -> 2 BN(256) -> Conv2D(128, (2, 30), no bias) -> BN ->
    2 x [Conv1D(128, 30, no bias) -> BN] -> 2 x [keras-multi-head MHA (4 biased 128 x 128 projections) -> LN ->
    FeedForward(units=n_heads=8) -> LN] -> BiLSTM(8) -> Flatten(110 x 16) -> Dense 128 -> Dense 128 -> Dense 1."""
    def dense(inputs: int, units: int) -> int:
        return inputs * units + units

    bn = ln = 2  # gamma + beta per channel
    lstm = 4 * (8 * (128 + 8) + 8)  # one direction: 4 gates x (input + recurrent kernel + bias)
    count = (30 * 4 * 256 + 2 * bn * 256 + 2 * 30 * 256 * 128 + bn * 128 + 2 * (30 * 128 * 128 + bn * 128)
             + 2 * (4 * dense(128, 128) + 2 * ln * 128 + dense(128, 8) + dense(8, 128))
             + 2 * lstm + dense(110 * 16, 128) + dense(128, 128) + dense(128, 1))
    assert count == 3_369_937 == models.get("vaishnav").paper_params


def _same_pad(x: np.ndarray, width: int) -> np.ndarray:
    """TensorFlow's ``padding="same"`` for stride 1: (width - 1) // 2 zeros before, the rest after (length axis 1)."""
    before = (width - 1) // 2
    return np.pad(x, ((0, 0), (before, width - 1 - before), (0, 0)))


def _conv_valid(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Plain cross-correlation: ``x`` [B, L, C] with ``kernel`` [W, C, F] -> [B, L - W + 1, F]."""
    width = kernel.shape[0]
    windows = np.stack([x[:, t:t + width] for t in range(x.shape[1] - width + 1)], axis=1)  # [B, T, W, C]
    return np.einsum("btwc,wcf->btf", windows, kernel)


def test_front_end_equals_the_original_rc_conv_and_cooperativity_conv2d(demo_train):
    """seq2exp's vaishnav graph against a numpy transcription of ``rr_aux.fitness_function_model``'s front end:
    rc_Conv1D (kernel and its reverse complement, two outputs) -> BN + ReLU per strand -> the strands stacked as a
    2 x L image -> ZeroPadding2D((0, 0), (w/2 - 1, w/2)) -> Conv2D(hidden, (2, w), valid)."""
    architecture = models.get("vaishnav")
    config = architecture.config(smoke=True)
    keras.utils.set_random_seed(4)
    model = architecture.build(smoke=True)
    rng = np.random.default_rng(0)
    bn = model.get_layer("motif_bn")  # non-trivial inference statistics, so the BN placement is checked too
    channels = bn.gamma.shape[0]
    for weight, value in zip((bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance),
                             (rng.uniform(0.5, 2, channels), rng.normal(0, 0.3, channels),
                              rng.normal(0, 0.3, channels), rng.uniform(0.5, 2, channels))):
        weight.assign(value.astype("float32"))
    sequences, _ = harness.demo_examples(demo_train, 5, seed=4)
    inputs = harness.encode(config, sequences)
    probe = keras.Model(model.inputs[0], model.get_layer("cooperativity_conv").output)
    actual = np.asarray(probe(inputs, training=False))

    width, filters = config["conv_width_motif"], config["motif_conv_hidden"]
    kernel = np.asarray(model.get_layer("motif_conv").kernel)  # [w, 4, F]
    padded = _same_pad(inputs.astype(np.float64), width)
    strands = [_conv_valid(padded, kernel), _conv_valid(padded, kernel[::-1, ::-1, :])]  # x_f, x_rc
    gamma, beta, mean, variance = (np.asarray(w, np.float64) for w in
                                   (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    normalised = []
    for index, strand in enumerate(strands):  # the original has one BN per strand: its half of the channels here
        half = slice(index * filters, (index + 1) * filters)
        scaled = (strand - mean[half]) / np.sqrt(variance[half] + bn.epsilon) * gamma[half] + beta[half]
        normalised.append(np.maximum(scaled, 0.0))
    image = np.stack(normalised, axis=1)  # [B, 2, L, F]: Concatenate(axis=1) of the expanded strands
    image = np.pad(image, ((0, 0), (0, 0), (width // 2 - 1, width // 2), (0, 0)))
    kernel2d = np.asarray(model.get_layer("cooperativity_conv").kernel).reshape(width, 2, filters, -1)
    kernel2d = kernel2d.transpose(1, 0, 2, 3)  # Conv2D kernel [2, w, F, hidden]: row s reads strand s
    length = image.shape[2] - width + 1
    expected = sum(np.einsum("btwc,wch->bth", np.stack([image[:, s, t:t + width] for t in range(length)], axis=1),
                             kernel2d[s]) for s in range(2))
    assert actual.shape == expected.shape == (len(sequences), config["input"]["length"], kernel2d.shape[-1])
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_l2_penalty_on_every_kernel_as_the_original():
    """The original puts L1L2(0, 1e-4) on every kernel: rc_Conv1D, the cooperativity Conv2D, each aux Conv1D, the
    four projections of each keras-multi-head MultiHeadAttention, the two FeedForward layers, the LSTM kernel of
    each direction (not its recurrent kernel) and the three Dense layers. Smoke config: 0 aux, 1 attention layer."""
    config = models.get("vaishnav").config(smoke=True)
    assert config["n_aux_layers"] == 0 and config["n_attention_layers"] == 1
    expected_count = 1 + 1 + 0 + (4 + 2) * 1 + 2 + 3
    model = models.build("vaishnav", smoke=True)
    model(np.zeros((2, 110, 4), "float32"), training=True)
    kernels = [w for w in model.weights if w.name == "kernel"]
    assert len(kernels) == expected_count
    assert len(model.losses) == expected_count
    penalty = 1e-4 * sum(float(np.sum(np.square(np.asarray(w, np.float64)))) for w in kernels)
    np.testing.assert_allclose(float(sum(np.asarray(loss) for loss in model.losses)), penalty, rtol=1e-4)


def test_unsupported_variant():
    with pytest.raises(ConfigError, match="cooperativity"):
        models.build("vaishnav", {"add_cooperativity_layer": False}, smoke=True)


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("vaishnav")
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("vaishnav").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("vaishnav").head, inputs, expression, steps=4)
