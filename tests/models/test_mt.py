"""mt: the team's 12-channel input (A, G, C, T, N, P one-hot + its complement strand), sigmoid output, the real
layer sizes. The oracle for the input is a transcription of the team's own ``get_input``
(``tests/data/reference_encoding.py: mt_team_input``); ``tests/serving/test_session_path.py`` checks mt's export on
TF Serving's loading path against ``model.predict`` of that input (``TEAM_INPUTS``)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
from tests.data.reference_encoding import mt_team_input
from seq2exp import models


@pytest.fixture(scope="module")
def real_rows(demo_train) -> list[str]:
    """Real demo rows: one with N, the shortest (< 110 bp: padded), the longest, and the first five."""
    rows = [line.split("\t")[0] for line in demo_train.read_text().splitlines() if line.strip()]
    chosen = [next(r for r in rows if "N" in r), min(rows, key=len), max(rows, key=len), *rows[:5]]
    assert "N" in chosen[0] and len(chosen[1]) < 110
    return chosen


def test_real_size_shapes_and_the_teams_parameter_count():
    model = models.build("mt")
    assert model.inputs[0].shape[1:] == (142, 6)
    assert model.get_layer("strands_concat").output.shape[1:] == (142, 12)
    assert model.get_layer("final_flatten").output.shape[1:] == (19 * 64,)  # 142 -> 137 -> 45 -> 43 -> 21 -> 19
    assert harness.count_params(model) == _hand_count(input_channels=12, bn_statistics=True) == 3_148_929
    assert harness.trainable_params(model) == _hand_count(input_channels=12, bn_statistics=False) == 3_147_841
    assert models.get("mt").paper_params == 3_148_929 and models.get("mt").fidelity == "faithful"


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


def test_encoder_gives_the_teams_forward_channels(real_rows):
    """Our encoder (mt's ``input`` spec) = the forward half (A, G, C, T, N, P) of the team's input on real rows."""
    from seq2exp.data.encoding import Encoder

    team = mt_team_input(real_rows)
    ours = Encoder(models.get("mt").config()["input"]).encode(real_rows)
    np.testing.assert_array_equal(ours, team[..., :6])
    assert ours[1, len(real_rows[1]):, 5].all() and ours[0, :, 4].any()  # P past the end; an N channel in use


def test_model_input_with_its_complement_is_the_teams_12_channels(real_rows):
    """What the first BiGRU reads (encoder + the model's complement layer) is the team's 12-channel input."""
    import keras

    architecture = models.get("mt")
    model = architecture.build(smoke=True)
    inputs = harness.encode(architecture.config(smoke=True), real_rows)
    concat = np.asarray(keras.Model(model.inputs[0], model.get_layer("strands_concat").output)(inputs))
    np.testing.assert_array_equal(concat, mt_team_input(real_rows))
    expression = np.asarray(harness.predict(model, inputs)["expression"])
    assert ((expression > 0) & (expression < 1)).all()


def test_complement_layer_follows_its_letters():
    """A<->T, G<->C, N and P kept, in the given channel order (extra channels untouched); a layer config saved
    before ``letters`` existed (``nucleotide_channels=4``) still loads as the A, C, G, T complement."""
    from seq2exp.models.blocks.layers import ReverseComplement, complement_permutation

    assert complement_permutation("ACGT") == [3, 2, 1, 0]
    assert complement_permutation("AGCTNP") == [3, 2, 1, 0, 4, 5]
    x = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)  # 6 letters + 1 flag channel
    complement = np.asarray(ReverseComplement(reverse_length=False, letters="AGCTNP")(x))
    np.testing.assert_array_equal(complement, x[..., [3, 2, 1, 0, 4, 5, 6]])
    legacy = ReverseComplement.from_config({"name": "rc", "reverse_length": True, "nucleotide_channels": 4})
    np.testing.assert_array_equal(np.asarray(legacy(x[..., :5])), x[:, ::-1][..., [3, 2, 1, 0, 4]])
    with pytest.raises(ValueError, match="closed under complement"):
        ReverseComplement(letters="ACGP")
