"""The expression vector around the 80-bp random insert: the real flanks that padding and shifting fill from.

The challenge's plasmid (``plasmid.json`` of the de Boer lab repository, MIT) carries the promoter as
``... FLANK5 + N*80 + FLANK3 ...``. autosome left-pads with the vector upstream of the insert, BHI pads both sides
with the vector next to the constant flanks and shifts by a few bp into it. The 300 bp on each side are package
constants (enough for every published padding; beyond them the encoders fill with ``N``); ``read_plasmid_json`` and
``flanks_from_plasmid`` derive them from a plasmid file, which the tests use to check the constants.
"""
from __future__ import annotations

import os

from seq2exp.data.alphabet import CODE_OF_BYTE, FLANK3, FLANK5, INVALID_CODE, VARIABLE_LENGTH
from seq2exp.errors import InputFormatError

CONTEXT_LENGTH = 300

# The 300 bp of vector immediately 5' of the 80-bp insert; its last 17 bp are FLANK5.
PLASMID_UPSTREAM = (
    "ATTGTAAGCGTTAATATTTTGTTAAAATTCGCGTTAAATTTTTGTTAAATCAGCTCATTTTTTAACCAATAGGCCGAAATCGGCAAAATCCCTTATAAAT"
    "CAAAAGAATAGACCGAGATAGGGTTGAGTGTTGTTCCAGTTTGGAACAAGAGTCCACTATTAAAGAACGTGGACTCCAACGTCAAAGGGCGAAAAACCGT"
    "CTATCAGGGCGATGGCCCACTACGTGAACCATCACCCTAATCAAGTGCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAACTGCATTTTTTTCACATC"
)
# The 300 bp of vector immediately 3' of the 80-bp insert; its first 13 bp are FLANK3.
PLASMID_DOWNSTREAM = (
    "GGTTACGGCTGTTTCTTAATTAAAAAAAGATAGAAAACATTAGGAGTGTAACACAAGACTTTCGGATCCTGAGCAGGCAAGATAAACGAAGGCAAAGATG"
    "TCTAAAGGTGAAGAATTATTCACTGGTGTTGTCCCAATTTTGGTTGAATTAGATGGTGATGTTAATGGTCACAAATTTTCTGTCTCCGGTGAAGGTGAAG"
    "GTGATGCTACTTACGGTAAATTGACCTTAAAATTGATTTGTACTACTGGTAAATTGCCAGTTCCATGGCCAACCTTAGTCACTACTTTAGGTTATGGTTT"
)
assert PLASMID_UPSTREAM.endswith(FLANK5) and PLASMID_DOWNSTREAM.startswith(FLANK3)
assert len(PLASMID_UPSTREAM) == len(PLASMID_DOWNSTREAM) == CONTEXT_LENGTH


def read_plasmid_json(path: str | os.PathLike) -> str:
    """Read a plasmid file holding one JSON string; return it upper-case.

    Raises ``InputFormatError`` when the file is not a JSON string of ``ACGTN`` letters or lacks the ``N*80`` insert.
    """
    path = os.fspath(path)
    from seq2exp import jsonio

    value = jsonio.load_file(path)
    if not isinstance(value, str):
        raise InputFormatError(f"expected one JSON string, found {jsonio.type_name(value)}", path=path)
    plasmid = value.upper()
    bad = [i for i, letter in enumerate(plasmid.encode("latin-1", "replace")) if CODE_OF_BYTE[letter] == INVALID_CODE]
    if bad:
        raise InputFormatError(
            f"letter {plasmid[bad[0]]!r} at position {bad[0] + 1} is not one of A, C, G, T, N", path=path
        )
    if "N" * VARIABLE_LENGTH not in plasmid:
        raise InputFormatError(f"no run of {VARIABLE_LENGTH} N marking the promoter insert", path=path)
    return plasmid


def flanks_from_plasmid(plasmid: str, length: int = CONTEXT_LENGTH) -> tuple[str, str]:
    """The ``length`` bp of vector before and after the ``N*80`` insert of ``plasmid`` (upper-case)."""
    plasmid = plasmid.upper()
    insert = plasmid.find("N" * VARIABLE_LENGTH)
    if insert < 0:
        raise ValueError(f"the plasmid has no run of {VARIABLE_LENGTH} N marking the insert")
    end = insert + VARIABLE_LENGTH
    return plasmid[max(0, insert - length) : insert], plasmid[end : end + length]
