"""High Schoolers: parameter count from the team's code, relative attention on the pooled tokens."""
from __future__ import annotations

import pytest

from tests.models import harness  # noqa: I001
import keras

from seq2exp import models
from seq2exp.models.blocks.attention import RelativeMultiHeadAttention


def test_parameter_count_and_pooled_length():
    model = models.build("high_schoolers")
    assert harness.trainable_params(model) == 4_680_769  # counted from ModelTraining.py (ARCHITECTURES.md)
    attention = model.get_layer("attention")
    assert isinstance(attention, RelativeMultiHeadAttention)
    assert tuple(model.get_layer("stage2_pool").output.shape) == (None, 3, 192)  # 111 -> 27 -> 6 -> 3


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("high_schoolers")
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("high_schoolers").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("high_schoolers").head, inputs, expression, steps=4)
