"""Sequence helpers of interpretation: validation, one-hot, random and dinucleotide-shuffled backgrounds, motifs.

A motif comes from an IUPAC consensus (``TTACCCGG``, ``TGASTCA``), a JASPAR matrix id (``MA0363.3``, from the
offline ``pyjaspar`` databases the simulator already uses) or a PWM file (JASPAR / plain ``A C G T`` rows or
columns of counts or probabilities). :class:`Motif` holds probabilities ``[k, 4]`` (A, C, G, T).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seq2exp.errors import ConfigError, InputFormatError
from seq2exp.simulate.motifs import JASPAR_RELEASE, count_matrix, jaspar_database

logger = logging.getLogger(__name__)

BASES = "ACGT"
IUPAC: dict[str, str] = {
    "A": "A", "C": "C", "G": "G", "T": "T", "U": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT",
    "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
_JASPAR_ID = re.compile(r"^(?:jaspar:)?(MA\d{4}\.\d+)$", re.IGNORECASE)
_VALID = re.compile(r"^[ACGTN]+$")


def check_sequences(sequences: Iterable[str], *, what: str = "sequences", equal_length: bool = True,
                    length: int | None = None) -> list[str]:
    """Upper-cased, stripped DNA strings; a non-DNA letter, an empty or a wrong-length sequence raises
    ``InputFormatError`` naming the (0-based) row. ``equal_length``: every row as long as the first."""
    result = []
    for row, sequence in enumerate(sequences):
        if not isinstance(sequence, str):
            raise InputFormatError(f"row {row}: expected a DNA string, got {type(sequence).__name__}", path=what)
        text = sequence.strip().upper()
        if not text:
            raise InputFormatError(f"row {row}: empty sequence", path=what)
        if not _VALID.match(text):
            bad = sorted(set(text) - set("ACGTN"))
            raise InputFormatError(f"row {row}: letter(s) {bad} outside A, C, G, T, N", path=what)
        expected = length if length is not None else (len(result[0]) if result and equal_length else None)
        if expected is not None and len(text) != expected:
            raise InputFormatError(f"row {row}: length {len(text)} bp, expected {expected} bp"
                                   + ("" if length is not None else " (all sequences must have the same length)"),
                                   path=what)
        result.append(text)
    if not result:
        raise InputFormatError("no sequences given", path=what)
    return result


def onehot(sequences: Sequence[str], n_value: float = 0.25) -> np.ndarray:
    """float32 ``[n, L, 4]`` (A, C, G, T; ``N`` = ``n_value`` in each channel); sequences of mixed lengths are
    right-padded with all-zero rows to the longest (``L``)."""
    table = np.zeros([256, 4], np.float32)
    for i, base in enumerate(BASES):
        table[ord(base), i] = 1.0
    table[ord("N")] = n_value
    width = max((len(s) for s in sequences), default=0)
    if all(len(s) == width for s in sequences):
        raw = np.frombuffer("".join(sequences).encode("ascii"), np.uint8).reshape(len(sequences), -1)
    else:  # byte 0 maps to the zero row of the table
        raw = np.frombuffer("".join(s.ljust(width, "\0") for s in sequences).encode("ascii"), np.uint8)
        raw = raw.reshape(len(sequences), width)
    return table[raw]


def from_onehot(array: np.ndarray) -> list[str]:
    """Strings of a one-hot ``[n, L, 4]`` (argmax; rows without a clear maximum are ``N``)."""
    letters = np.array(list(BASES + "N"))
    index = np.where(array.max(axis=-1) > 0.5, array.argmax(axis=-1), 4)
    return ["".join(row) for row in letters[index]]


def random_sequences(n: int, length: int, rng: np.random.Generator, gc: float = 0.5) -> list[str]:
    """``n`` i.i.d. random sequences with GC content ``gc``."""
    probs = np.array([1 - gc, gc, gc, 1 - gc]) / 2.0
    letters = np.array(list(BASES))
    return ["".join(row) for row in letters[rng.choice(4, size=(n, length), p=probs)]]


def dinucleotide_shuffle(sequence: str, rng: np.random.Generator) -> str:
    """A random sequence with exactly the dinucleotide counts of ``sequence`` (Altschul-Erickson, Eulerian walk)."""
    if len(sequence) < 3:
        return sequence
    edges: dict[str, list[str]] = {}
    for a, b in zip(sequence[:-1], sequence[1:]):
        edges.setdefault(a, []).append(b)
    last = sequence[-1]
    while True:  # random last-exit edges until they form a tree into the last letter (Altschul & Erickson 1985)
        last_edge = {v: targets[rng.integers(len(targets))] for v, targets in edges.items() if v != last}

        def reaches_last(vertex: str) -> bool:
            seen = set()
            while vertex != last:
                if vertex in seen:
                    return False
                seen.add(vertex)
                vertex = last_edge[vertex]
            return True

        if all(reaches_last(v) for v in last_edge):
            break
    walks: dict[str, list[str]] = {}
    for vertex, targets in edges.items():
        targets = list(targets)
        exit_edge = last_edge.get(vertex)
        if exit_edge is not None:
            targets.remove(exit_edge)
        order = [targets[i] for i in rng.permutation(len(targets))]
        if exit_edge is not None:
            order.append(exit_edge)
        walks[vertex] = order[::-1]  # pop() from the end
    out = [sequence[0]]
    for _ in range(len(sequence) - 1):
        out.append(walks[out[-1]].pop())
    return "".join(out)


@dataclass(frozen=True)
class Motif:
    """A motif: ``probs`` float ``[k, 4]`` (A, C, G, T rows summing to 1), a ``name`` and where it came from."""

    name: str
    probs: np.ndarray
    source: str = ""

    @property
    def length(self) -> int:
        return int(self.probs.shape[0])

    @property
    def consensus(self) -> str:
        """The most probable base at each position."""
        return "".join(BASES[i] for i in self.probs.argmax(axis=1))

    def reverse_complement(self) -> "Motif":
        return Motif(self.name, self.probs[::-1, ::-1].copy(), self.source)

    def site(self, rng: np.random.Generator | None = None) -> str:
        """The consensus, or (with ``rng``) a site sampled from the probabilities."""
        if rng is None:
            return self.consensus
        return "".join(BASES[rng.choice(4, p=row)] for row in self.probs)


def _normalise(counts: np.ndarray, what: str) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != 4 or len(counts) == 0:
        raise InputFormatError(f"expected a [k, 4] matrix over A, C, G, T, got shape {counts.shape}", path=what)
    if (counts < 0).any() or not np.isfinite(counts).all() or (counts.sum(axis=1) <= 0).any():
        raise InputFormatError("matrix entries must be finite, non-negative, with a positive sum per position",
                               path=what)
    return counts / counts.sum(axis=1, keepdims=True)


def iupac_motif(consensus: str, name: str | None = None) -> Motif:
    """A motif from an IUPAC consensus (ambiguity codes become equal probabilities)."""
    text = consensus.strip().upper()
    bad = sorted(set(text) - set(IUPAC))
    if not text or bad:
        raise ConfigError(f"motif {consensus!r}: not an IUPAC consensus (bad letters {bad}), a JASPAR id "
                          "(e.g. MA0363.3) or an existing PWM file")
    probs = np.array([[1.0 if b in IUPAC[c] else 0.0 for b in BASES] for c in text])
    return Motif(name or text, probs / probs.sum(axis=1, keepdims=True), "iupac")


def jaspar_motif(matrix_id: str, release: str = JASPAR_RELEASE) -> Motif:
    """A JASPAR matrix by id (offline, ``pyjaspar``); an unknown id raises ``ConfigError``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = jaspar_database(release).fetch_motif_by_id(matrix_id)
    if found is None:
        raise ConfigError(f"motif {matrix_id!r}: no such JASPAR matrix id in {release}")
    return Motif(f"{found.name} ({matrix_id})", _normalise(count_matrix(found), matrix_id), f"{release}:{matrix_id}")


def jaspar_fungi_motifs(release: str = JASPAR_RELEASE) -> list[Motif]:
    """Every JASPAR CORE fungi matrix of ``release`` (178 in JASPAR 2024)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = jaspar_database(release).fetch_motifs(collection="CORE", tax_group=["fungi"])
    return [Motif(f"{m.name} ({m.matrix_id})",
                  _normalise(count_matrix(m), m.matrix_id),
                  f"{release}:{m.matrix_id}") for m in found]


def read_pwm(path: str | Path) -> Motif:
    """A PWM file: JASPAR format (``>ID NAME`` then ``A [ n n ... ]`` rows), or a plain table of numbers with 4 rows
    (A, C, G, T) or 4 columns; ``#`` comments allowed. Counts or probabilities."""
    path = Path(path)
    name = path.stem
    rows: list[list[float]] = []
    labelled: dict[str, list[float]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if text.startswith(">"):
                name = " ".join(text[1:].split()) or name
                continue
            label = None
            if text[0].upper() in BASES and (len(text) == 1 or not text[1].isdigit()):
                label, text = text[0].upper(), text[1:]
            text = text.replace("[", " ").replace("]", " ")
            try:
                values = [float(v) for v in text.split()]
            except ValueError:
                raise InputFormatError(f"not a number in {text!r}", path=str(path), line=line_number) from None
            if label:
                labelled[label] = values
            else:
                rows.append(values)
    if labelled:
        if sorted(labelled) != sorted(BASES) or len({len(v) for v in labelled.values()}) != 1:
            raise InputFormatError("a labelled PWM needs rows A, C, G and T of equal length", path=str(path))
        matrix = np.array([labelled[b] for b in BASES]).T
    elif rows and len({len(r) for r in rows}) == 1:
        matrix = np.array(rows)
        if matrix.shape[1] != 4 and matrix.shape[0] == 4:
            matrix = matrix.T
    else:
        raise InputFormatError("expected 4 rows or 4 columns of numbers (A, C, G, T)", path=str(path))
    return Motif(name, _normalise(matrix, str(path)), str(path))


def parse_motif(spec: str | Motif) -> Motif:
    """A :class:`Motif` from a PWM file path, a JASPAR id (``MA0363.3`` or ``jaspar:MA0363.3``) or IUPAC text."""
    if isinstance(spec, Motif):
        return spec
    text = str(spec).strip()
    match = _JASPAR_ID.match(text)
    if match:
        return jaspar_motif(match.group(1).upper())
    if Path(text).is_file():
        return read_pwm(text)
    return iupac_motif(text)


def protected_mask(length: int, ranges: Sequence[tuple[int, int]] | None) -> np.ndarray:
    """bool ``[length]``: True at protected positions. ``ranges`` are 0-based half-open ``(start, stop)``; one that
    does not lie inside the sequence raises ``ConfigError``."""
    mask = np.zeros(length, bool)
    for start, stop in ranges or ():
        if not (0 <= start < stop <= length):
            raise ConfigError(f"protected range {start}-{stop} lies outside the {length}-bp sequence "
                              f"(ranges are 0-based, half-open, within 0-{length})")
        mask[start:stop] = True
    return mask


def parse_ranges(text: str | None) -> list[tuple[int, int]]:
    """``"0-17,137-150"`` -> ``[(0, 17), (137, 150)]`` (0-based half-open); bad text raises ``ConfigError``."""
    if not text:
        return []
    ranges = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*[-:]\s*(\d+)\s*", part)
        if not match:
            raise ConfigError(f"protected range {part!r}: expected START-STOP (0-based, half-open), e.g. 0-17")
        ranges.append((int(match.group(1)), int(match.group(2))))
    return ranges
