"""mt: complement channels (not reversed), sigmoid output, the real layer sizes."""
from __future__ import annotations

import numpy as np

from tests.models import harness  # noqa: I001
from seq2exp import models


def test_real_size_shapes():
    model = models.build("mt")
    assert model.get_layer("strands_concat").output.shape[1:] == (142, 8)
    assert model.get_layer("final_flatten").output.shape[1:] == (19 * 64,)  # 142 -> 137 -> 45 -> 43 -> 21 -> 19
    assert harness.trainable_params(model) == _hand_count(input_channels=8, bn_statistics=False)


def _hand_count(input_channels: int, bn_statistics: bool) -> int:
    """mt's ``build_model`` counted layer by layer (ARCHITECTURES.md §10): 2 × BiGRU(256) -> Conv1D 256/6, 128/3,
    64/3 -> Flatten(19 × 64) -> Dense 512 + BN -> Dense 32 + BN -> Dense 1. A Keras GRU (``reset_after``) has
    3 gates × (input + recurrent kernel) and 2 biases per gate; a BN layer 2 trainable weights per channel (+2
    moving statistics)."""
    def gru(inputs: int, units: int = 256) -> int:
        return 3 * units * (inputs + units) + 2 * 3 * units

    def conv(width: int, inputs: int, filters: int) -> int:
        return width * inputs * filters + filters

    def dense(inputs: int, units: int) -> int:
        return inputs * units + units

    bn = 4 if bn_statistics else 2
    return (2 * gru(input_channels) + 2 * gru(2 * 256) + conv(6, 512, 256) + conv(3, 256, 128) + conv(3, 128, 64)
            + dense(19 * 64, 512) + bn * 512 + dense(512, 32) + bn * 32 + dense(32, 1))


def test_hand_count_reproduces_the_teams_total():
    """The same count for mt's own 12-channel input (A, G, C, T, N, P × 2 strands), BN statistics included, is the
    reference's 3,148,929 (this port's strands are 4 + 4 channels: A, C, G, T and their complements)."""
    assert _hand_count(input_channels=12, bn_statistics=True) == 3_148_929 == models.get("mt").paper_params


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
