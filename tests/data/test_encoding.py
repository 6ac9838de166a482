"""The TensorFlow encoder against an independent string-level reference, plus strings -> codes in the graph."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorflow as tf

from seq2exp.data.alphabet import (  # noqa: E402
    FLANK3,
    FLANK5,
    PAD_CODE,
    SequenceError,
    codes_to_sequences,
    reverse_complement,
    sequences_to_codes,
)
from seq2exp.data.encoding import (  # noqa: E402
    PADS,
    EncodingSpec,
    Encoder,
    reverse_complement_codes,
    shift_codes,
    tf_strings_to_codes,
)
from seq2exp.errors import ConfigError  # noqa: E402
from tests.data.reference_encoding import reference_encode, reference_window  # noqa: E402

VARIABLE = "ACGTTGCAAC" * 8
FULL = FLANK5 + VARIABLE + FLANK3
SAMPLES = [
    FULL,  # the canonical 110 bp
    FULL[:60] + FULL[75:],  # 95 bp, both flanks
    FLANK5 + "GATTACA" * 18 + FLANK3,  # 156 bp, longer than most windows
    VARIABLE[:50].lower(),  # bare variable region, lower case
    FLANK5 + "ACGNNTTACG" + FLANK3,  # short, with N
    "TTGACA",  # tiny, no flanks
    FLANK5 + VARIABLE,  # 5' flank only
]

SPECS = [
    {"kind": "onehot", "length": 150, "pad": "plasmid_left", "trim": "left", "rc_channel": True,
     "singleton_channel": True},  # autosome
    {"kind": "onehot", "length": 110, "pad": "plasmid_split", "n_value": 0.0},  # BHI without the random draw
    {"kind": "onehot", "length": 110, "pad": "plasmid_right", "trim": "center"},
    {"kind": "onehot", "length": 110, "pad": "n_right", "n_value": 0.0},  # Camformers
    {"kind": "onehot", "length": 142, "pad": "zero_right"},  # wztr
    {"kind": "onehot", "length": 110, "region": "variable", "pad": "n_both", "trim": "center"},
    {"kind": "tokens", "length": 112, "region": "variable", "pad": "zero_right", "token_order": "ATGCN"},  # BUGF
    {"kind": "tokens", "length": 100, "region": "variable", "pad": "n_both"},  # Unlock_DNA
    {"kind": "tokens", "length": 60, "pad": "n_left", "trim": "left"},
    {"kind": "kmer", "length": 80, "k": 5, "region": "variable", "pad": "n_right"},  # NAD
    {"kind": "kmer", "length": 30, "k": 4, "pad": "n_left", "trim": "center"},
    {"kind": "kmer", "length": 90, "k": 3, "pad": "plasmid_split"},
    {"kind": "onehot", "length": 142, "pad": "zero_right", "n_value": 0.0, "onehot_letters": "AGCTNP"},  # mt
]


def _encode(spec: dict, sequences, **options) -> np.ndarray:
    codes, lengths = sequences_to_codes(sequences)
    return Encoder(spec).tf_encode(tf.constant(codes), tf.constant(lengths), **options).numpy()


def _reference(spec: dict, sequences, *, shift=0, reverse=False, singleton=0.0) -> np.ndarray:
    shifts = np.broadcast_to(shift, len(sequences))
    flips = np.broadcast_to(reverse, len(sequences))
    return np.stack([
        reference_encode(reference_window(s, spec, shift=int(d), reverse=bool(r)), spec, reverse=bool(r),
                         singleton=singleton)
        for s, d, r in zip(sequences, shifts, flips)
    ])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['kind']}-{s['length']}-{s.get('region', 'full')}-{s['pad']}"
                                             + (f"-{s['onehot_letters']}" if "onehot_letters" in s else ""))
def test_encoder_matches_reference(spec):
    encoder = Encoder(spec)
    expected = _reference(spec, SAMPLES)
    got = _encode(spec, SAMPLES)
    assert got.shape == (len(SAMPLES), *encoder.input_shape)
    assert got.dtype == np.dtype(encoder.input_dtype)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("spec", SPECS[:3] + SPECS[6:7] + SPECS[9:11] + SPECS[-1:],
                         ids=lambda s: f"{s['kind']}-{s['pad']}-{s.get('onehot_letters', '')}")
def test_shift_and_reverse_per_row_match_reference(spec):
    shift = np.array([2, -3, 0, 1, -1, 3, -2], np.int32)
    reverse = np.array([True, False, True, True, False, False, True])
    got = _encode(spec, SAMPLES, shift=tf.constant(shift), reverse=tf.constant(reverse), singleton=1.0)
    np.testing.assert_array_equal(got, _reference(spec, SAMPLES, shift=shift, reverse=reverse, singleton=1.0))


sequence_strategy = st.one_of(
    st.text(alphabet="ACGTNacgt", min_size=1, max_size=170),
    st.builds(lambda v, lower: FLANK5 + (v.lower() if lower else v) + FLANK3,
              st.text(alphabet="ACGTN", min_size=0, max_size=120), st.booleans()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequences=st.lists(sequence_strategy, min_size=1, max_size=6),
    spec_index=st.integers(0, len(SPECS) - 1),
    shift=st.integers(-4, 4),
    reverse=st.booleans(),
)
def test_encoder_matches_reference_on_random_sequences(sequences, spec_index, shift, reverse):
    spec = SPECS[spec_index]
    got = _encode(spec, sequences, shift=shift, reverse=reverse)
    np.testing.assert_array_equal(got, _reference(spec, sequences, shift=shift, reverse=reverse))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet="ACGTNacgtn", min_size=1, max_size=60), min_size=1, max_size=8))
def test_reverse_complement_twice_is_the_identity(sequences):
    """RC(RC(x)) = x for strings and code matrices (padding stays at the end), and both RCs agree."""
    assert [reverse_complement(reverse_complement(s)) for s in sequences] == [s.upper() for s in sequences]
    codes, lengths = sequences_to_codes(sequences)
    once = reverse_complement_codes(tf.constant(codes), tf.constant(lengths))
    assert codes_to_sequences(once.numpy(), lengths) == [reverse_complement(s) for s in sequences]
    np.testing.assert_array_equal(reverse_complement_codes(once, tf.constant(lengths)).numpy(), codes)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences=st.lists(sequence_strategy, min_size=1, max_size=5), spec_index=st.integers(0, 5))
def test_reverse_augmented_onehot_is_the_flipped_forward_onehot(sequences, spec_index):
    """The RC augmentation flips the whole encoded window: flipping it back (length and ACGT axes) gives the forward."""
    spec = SPECS[spec_index]
    assert spec["kind"] == "onehot"
    forward = _encode(spec, sequences, reverse=False)[..., :4]
    reverse = _encode(spec, sequences, reverse=True)[..., :4]
    np.testing.assert_array_equal(reverse[:, ::-1, ::-1], forward)


def test_nad_kmers_are_the_5mers_centred_on_each_variable_base():
    spec = {"kind": "kmer", "k": 5, "length": 80, "region": "variable", "pad": "n_right"}
    ids = Encoder(spec).encode([FULL])[0]
    expected = [int("".join(str("ACGT".index(c)) for c in FULL[17 + i - 2 : 17 + i + 3]), 4) for i in range(80)]
    np.testing.assert_array_equal(ids, expected)


def test_plasmid_random_picks_one_of_the_bhi_paddings_with_bhi_odds():
    spec = {"kind": "tokens", "length": 110, "pad": "plasmid_random"}
    short = FULL[:50] + FULL[70:]  # 90 bp: 20 bp of padding
    options = {choice: reference_encode(reference_window(short, spec, pad_choice=choice), spec)
               for choice in ("right", "left", "split")}
    codes, lengths = sequences_to_codes([short] * 4000)
    got = Encoder(spec).tf_encode(tf.constant(codes), tf.constant(lengths), seed=7).numpy()
    counts = {choice: int((got == row).all(axis=1).sum()) for choice, row in options.items()}
    assert sum(counts.values()) == 4000
    assert abs(counts["right"] / 4000 - 0.333) < 0.04
    assert abs(counts["left"] / 4000 - 0.667 * 0.334) < 0.04
    assert abs(counts["split"] / 4000 - 0.667 * 0.666) < 0.04


def test_plasmid_random_without_seed_is_a_function_of_the_sequence():
    spec = {"kind": "tokens", "length": 110, "pad": "plasmid_random"}
    sequences = [FULL[: 110 - i] + FLANK3 for i in range(14, 40)]
    encoder = Encoder(spec)
    alone = np.stack([encoder.encode([s])[0] for s in sequences[:5]])
    batched = encoder.encode(sequences)
    wide_codes, wide_lengths = sequences_to_codes(sequences[::-1], max_length=240)
    reordered = encoder.tf_encode(tf.constant(wide_codes), tf.constant(wide_lengths)).numpy()[::-1]
    np.testing.assert_array_equal(alone, batched[:5])
    np.testing.assert_array_equal(batched, reordered)
    assert len({row.tobytes() for row in batched}) > 1


def test_tf_strings_to_codes_matches_numpy_and_ignores_case_and_whitespace():
    sequences = ["acgtn", "ACGTACGTAC", "T"]
    codes, lengths = tf_strings_to_codes(tf.constant([" acgtn\n", "ACGTACGTAC", "T\r"]), 12)
    expected_codes, expected_lengths = sequences_to_codes(sequences, max_length=12)
    np.testing.assert_array_equal(codes.numpy(), expected_codes)
    np.testing.assert_array_equal(lengths.numpy(), expected_lengths)


@pytest.mark.parametrize("bad, problem", [("ACGU", "letter outside"), ("", "is empty"), ("A" * 13, "longer than")])
def test_tf_strings_to_codes_names_the_bad_row_in_graph_mode(bad, problem):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode(strings):
        return Encoder({"length": 12}, max_sequence_length=12).tf_encode_strings(strings)

    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"row 2 \(0-based\) .*{problem}"):
        encode(tf.constant(["ACGT", "CCGG", bad, "TTTT"]))


def test_serving_style_graph_equals_eager_encode():
    encoder = Encoder(SPECS[0])
    graph = tf.function(encoder.tf_encode_strings, input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(graph(tf.constant(SAMPLES)).numpy(), encoder.encode(SAMPLES))


def test_reverse_complement_codes_keeps_padding_at_the_end():
    codes, lengths = sequences_to_codes(["AACGN", "GT"])
    rc = reverse_complement_codes(tf.constant(codes), tf.constant(lengths)).numpy()
    assert codes_to_sequences(rc, lengths) == ["NCGTT", "AC"]
    assert rc[1, 2] == PAD_CODE


def test_shift_codes_moves_content_along_the_construct():
    codes, lengths = sequences_to_codes([FULL, FULL])
    shifted = shift_codes(tf.constant(codes), tf.constant(lengths), tf.constant([3, -2])).numpy()
    right, left = codes_to_sequences(shifted, lengths)
    assert right == reference_window(FULL, {"length": 110}, shift=3)
    assert left == reference_window(FULL, {"length": 110}, shift=-2)
    kept = codes_to_sequences(shift_codes(tf.constant(codes), tf.constant(lengths), 2,
                                          {"region": "variable"}).numpy(), lengths)[0]
    assert kept.startswith(FLANK5) and kept.endswith(FLANK3) and kept[17:97] == VARIABLE[2:] + FLANK3[:2]


def test_spec_round_trip_and_validation():
    spec = EncodingSpec.from_dict(SPECS[0])
    assert EncodingSpec.from_dict(spec.to_dict()) == spec
    assert Encoder(spec).input_shape == (150, 6)
    assert Encoder({"kind": "kmer", "k": 3, "length": 20}).input_shape == (20,)
    with pytest.raises(ConfigError, match="unknown key"):
        EncodingSpec.from_dict({"lenght": 110})
    with pytest.raises(ConfigError, match="pad"):
        EncodingSpec(pad="mirror")
    assert set(PADS) >= {"plasmid_random", "zero_right"}
    with pytest.raises(ConfigError, match="token_order"):
        EncodingSpec(kind="tokens", token_order="ACGTX")
    with pytest.raises(ConfigError, match="only kind 'onehot'"):
        EncodingSpec(kind="tokens", rc_channel=True)
    with pytest.raises(ConfigError, match="k"):
        EncodingSpec(kind="onehot", k=3)
    with pytest.raises(ConfigError, match="length"):
        EncodingSpec(length=0)


def test_onehot_letters_default_keeps_acgt_and_is_validated():
    """Without ``onehot_letters`` the one-hot is A, C, G, T (N = n_value, padding 0); other orders, N and P are
    checked, and P (a padding channel) needs pad zero_right."""
    spec = EncodingSpec(n_value=0.25)
    assert spec.onehot_letters == "ACGT" and spec.channels == 4
    expected = np.zeros((6, 4), np.float32)
    expected[:4] = np.eye(4)
    expected[4] = 0.25
    np.testing.assert_array_equal(spec.onehot_table(), expected)
    assert EncodingSpec(onehot_letters="AGCTNP", pad="zero_right", rc_channel=True).channels == 7
    for bad in ("ACG", "ACGTT", "ACGTX", "acgt", 4):
        with pytest.raises(ConfigError, match="input.onehot_letters"):
            EncodingSpec(onehot_letters=bad)
    with pytest.raises(ConfigError, match="input.onehot_letters.*zero_right"):
        EncodingSpec(onehot_letters="ACGTP", pad="n_right")
    with pytest.raises(ConfigError, match="input.onehot_letters.*only kind 'onehot'"):
        EncodingSpec(kind="tokens", onehot_letters="AGCT")


def test_encode_rejects_bad_python_sequences_naming_the_row():
    with pytest.raises(SequenceError, match="row 1: letter 'X'"):
        Encoder().encode(["ACGT", "ACXT"])
