"""Predictions and truth as test-indexed values, read from DREAM test-order files or JSON index maps.

A :class:`ValueTable` holds ``values[i]`` for test index ``i`` and a ``present`` mask (an empty DREAM field or an
index absent from a JSON map is not present). DREAM files are *ordered*: their row count is the test set's length,
so a shorter/longer file or an out-of-range index is an error naming the first bad index.
"""
from __future__ import annotations

import logging
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from seq2exp.errors import InputFormatError

logger = logging.getLogger(__name__)

NONFINITE_CHOICES = ("error", "drop")
# Largest test index a value file may name: tables are dense arrays indexed by test index, so an index is checked
# before anything of its size is allocated (10^12 would be 7 TiB).
MAX_TEST_INDEX = 10_000_000


@dataclass
class ValueTable:
    """Values by test index. ``values`` is float64 with NaN where not present."""

    values: np.ndarray
    present: np.ndarray
    source: str = "<array>"
    ordered: bool = False  # True when the input listed every test index in order (DREAM file, plain array)
    sequences: np.ndarray | None = None  # DREAM input only: upper-case sequence of each index (bytes, ``S<W>``)

    @property
    def n(self) -> int:
        return int(self.values.size)

    def padded(self, n: int) -> "ValueTable":
        """The same table extended (not present) to ``n`` indices."""
        if n <= self.n:
            return self
        values = np.full(n, np.nan)
        values[: self.n] = self.values
        present = np.zeros(n, bool)
        present[: self.n] = self.present
        return ValueTable(values, present, self.source, False, None)


def from_mapping(mapping: Mapping[Any, Any], source: str = "<mapping>", *, nonfinite: str = "error") -> ValueTable:
    """Build a table from ``{index: value}`` (keys int or numeric strings; ``"alt,ref": [a, r]`` pair entries too)."""
    _check_nonfinite(nonfinite)
    return _from_items(list(mapping.items()), source, nonfinite)


def from_array(values: Sequence[float] | np.ndarray, source: str = "<array>", *, nonfinite: str = "error") -> ValueTable:
    """Build an ordered table from a dense array (index = position). NaN/inf follow ``nonfinite``."""
    _check_nonfinite(nonfinite)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{source}: expected a 1-D array of values, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size and nonfinite == "error":
        raise ValueError(f"{source}: test index {int(bad[0])} has the non-finite value {_shown(array[bad[0]])} "
                         f"({bad.size} non-finite value(s) in all; use nonfinite='drop' to leave them out)")
    return ValueTable(np.where(np.isfinite(array), array, np.nan), np.isfinite(array), source, True)


def coerce_values(data: Any, name: str, *, nonfinite: str = "error") -> ValueTable:
    """Accept a :class:`ValueTable`, a path (DREAM file, JSON file or folder of JSONs), a mapping or an array."""
    if isinstance(data, ValueTable):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_values(data, nonfinite=nonfinite)
    if isinstance(data, Mapping):
        return from_mapping(data, name, nonfinite=nonfinite)
    return from_array(data, name, nonfinite=nonfinite)


def read_values(path: str | os.PathLike, *, nonfinite: str = "error", column: str | None = None) -> ValueTable:
    """Read predictions or truth from a DREAM test-order file, a table with a header, a JSON index map, or a folder
    of JSON maps.

    DREAM: ``sequence<TAB>value`` per line, row number = test index, an empty value = not present. A table (a header
    line naming a ``sequence``/``seq`` column, tab- or comma-separated; e.g. ``seq2exp predict --format tsv``'s
    ``id, sequence, expression`` or a benchmark's test table): data row = test index, the values from ``column``
    (default ``expression``; any case), a missing value (empty, ``NaN``, ``NA``) = not present. JSON: an object
    ``{"<index>": value}``; pair entries ``{"alt,ref": [a, r]}`` (the leaderboard's pair files) give both values.
    A folder merges every ``*.json`` in it (e.g. a public leaderboard's files). ``nonfinite="error"`` (default)
    rejects NaN/inf values naming the index; ``"drop"`` leaves them out (they are then simply not present).
    """
    _check_nonfinite(nonfinite)
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise InputFormatError("folder holds no *.json value files", path=str(path))
        items: list[tuple[Any, Any]] = []
        for file in files:
            items.extend(_json_items(file))
        return _nonempty(_from_items(items, str(path), nonfinite))
    first = _first_char(path)
    if first == ">":
        raise InputFormatError("a FASTA file: values are read from a DREAM file (sequence<TAB>value per line, in "
                               "test order) or a JSON object {\"<test index>\": value}", path=str(path), line=1)
    if path.name.lower().endswith((".json", ".json.gz")) or first in ("{", "["):
        return _nonempty(_from_items(_json_items(path), str(path), nonfinite))
    from seq2exp.data.formats import read_table_header

    sequence_column = read_table_header(path, max_line_bytes=1 << 16).sequence_column
    if sequence_column is not None:  # a header naming a sequence column: a table
        return _nonempty(_read_table_values(path, sequence_column, column or "expression", nonfinite))
    if column is not None:
        raise InputFormatError(f"a value column ({column!r}) was named, but this is not a table with a header line "
                               "naming a sequence column", path=str(path), line=1)
    return _nonempty(_read_dream_values(path, nonfinite))


def _read_table_values(path: Path, sequence_index: int, column: str, nonfinite: str) -> ValueTable:
    """A table's ``column`` by data row (the test index), with its sequences (column ``sequence_index``, compared
    with the truth's)."""
    from seq2exp.data.formats import MISSING_VALUES, read_text_table

    table = read_text_table(path)
    by_name = {name.lower(): name for name in table.columns}
    sequence_column = table.columns[sequence_index]
    if column.strip().lower() not in by_name:
        raise InputFormatError(f"no value column {column!r} (its columns: {', '.join(table.columns)}); name the "
                               "column that holds the values (seq2exp score --truth-column for the truth)",
                               path=str(path), line=1)
    value_column = by_name[column.strip().lower()]
    values = np.full(len(table.rows), np.nan)
    for index, (row, line) in enumerate(zip(table.rows, table.lines)):
        text = row[value_column]
        if text.lower() in MISSING_VALUES:
            continue
        try:
            value = float(text)
        except ValueError:
            raise InputFormatError(f"{text!r} is not a number", path=str(path), line=line, field=value_column) \
                from None
        if not math.isfinite(value) and nonfinite == "error":
            raise InputFormatError(f"test index {index} has the non-finite value {text!r} (use --on-nonfinite drop "
                                   "to leave such rows out)", path=str(path), line=line, field=value_column)
        values[index] = value if math.isfinite(value) else np.nan
    sequences = np.array([row[sequence_column].upper().encode("ascii", "replace") for row in table.rows])
    return ValueTable(values, np.isfinite(values), str(path), True, sequences)


def _nonempty(table: ValueTable) -> ValueTable:
    """A value file without a single value is refused (it would score every model ``n/a``)."""
    if not table.present.any():
        raise InputFormatError("no values: every test index is empty or absent (is this the right file?)",
                               path=table.source)
    return table


def _check_nonfinite(nonfinite: str) -> None:
    if nonfinite not in NONFINITE_CHOICES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_CHOICES}, got {nonfinite!r}")


def _first_char(path: Path) -> str:
    """The first non-blank character of a file (through the one reader: gzip, BOM, UTF-16 refused)."""
    from seq2exp.data.formats import open_text_bytes

    with open_text_bytes(path) as handle:
        head = handle.read(4096).lstrip()
    return head[:1].decode("ascii", "replace")


def _json_items(path: Path) -> list[tuple[Any, Any]]:
    """The (key, value) pairs of a JSON object in file order, duplicates kept (so they can be reported)."""
    from seq2exp.data.formats import open_text_bytes

    with open_text_bytes(path) as handle:
        raw = handle.read()
    from seq2exp import jsonio

    loaded = jsonio.loads(raw, str(path), object_pairs_hook=lambda pairs: _Pairs(pairs))
    if not isinstance(loaded, _Pairs):
        raise InputFormatError('expected a JSON object {"<test index>": value}', path=str(path))
    return [(key, value) for key, value in loaded]


class _Pairs(list):
    """A JSON object kept as its list of (key, value) pairs (``object_pairs_hook``)."""


def _from_items(items: list[tuple[Any, Any]], source: str, nonfinite: str) -> ValueTable:
    """Turn (key, value) entries into a table, checking indices, duplicates and values; errors name the index."""
    indices: list[int] = []
    values: list[float] = []
    given: list[Any] = []  # each value as the input gave it (for errors)
    for key, value in items:
        key_text = str(key).strip()
        parts = key_text.split(",")
        if len(parts) == 1:
            index = _parse_key(parts[0], key, source)
            indices.append(index)
            values.append(_parse_value(value, index, source))
            given.append(value)
        elif len(parts) == 2:
            alt, ref = (_parse_key(part, key, source) for part in parts)
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise InputFormatError(f"pair key {key_text!r} needs a [alt value, ref value] list, got {value!r}",
                                       path=source, field=key_text)
            indices.extend((alt, ref))
            values.extend((_parse_value(value[0], alt, source), _parse_value(value[1], ref, source)))
            given.extend(value)
        else:
            raise InputFormatError(f"key {key_text!r} is not a test index or an 'alt,ref' pair", path=source,
                                   field=key_text)
    index_array = np.asarray(indices, dtype=np.int64)
    value_array = np.asarray(values, dtype=np.float64)
    n = int(index_array.max()) + 1 if index_array.size else 0
    _check_duplicates(index_array, value_array, items, source)
    bad = np.flatnonzero(~np.isfinite(value_array) & ~_null_mask(items, len(value_array)))
    if bad.size and nonfinite == "error":
        raise InputFormatError(f"test index {int(index_array[bad[0]])} has the non-finite value "
                               f"{_shown(given[bad[0]])} ({bad.size} non-finite value(s) in all)", path=source,
                               field=str(int(index_array[bad[0]])))
    table_values = np.full(n, np.nan)
    present = np.zeros(n, bool)
    keep = np.isfinite(value_array)
    table_values[index_array[keep]] = value_array[keep]
    present[index_array[keep]] = True
    if bad.size:
        logger.warning("%s: left out %d non-finite value(s)", source, bad.size)
    return ValueTable(table_values, present, source, False)


def _null_mask(items: list[tuple[Any, Any]], size: int) -> np.ndarray:
    """Which flattened values were JSON ``null`` (not present, not an error)."""
    mask = []
    for key, value in items:
        if "," in str(key) and isinstance(value, (list, tuple)):
            mask.extend(item is None for item in value)
        else:
            mask.append(value is None)
    return np.asarray(mask[:size], dtype=bool)


def _parse_key(text: str, key: Any, source: str) -> int:
    text = str(text).strip()
    try:
        number = int(text)
    except ValueError:
        raise InputFormatError(f"key {str(key)!r} is not an integer test index", path=source,
                               field=str(key)) from None
    if number < 0:
        raise InputFormatError(f"negative test index {number}", path=source, field=str(key))
    if number > MAX_TEST_INDEX:
        raise InputFormatError(f"test index {number} is beyond any test set (the largest index read is "
                               f"{MAX_TEST_INDEX:,}; the challenge's test set has 71,103 sequences)", path=source,
                               field=str(key))
    return number


def _shown(value: Any) -> str:
    """A value as an error shows it: non-finite floats as JSON writes them (``NaN``, ``Infinity``), others as given."""
    return json.dumps(float(value)) if isinstance(value, (float, np.floating)) else repr(value)


def _parse_value(value: Any, index: int, source: str) -> float:
    if value is None:
        return math.nan  # JSON null: not present
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputFormatError(f"test index {index}: value {value!r} is not a number", path=source, field=str(index))
    try:
        number = float(value)
    except ValueError:
        raise InputFormatError(f"test index {index}: value {value!r} is not a number", path=source,
                               field=str(index)) from None
    if math.isnan(number):
        return math.inf  # a NaN given as a value is non-finite input, unlike null
    return number


def _check_duplicates(indices: np.ndarray, values: np.ndarray, items: list, source: str) -> None:
    """A test index given twice is an error, unless it comes from pair entries with the same value."""
    if indices.size < 2:
        return
    order = np.argsort(indices, kind="stable")
    sorted_indices = indices[order]
    repeated = np.flatnonzero(sorted_indices[1:] == sorted_indices[:-1])
    if repeated.size == 0:
        return
    single_keys = {}
    for key, _value in items:
        if "," not in str(key):
            index = int(str(key).strip())
            if index in single_keys:
                raise InputFormatError(f"duplicated test index {index} (keys {single_keys[index]!r} and {key!r})",
                                       path=source, field=str(key))
            single_keys[index] = key
    first, second = order[repeated], order[repeated + 1]
    differ = ~((values[first] == values[second]) | (np.isnan(values[first]) & np.isnan(values[second])))
    if differ.any():
        slot = int(np.flatnonzero(differ)[0])
        index = int(indices[first[slot]])
        raise InputFormatError(f"duplicated test index {index} with different values "
                               f"{values[first[slot]]!r} and {values[second[slot]]!r}", path=source, field=str(index))


def _read_dream_values(path: Path, nonfinite: str) -> ValueTable:
    """A DREAM test-order file: row i = test index i; an empty value is not present (values at full float64).

    Read with the DREAM reader's chunks; the sequences stay a bytes array (compared with the truth's in numpy).
    """
    from seq2exp.data.formats import codes_to_bytes, iter_dream_chunks

    chunks = list(iter_dream_chunks(path, on_invalid="error" if nonfinite == "error" else "skip"))
    index = np.concatenate([chunk.line_numbers for chunk in chunks]).astype(np.int64) - 1
    n = int(index.max()) + 1 if index.size else 0
    values = np.full(n, np.nan)
    values[index] = np.concatenate([chunk.expression for chunk in chunks])
    skipped = sum(chunk.skipped for chunk in chunks)
    if skipped:
        logger.warning("%s: left out %d invalid row(s)", path, skipped)
    width = max(chunk.codes.shape[1] for chunk in chunks)
    sequences = np.zeros(n, dtype=f"S{max(1, width)}")  # b"" where a row was left out
    sequences[index] = np.concatenate([codes_to_bytes(chunk.codes) for chunk in chunks])
    return ValueTable(values, np.isfinite(values), str(path), True, sequences)


def align(truth: ValueTable, predictions: Sequence[ValueTable]) -> tuple[ValueTable, list[ValueTable]]:
    """Bring truth and predictions to one length, checking that they describe the same test set.

    Errors (``InputFormatError``) name the first bad test index: an ordered prediction file whose row count differs
    from an ordered truth's, a row whose sequence differs from the truth's, or an index beyond an ordered truth.
    """
    n = truth.n
    for table in predictions:
        if truth.ordered and table.ordered and table.n != truth.n:
            raise InputFormatError(
                f"{table.n} rows but the truth {truth.source} has {truth.n}: test index {min(table.n, truth.n)} "
                f"is in only one of them", path=table.source)
        if truth.ordered and table.n > truth.n:
            beyond = np.flatnonzero(table.present[truth.n:])
            if beyond.size:
                raise InputFormatError(
                    f"test index {truth.n + int(beyond[0])} is beyond the truth {truth.source} "
                    f"({truth.n} test sequences, indices 0..{truth.n - 1})", path=table.source,
                    field=str(truth.n + int(beyond[0])))
        if truth.sequences is not None and table.sequences is not None:
            _check_same_sequences(truth, table)
        n = max(n, table.n)
    return truth.padded(n), [table.padded(n) for table in predictions]


def _check_same_sequences(truth: ValueTable, table: ValueTable) -> None:
    size = min(len(truth.sequences), len(table.sequences))
    mine, theirs = table.sequences[:size], truth.sequences[:size]
    different = np.flatnonzero(mine != theirs)
    if different.size:
        index = int(different[0])
        raise InputFormatError(
            f"test index {index}: sequence {_short(mine[index])} differs from the truth's {_short(theirs[index])} "
            f"(is this file in test order?)", path=table.source, line=index + 1, field="sequence")


def _short(sequence: bytes | str, limit: int = 24) -> str:
    if isinstance(sequence, bytes):
        sequence = sequence.decode("ascii", "replace")
    return repr(sequence if len(sequence) <= limit else sequence[:limit] + "...")
