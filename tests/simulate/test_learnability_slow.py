"""Slow: a small Keras CNN trained on 100,000 simulated rows predicts the simulated random subset with r >= 0.8,
and the designed subsets are harder than random (as in the real challenge)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seq2exp.simulate import simulate
from seq2exp.simulate.model import to_codes

pytestmark = pytest.mark.slow
WIDTH = 136


def _onehot_right_aligned(sequences: list[str]) -> np.ndarray:
    """One-hot ``[B, 136, 4]``, sequences aligned at their 3' end (N = 0.25 each), zeros before the start."""
    codes, lengths = to_codes(sequences, width=WIDTH)
    batch = len(sequences)
    shifted = np.full((batch, WIDTH), 5, dtype=np.uint8)
    column = np.arange(WIDTH)[None, :]
    source = column - (WIDTH - lengths[:, None])
    inside = source >= 0
    shifted[inside] = codes[np.nonzero(inside)[0], source[inside]]
    table = np.zeros((6, 4), dtype=np.float32)
    table[np.arange(4), np.arange(4)] = 1.0
    table[4] = 0.25
    return table[shifted]


def test_small_cnn_on_100k_rows(tmp_path: Path) -> None:
    import keras

    from seq2exp.data.formats import read_dream
    from seq2exp.evaluation import score

    out = simulate(tmp_path / "sim", n_train=100_000, n_test=10_000, seed=11)
    train, test = read_dream(out.train), read_dream(out.test)
    x, y = _onehot_right_aligned(train.sequences), train.expression.astype(np.float32)
    y = (y - y.mean()) / y.std()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((WIDTH, 4))
    h = inputs
    for filters, width in ((64, 11), (64, 7), (64, 5)):
        h = keras.layers.Conv1D(filters, width, padding="same")(h)
        h = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(h))
        if width == 7:
            h = keras.layers.MaxPool1D(4)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    h = keras.layers.Dropout(0.2)(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    callbacks = [keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1),
                 keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)]
    model.fit(x, y, batch_size=256, epochs=12, validation_split=0.05, callbacks=callbacks, verbose=0)
    predictions = model.predict(_onehot_right_aligned(test.sequences), batch_size=1024, verbose=0)[:, 0]
    result = score({str(i): float(v) for i, v in enumerate(predictions)}, out.test, out.subsets)
    pearson = {name: values["pearson"] for name, values in result["subsets"].items()}
    assert pearson["random"] >= 0.8, pearson
    for designed in ("high", "challenging", "motif_perturbation", "motif_tiling"):
        assert pearson[designed] < pearson["random"], (designed, pearson)
