"""High Schoolers: parameter count from the team's code, relative attention on the pooled tokens."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001  (configures the logical CPUs before TensorFlow starts)

from seq2exp import models
from seq2exp.models.blocks.attention import RelativeMultiHeadAttention


def test_parameter_count_and_pooled_length():
    model = models.build("high_schoolers")
    assert harness.trainable_params(model) == 4_680_769  # counted from ModelTraining.py (ARCHITECTURES.md)
    attention = model.get_layer("attention")
    assert isinstance(attention, RelativeMultiHeadAttention)
    assert tuple(model.get_layer("stage2_pool").output.shape) == (None, 3, 192)  # 111 -> 27 -> 6 -> 3


@pytest.mark.slow
def test_real_size_training_step():
    model = models.build("high_schoolers")
    inputs = harness.encode(models.get("high_schoolers").config(), ["A" * 110, "C" * 90])
    harness.compile_for_head(model, "regression")
    model.train_on_batch(inputs, {"expression": np.array([0.2, 0.5], "float32")})
