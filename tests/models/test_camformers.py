"""camformers: residual pairs and the pooled length of the real model."""
from __future__ import annotations

from tests.models import harness  # noqa: I001
from seq2exp import models


def test_real_size_shapes_and_exact_parameters():
    model = models.build("camformers")
    assert harness.trainable_params(model) == 16_611_073  # camformers_submission.py:CNN, computed
    assert model.get_layer("core_block2_pool").output.shape[1:] == (26, 512)  # (110 - 10) / 4 + 1
    assert model.get_layer("final_flatten").output.shape[1:] == (13_312,)
    assert len([layer for layer in model.layers if layer.name.endswith(tuple(f"_residual{i}" for i in range(3)))]) == 3
