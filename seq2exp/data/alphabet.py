"""The nucleotide alphabet, the promoter's constant parts and the numpy half of strings -> codes.

No TensorFlow here: readers, the cache builder and the scorer use these without paying TensorFlow's import. The
TensorFlow half (``tf_strings_to_codes`` and the model-input encoders) lives in :mod:`seq2exp.data.encoding`, which
re-exports everything below.

Codes: ``A=0, C=1, G=2, T=3, N=4`` and ``PAD=5`` past each row's length. Input letters are case-insensitive.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

ALPHABET = "ACGTN"
N_CODE = 4
PAD_CODE = 5
FLANK5 = "TGCATTTTTTTCACATC"  # 17 bp constant 5' part of every challenge promoter
FLANK3 = "GGTTACGGCTGTT"  # 13 bp constant 3' part
VARIABLE_LENGTH = 80
PROMOTER_LENGTH = len(FLANK5) + VARIABLE_LENGTH + len(FLANK3)  # 110
INVALID_CODE = 255

# byte -> code lookup table; every byte that is not a/c/g/t/n (any case) maps to INVALID_CODE.
CODE_OF_BYTE = np.full(256, INVALID_CODE, dtype=np.uint8)
for _code, _letter in enumerate(ALPHABET):
    CODE_OF_BYTE[ord(_letter)] = _code
    CODE_OF_BYTE[ord(_letter.lower())] = _code
# code -> letter (PAD decodes to nothing, see codes_to_sequences)
LETTER_OF_CODE = np.frombuffer((ALPHABET + "-").encode("ascii"), dtype=np.uint8)
# code -> code of the complementary base (N and PAD map to themselves)
COMPLEMENT_CODE = np.array([3, 2, 1, 0, N_CODE, PAD_CODE], dtype=np.uint8)


class SequenceError(ValueError):
    """A sequence is empty, too long or has a letter outside ``ACGTN``. ``row`` is its 0-based position."""

    def __init__(self, message: str, row: int):
        self.row = row
        super().__init__(message)


def describe_bad_sequence(sequence: str | bytes, max_length: int | None) -> str | None:
    """Why ``sequence`` is not a valid promoter sequence, or ``None`` when it is valid."""
    raw = sequence.encode("latin-1", "replace") if isinstance(sequence, str) else bytes(sequence)
    if not raw:
        return "empty sequence"
    if max_length is not None and len(raw) > max_length:
        return f"sequence of {len(raw)} bp is longer than the maximum {max_length} bp"
    codes = CODE_OF_BYTE[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == INVALID_CODE)
    if bad.size:
        position = int(bad[0])
        letter = sequence[position] if isinstance(sequence, str) else chr(raw[position])
        return f"letter {letter!r} at position {position + 1} is not one of A, C, G, T, N"
    return None


def sequences_to_codes(sequences: Sequence[str], max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Turn sequences into a ``uint8`` code matrix ``[B, L]`` (``PAD_CODE`` past each row's end) and ``lengths``.

    ``L`` is ``max_length`` when given, else the longest sequence. Raises :class:`SequenceError` naming the first
    bad row (empty, longer than ``max_length``, or a letter outside ``ACGTN``).
    """
    n_rows = len(sequences)
    try:
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n_rows)
        joined = "".join(sequences).encode("ascii")
    except (UnicodeEncodeError, TypeError):
        for row, sequence in enumerate(sequences):
            if not isinstance(sequence, str):
                raise SequenceError(f"row {row}: expected a string, got {type(sequence).__name__}", row) from None
            problem = describe_bad_sequence(sequence, max_length)
            if problem:
                raise SequenceError(f"row {row}: {problem}", row) from None
        raise
    width = int(max_length) if max_length is not None else int(lengths.max(initial=0))
    problem_rows = np.flatnonzero((lengths == 0) | (lengths > width))
    flat = CODE_OF_BYTE[np.frombuffer(joined, dtype=np.uint8)]
    if problem_rows.size == 0 and not (flat == INVALID_CODE).any():
        return _scatter_rows(flat, lengths, width), lengths.astype(np.int32)
    first_bad = _first_bad_row(flat, lengths, width, problem_rows)
    problem = describe_bad_sequence(sequences[first_bad], max_length)
    raise SequenceError(f"row {first_bad}: {problem}", first_bad)


def _first_bad_row(flat: np.ndarray, lengths: np.ndarray, width: int, problem_rows: np.ndarray) -> int:
    """The smallest row index that is empty, too long, or holds an invalid letter."""
    candidates = [int(problem_rows[0])] if problem_rows.size else []
    bad_bytes = np.flatnonzero(flat == INVALID_CODE)
    if bad_bytes.size:
        ends = np.cumsum(lengths)
        candidates.append(int(np.searchsorted(ends, bad_bytes[0], side="right")))
    return min(candidates)


def _scatter_rows(flat: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Lay the concatenated codes ``flat`` out as rows of ``width``, padded with ``PAD_CODE``."""
    n_rows = lengths.shape[0]
    codes = np.full((n_rows, width), PAD_CODE, dtype=np.uint8)
    if flat.size:
        starts = np.cumsum(lengths) - lengths
        row_of_byte = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        column_of_byte = np.arange(flat.size, dtype=np.int64) - np.repeat(starts, lengths)
        codes[row_of_byte, column_of_byte] = flat
    return codes


def codes_to_sequences(codes: np.ndarray, lengths: np.ndarray | None = None) -> list[str]:
    """Inverse of :func:`sequences_to_codes` (upper-case strings; ``PAD_CODE`` ends a row when no lengths)."""
    codes = np.asarray(codes)
    if lengths is None:
        lengths = np.where((codes == PAD_CODE).any(axis=1), (codes == PAD_CODE).argmax(axis=1), codes.shape[1])
    letters = LETTER_OF_CODE[np.minimum(codes, PAD_CODE)]
    return [letters[row, : int(n)].tobytes().decode("ascii") for row, n in enumerate(lengths)]


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an ``ACGTN`` string (case-insensitive input, upper-case output)."""
    return sequence.upper().translate(_COMPLEMENT_TABLE)[::-1]


_COMPLEMENT_TABLE = str.maketrans("ACGTN", "TGCAN")


def is_integer_expression(values: np.ndarray) -> np.ndarray:
    """``True`` where an expression value is a whole number: the 'singleton' flag of autosome's encoding."""
    values = np.asarray(values, dtype=np.float64)
    return np.isfinite(values) & (values == np.round(values))
