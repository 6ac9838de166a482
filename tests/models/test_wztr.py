"""wztr: forward ‖ RC along length inside the model; 284 -> 5 after six ceil-mode poolings."""
from __future__ import annotations

import numpy as np

from tests.models import harness  # noqa: I001
from seq2exp import models


def test_real_size_shapes_and_exact_parameters():
    model = models.build("wztr")
    assert harness.trainable_params(model) == 4_823_297  # Hybrid_CNN, computed from the code
    assert model.get_layer("strands_concat").output.shape[1:] == (284, 4)
    assert model.get_layer("final_flatten").output.shape[1:] == (5 * 256,)


def test_second_half_of_the_model_input_is_the_reverse_complement(demo_train):
    import keras

    architecture = models.get("wztr")
    model = architecture.build(smoke=True)
    sequences, _ = harness.demo_examples(demo_train, 2)
    inputs = harness.encode(architecture.config(smoke=True), sequences)
    concat = keras.Model(model.inputs[0], model.get_layer("strands_concat").output)(inputs)
    concat = np.asarray(concat)
    np.testing.assert_array_equal(concat[:, :142], inputs)
    np.testing.assert_array_equal(concat[:, 142:], inputs[:, ::-1, ::-1])
    assert (np.asarray(harness.predict(model, inputs)["expression"]) >= 0).all()  # ReLU output
