"""``FusedBidirectional`` (``seq2exp.models.blocks.recurrent``): its LSTM and GRU training passes against a numpy
LSTM / GRU and their gradients against Keras's own ``Bidirectional(LSTM / GRU)`` with the same weights; the cases it leaves to Keras; a
``.keras`` round trip and ``model.fit`` steps equal to Keras's."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import keras

from seq2exp.models.blocks import recurrent
from seq2exp.models.blocks.recurrent import FusedBidirectional, apply_bidirectional_rnn

BATCH, STEPS, FEATURES, UNITS = 3, 11, 5, 7  # all different, so a transposed or swapped axis cannot pass


def numpy_lstm(x, kernel, recurrent_kernel, bias):
    """Keras's LSTM (gates i, f, c, o; zero initial state) in float64: every state ``[B, T, U]``."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    units = recurrent_kernel.shape[0]
    h = c = np.zeros((x.shape[0], units))
    states = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        states.append(h)
    return np.stack(states, 1)


def numpy_gru(x, kernel, recurrent_kernel, bias):
    """Keras's GRU (``reset_after=True``: gates z, r, h; biases ``[input, recurrent]``) in float64."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    states = []
    for t in range(x.shape[1]):
        p, m = x[:, t] @ kernel + bias[0], h @ recurrent_kernel + bias[1]
        z = sigmoid(p[:, :units] + m[:, :units])
        r = sigmoid(p[:, units:2 * units] + m[:, units:2 * units])
        candidate = np.tanh(p[:, 2 * units:] + r * m[:, 2 * units:])
        h = z * h + (1 - z) * candidate
        states.append(h)
    return np.stack(states, 1)


NUMPY_CELLS = {"lstm": (keras.layers.LSTM, numpy_lstm), "gru": (keras.layers.GRU, numpy_gru)}


def _pair(cell="lstm", **rnn_kwargs):
    """A ``FusedBidirectional`` and a ``keras.layers.Bidirectional`` with the same random weights (biases too)."""
    rng = np.random.default_rng(0)
    layers = [cls(NUMPY_CELLS[cell][0](UNITS, return_sequences=True, **rnn_kwargs)) for cls in
              (FusedBidirectional, keras.layers.Bidirectional)]
    for layer in layers:
        layer.build((None, STEPS, FEATURES))
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layers[1].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers[0], layers[1], weights


def _outputs_and_gradients(layer, x, training):
    x = tf.constant(x)
    probe = tf.constant(np.random.default_rng(7).normal(size=(BATCH, STEPS, 2 * UNITS)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, training=training)
        loss = tf.reduce_sum(outputs * probe) + 0.1 * tf.reduce_sum(tf.square(outputs))
    return [np.asarray(t) for t in [outputs, *tape.gradient(loss, [x, *layer.trainable_weights])]]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_bidirectional_training_matches_numpy_and_keras_gradients(cell):
    fused, reference, weights = _pair(cell)
    x = np.random.default_rng(1).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    assert fused._fusable(tf.constant(x), None, None, True)
    got = _outputs_and_gradients(fused, x, True)
    want = _outputs_and_gradients(reference, x, True)
    numpy_rnn = NUMPY_CELLS[cell][1]
    forward = numpy_rnn(x.astype(np.float64), *weights[:3])
    backward = numpy_rnn(x[:, ::-1].astype(np.float64), *weights[3:])[:, ::-1]
    np.testing.assert_allclose(got[0], np.concatenate([forward, backward], -1), rtol=0, atol=2e-6)
    names = ["outputs", "d_x"] + [f"d_{w.path}" for w in reference.trainable_weights]
    assert len(got) == len(names) == 8
    for name, a, b in zip(names, got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * float(np.abs(b).max()), err_msg=name)


@pytest.mark.parametrize("case", ["inference", "mask", "dropout", "relu", "no_sequences", "gru_reset_before", "gpu",
                                  "bfloat16"])
def test_fused_bidirectional_leaves_other_cases_to_keras(case, monkeypatch):
    """Each case runs Keras's own code, with Keras's results (on a GPU: its cuDNN kernels)."""
    if case == "gpu":
        monkeypatch.setattr(recurrent, "gpu_visible", lambda: True)
    kwargs = {"dropout": {"dropout": 0.3}, "relu": {"activation": "relu"},
              "gru_reset_before": {"cell": "gru", "reset_after": False}, "bfloat16": {"dtype": "mixed_bfloat16"}
              }.get(case, {})
    fused, reference, _ = _pair(**kwargs)
    x = tf.constant(np.random.default_rng(2).normal(size=(BATCH, STEPS, FEATURES)).astype("float32"))
    mask = tf.constant(np.arange(STEPS)[None] < np.array([[STEPS], [4], [9]])) if case == "mask" else None
    training = case not in ("inference",)
    if case == "no_sequences":
        for layer in (fused, reference):
            layer.return_sequences = layer.forward_layer.return_sequences = layer.backward_layer.return_sequences = False
    assert not fused._fusable(x, mask, None, training)
    if case == "dropout":  # random masks: only the inference outputs compare
        training = False
    np.testing.assert_allclose(fused(x, mask=mask, training=training), reference(x, mask=mask, training=training),
                               rtol=0, atol=1e-6)


def _model(layer_class, cell):
    inputs = keras.Input((STEPS, FEATURES))
    rnn = layer_class(NUMPY_CELLS[cell][0](UNITS, return_sequences=True, bias_initializer="random_normal"), name="bi")
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(rnn(inputs)))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_bidirectional_fit_steps_equal_keras_and_round_trip_through_a_keras_file(tmp_path, cell):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, STEPS, FEATURES)).astype("float32")
    y = rng.normal(size=(12, 1)).astype("float32")
    fused, reference = _model(FusedBidirectional, cell), _model(keras.layers.Bidirectional, cell)
    keras.utils.set_random_seed(0)
    reference.set_weights([w * 3 for w in fused.get_weights()])  # saturating gates: derivative errors show
    fused.set_weights(reference.get_weights())
    for model in (fused, reference):
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(fused.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * max(1.0, float(np.abs(b).max())))
    fused.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("bi")) is FusedBidirectional
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fused.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_apply_bidirectional_rnn_builds_a_fused_layer_for_lstm_and_gru():
    inputs = keras.Input((STEPS, FEATURES))
    x = tf.zeros((2, STEPS, FEATURES))
    for cell in ("lstm", "gru"):
        outputs = apply_bidirectional_rnn(inputs, UNITS, name=f"block_{cell}", cell=cell)
        assert outputs.shape == (None, STEPS, 2 * UNITS)
        layer = keras.Model(inputs, outputs).get_layer(f"block_{cell}")
        assert isinstance(layer, FusedBidirectional) and layer._fusable(x, None, None, True)
