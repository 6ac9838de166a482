"""Every registered architecture at smoke size (``SMOKE_CONFIG``) through the shared harness: outputs, ``.keras``
round trip, a few ``model.fit`` steps that lower the loss, and the build info carried into the Keras file. The
SavedModel export of a ``tf.function`` runs here for the architectures whose product export is proven only with
``-m slow`` (``tests/serving/test_session_path.py`` proves the others on TF Serving's session path).

The architectures are split into two classes (alternate names) so that the two test processes (``--dist
loadscope``: one class per process) share them; each smoke model is built once per class and reused by its tests.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import keras
import numpy as np
import pytest

from tests.models import harness
from tests.serving.test_session_path import SLOW as SESSION_PATH_SLOW
from seq2exp import models

NAMES = models.names()


@dataclass
class SmokeCase:
    name: str
    architecture: models.Architecture
    model: object
    inputs: np.ndarray
    expression: np.ndarray


@pytest.fixture(scope="module")
def demo_rows(demo_train):
    return harness.demo_examples(demo_train, 32, seed=0)


@pytest.fixture(scope="class")
def smoke(request, demo_rows) -> SmokeCase:
    architecture = models.get(request.param)
    sequences, expression = demo_rows
    config = architecture.config(smoke=True)
    keras.utils.set_random_seed(0)  # reproducible initial weights (a tiny ReLU-output model can start dead)
    return SmokeCase(request.param, architecture, architecture.build(smoke=True),
                     harness.encode(config, sequences), expression)


class SmokeChecks:
    def test_smoke_outputs(self, smoke):
        harness.assert_outputs(smoke.model, harness.predict(smoke.model, smoke.inputs), smoke.architecture.head,
                               batch_size=len(smoke.inputs))

    def test_smoke_keras_round_trip(self, smoke, tmp_path):
        harness.assert_keras_round_trip(smoke.model, smoke.inputs, tmp_path)

    def test_smoke_training_lowers_loss(self, smoke):
        harness.assert_training_lowers_loss(smoke.model, smoke.architecture.head, smoke.inputs, smoke.expression)

    def test_smoke_model_carries_its_architecture_and_config_into_the_keras_file(self, smoke, tmp_path):
        from seq2exp.models import registry

        assert registry.build_info(smoke.model) == {
            "architecture": smoke.name, "config": json.loads(json.dumps(smoke.architecture.config(smoke=True)))}
        if smoke.name != "kmer_ridge":  # saving every smoke model once more costs time: the baseline stands for all
            return
        path = tmp_path / "model.keras"
        smoke.model.save(path)
        assert registry.build_info(path)["architecture"] == "kmer_ridge"


@pytest.mark.parametrize("smoke", NAMES[0::2], indirect=True, scope="class")
class TestSmokeFirstOfPairs(SmokeChecks):
    pass


@pytest.mark.parametrize("smoke", NAMES[1::2], indirect=True, scope="class")
class TestSmokeSecondOfPairs(SmokeChecks):
    pass


@pytest.mark.parametrize("name", sorted(SESSION_PATH_SLOW))
def test_smoke_saved_model_export(name, demo_rows, tmp_path):
    """A ``tf.function`` calling the smoke model saves as a SavedModel and reloads with the same outputs, for the
    architectures whose product export (TF Serving's session path, ``tests/serving/test_session_path.py``) runs
    only with ``-m slow``; that test proves every other architecture's export in the default run."""
    architecture = models.get(name)
    keras.utils.set_random_seed(0)
    model = architecture.build(smoke=True)
    sequences, _ = demo_rows
    harness.assert_export_safe(model, harness.encode(architecture.config(smoke=True), sequences[:4]), tmp_path)


def test_the_two_classes_cover_every_architecture_once():
    assert sorted(NAMES[0::2] + NAMES[1::2]) == sorted(NAMES) and not set(NAMES[0::2]) & set(NAMES[1::2])
