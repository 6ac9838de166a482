"""Random promoter libraries (the N80 training design) and fast DREAM-format text for them.

Shapes mimic the real training data (``demo_train.txt``): 17 bp 5' flank + random region + 13 bp 3' flank; 82% of
rows are 110 bp, the rest mostly 1-3 bp shorter (synthesis deletions), a few longer, 87-135 bp in all; the random
region's base composition is the library's (A 22.5%, C 19.2%, G 28.1%, T 30.1%) with per-oligo GC over-dispersion
(synthesis: the real GC sd is 0.082, above the 0.056 of independent bases); about 0.4% of reads end in a run of
low-quality ``N`` calls near the 3' end of the random region.
"""
from __future__ import annotations

import numpy as np

from seq2exp.simulate.model import FLANK3, FLANK5, PAD_CODE, LETTER_TO_CODE

MAX_LENGTH = 135
MIN_LENGTH = 87
# Base composition of the random region in the real library, in 1/256ths (A, C, G, T).
COMPOSITION_256 = (58, 49, 72, 77)
N_READ_SHARE = 0.004
N_TAIL = 25
N_CALL_PROBABILITY = 0.6

_FLANK5 = LETTER_TO_CODE[np.frombuffer(FLANK5.encode(), dtype=np.uint8)]
_FLANK3 = LETTER_TO_CODE[np.frombuffer(FLANK3.encode(), dtype=np.uint8)]
GC_LEVEL_SD = 0.06                # per-oligo GC over-dispersion (the real library's GC sd is 0.082, not 0.056)
N_GC_LEVELS = 16


def _composition_tables() -> np.ndarray:
    """``[N_GC_LEVELS, 256]`` byte -> base tables whose GC content spreads around the library's mean."""
    a, c, g, t = (x / 256 for x in COMPOSITION_256)
    mean_gc, at_a, gc_c = c + g, a / (a + t), c / (c + g)
    from scipy.stats import norm

    levels = mean_gc + GC_LEVEL_SD * norm.ppf((np.arange(N_GC_LEVELS) + 0.5) / N_GC_LEVELS)
    tables = np.empty((N_GC_LEVELS, 256), dtype=np.uint8)
    for i, gc in enumerate(np.clip(levels, 0.2, 0.8)):
        n_c = int(round(256 * gc * gc_c))
        n_g = int(round(256 * gc)) - n_c
        n_a = int(round(256 * (1 - gc) * at_a))
        n_t = 256 - n_c - n_g - n_a
        tables[i] = np.repeat(np.arange(4, dtype=np.uint8), (n_a, n_c, n_g, n_t))
    return tables


_BYTE_TO_BASE = _composition_tables().ravel()


def _length_distribution() -> tuple[np.ndarray, np.ndarray]:
    """Promoter lengths and their probabilities (from the demo training data, smoothed in the tails)."""
    weights = {110: 5219, 109: 812, 108: 152, 107: 50, 106: 29, 105: 17, 104: 11, 111: 29}
    for length in range(MIN_LENGTH, 104):
        weights[length] = 45 / 17
    for length in range(112, MAX_LENGTH + 1):
        weights[length] = 8 / 24
    lengths = np.array(sorted(weights), dtype=np.int32)
    probs = np.array([weights[k] for k in lengths], dtype=np.float64)
    return lengths, probs / probs.sum()


LENGTHS, LENGTH_PROBS = _length_distribution()


def random_promoters(rng: np.random.Generator, n: int, *, lengths: np.ndarray | None = None,
                     width: int = MAX_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random promoters as codes ``[n, width]`` (PAD past the end) and lengths.

    Without ``lengths`` they follow the training library's length spread; pass ``np.full(n, 110)`` for test designs.
    """
    if lengths is None:
        lengths = rng.choice(LENGTHS, size=n, p=LENGTH_PROBS).astype(np.int32)
    lengths = np.asarray(lengths, dtype=np.int32)
    level = rng.integers(0, N_GC_LEVELS, size=(n, 1), dtype=np.uint16) << 8
    codes = _BYTE_TO_BASE[rng.integers(0, 256, size=(n, width), dtype=np.uint8) | level]
    codes[:, : len(FLANK5)] = _FLANK5
    for length in np.unique(lengths):                # few distinct lengths: slice assignments per length
        rows = lengths == length
        codes[rows, length - len(FLANK3):length] = _FLANK3
        codes[rows, length:] = PAD_CODE
    return codes, lengths


def add_read_errors(rng: np.random.Generator, codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Copy of ``codes`` where ~0.4% of reads have ``N`` calls over the last 25 bp of the random region."""
    reported = codes.copy()
    rows = np.flatnonzero(rng.random(len(codes)) < N_READ_SHARE)
    if len(rows) == 0:
        return reported
    column = np.arange(codes.shape[1])[None, :]
    end = (lengths[rows] - len(FLANK3))[:, None]
    tail = (column >= end - N_TAIL) & (column < end) & (column >= len(FLANK5))
    calls = tail & (rng.random((len(rows), codes.shape[1])) < N_CALL_PROBABILITY)
    block = reported[rows]
    block[calls] = 4
    reported[rows] = block
    return reported


_ASCII = np.frombuffer(b"ACGTN?", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
VALUE_DECIMALS = 6


def format_dream_rows(codes: np.ndarray, lengths: np.ndarray, values: np.ndarray) -> bytes:
    """DREAM text ``sequence<TAB>value\\n`` for a batch, built with numpy only (no per-row Python).

    Integer values are written bare (``12``), others with 6 decimals (``15.182384``), like the real file.
    """
    n, width = codes.shape
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 10 ** VALUE_DECIMALS).astype(np.int64)
    integer_part = scaled // 10 ** VALUE_DECIMALS
    fraction = scaled % 10 ** VALUE_DECIMALS
    two_digits = integer_part >= 10
    value_cols = 2 + 1 + VALUE_DECIMALS
    value = np.empty((n, value_cols), dtype=np.uint8)
    value[:, 0] = np.where(two_digits, _DIGITS[(integer_part // 10) % 10], _DIGITS[integer_part % 10])
    value[:, 1] = np.where(two_digits, _DIGITS[integer_part % 10], ord("."))
    digits = (fraction[:, None] // 10 ** np.arange(VALUE_DECIMALS - 1, -1, -1)[None, :]) % 10
    frac_chars = _DIGITS[digits]
    value[:, 2] = np.where(two_digits, ord("."), frac_chars[:, 0])
    # positions 3..: the fraction digits shifted by one column when the integer part has two digits
    shifted = np.concatenate([frac_chars, np.zeros((n, 1), dtype=np.uint8)], axis=1)
    value[:, 3:] = np.where(two_digits[:, None], shifted[:, :VALUE_DECIMALS], shifted[:, 1:VALUE_DECIMALS + 1])
    is_integer = fraction == 0
    value_length = np.where(is_integer, 1 + two_digits, 1 + two_digits + 1 + VALUE_DECIMALS)

    row = np.empty((n, width + 1 + value_cols + 1), dtype=np.uint8)
    row[:, :width] = _ASCII[np.minimum(codes, 5)]
    row[:, width] = ord("\t")
    row[:, width + 1: width + 1 + value_cols] = value
    row[:, -1] = ord("\n")
    column = np.arange(row.shape[1])[None, :]
    keep = (column < lengths[:, None]) | (column == width) | (column == row.shape[1] - 1)
    keep |= (column > width) & (column <= width + value_length[:, None])
    return row[keep].tobytes()


def random_inserts(rng: np.random.Generator, n: int, length: int, *, planted_sites: int = 0,
                   consensus: tuple[str, ...] = ()) -> np.ndarray:
    """``n`` random inserts of ``length`` bp as codes ``[n, length]`` (the library's base composition and GC spread).

    ``planted_sites``: a designed library: each insert also carries that many TF sites, each the consensus of a TF
    drawn uniformly from ``consensus``, on a random strand at a random position (later sites may overwrite earlier
    ones, as in any overlapping design).
    """
    level = rng.integers(0, N_GC_LEVELS, size=(n, 1), dtype=np.uint16) << 8
    codes = _BYTE_TO_BASE[rng.integers(0, 256, size=(n, length), dtype=np.uint8) | level]
    if planted_sites and consensus:
        sites = [LETTER_TO_CODE[np.frombuffer(site.encode(), dtype=np.uint8)] for site in consensus]
        for _ in range(planted_sites):
            which = rng.integers(0, len(sites), size=n)
            reverse = rng.random(n) < 0.5
            for k, site in enumerate(sites):
                rows = np.flatnonzero(which == k)
                width = min(len(site), length)
                starts = rng.integers(0, length - width + 1, size=len(rows))
                for strand, pattern in ((False, site[:width]), (True, (3 - site[::-1])[:width])):
                    chosen = reverse[rows] == strand
                    columns = starts[chosen, None] + np.arange(width)[None, :]
                    codes[rows[chosen, None], columns] = pattern
    return codes
