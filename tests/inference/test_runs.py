"""A loaded run's prediction graph is kept between calls while nothing it depends on changes, and rebuilt when the
model's weights (BatchNorm statistics included) or the run's recorded TTA change."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.models import harness  # noqa: F401,I001  (two logical CPUs before TensorFlow starts)
import keras

from seq2exp.data.encoding import Encoder
from seq2exp.inference.runs import load_run

ENCODING = {"kind": "onehot", "length": 110}


def _run_with_batchnorm(path: Path) -> Path:
    """A run folder whose model has a (convolution -> BatchNorm) pair, which prediction folds into one layer."""
    keras.utils.set_random_seed(3)
    encoder = Encoder(ENCODING)
    inputs = keras.Input(shape=encoder.input_shape, dtype=encoder.input_dtype, name="inputs")
    hidden = keras.layers.Conv1D(8, 7, use_bias=False)(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Activation("relu")(hidden))
    expression = keras.layers.Flatten(name="expression")(keras.layers.Dense(1)(hidden))
    path.mkdir(parents=True)
    keras.Model(inputs, {"expression": expression}).save(path / "model.keras")
    (path / "run.json").write_text(json.dumps({"architecture": "tiny_bn", "encoding": ENCODING, "tta": {},
                                               "target_transform": None, "postprocess": []}))
    return path


@pytest.fixture
def run_folder(tmp_path) -> Path:
    return _run_with_batchnorm(tmp_path / "run")


@pytest.fixture(scope="module")
def rows() -> list[str]:
    rng = np.random.default_rng(0)
    return ["".join(rng.choice(list("ACGT"), 110)) for _ in range(12)]


def _keras_forward(run, rows, reverse=False) -> np.ndarray:
    """The model itself (not the prediction graph) on the encoder's one-hot rows."""
    return np.ravel(run.model(run.encoder.encode(rows, reverse=reverse), training=False)["expression"])


def test_repeated_predictions_reuse_one_traced_graph(run_folder, rows):
    run = load_run(run_folder)
    first = run.predict(rows)
    graph = run.prediction_graph()
    second = run.predict(rows[:5])
    assert run.prediction_graph() is graph
    assert graph._compiled.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(second, first[:5], rtol=1e-6)
    np.testing.assert_allclose(first, _keras_forward(run, rows), rtol=1e-5, atol=1e-6)


def test_changed_batchnorm_statistics_and_weights_are_predicted_with(run_folder, rows):
    run = load_run(run_folder)
    before = run.predict(rows)
    batchnorm = next(layer for layer in run.model.layers if isinstance(layer, keras.layers.BatchNormalization))
    batchnorm.moving_mean.assign(np.full(8, 0.4, np.float32))  # folded into the convolution: a cached fold is stale
    batchnorm.moving_variance.assign(np.full(8, 2.5, np.float32))
    after = run.predict(rows)
    assert np.max(np.abs(after - before)) > 1e-3
    np.testing.assert_allclose(after, _keras_forward(run, rows), rtol=1e-5, atol=1e-6)
    dense = run.model.get_layer(index=-2)
    dense.kernel.assign(dense.kernel * 1.5)
    np.testing.assert_allclose(run.predict(rows), _keras_forward(run, rows), rtol=1e-5, atol=1e-6)


def test_a_changed_tta_record_builds_a_new_graph(run_folder, rows):
    run = load_run(run_folder)
    forward = run.predict(rows)
    run.info["tta"] = {"reverse_complement": True}
    averaged = run.predict(rows)
    expected = (_keras_forward(run, rows) + _keras_forward(run, rows, reverse=True)) / 2
    np.testing.assert_allclose(averaged, expected, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(averaged - forward)) > 1e-4
