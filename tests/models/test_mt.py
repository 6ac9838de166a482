"""mt: complement channels (not reversed), sigmoid output, the real layer sizes."""
from __future__ import annotations

import numpy as np

from tests.models import harness  # noqa: I001
from seq2exp import models


def test_real_size_shapes():
    model = models.build("mt")
    assert model.get_layer("strands_concat").output.shape[1:] == (142, 8)
    assert model.get_layer("final_flatten").output.shape[1:] == (19 * 64,)  # 142 -> 137 -> 45 -> 43 -> 21 -> 19
    # mt's 12-channel input (A,G,C,T,N,P x 2) had 6,144 more GRU weights than this 8-channel one
    assert harness.trainable_params(model) + 6_144 + 1_088 == 3_148_929  # + BN statistics in Keras' count


def test_complement_channels_and_sigmoid_output(demo_train):
    import keras

    architecture = models.get("mt")
    model = architecture.build(smoke=True)
    sequences, _ = harness.demo_examples(demo_train, 3)
    inputs = harness.encode(architecture.config(smoke=True), sequences)
    concat = np.asarray(keras.Model(model.inputs[0], model.get_layer("strands_concat").output)(inputs))
    np.testing.assert_array_equal(concat[..., 4:], inputs[..., ::-1])
    expression = np.asarray(harness.predict(model, inputs)["expression"])
    assert ((expression > 0) & (expression < 1)).all()
