"""Codes, the plasmid constants and the soft-bin targets."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from seq2exp.data.alphabet import (
    PAD_CODE,
    SequenceError,
    codes_to_sequences,
    is_integer_expression,
    reverse_complement,
    sequences_to_codes,
)
from seq2exp.data.plasmid import PLASMID_DOWNSTREAM, PLASMID_UPSTREAM, flanks_from_plasmid, read_plasmid_json
from seq2exp.data.targets import expected_bin, soft_bin_targets
from seq2exp.errors import InputFormatError


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ACGTNacgtn", min_size=1, max_size=40), min_size=1, max_size=20))
def test_codes_round_trip(sequences):
    codes, lengths = sequences_to_codes(sequences)
    assert codes.dtype == np.uint8 and codes.shape == (len(sequences), max(map(len, sequences)))
    assert codes_to_sequences(codes, lengths) == [s.upper() for s in sequences]
    assert codes_to_sequences(codes) == [s.upper() for s in sequences]
    for row, sequence in enumerate(sequences):
        assert (codes[row, len(sequence):] == PAD_CODE).all()
        assert list(codes[row, : len(sequence)]) == ["ACGTN".index(c) for c in sequence.upper()]


@pytest.mark.parametrize("sequences, row, message", [
    (["ACGT", "AC GT"], 1, "letter ' ' at position 3"),
    (["ACGT", "", "AC"], 1, "empty sequence"),
    (["ACGT", "ACGTACGT"], 1, "longer than the maximum 6"),
    (["AC", "ACé"], 1, "letter 'é'"),
])
def test_sequences_to_codes_names_the_first_bad_row(sequences, row, message):
    with pytest.raises(SequenceError, match=message) as caught:
        sequences_to_codes(sequences, max_length=6)
    assert caught.value.row == row and str(caught.value).startswith(f"row {row}:")


def test_reverse_complement_and_singleton_flag():
    assert reverse_complement("aacgN") == "NCGTT"
    np.testing.assert_array_equal(is_integer_expression([12.0, 12.5, np.nan, 0]), [True, False, False, True])


def test_plasmid_constants_are_the_demo_plasmid(demo_plasmid):
    plasmid = read_plasmid_json(demo_plasmid)
    assert len(plasmid) == 8294
    assert flanks_from_plasmid(plasmid) == (PLASMID_UPSTREAM, PLASMID_DOWNSTREAM)
    # BHI's vector flanks are the bases right next to the constant promoter flanks
    assert PLASMID_UPSTREAM[:-17].endswith("GCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAAC")
    assert PLASMID_DOWNSTREAM[13:].startswith("TCTTAATTAAAAAAAGATAGAAAACATTAGGAGTGTAACACAAGACTTTCGG")


def test_read_plasmid_json_errors(tmp_path):
    (tmp_path / "a.json").write_text('["ACGT"]')
    with pytest.raises(InputFormatError, match="one JSON string"):
        read_plasmid_json(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('"ACGTACGT"')
    with pytest.raises(InputFormatError, match="no run of 80 N"):
        read_plasmid_json(tmp_path / "b.json")
    (tmp_path / "c.json").write_text('"ACGT')
    with pytest.raises(InputFormatError, match="not valid JSON"):
        read_plasmid_json(tmp_path / "c.json")


def test_soft_bins_integrate_the_normal_over_unit_bins():
    y = np.array([0.0, 3.3, 11.0, 16.9, 17.0])
    probs = soft_bin_targets(y)
    assert probs.shape == (5, 18) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    density = stats.norm(loc=3.3 + 0.5, scale=0.5).pdf
    for b in range(1, 17):
        expected, _ = integrate.quad(density, b, b + 1)
        assert probs[1, b] == pytest.approx(expected, abs=1e-6)
    assert probs[1, 0] == pytest.approx(stats.norm(3.8, 0.5).cdf(1.0), abs=1e-6)
    # bin i covers [i, i + 1): with shift 0.5 the expected bin index recovers y away from the edges
    assert expected_bin(probs)[2] == pytest.approx(11.0, abs=1e-3)


def test_soft_bins_tensorflow_equals_numpy():
    import tensorflow as tf
    y = np.linspace(-1, 18, 57).astype(np.float32)
    np.testing.assert_allclose(soft_bin_targets(tf.constant(y), shift=0.3, scale=0.7).numpy(),
                               soft_bin_targets(y, shift=0.3, scale=0.7), atol=2e-6)
    probs = soft_bin_targets(y)
    np.testing.assert_allclose(expected_bin(tf.constant(probs)).numpy(), expected_bin(probs), rtol=1e-5)
