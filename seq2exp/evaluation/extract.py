"""Sequence files from a ``test_subset_ids`` folder: FASTA, DREAM or TSV per subset, with or without values.

The challenge's subset CSVs hold the test sequences themselves (``sequence`` / ``alt_sequence`` + ``ref_sequence``)
and their test indices; this module turns one subset into the files the other stages read: a FASTA or DREAM file
for ``seq2exp predict`` / ``explain``, a variants TSV (``name ref alt [ref_value alt_value]``) for
``seq2exp variants``. Rows are deduplicated by test index (pairs by ``(alt, ref)``), kept in file order. Measured
values come from the CSV's ``exp`` columns (filled in simulated folders, empty in the challenge's public files) or
from a truth file indexed by test index (``truth=``: a DREAM test file or a JSON ``{"<index>": value}``).
No TensorFlow here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2exp.data.formats import (DEFAULT_MAX_SEQUENCE_LENGTH, PAIR_SUBSET_FILES, SUBSET_FILES, SubsetRecords,
                                  read_subset_records, write_dream, write_fasta)
from seq2exp.errors import ConfigError, InputFormatError
from seq2exp.utils import atomic_write

FORMATS = ("fasta", "dream", "tsv")
_EXTENSIONS = {".fa": "fasta", ".fasta": "fasta", ".fna": "fasta", ".txt": "dream", ".tsv": "tsv"}


@dataclass
class Extracted:
    """One subset's rows, ready to write.

    Singles: ``names``, ``sequences``, ``indices`` (``int64 [n]``), ``values`` (``float64 [n]`` or ``None``).
    Pairs: the alt member in ``names``/``sequences``, ``indices`` and ``values`` ``[n, 2]`` as ``(alt, ref)``,
    plus ``ref_sequences``.
    """

    name: str
    names: list[str]
    sequences: list[str]
    indices: np.ndarray
    values: np.ndarray | None
    ref_names: list[str] | None = None
    ref_sequences: list[str] | None = None

    @property
    def is_pair(self) -> bool:
        return self.ref_sequences is not None

    def __len__(self) -> int:
        return len(self.sequences)


def format_for(path: str | os.PathLike, fmt: str = "auto") -> str:
    """The output format: ``fmt`` itself, or for ``"auto"`` the one the file's extension names."""
    if fmt != "auto":
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise ConfigError(f"cannot tell the format of {os.fspath(path)!r} from its extension; use .fa/.fasta (FASTA), "
                          ".txt (DREAM) or .tsv, or give --format")
    return _EXTENSIONS[suffix]


def _names(tags: list[str], indices: np.ndarray) -> list[str]:
    """FASTA-safe record names: the tag (whitespace replaced), ``idx<N>`` without one; a repeated name gets
    ``_<index>`` appended."""
    names = ["_".join(tag.split()) or f"idx{index}" for tag, index in zip(tags, indices.tolist())]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{name}_{index}" if seen[name] > 1 else name for name, index in zip(names, indices.tolist())]


def _lookup(truth, indices: np.ndarray) -> np.ndarray:  # noqa: ANN001 - a ValueTable
    inside = indices < truth.values.size
    result = np.full(indices.shape, np.nan)
    result[inside] = np.where(truth.present[indices[inside]], truth.values[indices[inside]], np.nan)
    return result


def extract(folder: str | os.PathLike, subset: str, *, values: bool = False, truth: str | os.PathLike | None = None,
            n: int | None = None, seed: int | None = None,
            max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH) -> Extracted:
    """Rows of ``subset`` from a ``test_subset_ids`` folder, unique by test index, in file order.

    ``values``: attach measured values (from ``truth`` when given, else from the CSV's ``exp`` columns); a row
    without one is an error naming the subset file and test index. ``n``: keep the first ``n`` rows, or with
    ``seed`` a seeded random sample of ``n`` rows (kept in file order).
    """
    if n is not None and n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    records: SubsetRecords = read_subset_records(folder, subset, max_length=max_length)
    keys = records.positions if records.is_pair else records.positions[:, None]
    _, first = np.unique(keys, axis=0, return_index=True)
    keep = np.sort(first)
    if n is not None and n < keep.size:
        keep = np.sort(np.random.default_rng(seed).choice(keep, n, replace=False)) if seed is not None else keep[:n]
    indices = records.positions[keep]
    measured = None
    if values:
        if truth is not None:
            from seq2exp.evaluation.values import read_values

            measured = _lookup(read_values(truth, nonfinite="drop"), indices)
            source = os.fspath(truth)
        else:
            measured = records.values[keep]
            source = f"{records.path} (columns {'alt_exp, ref_exp' if records.is_pair else 'exp'})"
        missing = np.flatnonzero(np.isnan(measured).reshape(len(keep), -1).any(axis=1))
        if missing.size:
            first_row = int(missing[0])
            hint = "" if truth is not None else ("; the challenge's public subset files carry no measured values: "
                                                 "pass a truth file (--truth) or leave the values out")
            raise InputFormatError(f"no measured value for test index {indices[first_row].tolist()} "
                                   f"({missing.size} of {len(keep)} rows lack one){hint}", path=source)
    names = _names([records.tags[i] for i in keep], indices[:, 0] if records.is_pair else indices)
    sequences = [records.sequences[i] for i in keep]
    if not records.is_pair:
        return Extracted(subset, names, sequences, indices, measured)
    ref_names = _names([records.ref_tags[i] for i in keep], indices[:, 1])
    return Extracted(subset, names, sequences, indices, measured, ref_names=ref_names,
                     ref_sequences=[records.ref_sequences[i] for i in keep])


def _unique_members(rows: Extracted) -> tuple[list[str], list[str], np.ndarray | None]:
    """A pair subset's distinct sequences (alt and ref members, unique by test index, first seen first)."""
    names, sequences, values, seen = [], [], [], set()
    for i in range(len(rows)):
        for member, (name, sequence) in enumerate(((rows.names[i], rows.sequences[i]),
                                                   (rows.ref_names[i], rows.ref_sequences[i]))):
            index = int(rows.indices[i, member])
            if index in seen:
                continue
            seen.add(index)
            names.append(name)
            sequences.append(sequence)
            values.append(np.nan if rows.values is None else rows.values[i, member])
    return names, sequences, None if rows.values is None else np.asarray(values)


def write(rows: Extracted, path: str | os.PathLike, fmt: str = "auto") -> str:
    """Write ``rows`` to ``path`` (atomically) as FASTA, DREAM (``sequence<TAB>value``) or TSV; returns the format.

    TSV: ``name index sequence [value]`` for single subsets, ``name alt_index ref_index ref alt
    [ref_value alt_value]`` for pair subsets (what ``seq2exp variants --variants`` reads). FASTA and DREAM files of a
    pair subset hold its distinct sequences (both members). FASTA holds no values.
    """
    fmt = format_for(path, fmt)
    if fmt == "fasta" and rows.values is not None:
        raise ConfigError("a FASTA file holds no values: write .txt (DREAM) or .tsv, or leave --values out")
    if fmt in ("fasta", "dream"):
        names, sequences, values = (_unique_members(rows) if rows.is_pair
                                    else (rows.names, rows.sequences, rows.values))
        if fmt == "fasta":
            write_fasta(path, names, sequences)
        else:
            write_dream(path, sequences, values)
        return fmt
    if rows.is_pair:
        header = ["name", "alt_index", "ref_index", "ref", "alt"] + (["ref_value", "alt_value"] if rows.values
                                                                     is not None else [])
        lines = []
        for i in range(len(rows)):
            fields = [rows.names[i], str(rows.indices[i, 0]), str(rows.indices[i, 1]), rows.ref_sequences[i],
                      rows.sequences[i]]
            if rows.values is not None:
                fields += [repr(float(rows.values[i, 1])), repr(float(rows.values[i, 0]))]
            lines.append("\t".join(fields))
    else:
        header = ["name", "index", "sequence"] + (["value"] if rows.values is not None else [])
        lines = []
        for i in range(len(rows)):
            fields = [rows.names[i], str(rows.indices[i]), rows.sequences[i]]
            if rows.values is not None:
                fields.append(repr(float(rows.values[i])))
            lines.append("\t".join(fields))
    with atomic_write(path) as handle:
        handle.write("\t".join(header) + "\n" + "".join(line + "\n" for line in lines))
    return fmt


def default_format(subset: str, values: bool) -> str:
    """The format a subset gets in a folder of outputs: pair subsets a variants TSV, single subsets FASTA (a TSV
    with values)."""
    return "tsv" if subset in PAIR_SUBSET_FILES or values else "fasta"


def present_subsets(folder: str | os.PathLike) -> list[str]:
    """The subsets whose files are in ``folder``, in the challenge's order."""
    return [name for name, file_name in SUBSET_FILES.items() if (Path(folder) / file_name).is_file()]
