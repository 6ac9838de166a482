"""Readers and writers of the challenge's file formats: DREAM text files, FASTA, test-subset CSVs, leaderboard ids.

No TensorFlow here. DREAM files (``sequence<TAB>expression``, no header) are parsed with vectorised numpy over
blocks of raw bytes, so millions of rows parse in seconds and every bad row is reported with its file and 1-based
line. ``iter_dream_chunks`` yields the parsed blocks as code matrices (what the training cache stores);
``read_dream`` assembles them into a :class:`DreamTable` of strings.
"""
from __future__ import annotations

import csv
import gzip
import io
import itertools
import logging
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from seq2exp.data.alphabet import CODE_OF_BYTE, INVALID_CODE, LETTER_OF_CODE, PAD_CODE, describe_bad_sequence
from seq2exp.errors import InputFormatError
from seq2exp.utils import atomic_write

logger = logging.getLogger(__name__)

ON_INVALID_CHOICES = ("error", "skip")
DEFAULT_CHUNK_BYTES = 4 << 20
# default longest sequence a reader accepts (the challenge's promoters are 110 bp; max_length=None: no limit)
DEFAULT_MAX_SEQUENCE_LENGTH = 1000
SEQUENCE_COLUMN_NAMES = ("sequence", "seq")  # found case-insensitively when TableSpec.sequence_column is None
ID_COLUMN_NAMES = ("id", "name", "seq_id")  # a predict TSV's row ids: the first of these columns it has
_MAX_LOGGED_SKIPS = 5

# subset name (as in the score JSON) -> file name in the challenge's test_subset_ids folder
SINGLE_SUBSET_FILES = {
    "high": "high_exp_seqs.csv",
    "low": "low_exp_seqs.csv",
    "yeast": "yeast_seqs.csv",
    "random": "all_random_seqs.csv",
    "challenging": "challenging_seqs.csv",
}
PAIR_SUBSET_FILES = {
    "SNVs": "all_SNVs_seqs.csv",
    "motif_perturbation": "motif_perturbation_seqs.csv",
    "motif_tiling": "motif_tiling_seqs.csv",
}
SUBSET_FILES = {**SINGLE_SUBSET_FILES, **PAIR_SUBSET_FILES}
# subset name -> file name in the challenge's public_leaderboard_ids folder
LEADERBOARD_ID_FILES = {
    "high": "high_exp_indices.json",
    "low": "low_exp_indices.json",
    "yeast": "yeast_exp_indices.json",
    "random": "random_exp_indices.json",
    "challenging": "challenging_exp_indices.json",
    "SNVs": "SNVs_exp_indices.json",
    "motif_perturbation": "motif_perturbation_exp_indices.json",
    "motif_tiling": "motif_tiling_exp_indices.json",
}


# ----------------------------------------------------------------------------------------------------------------
# DREAM text files
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class DreamChunk:
    """A block of parsed DREAM rows. ``codes`` is ``uint8 [n, W]`` with ``PAD_CODE`` past ``lengths``."""

    codes: np.ndarray
    lengths: np.ndarray  # int32 [n]
    expression: np.ndarray  # float64 [n], NaN where the field is empty or absent
    line_numbers: np.ndarray  # int64 [n], 1-based line of each row in the file
    skipped: int = 0
    reverse: np.ndarray | None = None  # bool [n], tables with an orientation only (see iter_table_chunks)
    ids: dict[str, list[str]] | None = None  # tables only: the columns that are neither sequence nor target


@dataclass
class DreamTable:
    """The rows of a DREAM file: upper-case sequences, expressions (NaN if empty) and where each row came from."""

    sequences: list[str]
    expression: np.ndarray  # float32 [n] (or the dtype asked of read_dream)
    line_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # 1-based source lines
    skipped: int = 0  # rows dropped by on_invalid="skip"
    path: str | None = None

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def has_expression(self) -> bool:
        """``True`` when every row has a measured value (a training file or a test file with truth)."""
        return bool(len(self.expression)) and bool(np.isfinite(self.expression).all())


UTF8_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_32_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xff\xfe", b"\xfe\xff")
_SNIFF_BYTES = 4096
_LINE_SLACK_BYTES = 4096  # room on a line beyond the sequence: tab, value, id column, CR


class _CheckedReader:
    """A binary handle whose read errors (corrupt or truncated gzip data) become ``InputFormatError``."""

    def __init__(self, handle: IO[bytes], path: str, compressed: bool):
        self._handle, self._path, self._compressed = handle, path, compressed

    def _fail(self, error: BaseException) -> InputFormatError:
        what = "corrupt or truncated gzip file" if self._compressed else "cannot read the file"
        return InputFormatError(f"{what} ({error})", path=self._path)

    def read(self, size: int = -1) -> bytes:
        try:
            return self._handle.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise self._fail(error) from None

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._handle.readline(size)
        except (OSError, EOFError, zlib.error) as error:
            raise self._fail(error) from None

    def seek(self, offset: int) -> int:
        try:
            return self._handle.seek(offset)
        except (OSError, EOFError, zlib.error) as error:
            raise self._fail(error) from None

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "_CheckedReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_text_bytes(path: str | os.PathLike) -> _CheckedReader:
    """Open a text file for binary reading: the one entrance of every reader of user files.

    gzip is recognised by its magic bytes (a ``*.gz`` name without them is an error), a UTF-8 byte-order mark is
    skipped, and UTF-16/UTF-32 or binary files (NUL bytes near the start) are refused. A missing file, a folder, an
    unreadable file, corrupt or truncated gzip data are ``InputFormatError`` naming the file.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
    except FileNotFoundError:
        raise InputFormatError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputFormatError("is a folder, expected a file", path=path) from None
    except OSError as error:
        raise InputFormatError(f"cannot read the file ({error.strerror or error})", path=path) from None
    compressed = magic == _GZIP_MAGIC
    if path.endswith(".gz") and not compressed:
        raise InputFormatError("not a gzip file (a .gz name but no gzip header)", path=path)
    handle = _CheckedReader(gzip.open(path, "rb") if compressed else open(path, "rb"), path, compressed)
    try:
        head = handle.read(_SNIFF_BYTES)
        if any(head.startswith(bom) for bom in _UTF16_32_BOMS):
            raise InputFormatError("UTF-16/UTF-32 text: save the file as UTF-8 (or ASCII)", path=path)
        if b"\x00" in head:
            raise InputFormatError("NUL bytes near the start: a binary or UTF-16 file, expected UTF-8 text",
                                   path=path)
        handle.seek(len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0)
    except BaseException:
        handle.close()
        raise
    return handle


def _read_text(path: str | os.PathLike, raw: bytes | None = None) -> str:
    """A whole small text file through :func:`open_text_bytes` (gzip, BOM), decoded as UTF-8 (``raw``: its bytes,
    already read)."""
    if raw is None:
        with open_text_bytes(path) as handle:
            raw = handle.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFormatError(f"not UTF-8 text (byte {error.start}); save the file as UTF-8", path=os.fspath(path)) \
            from None


def _lines(handle: _CheckedReader, path: str, max_line_bytes: int | None) -> Iterator[tuple[int, bytes]]:
    """``(1-based line number, line without its end)`` of a handle; a line over ``max_line_bytes`` is an error."""
    limit = -1 if max_line_bytes is None else max_line_bytes + 2
    for number in itertools.count(1):
        line = handle.readline(limit)
        if not line:
            return
        if max_line_bytes is not None and len(line) > max_line_bytes and not line.endswith(b"\n"):
            raise InputFormatError(f"line longer than {max_line_bytes} bytes (a sequence longer than the maximum?)",
                                   path=path, line=number)
        yield number, line.rstrip(b"\r\n")


def _data_lines(lines: Iterator[tuple[int, bytes | str]], path: str, field: str | None = "sequence"
                ) -> Iterator[tuple[int, str, InputFormatError | None]]:
    """The non-blank lines of a table as ``(line number, text, blank)``: the one rule for blank lines in a table.

    Blank lines are fine only at the end (line numbers are ids, as in DREAM files): ``blank`` is the "empty line"
    error naming the first of the blank lines just before this line, else ``None``; the caller raises or collects it.
    """
    blank_line = None
    for number, raw in lines:
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        if not text.strip():
            blank_line = blank_line or number
            continue
        yield number, text, (None if blank_line is None
                              else InputFormatError("empty line", path=path, line=blank_line, field=field))
        blank_line = None


def _line_limit(max_length: int | None) -> int | None:
    return None if max_length is None else int(max_length) + _LINE_SLACK_BYTES


def _check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ON_INVALID_CHOICES:
        raise ValueError(f"on_invalid must be one of {ON_INVALID_CHOICES}, got {on_invalid!r}")


def iter_dream_chunks(
    path: str | os.PathLike,
    *,
    on_invalid: str = "error",
    max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    require_expression: bool = False,
    errors: list | None = None,
) -> Iterator[DreamChunk]:
    """Parse a DREAM file block by block.

    Each line is ``sequence<TAB>expression``; the expression may be empty or absent (``NaN``), ``\\r\\n`` endings and
    trailing blank lines are accepted. A bad row (wrong number of fields, empty or over-long sequence, a letter outside
    ``ACGTN``, an expression that is not a finite number or is beyond float32's range, or - with
    ``require_expression`` - an empty expression)
    raises ``InputFormatError`` naming the file, line and field, or with ``on_invalid="skip"`` is dropped and counted
    in ``DreamChunk.skipped``. A file without any row (empty, or only blank lines) is an ``InputFormatError`` in both
    modes. Files go through :func:`open_text_bytes` (gzip, UTF-8 BOM); lower-case letters are read as upper-case.
    ``max_length`` (default ``DEFAULT_MAX_SEQUENCE_LENGTH``; ``None``: no limit) also bounds the memory a line may
    take: a line that cannot fit is an error before it is read whole, in both modes. With ``on_invalid="skip"``,
    ``errors`` (a list) receives the ``InputFormatError`` of every skipped row.
    """
    _check_on_invalid(on_invalid)
    path_text = os.fspath(path)
    first_line = 1
    logged = [0]
    line_limit = _line_limit(max_length)
    with open_text_bytes(path) as handle:
        carry = b""
        while True:
            block = handle.read(chunk_bytes)
            at_end = not block
            data = carry + block
            if not at_end:
                # keep the last line and any trailing blank lines for the next block: blank lines are only
                # allowed at the very end of the file, which is not known yet
                cut = data.rstrip(b"\r\n \t").rfind(b"\n")
                if cut < 0:
                    carry = data
                    _check_carry(carry, first_line, line_limit, path_text)
                    continue
                data, carry = data[: cut + 1], data[cut + 1 :]
                _check_carry(carry, first_line + data.count(b"\n"), line_limit, path_text)
            else:
                carry = b""
                data = data.rstrip(b"\r\n \t")  # trailing blank lines are not rows
                if not data:
                    if first_line == 1:  # nothing but blank lines: not a DREAM file with rows
                        raise InputFormatError("empty file: no 'sequence<TAB>expression' rows", path=path_text,
                                               line=1)
                    return
            chunk = _parse_dream_block(data, first_line, path_text, on_invalid, max_length, require_expression,
                                       logged, errors)
            first_line += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            yield chunk
            if at_end:
                return


def _check_carry(carry: bytes, line: int, line_limit: int | None, path: str) -> None:
    """Refuse a line (the first of ``carry``, which starts at ``line``) that grew past ``line_limit`` bytes."""
    if line_limit is None or len(carry) <= line_limit:
        return
    for offset, segment in enumerate(carry.split(b"\n")):
        if len(segment) > line_limit:
            raise InputFormatError(f"line longer than {line_limit} bytes (a sequence longer than the maximum?)",
                                   path=path, line=line + offset, field="sequence")


def _parse_dream_block(
    data: bytes, first_line: int, path: str, on_invalid: str, max_length: int | None, require_expression: bool,
    logged: list[int], errors: list | None = None,
) -> DreamChunk:
    """Vectorised parse of complete lines in ``data`` whose first line is line ``first_line`` of ``path``."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    line_starts = np.concatenate(([0], newlines + 1))
    line_ends = np.concatenate((newlines, [raw.size]))
    if data.endswith(b"\n"):
        line_starts, line_ends = line_starts[:-1], line_ends[:-1]
    n_lines = line_starts.size
    has_cr = line_ends > line_starts
    has_cr[has_cr] = raw[line_ends[has_cr] - 1] == 13
    line_ends = line_ends - has_cr
    line_numbers = np.arange(first_line, first_line + n_lines, dtype=np.int64)

    tabs = np.flatnonzero(raw == 9)
    first_tab_slot = np.searchsorted(tabs, line_starts)
    n_tabs = np.searchsorted(tabs, line_ends) - first_tab_slot
    first_tab = tabs[np.minimum(first_tab_slot, tabs.size - 1)] if tabs.size else line_ends
    first_tab = np.where(n_tabs > 0, first_tab, line_ends)
    seq_ends = np.where(n_tabs > 0, first_tab, line_ends)
    seq_lengths = seq_ends - line_starts
    expr_starts = np.where(n_tabs > 0, first_tab + 1, line_ends)
    expr_lengths = line_ends - expr_starts

    # problem code per line: 0 ok; checked in order of the fields on the line
    problems = np.zeros(n_lines, dtype=np.int8)
    problems[seq_lengths == 0] = 1  # empty line or empty sequence
    problems[(problems == 0) & (n_tabs > 1)] = 2  # too many fields
    too_long = seq_lengths > max_length if max_length is not None else np.zeros(n_lines, bool)
    problems[(problems == 0) & too_long] = 3
    width = int(seq_lengths[problems == 0].max(initial=1))
    codes = _gather_codes(raw, line_starts, np.where(problems == 0, seq_lengths, 0), width)
    bad_letter = (codes == INVALID_CODE).any(axis=1)
    problems[(problems == 0) & bad_letter] = 4
    expression, bad_number = _parse_numbers(raw, expr_starts, expr_lengths)
    problems[(problems == 0) & bad_number] = 5
    problems[(problems == 0) & (np.abs(expression) > _FLOAT32_MAX)] = 7  # would become inf in float32 arrays
    if require_expression:
        problems[(problems == 0) & np.isnan(expression)] = 6

    bad_rows = np.flatnonzero(problems)
    if bad_rows.size:
        if on_invalid == "error":
            row = int(bad_rows[0])
            raise _row_error(data, path, int(line_numbers[row]), int(problems[row]), line_starts[row], line_ends[row],
                             seq_ends[row], n_tabs[row], max_length)
        for row in bad_rows[: max(0, _MAX_LOGGED_SKIPS - logged[0])]:
            error = _row_error(data, path, int(line_numbers[row]), int(problems[row]), line_starts[row],
                               line_ends[row], seq_ends[row], n_tabs[row], max_length)
            logger.warning("skipping invalid row: %s", error)
        logged[0] += bad_rows.size
        if errors is not None:
            errors.extend(_row_error(data, path, int(line_numbers[row]), int(problems[row]), line_starts[row],
                                     line_ends[row], seq_ends[row], n_tabs[row], max_length) for row in bad_rows)
        keep = problems == 0
        codes, seq_lengths, expression, line_numbers = (
            codes[keep], seq_lengths[keep], expression[keep], line_numbers[keep])
    return DreamChunk(
        codes=codes,
        lengths=seq_lengths.astype(np.int32),
        expression=expression,
        line_numbers=line_numbers,
        skipped=int(bad_rows.size),
    )


def _windows(raw: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``raw[starts[i] : starts[i] + width]`` for every i as a ``[n, width]`` copy (row-wise memcpy, no index matrix)."""
    padded = np.concatenate([raw, np.zeros(width, dtype=np.uint8)])
    return np.lib.stride_tricks.sliding_window_view(padded, width)[starts]


def _gather_codes(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Codes of ``raw[starts[i] : starts[i] + lengths[i]]`` as rows of ``width`` padded with ``PAD_CODE``."""
    codes = CODE_OF_BYTE[_windows(raw, starts, width)]
    codes[np.arange(width)[None, :] >= lengths[:, None]] = PAD_CODE
    return codes


def _parse_numbers(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse the number fields ``raw[start : start + length]``: (float64 values, NaN if empty; invalid mask)."""
    values = np.full(starts.size, np.nan)
    invalid = np.zeros(starts.size, dtype=bool)
    present = np.flatnonzero(lengths > 0)
    if present.size == 0:
        return values, invalid
    width = int(lengths[present].max())
    text = _windows(raw, starts[present], width)
    text[np.arange(width)[None, :] >= lengths[present, None]] = 0
    fields = text.view(f"S{width}").ravel()
    try:
        parsed = fields.astype(np.float64)
    except ValueError:  # at least one field is not a number: parse one by one to find which
        parsed = np.array([_to_float(item) for item in fields.tolist()])
    blank = np.char.strip(fields) == b""
    parsed[blank] = np.nan
    invalid[present] = ~np.isfinite(parsed) & ~blank
    values[present] = np.where(np.isfinite(parsed), parsed, np.nan)
    return values, invalid


def _to_float(text: bytes) -> float:
    try:
        return float(text)
    except ValueError:
        return math.inf  # flagged as invalid by the caller (not finite)


_PROBLEM_FIELD = {1: "sequence", 2: None, 3: "sequence", 4: "sequence", 5: "expression", 6: "expression",
                  7: "expression"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _row_error(data: bytes, path: str, line: int, problem: int, start: int, end: int, seq_end: int, n_tabs: int,
               max_length: int | None) -> InputFormatError:
    """The ``InputFormatError`` for one bad line (built only for the lines that are reported)."""
    text = data[start:end]
    sequence = data[start:seq_end]
    if problem == 1:
        message = "empty line" if not text.strip() else "empty sequence"
    elif problem == 2:
        message = f"expected 2 tab-separated fields (sequence, expression), found {n_tabs + 1}"
    elif problem in (3, 4):
        message = describe_bad_sequence(sequence, max_length) or "invalid sequence"
        if problem == 4 and sequence.startswith(b">"):
            message = "a FASTA header in a DREAM file (is the first record's '>' header line missing?)"
        elif problem == 4 and line == 1 and n_tabs == 1:
            message += " (DREAM files have no header line)"
    elif problem == 5:
        value = data[seq_end + 1 : end].decode("utf-8", "replace")
        message = f"expression {value!r} is not a finite number"
    elif problem == 7:
        value = data[seq_end + 1 : end].decode("utf-8", "replace")
        message = f"expression {value!r} is out of range (beyond float32's +-3.4e38)"
    else:
        message = "training rows need an expression value (the field is empty)"
    error = InputFormatError(message, path=path, line=line, field=_PROBLEM_FIELD[problem])
    error.sequence = sequence[:100_000].decode("utf-8", "replace").strip()  # dead letters keep the row's sequence
    error.record_id = str(line - 1)  # and its id (a DREAM row's id is its 0-based row, as iter_sequence_records')
    return error


def read_dream(
    path: str | os.PathLike,
    *,
    on_invalid: str = "error",
    max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
    expression_dtype: type | str = np.float32,
) -> DreamTable:
    """Read a DREAM file (training data, or a test file whose expressions may be empty) into a :class:`DreamTable`.

    Sequences come back upper-case; expressions as ``expression_dtype`` (``float64`` keeps every digit of the file).
    See :func:`iter_dream_chunks` for what is an invalid row.
    """
    sequences: list[str] = []
    expressions, lines = [], []
    skipped = 0
    for chunk in iter_dream_chunks(path, on_invalid=on_invalid, max_length=max_length):
        sequences.extend(_codes_to_strings(chunk.codes, chunk.lengths))
        expressions.append(chunk.expression)
        lines.append(chunk.line_numbers)
        skipped += chunk.skipped
    return DreamTable(
        sequences=sequences,
        expression=(np.concatenate(expressions) if expressions else np.zeros(0)).astype(expression_dtype),
        line_numbers=np.concatenate(lines) if lines else np.zeros(0, np.int64),
        skipped=skipped,
        path=os.fspath(path),
    )


def codes_to_bytes(codes: np.ndarray) -> np.ndarray:
    """Upper-case sequences of a padded code matrix ``[n, W]`` as a fixed-width bytes array (``S<W>``, ``[n]``)."""
    if codes.shape[0] == 0:
        return np.zeros(0, dtype=f"S{max(1, codes.shape[1])}")
    letters = np.where(codes == PAD_CODE, np.uint8(0), LETTER_OF_CODE[np.minimum(codes, PAD_CODE)])
    return np.ascontiguousarray(letters.astype(np.uint8)).view(f"S{codes.shape[1]}").ravel()


def _codes_to_strings(codes: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Upper-case strings of a padded code matrix (vectorised through a fixed-width bytes view)."""
    if codes.shape[0] == 0:
        return []
    return np.char.decode(codes_to_bytes(codes), "ascii").tolist()


def write_dream(path: str | os.PathLike, sequences: Sequence[str], values: Sequence[float] | np.ndarray | None) -> None:
    """Write ``sequence<TAB>value`` lines atomically; a NaN or missing value leaves the field empty.

    ``values=None`` writes every expression empty (a test file without truth). Raises ``ValueError`` naming the row
    when a sequence is not ``ACGTN`` or the lengths differ.
    """
    if values is None:
        values = np.full(len(sequences), np.nan)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(sequences),):
        raise ValueError(f"{len(sequences)} sequences but values of shape {values.shape}")
    for row, sequence in enumerate(sequences):
        problem = describe_bad_sequence(sequence, None) if isinstance(sequence, str) else "not a string"
        if problem:
            raise ValueError(f"row {row}: {problem}")
    text = "".join(
        f"{sequence.upper()}\t{_format_value(value)}\n" for sequence, value in zip(sequences, values.tolist())
    )
    with atomic_write(path) as handle:
        handle.write(text)


def format_row(name: str, sequence: str, value, output_format: str) -> str:
    """One output row: ``sequence<TAB>value`` (``dream``) or ``id<TAB>sequence<TAB>value`` (``tsv``; one value per
    task for a model with several)."""
    if output_format == "dream":
        return f"{sequence}\t{float(value):.7g}\n"
    values = "\t".join(f"{float(v):.7g}" for v in np.ravel(value))
    return f"{name}\t{sequence}\t{values}\n"


def tsv_header(task_names) -> str:
    """The ``tsv`` output's header: ``id, sequence, expression`` or ``id, sequence, <task 1>, <task 2>, ...``."""
    return "id\tsequence\t" + ("\t".join(task_names) if task_names else "expression") + "\n"


def _format_value(value: float) -> str:
    """Shortest text that reads back to the same float (empty for NaN)."""
    if not math.isfinite(value):
        if math.isnan(value):
            return ""
        raise ValueError(f"cannot write the non-finite value {value!r}")
    return repr(value)


# ----------------------------------------------------------------------------------------------------------------
# FASTA and "any sequence file"
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class SequenceTable:
    """Named sequences read from a FASTA or DREAM/TSV file (names are the row numbers for DREAM files)."""

    names: list[str]
    sequences: list[str]
    line_numbers: np.ndarray
    skipped: int = 0
    expression: np.ndarray | None = None  # DREAM input only

    def __len__(self) -> int:
        return len(self.sequences)


class _Overlong(str):
    """The kept start of a FASTA record longer than the reader's maximum; ``length`` is its full length."""

    length: int = 0


def sequence_problem(sequence: str, max_length: int | None) -> str | None:
    """Why a read sequence is not valid (``describe_bad_sequence``, aware of records cut at the maximum)."""
    if isinstance(sequence, _Overlong):
        return f"sequence of {sequence.length} bp is longer than the maximum {max_length} bp"
    return describe_bad_sequence(sequence, max_length)


def iter_fasta(path: str | os.PathLike, *, max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH
               ) -> Iterator[tuple[str, str, int]]:
    """Stream the records of a FASTA file as ``(name, sequence, header_line)`` (multi-line records allowed).

    A record's name is the first word after ``>``; its sequence is its lines joined as written (not validated, not
    upper-cased); ``header_line`` is the 1-based line of its ``>`` header. Blank lines and ``;`` comment lines are
    ignored. Sequence letters before the first header or a header without a name raise ``InputFormatError`` naming
    the line. An empty file yields nothing. Memory is bounded by ``max_length``: a longer record is not kept whole
    (:func:`sequence_problem` reports it), a line that cannot fit is an error.
    """
    path_text = os.fspath(path)
    with open_text_bytes(path) as handle:
        name, header_line, parts, length = None, 0, [], 0

        def record() -> tuple[str, str, int]:
            sequence = "".join(parts)
            if max_length is not None and length > max_length:
                sequence = _Overlong(sequence)
                sequence.length = length
            return name, sequence, header_line

        for line_number, raw_line in _lines(handle, path_text, _line_limit(max_length)):
            line = raw_line.decode("utf-8", "replace").strip()
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    yield record()
                words = line[1:].split()
                if not words:
                    raise InputFormatError("header without a name", path=path_text, line=line_number)
                name, header_line, parts, length = words[0], line_number, [], 0
            elif line.startswith(";"):
                continue  # old-style FASTA comment
            elif name is None:
                raise InputFormatError("sequence before the first '>' header (not a FASTA file?)",
                                       path=path_text, line=line_number)
            else:
                length += len(line)
                if max_length is None or length <= max_length + 1:
                    parts.append(line)
        if name is not None:
            yield record()


def read_fasta(
    path: str | os.PathLike, *, on_invalid: str = "error", max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH
) -> SequenceTable:
    """Read a FASTA file (multi-line records allowed). A record's name is the first word after ``>``.

    Sequence letters before the first header, a header without a name, an empty record, or a letter outside
    ``ACGTN`` raise ``InputFormatError`` naming the line (or, with ``on_invalid="skip"``, drop the record).
    """
    _check_on_invalid(on_invalid)
    path_text = os.fspath(path)
    names: list[str] = []
    sequences: list[str] = []
    header_lines: list[int] = []
    skipped = 0
    for name, sequence, header_line in iter_fasta(path, max_length=max_length):
        problem = sequence_problem(sequence, max_length)
        if problem:
            if on_invalid == "error":
                raise InputFormatError(f"record {name!r}: {problem}", path=path_text, line=header_line,
                                       field="sequence")
            skipped += 1
            logger.warning("skipping record %r at %s line %d: %s", name, path_text, header_line, problem)
            continue
        names.append(name)
        sequences.append(sequence.upper())
        header_lines.append(header_line)
    if not sequences and not skipped:
        raise InputFormatError("empty file: no FASTA records", path=path_text, line=1)
    return SequenceTable(names, sequences, np.asarray(header_lines, dtype=np.int64), skipped)


def write_fasta(path: str | os.PathLike, names: Sequence[str], sequences: Sequence[str], width: int = 0) -> None:
    """Write a FASTA file atomically (``width`` > 0 wraps sequence lines)."""
    if len(names) != len(sequences):
        raise ValueError(f"{len(names)} names but {len(sequences)} sequences")
    out = []
    for row, (name, sequence) in enumerate(zip(names, sequences)):
        name = str(name)
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"row {row}: FASTA names must be non-empty without spaces, got {name!r}")
        problem = describe_bad_sequence(sequence, None)
        if problem:
            raise ValueError(f"row {row}: {problem}")
        sequence = sequence.upper()
        lines = [sequence[i : i + width] for i in range(0, len(sequence), width)] if width > 0 else [sequence]
        out.append(f">{name}\n" + "\n".join(lines) + "\n")
    with atomic_write(path) as handle:
        handle.write("".join(out))


def sniff_is_fasta(path: str | os.PathLike) -> bool:
    """``True`` when the first non-blank character of the file is ``>``."""
    with open_text_bytes(path) as handle:
        while True:
            block = handle.read(1 << 16)
            if not block:
                return False
            stripped = block.lstrip()
            if stripped:
                return stripped.startswith(b">")


@dataclass
class SequenceRecord:
    """One sequence to predict: ``name`` (id), upper-case ``sequence`` and the 1-based ``line`` it starts on."""

    name: str
    sequence: str
    line: int
    # a TSV row's fields by lower-case header name (seq2exp predict reads an orientation column from them)
    fields: dict | None = field(default=None, compare=False, repr=False)


def iter_sequence_records(path: str | os.PathLike, *, max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
                          errors: list | None = None, sequence_columns: Sequence[str] = SEQUENCE_COLUMN_NAMES
                          ) -> Iterator[SequenceRecord]:
    """Stream the sequences of a FASTA, DREAM (``sequence[<TAB>value]``, no header) or TSV-with-header file.

    A table's header is tab-separated, or comma-separated when it has no tab (as :func:`iter_table_chunks` reads
    training tables); its sequence column is the first of ``sequence_columns`` (case-insensitive) it has. A first
    line that is plainly a header (two or more fields, no number, not all DNA) without such a column is an
    ``InputFormatError`` naming its columns, not a DREAM row.

    One contract with the other readers: gzip, a UTF-8 BOM, CRLF and lower-case letters are accepted; blank lines
    only at the end of a DREAM/TSV file (their line numbers are the ids) and anywhere in FASTA. Ids: FASTA names;
    for DREAM the 0-based row (= the challenge's test index, ``line - 1``); for a TSV whose first line has a
    ``sequence`` column its ``id``/``name`` column, or the 0-based data row. Letters are validated here for DREAM
    files (by the block parser) and by the caller otherwise; an empty file is an ``InputFormatError``.
    ``errors`` (a list; batch pipelines): a bad row is appended to it as its ``InputFormatError`` and reading goes on
    (bad DREAM rows, malformed TSV lines, over-long FASTA records); file-level errors still raise.
    """
    path_text = os.fspath(path)
    found = False
    if sniff_is_fasta(path):
        for name, sequence, header_line in iter_fasta(path, max_length=max_length):
            problem = sequence_problem(sequence, max_length) if isinstance(sequence, _Overlong) else None
            if problem:
                error = InputFormatError(f"record {name!r}: {problem}", path=path_text, line=header_line,
                                         field="sequence")
                error.record_id = name
                if errors is None:
                    raise error
                errors.append(error)
                found = True
                continue
            found = True
            yield SequenceRecord(name, sequence.upper(), header_line)
    else:
        header = read_table_header(path, sequence_columns,
                                   None if max_length is None else _line_limit(max_length) + 2)
        if header.sequence_column is not None:  # a header: "sequence" or "seq" (or the caller's name), any case
            records = _iter_tsv_records(path, path_text, header.fields, header.sequence_column, header.separator,
                                        max_length, errors)
        elif _is_header(header.fields):
            wanted = " or ".join(name.strip().lower() for name in sequence_columns)
            raise InputFormatError(f"a header line without a sequence column (one named {wanted}, any case): its "
                                   f"columns are {', '.join(header.fields)}; rename the sequence column",
                                   path=path_text, line=1)
        else:
            records = (SequenceRecord(str(line - 1), sequence, line)
                       for chunk in iter_dream_chunks(path, max_length=max_length, errors=errors,
                                                      on_invalid="error" if errors is None else "skip")
                       for sequence, line in zip(_codes_to_strings(chunk.codes, chunk.lengths),
                                                 chunk.line_numbers.tolist()))
        for record in records:
            found = True
            yield record
        found = found or bool(errors)
    if not found:
        raise InputFormatError("empty file: no sequences", path=path_text, line=1)


class TableHeader(NamedTuple):
    """A file's first line read as a table header: its lower-case ``fields``, the ``separator`` and the index of its
    sequence column (``None``: it names none, so it is not a table's header)."""

    fields: list[str]
    separator: str
    sequence_column: int | None


def read_table_header(path: str | os.PathLike, sequence_columns: Sequence[str] = SEQUENCE_COLUMN_NAMES,
                      max_line_bytes: int | None = None) -> TableHeader:
    """The first line of ``path`` as a table header (:class:`TableHeader`): split at :func:`header_separator`, its
    sequence column the first of ``sequence_columns`` it names, any case. ``max_line_bytes``: read at most this."""
    with open_text_bytes(path) as handle:
        first = handle.readline(-1 if max_line_bytes is None else max_line_bytes)
    text = first.decode("utf-8", "replace").rstrip("\r\n")
    separator = header_separator(text)
    fields = [field.strip().lower() for field in text.split(separator)]
    wanted = [name.strip().lower() for name in sequence_columns]
    return TableHeader(fields, separator, next((fields.index(name) for name in wanted if name in fields), None))


def header_separator(first_line: str) -> str:
    """A table's field separator, from its header line: a tab, or a comma when the header has no tab."""
    return "," if "\t" not in first_line and "," in first_line else "\t"


def _is_header(fields: list[str]) -> bool:
    """Whether a first line's fields are plainly column names: two or more, none empty or a number, and the first is
    not DNA (a DREAM row starts with its sequence)."""
    def number(field: str) -> bool:
        try:
            float(field)
        except ValueError:
            return False
        return True

    return (len(fields) >= 2 and all(fields) and not any(number(field) for field in fields)
            and describe_bad_sequence(fields[0].upper(), None) is not None)


def _iter_tsv_records(path: str | os.PathLike, path_text: str, header: list[str], sequence_column: int,
                      separator: str, max_length: int | None, errors: list | None = None
                      ) -> Iterator[SequenceRecord]:
    """Rows of a table whose first line (``header``, split at ``separator``) has its sequence in column
    ``sequence_column``."""
    name_column = next((header.index(c) for c in ID_COLUMN_NAMES if c in header), None)
    with open_text_bytes(path) as handle:
        lines = _lines(handle, path_text, _line_limit(max_length))
        next(lines, None)  # the header
        for line_number, line, blank in _data_lines(lines, path_text):
            if blank is not None:
                if errors is None:
                    raise blank
                errors.append(blank)
            fields = line.split(separator)
            if sequence_column >= len(fields):
                error = InputFormatError(f"expected a sequence in column {sequence_column + 1}, the row has "
                                         f"{len(fields)} field(s)", path=path_text, line=line_number, field="sequence")
                error.record_id = fields[name_column].strip() if name_column is not None and name_column < len(fields) \
                    else str(line_number - 2)
                if errors is None:
                    raise error
                errors.append(error)
                continue
            name = fields[name_column].strip() if name_column is not None and name_column < len(fields) \
                else str(line_number - 2)
            yield SequenceRecord(name, fields[sequence_column].strip().upper(), line_number,
                                 dict(zip(header, (field.strip() for field in fields))))


def read_sequences(
    path: str | os.PathLike, *, on_invalid: str = "error", max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH
) -> SequenceTable:
    """Read sequences to predict from a FASTA file or a DREAM/TSV file (``sequence[<TAB>value]`` per line).

    For DREAM input the names are the 0-based row numbers (= challenge test indices) and ``expression`` is kept.
    """
    if sniff_is_fasta(path):
        return read_fasta(path, on_invalid=on_invalid, max_length=max_length)
    table = read_dream(path, on_invalid=on_invalid, max_length=max_length)
    names = [str(line - 1) for line in table.line_numbers.tolist()]
    return SequenceTable(names, table.sequences, table.line_numbers, table.skipped, table.expression)


# ----------------------------------------------------------------------------------------------------------------
# Test subsets and public leaderboard ids
# ----------------------------------------------------------------------------------------------------------------
def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` of a 1-D integer array; an already strictly increasing array (the challenge's files
    list their indices in order) is returned after one comparison pass instead of a hash and a sort."""
    values = np.asarray(values).ravel()
    if values.size < 2 or bool(np.all(values[1:] > values[:-1])):
        return values.copy()  # a new array, as np.unique's (never a view of the caller's)
    return np.unique(values)


def unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """``np.unique(pairs, axis=0)`` of non-negative integer ``[n, 2]`` rows (sorted by first, then second), through
    one integer key per row: much faster than numpy's row-wise unique."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if pairs.size == 0:
        return pairs
    width = int(pairs[:, 1].max()) + 1
    if pairs.min() < 0 or int(pairs[:, 0].max()) >= (2 ** 62) // width:  # a key would not fit int64
        return np.unique(pairs, axis=0)
    keys = sorted_unique(pairs[:, 0] * width + pairs[:, 1])
    return np.stack([keys // width, keys % width], axis=1)


def read_test_subsets(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the challenge's ``test_subset_ids`` folder.

    Returns ``{name: indices}`` for single subsets (sorted unique ``int64`` test indices from column ``pos``) and
    ``{name: pairs}`` for pair subsets (unique ``int64 [n, 2]`` rows ``(alt, ref)`` from ``alt_pos``/``ref_pos``).
    Names are the score JSON's (``high, low, yeast, random, challenging, SNVs, motif_perturbation, motif_tiling``);
    absent files are absent from the result; other columns and files are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFormatError("test subset folder not found", path=str(folder))
    subsets: dict[str, np.ndarray] = {}
    for name, file_name in SUBSET_FILES.items():
        path = folder / file_name
        if not path.exists():
            continue
        if name in PAIR_SUBSET_FILES:
            columns = _read_index_columns(path, ("alt_pos", "ref_pos"))
            pairs = np.stack(columns, axis=1) if columns[0].size else np.zeros((0, 2), np.int64)
            subsets[name] = unique_pairs(pairs)
        else:
            (positions,) = _read_index_columns(path, ("pos",))
            subsets[name] = sorted_unique(positions)
    return subsets


@dataclass
class SubsetRecords:
    """The rows of one test-subset CSV, in file order (duplicates kept).

    Singles: ``tags``, ``sequences``, ``positions`` (``int64 [n]``) and ``values`` (``float64 [n]``, the ``exp``
    column, NaN where empty). Pairs: the same for the *alt* member plus ``ref_tags`` and ``ref_sequences``;
    ``positions`` and ``values`` are ``[n, 2]`` with columns ``(alt, ref)``. ``lines``: 1-based line of each row.
    """

    name: str
    path: str
    tags: list[str]
    sequences: list[str]
    positions: np.ndarray
    values: np.ndarray
    lines: np.ndarray
    ref_tags: list[str] | None = None
    ref_sequences: list[str] | None = None

    @property
    def is_pair(self) -> bool:
        return self.ref_sequences is not None

    def __len__(self) -> int:
        return len(self.sequences)


def read_subset_records(folder: str | os.PathLike, name: str,
                        max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH) -> SubsetRecords:
    """Read the sequences, indices and measured values of subset ``name`` from a ``test_subset_ids`` folder.

    ``name`` is a score-JSON subset name (see ``SUBSET_FILES``). Sequences are validated (``ACGTN``, at most
    ``max_length`` bp) and upper-cased; every error names the file, line and column. An empty value field is NaN
    (the challenge's public files carry no measured values).
    """
    if name not in SUBSET_FILES:
        raise InputFormatError(f"unknown subset {name!r}; valid: {sorted(SUBSET_FILES)}", path=os.fspath(folder))
    path = Path(folder) / SUBSET_FILES[name]
    if not path.is_file():
        raise InputFormatError(f"no file for subset {name!r}", path=str(path))
    pair = name in PAIR_SUBSET_FILES
    if pair:
        columns = ("alt_tag", "ref_tag", "alt_sequence", "ref_sequence", "alt_pos", "ref_pos", "alt_exp", "ref_exp")
    else:
        columns = ("tag", "sequence", "pos", "exp")
    text = _read_text(path)
    rows: dict[str, list[str]] = {column: [] for column in columns}
    lines: list[int] = []
    with io.StringIO(text, newline="") as handle:
        reader = csv.reader(handle)
        header = [column.strip() for column in next(reader, None) or []]
        if not header:
            raise InputFormatError("empty file, expected a CSV header", path=str(path), line=1)
        required = [column for column in columns if not column.endswith(("exp", "tag"))]
        missing = [column for column in required if column not in header]
        if missing:
            raise InputFormatError(f"missing column(s) {missing}; found {header}", path=str(path), line=1)
        where = {column: header.index(column) if column in header else None for column in columns}
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            lines.append(line_number)
            for column, position in where.items():
                rows[column].append(row[position].strip() if position is not None and position < len(row) else "")

    def sequences(column: str) -> list[str]:
        result = []
        for line, sequence in zip(lines, rows[column]):
            problem = describe_bad_sequence(sequence, max_length)
            if problem:
                raise InputFormatError(problem, path=str(path), line=line, field=column)
            result.append(sequence.upper())
        return result

    def indices(column: str) -> np.ndarray:
        return np.asarray([_parse_index(text, str(path), line, column) for line, text in zip(lines, rows[column])],
                          dtype=np.int64)

    def values(column: str) -> np.ndarray:
        result = np.full(len(lines), np.nan)
        for i, (line, text) in enumerate(zip(lines, rows[column])):
            if text:
                try:
                    result[i] = float(text)
                except ValueError:
                    raise InputFormatError(f"{text!r} is not a number", path=str(path), line=line,
                                           field=column) from None
        return result

    line_array = np.asarray(lines, dtype=np.int64)
    if not pair:
        return SubsetRecords(name, str(path), rows["tag"], sequences("sequence"), indices("pos"), values("exp"),
                             line_array)
    return SubsetRecords(name, str(path), rows["alt_tag"], sequences("alt_sequence"),
                         np.stack([indices("alt_pos"), indices("ref_pos")], axis=1).reshape(-1, 2),
                         np.stack([values("alt_exp"), values("ref_exp")], axis=1).reshape(-1, 2), line_array,
                         ref_tags=rows["ref_tag"], ref_sequences=sequences("ref_sequence"))


def _read_index_columns(path: Path, columns: tuple[str, ...]) -> list[np.ndarray]:
    """Non-negative integer columns of a CSV file, with errors naming file, line and column.

    A plain file (the challenge's) is parsed with numpy; anything unusual (quotes, ragged rows, blank lines, a
    field that is not plain digits, non-ASCII text) goes through the ``csv`` module, which names the bad line.
    """
    with open_text_bytes(path) as handle:
        raw = handle.read()
    fast = _plain_index_columns(raw, columns)
    if fast is not None:
        return fast
    values: list[list[int]] = [[] for _ in columns]
    text = _read_text(path, raw)
    with io.StringIO(text, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise InputFormatError("empty file, expected a CSV header", path=str(path), line=1)
        missing = [column for column in columns if column not in header]
        if missing:
            raise InputFormatError(f"missing column(s) {missing}; found {header}", path=str(path), line=1)
        where = [header.index(column) for column in columns]
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            for slot, (column, position) in enumerate(zip(columns, where)):
                text = row[position].strip() if position < len(row) else ""
                values[slot].append(_parse_index(text, str(path), line_number, column))
    return [np.asarray(column_values, dtype=np.int64) for column_values in values]


_MAX_INDEX_DIGITS = 18  # fits int64


def _plain_index_columns(data: bytes, columns: tuple[str, ...]) -> list[np.ndarray] | None:
    """The integer ``columns`` of a plain CSV with numpy, or ``None`` when the file is not plain.

    Plain: ASCII, no quotes, ``\n`` or ``\r\n`` line ends, a header naming every column, and every row with the
    header's number of fields and plain digits (at most 18) in the wanted columns. The values are exactly what the
    ``csv``-module path gives for such a file.
    """
    if not data.isascii() or b'"' in data:
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    data = data.rstrip(b"\n")
    header_end = data.find(b"\n")
    if header_end < 0:
        return None
    header = data[:header_end].decode("ascii").split(",")
    if any(column not in header for column in columns):
        return None
    raw = np.frombuffer(data, dtype=np.uint8)[header_end + 1:]
    newlines = np.flatnonzero(raw == 10)
    line_starts = np.concatenate(([0], newlines + 1))
    line_ends = np.append(newlines, raw.size)
    n_lines, n_commas = line_starts.size, len(header) - 1
    commas = np.flatnonzero(raw == 44)
    if commas.size != n_lines * n_commas:
        return None
    if n_commas:
        commas = commas.reshape(n_lines, n_commas)
        # every line holds exactly its share of the commas: the first and last of each row lie inside the line
        if (commas[:, 0] < line_starts).any() or (commas[:, -1] > line_ends).any():
            return None
    result = []
    for column in columns:
        field = header.index(column)
        starts = line_starts if field == 0 else commas[:, field - 1] + 1
        ends = line_ends if field == n_commas else commas[:, field]
        lengths = ends - starts
        if lengths.min(initial=1) < 1 or lengths.max(initial=1) > _MAX_INDEX_DIGITS:
            return None
        width = int(lengths.max(initial=1))
        inside = np.arange(width)[None, :] < lengths[:, None]
        digits = _windows(raw, starts, width) - np.uint8(48)  # wraps below "0": every non-digit is > 9
        if (digits[inside] > 9).any():
            return None
        power = np.where(inside, lengths[:, None] - 1 - np.arange(width)[None, :], 0)
        result.append(np.where(inside, digits.astype(np.int64) * 10 ** power, 0).sum(axis=1))
    return result


def _parse_index(text: str, path: str, line: int, column: str) -> int:
    if text.isdigit() and text.isascii() and len(text) <= 18:  # the common case, without the float round trip
        return int(text)
    try:
        number = float(text)
    except ValueError:
        raise InputFormatError(f"{text[:40]!r} is not a test index", path=path, line=line, field=column) from None
    if not math.isfinite(number) or number < 0 or number != int(number) or number >= 2**62:
        raise InputFormatError(f"{text[:40]!r} is not a non-negative integer index below 2^62", path=path, line=line,
                               field=column)
    return int(number)


def _plain_index_keys(keys: list, width: int) -> np.ndarray | None:
    """``[n, width]`` int64 indices when every key is ``width`` plain ASCII numbers joined by commas (the challenge's
    files), parsed by numpy in one call; ``None`` for anything else (the per-key path then parses or reports it)."""
    if not keys or not all(isinstance(key, str) for key in keys):
        return None
    joined = ",".join(keys)
    if not (joined.isascii() and joined.replace(",", "").isdigit()):
        return None
    parts = joined.split(",")
    if len(parts) != len(keys) * width or "" in parts or max(map(len, parts)) > 18:
        return None
    if width == 2 and any(key.count(",") != 1 for key in keys):
        return None
    return np.array(parts).astype(np.int64).reshape(-1, width)


def read_public_leaderboard_ids(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the challenge's ``public_leaderboard_ids`` folder (JSON objects keyed by ``"idx"`` or ``"alt,ref"``).

    Returns the same shapes as :func:`read_test_subsets`: sorted unique indices per single subset, unique
    ``(alt, ref)`` rows per pair subset. These are the indices the final scoring discards.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFormatError("public leaderboard id folder not found", path=str(folder))
    result: dict[str, np.ndarray] = {}
    for name, file_name in LEADERBOARD_ID_FILES.items():
        path = folder / file_name
        if not path.exists():
            continue
        from seq2exp import jsonio

        keys = list(jsonio.loads(_read_text(path), str(path), expect=dict))
        width = 2 if name in PAIR_SUBSET_FILES else 1
        array = _plain_index_keys(keys, width)
        if array is not None:
            result[name] = unique_pairs(array) if width == 2 else sorted_unique(array[:, 0])
            continue
        parsed = []
        for key in keys:
            parts = str(key).split(",")
            if len(parts) != width:
                raise InputFormatError(f"key {key!r} should hold {width} comma-separated index(es)", path=str(path))
            parsed.append([_parse_index(part.strip(), str(path), 1, "key") for part in parts])
        array = np.asarray(parsed, dtype=np.int64).reshape(-1, width)
        result[name] = unique_pairs(array) if width == 2 else sorted_unique(array[:, 0])
    return result



# ----------------------------------------------------------------------------------------------------------------
# Tables with a header: any sequence column, one or more named target columns, orientation, id columns
# ----------------------------------------------------------------------------------------------------------------
MISSING_VALUES = frozenset({"", "nan", "na", "n/a", "null", "none"})  # a missing target (masked, never imputed)


@dataclass(frozen=True)
class TableSpec:
    """How to read a table with a header line (a training config's ``data.table``).

    ``targets``: the target column names, in task order (one or more). ``sequence_column``: the sequence column
    (``None``: the column named ``sequence`` or ``seq``, any case). ``orientation``: which rows were measured in
    reverse orientation, ``{"column": NAME, "contains": TEXT}`` (the field contains TEXT, e.g. the human data's
    ``_Reversed:`` id suffix) or ``{"column": NAME, "values": [..]}`` (the field is one of the values, e.g. ``-``).
    Every other column is kept as an id column. The separator is a tab, or a comma when the header has no tab.
    """

    targets: tuple[str, ...] = ()
    sequence_column: str | None = None
    orientation: dict | None = None

    def __post_init__(self) -> None:
        from seq2exp.errors import ConfigError

        targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets or ())
        object.__setattr__(self, "targets", targets)
        if not targets or not all(isinstance(t, str) and t for t in targets) or len(set(targets)) != len(targets):
            raise ConfigError(f"data.table.targets: expected one or more distinct column names, got {self.targets!r}")
        if self.orientation is not None:
            keys = set(self.orientation)
            if "column" not in keys or len(keys & {"contains", "values"}) != 1 or keys - {"column", "contains",
                                                                                           "values"}:
                raise ConfigError("data.table.orientation: expected {column: NAME, contains: TEXT} or "
                                  f"{{column: NAME, values: [..]}}, got {self.orientation!r}")
            object.__setattr__(self, "orientation", dict(self.orientation))

    @classmethod
    def from_dict(cls, values: Mapping | "TableSpec" | None) -> "TableSpec | None":
        """A spec from a config mapping (``None`` stays ``None``: a DREAM file without a header)."""
        from seq2exp.errors import ConfigError

        if values is None or isinstance(values, TableSpec):
            return values
        if not isinstance(values, Mapping):
            raise ConfigError(f"data.table: expected a mapping, got {values!r}")
        unknown = sorted(set(values) - {"targets", "sequence_column", "orientation"})
        if unknown:
            raise ConfigError(f"data.table: unknown key(s) {unknown}; valid: orientation, sequence_column, targets")
        targets = values.get("targets")
        if isinstance(targets, str):
            targets = [t.strip() for t in targets.split(",")]
        return cls(tuple(targets or ()), values.get("sequence_column"), values.get("orientation"))

    def to_dict(self) -> dict:
        return {"targets": list(self.targets), "sequence_column": self.sequence_column,
                "orientation": self.orientation}


@dataclass
class TargetTable:
    """The rows of a table: sequences, ``targets`` ``[n, T]`` (NaN where missing), orientation and id columns."""

    sequences: list[str]
    targets: np.ndarray
    target_names: list[str]
    reverse: np.ndarray  # bool [n]
    ids: dict[str, list[str]]
    line_numbers: np.ndarray
    skipped: int = 0
    path: str | None = None

    def __len__(self) -> int:
        return len(self.sequences)


def _table_columns(header: list[str], spec: TableSpec, path: str) -> tuple[int, list[int], int | None]:
    """(sequence column, target columns, orientation column) of a header; a missing one is an error naming it."""
    stripped = [name.strip() for name in header]
    if spec.sequence_column is not None:
        if spec.sequence_column not in stripped:
            raise InputFormatError(f"no sequence column {spec.sequence_column!r}; the header has {stripped}",
                                   path=path, line=1)
        sequence = stripped.index(spec.sequence_column)
    else:
        lower = [name.lower() for name in stripped]
        found = [lower.index(name) for name in SEQUENCE_COLUMN_NAMES if name in lower]
        if not found:
            raise InputFormatError(f"no sequence column (one named {' or '.join(SEQUENCE_COLUMN_NAMES)}; or set "
                                   f"data.table.sequence_column); the header has {stripped}", path=path, line=1)
        sequence = found[0]
    missing = [name for name in spec.targets if name not in stripped]
    if missing:
        raise InputFormatError(f"no target column(s) {missing}; the header has {stripped}", path=path, line=1)
    orientation = None
    if spec.orientation is not None:
        if spec.orientation["column"] not in stripped:
            raise InputFormatError(f"no orientation column {spec.orientation['column']!r}; the header has "
                                   f"{stripped}", path=path, line=1)
        orientation = stripped.index(spec.orientation["column"])
    return sequence, [stripped.index(name) for name in spec.targets], orientation


def _is_reverse(field: str, orientation: dict) -> bool:
    if "contains" in orientation:
        return str(orientation["contains"]) in field
    return field in {str(value) for value in orientation["values"]}


def iter_table_chunks(
    path: str | os.PathLike,
    spec: TableSpec,
    *,
    on_invalid: str = "error",
    max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
    chunk_rows: int = 65536,
    errors: list | None = None,
) -> Iterator[DreamChunk]:
    """Parse a table with a header (see :class:`TableSpec`) block by block.

    Chunks are :class:`DreamChunk` s whose ``expression`` is ``float64 [n, T]`` (NaN where a target is empty or
    ``NaN``/``NA``: masked later, never imputed), ``reverse`` the orientation flag per row and ``ids`` the other
    columns. A bad row (wrong number of fields, empty, over-long or non-``ACGTN`` sequence, a target that is not a
    number or is infinite, or every target missing) raises ``InputFormatError`` naming file, line and column, or
    with ``on_invalid="skip"`` is dropped and counted. Files go through :func:`open_text_bytes` (gzip, BOM, CRLF).
    """
    _check_on_invalid(on_invalid)
    path_text = os.fspath(path)
    n_targets = len(spec.targets)
    with open_text_bytes(path) as handle:
        lines = _lines(handle, path_text, _line_limit(None if max_length is None else max_length + 4096))
        first = next(lines, None)
        if first is None:
            raise InputFormatError("empty file: expected a header line", path=path_text, line=1)
        header_text = first[1].decode("utf-8", "replace")
        separator = header_separator(header_text)
        header = header_text.split(separator)
        sequence_column, target_columns, orientation_column = _table_columns(header, spec, path_text)
        id_columns = [i for i in range(len(header))
                      if i != sequence_column and i not in target_columns and i != orientation_column]
        if orientation_column is not None:
            id_columns = sorted(id_columns + [orientation_column])
        id_names = [header[i].strip() for i in id_columns]
        found = False

        def flush(rows):
            sequences, values, flags, id_values, numbers, skipped = rows
            width = max((len(s) for s in sequences), default=1)
            codes = np.full((len(sequences), width), PAD_CODE, np.uint8)
            for row, sequence in enumerate(sequences):
                codes[row, : len(sequence)] = CODE_OF_BYTE[np.frombuffer(sequence, np.uint8)]
            return DreamChunk(codes=codes, lengths=np.array([len(s) for s in sequences], np.int32),
                              expression=np.array(values, np.float64).reshape(len(sequences), n_targets),
                              line_numbers=np.array(numbers, np.int64), skipped=skipped,
                              reverse=np.array(flags, bool),
                              ids={name: [row[k] for row in id_values] for k, name in enumerate(id_names)})

        def new_rows():
            return [], [], [], [], [], 0

        rows = new_rows()
        for line_number, text, blank in _data_lines(lines, path_text):
            if blank is not None:
                if on_invalid == "error" and errors is None:
                    raise blank
                if errors is not None:
                    errors.append(blank)
                rows = (*rows[:5], rows[5] + 1)
            try:
                fields = text.split(separator)
                if len(fields) != len(header):
                    raise InputFormatError(f"expected {len(header)} {'tab' if separator == chr(9) else 'comma'}-"
                                           f"separated fields (the header's), found {len(fields)}",
                                           path=path_text, line=line_number)
                sequence = fields[sequence_column].strip().upper().encode("ascii", "replace")
                problem = describe_bad_sequence(sequence, max_length)
                if problem:
                    raise InputFormatError(problem, path=path_text, line=line_number,
                                           field=header[sequence_column].strip())
                values = [_table_value(fields[c], path_text, line_number, header[c].strip()) for c in target_columns]
                if all(math.isnan(v) for v in values):
                    raise InputFormatError(
                        f"every target ({', '.join(spec.targets)}) is missing: a row needs at least one measured "
                        "target (a missing one is masked only in a row that has others); to drop such rows, train with "
                        "--set data.on_invalid=skip (data.on_invalid: skip in a config; on_invalid=\"skip\" in "
                        "Python)",
                        path=path_text, line=line_number, field=spec.targets[0])
            except InputFormatError as error:
                if on_invalid == "error" and errors is None:
                    raise
                if errors is not None:
                    errors.append(error)
                rows = (*rows[:5], rows[5] + 1)
                continue
            rows[0].append(sequence)
            rows[1].extend(values)
            rows[2].append(orientation_column is not None
                           and _is_reverse(fields[orientation_column].strip(), spec.orientation))
            rows[3].append([fields[i].strip() for i in id_columns])
            rows[4].append(line_number)
            if len(rows[0]) >= chunk_rows:
                found = True
                yield flush(rows)
                rows = new_rows()
        if rows[0] or rows[5]:
            found = found or bool(rows[0])
            yield flush(rows)
        if not found:
            raise InputFormatError("no data rows" + (f" ({rows[5]} invalid rows skipped)" if rows[5] else ""),
                                   path=path_text, line=2)


def _table_value(text: str, path: str, line: int, column: str) -> float:
    """A target field: a finite float32-range number, or NaN when missing."""
    text = text.strip()
    if text.lower() in MISSING_VALUES:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputFormatError(f"{text!r} is not a number", path=path, line=line, field=column) from None
    if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
        raise InputFormatError(f"{text!r} is not a finite number in float32's range", path=path, line=line,
                               field=column)
    return value


def read_table(
    path: str | os.PathLike, spec: TableSpec | Mapping, *, on_invalid: str = "error",
    max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
) -> TargetTable:
    """Read a whole table with a header (see :class:`TableSpec` and :func:`iter_table_chunks`)."""
    spec = TableSpec.from_dict(spec)
    sequences: list[str] = []
    targets, flags, lines = [], [], []
    ids: dict[str, list[str]] = {}
    skipped = 0
    for chunk in iter_table_chunks(path, spec, on_invalid=on_invalid, max_length=max_length):
        sequences.extend(_codes_to_strings(chunk.codes, chunk.lengths))
        targets.append(chunk.expression)
        flags.append(chunk.reverse)
        lines.append(chunk.line_numbers)
        for name, values in (chunk.ids or {}).items():
            ids.setdefault(name, []).extend(values)
        skipped += chunk.skipped
    return TargetTable(sequences, np.concatenate(targets), list(spec.targets), np.concatenate(flags), ids,
                       np.concatenate(lines), skipped, os.fspath(path))


@dataclass(frozen=True)
class TextTable:
    """A small tab-separated table read as text: its header's ``columns`` (stripped), one ``{column: field}`` dict
    per row (fields stripped) and each row's 1-based ``lines`` in the file."""

    columns: list[str]
    rows: list[dict[str, str]]
    lines: list[int]


def read_text_table(path: str | os.PathLike) -> TextTable:
    """Read a table with a header line whose fields the caller interprets (a variants table, values to score).

    Tab-separated, or comma-separated when the header has no tab (:func:`header_separator`), and the one reader's
    rules (:func:`open_text_bytes`: gzip, BOM, CRLF; UTF-8 only; blank lines only at the end). A repeated column
    name, a row whose number of fields is not the header's, a blank line inside the table and a table without rows
    are ``InputFormatError`` naming the file and line.
    """
    path_text = os.fspath(path)
    lines = ((number, line.rstrip("\r")) for number, line in enumerate(_read_text(path).split("\n"), start=1))
    first = next(lines)[1]
    separator = header_separator(first)
    columns = [name.strip() for name in first.split(separator)] if first.strip() else []
    if not columns:
        raise InputFormatError("no header line (expected column names, tab-separated)", path=path_text, line=1)
    if len(set(columns)) != len(columns):
        raise InputFormatError(f"header {columns}: a column name is repeated", path=path_text, line=1)
    rows, row_lines = [], []
    for number, text, blank in _data_lines(lines, path_text, field=None):
        if blank is not None:
            raise blank
        fields = text.split(separator)
        if len(fields) != len(columns):
            raise InputFormatError(f"{len(fields)} fields but the header has {len(columns)} ({columns})",
                                   path=path_text, line=number)
        rows.append({name: value.strip() for name, value in zip(columns, fields)})
        row_lines.append(number)
    if not rows:
        raise InputFormatError("no rows (expected a header line and rows)", path=path_text, line=2)
    return TextTable(columns, rows, row_lines)
