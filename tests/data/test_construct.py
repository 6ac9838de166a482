"""The Construct: definition, round trips, the built-ins, and the encoder driven by a user construct.

Oracles: the challenge's plasmid file (../shared) for the yeast construct, and plain string arithmetic (the row
placed in its vector, a window cut out of it) for the encoder's padding, flank stripping and shifts.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from seq2exp.data.construct import (
    BUILTIN_CONSTRUCTS,
    DREAM_YEAST,
    GENOMIC,
    Construct,
    get_construct,
    resolve_construct,
)
from seq2exp.errors import ConfigError

# A made-up MPRA construct with vector pieces of different lengths on the two sides (not the yeast numbers).
USER = Construct(name="my_mpra", flank5="ACTGGC", flank3="AGATCGG", upstream="TTTTGGGCCCAAAACTGGC",
                 downstream="AGATCGGTTACCAGTCAGTAC", insert_length=12)
BIG = 400  # N beyond the known vector in the string reference


def test_yeast_construct_is_the_challenge_plasmid(demo_plasmid):
    """dream_yeast against the plasmid file itself: the 80-N insert, 17/13 bp flanks, 300 bp of vector each side."""
    plasmid = json.loads(open(demo_plasmid).read()).upper()
    insert = plasmid.index("N" * 80)
    assert DREAM_YEAST.insert_length == 80 and DREAM_YEAST.sequence_length == 110
    assert DREAM_YEAST.upstream == plasmid[insert - 300:insert]
    assert DREAM_YEAST.downstream == plasmid[insert + 80:insert + 380]
    assert DREAM_YEAST.flank5 == "TGCATTTTTTTCACATC" and DREAM_YEAST.flank3 == "GGTTACGGCTGTT"


@pytest.mark.parametrize("construct", [DREAM_YEAST, GENOMIC, USER])
def test_round_trips(construct):
    record = construct.to_dict()
    assert json.loads(json.dumps(record)) == record
    assert Construct.from_dict(record) == construct
    assert resolve_construct(json.loads(json.dumps(record))) == construct
    assert resolve_construct(construct) is construct


def test_names_aliases_and_old_records():
    assert resolve_construct(None) is DREAM_YEAST  # runs and exports without a construct record
    assert resolve_construct("dream_yeast") is DREAM_YEAST and resolve_construct("yeast") is DREAM_YEAST
    assert resolve_construct("genomic") is GENOMIC and resolve_construct("none") is GENOMIC
    assert resolve_construct({"name": "genomic"}) is GENOMIC
    assert set(BUILTIN_CONSTRUCTS) == {"dream_yeast", "genomic"}
    assert not GENOMIC.has_flanks and GENOMIC.sequence_length is None
    with pytest.raises(ConfigError, match="unknown built-in construct 'drosophila'.*dream_yeast"):
        get_construct("drosophila")


def test_defaults_and_lower_case():
    construct = Construct.from_dict({"name": "c", "flank5": "acg", "flank3": "tt", "insert_length": 5})
    assert (construct.upstream, construct.downstream) == ("ACG", "TT")  # no vector known beyond the flanks
    assert construct.flank5 == "ACG" and construct.sequence_length == 10


@pytest.mark.parametrize("values, message", [
    ({"name": "c", "flank5": "ACGX"}, r"construct.flank5: letter 'X' at position 4"),
    ({"name": "c", "flank5": "ACG", "upstream": "TTTTACC"}, "construct.upstream: must end with flank5"),
    ({"name": "c", "flank3": "ACG", "downstream": "TACG"}, "construct.downstream: must start with flank3"),
    ({"name": "c", "insert_length": 0}, "construct.insert_length: expected a positive integer"),
    ({"name": "c", "insert_length": True}, "construct.insert_length"),
    ({"name": ""}, "construct.name"),
    ({"flank5": "A"}, "construct.name: missing"),
    ({"name": "c", "flanks": "A"}, r"unknown key\(s\) \['flanks'\]"),
    ({"name": "dream_yeast", "flank5": "ACGT"}, "'dream_yeast' is a built-in construct"),
])
def test_invalid_definitions_name_the_field(values, message):
    with pytest.raises(ConfigError, match=message):
        resolve_construct(values)


def test_insert_region_and_missing_flanks():
    row = USER.with_flanks("A" * 12)
    assert row == "ACTGGC" + "A" * 12 + "AGATCGG"
    assert USER.insert_region(row) == (6, 18)
    assert USER.insert_region("A" * 12) == (0, 12)  # no flanks: the whole row
    assert USER.rows_missing_flanks([row, "A" * 12, "ACTGGC" + "A" * 12, row.lower()]) == [1, 2]
    assert GENOMIC.rows_missing_flanks(["ACGT"]) == [] and GENOMIC.insert_region("ACGT") == (0, 4)


# ------------------------------------------------------------------------------------------- encoder vs strings
def _reference_window(row: str, construct: Construct, *, length: int, pad: str, region: str, shift: int = 0) -> str:
    """The model window as plain strings: put the row (or its insert) in the construct's vector, cut ``length``."""
    f5, f3 = construct.flank5, construct.flank3
    has5 = bool(f5) and row.startswith(f5)
    has3 = bool(f3) and row[len(f5) if has5 else 0:].endswith(f3) and len(row) - (len(f5) if has5 else 0) >= len(f3)
    if region == "variable":
        part = row[len(f5) if has5 else 0: len(row) - (len(f3) if has3 else 0)]
        left, right = construct.upstream, construct.downstream
    else:
        part = row
        left = construct.upstream[: len(construct.upstream) - len(f5)] if has5 else construct.upstream
        right = construct.downstream[len(f3):] if has3 else construct.downstream
    world = "N" * BIG + left + part + right + "N" * BIG
    origin, n = BIG + len(left), len(part)
    moved = world[:origin] + world[origin + shift: origin + shift + n] + world[origin + n:]  # content moves
    padding = max(length - n, 0)
    start = {"plasmid_right": 0, "plasmid_left": -padding, "plasmid_split": -(padding // 2)}[pad]
    start = start if n <= length else 0  # trim "right": keep the first ``length`` bases
    return moved[origin + start: origin + start + length]


ROWS = [
    USER.with_flanks("GATTACAGATTA"),          # the full measured row
    "GATTACAGATTA",                           # the insert alone
    USER.flank5 + "CCCGGG",                   # 5' flank only, short insert
    "TTTAAA" + USER.flank3,                   # 3' flank only
    USER.with_flanks("ACGTACGTACGTACGTACGT"),  # longer than the window: trimmed
]


@pytest.mark.parametrize("pad", ["plasmid_right", "plasmid_left", "plasmid_split"])
@pytest.mark.parametrize("region", ["full", "variable"])
@pytest.mark.parametrize("shift", [0, -3, 2])
def test_encoder_pads_and_shifts_with_the_user_vector(pad, region, shift):
    from seq2exp.data.alphabet import codes_to_sequences
    from seq2exp.data.encoding import Encoder

    length = 30
    encoder = Encoder({"kind": "onehot", "length": length, "pad": pad, "region": region}, construct=USER)
    assert encoder.construct is USER
    window = encoder.tf_window_codes(*_codes(ROWS, encoder), shift=shift).numpy()
    got = codes_to_sequences(window, np.full(len(ROWS), length))
    want = [_reference_window(row, USER, length=length, pad=pad, region=region, shift=shift) for row in ROWS]
    assert got == want
    # the one-hot input is that window, letter by letter (N = 0.25 in each channel)
    onehot = encoder.encode(ROWS, shift=shift)
    table = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1], "N": [.25] * 4}
    np.testing.assert_array_equal(onehot, np.array([[table[b] for b in w] for w in want], np.float32))


def test_yeast_is_the_default_and_unchanged_by_an_explicit_construct():
    from seq2exp.data.encoding import Encoder

    rows = [DREAM_YEAST.with_flanks("ACGT" * 20), "ACGT" * 20, DREAM_YEAST.with_flanks("AC" * 30)]
    spec = {"kind": "onehot", "length": 150, "pad": "plasmid_split", "rc_channel": True}
    default = Encoder(spec).encode(rows, shift=[1, -2, 0])
    np.testing.assert_array_equal(default, Encoder(spec, construct="dream_yeast").encode(rows, shift=[1, -2, 0]))
    want = [_reference_window(r, DREAM_YEAST, length=150, pad="plasmid_split", region="full", shift=s)
            for r, s in zip(rows, [1, -2, 0])]
    from seq2exp.data.alphabet import codes_to_sequences

    got = codes_to_sequences(np.argmax(default[..., :4], -1) + 4 * (default[..., 0] == 0.25), np.full(3, 150))
    assert got == want
    # the insert alone with region "variable" = the full row with region "variable"
    variable = Encoder({"kind": "tokens", "length": 100, "region": "variable", "pad": "plasmid_split"})
    np.testing.assert_array_equal(variable.encode(rows[:1]), variable.encode(rows[1:2]))


def test_genomic_construct_pads_with_n_and_strips_nothing():
    from seq2exp.data.alphabet import codes_to_sequences
    from seq2exp.data.encoding import Encoder

    rows = ["ACGTAC", DREAM_YEAST.with_flanks("GG")]
    for region in ("full", "variable"):
        encoder = Encoder({"kind": "tokens", "length": 36, "pad": "plasmid_split", "region": region},
                          construct="genomic")
        window = encoder.tf_window_codes(*_codes(rows, encoder), shift=-2).numpy()
        got = codes_to_sequences(window, np.full(2, 36))
        assert got == [_reference_window(r, GENOMIC, length=36, pad="plasmid_split", region=region, shift=-2)
                       for r in rows]
        assert got[0] == "N" * 15 + "NNACGT" + "N" * 15  # shifted 2 bp into the N "vector"
    assert Encoder({"region": "variable", "length": 300}, construct="genomic").max_sequence_length == 300
    assert Encoder({"region": "variable", "length": 300}).max_sequence_length == 330


def test_shift_codes_uses_the_construct():
    from seq2exp.data.alphabet import codes_to_sequences, sequences_to_codes
    from seq2exp.data.encoding import shift_codes

    row = USER.with_flanks("GATTACAGATTA")
    codes, lengths = sequences_to_codes([row])
    moved = shift_codes(codes, lengths, 3, construct=USER).numpy()
    assert codes_to_sequences(moved, lengths) == [row[3:] + USER.downstream[len(USER.flank3):][:3]]
    moved = shift_codes(codes, lengths, -2, {"region": "variable"}, construct=USER).numpy()
    assert codes_to_sequences(moved, lengths) == [USER.flank5 + USER.upstream[-2:] + "GATTACAGAT" + USER.flank3]


def _codes(rows, encoder):
    import tensorflow as tf

    from seq2exp.data.alphabet import sequences_to_codes

    codes, lengths = sequences_to_codes(rows, max_length=encoder.max_sequence_length)
    return tf.constant(codes), tf.constant(lengths)
