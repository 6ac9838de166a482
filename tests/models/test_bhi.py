"""bhi: the post-hoc conjoined model is strand-symmetric by construction; real layer sizes."""
from __future__ import annotations

import numpy as np

from tests.models import harness  # noqa: I001
from seq2exp import models
from seq2exp.models.blocks.layers import ReverseComplement


def test_conjoined_prediction_is_the_same_for_a_sequence_and_its_reverse_complement(demo_train):
    architecture = models.get("bhi")
    model = architecture.build(smoke=True)
    sequences, _ = harness.demo_examples(demo_train, 6, seed=3)
    inputs = harness.encode(architecture.config(smoke=True), sequences)
    reverse = np.asarray(ReverseComplement()(inputs))
    forward_pred = harness.predict(model, inputs)["expression"]
    reverse_pred = harness.predict(model, reverse)["expression"]
    np.testing.assert_allclose(forward_pred, reverse_pred, rtol=1e-5, atol=1e-6)
    trunk = model.get_layer("trunk")  # one shared trunk, called on both strands
    assert len(trunk._inbound_nodes) == 2


def test_real_size_layer_shapes():
    model = models.build("bhi")
    trunk = model.get_layer("trunk")
    assert trunk.get_layer("core_bilstm").output.shape[1:] == (110, 640)
    assert trunk.get_layer("final_flatten").output.shape[1:] == (35_200,)
