"""BUGF: weight tying across depth, ALiBi, the mutated-position detection objective."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras
import tensorflow as tf

from seq2exp import models


@pytest.fixture(scope="module")
def smoke_model():
    return harness.seeded_smoke_model("bugf")


@pytest.fixture(scope="module")
def tokens(demo_train):
    return harness.demo_inputs(demo_train, "bugf", 6, seed=2)


def test_one_encoder_layer_is_shared_across_depth():
    shallow = models.build("bugf", {"depth": 1}, smoke=True)
    deep = models.build("bugf", {"depth": 6}, smoke=True)
    assert deep.count_params() == shallow.count_params()
    assert harness.trainable_params(models.build("bugf")) == 4_481_043  # counted from nndef_exp_alibi.py


def test_outputs_bins_expression_and_per_position_mutations(smoke_model, tokens):
    outputs = smoke_model(tokens, training=False)
    harness.assert_outputs(smoke_model, outputs, "bins", len(tokens))
    assert tuple(outputs["mutations"].shape) == tokens.shape
    assert not smoke_model.losses


def test_mutation_detection_loss_trains_the_trunk_and_keeps_the_batch(smoke_model, tokens):
    embedding = smoke_model.get_layer("embedding").embeddings
    with tf.GradientTape() as tape:
        outputs = smoke_model(tokens, training=True)
        assert len(smoke_model.losses) == 1
        auxiliary = tf.add_n(smoke_model.losses)
    assert tuple(outputs["bins"].shape) == (len(tokens), 18)  # the clean half only
    assert tuple(outputs["mutations"].shape) == tokens.shape   # the mutated half
    gradient = tf.convert_to_tensor(tape.gradient(auxiliary, embedding))
    assert np.isfinite(gradient.numpy()).all() and np.abs(gradient.numpy()).sum() > 0.0


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("bugf", {"mutation_loss_weight": 0.0})  # the main loss only: no random corruption
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("bugf").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("bugf").head, inputs, expression, steps=4)
