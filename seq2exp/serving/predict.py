"""Batch inference over FASTA / TSV / DREAM files (``seq2exp predict``), through a server or a SavedModel.

Input is streamed in chunks, so memory stays constant however many rows there are. Every row is read and checked
first (:func:`check_input`, seconds for a million rows), so a bad row fails the call before any output is created or
changed, and the progress bar knows the total. Output rows are in input order:

* ``dream`` (default): ``sequence<TAB>prediction``, the challenge's submission format that ``seq2exp score`` reads;
* ``tsv``: a header ``id<TAB>sequence<TAB>expression`` and one row per input (FASTA names, a TSV's ``id``/``name``
  column, or the 0-based row number); a model with several tasks writes ``id<TAB>sequence<TAB><task 1><TAB>...``
  (its signature's ``expression_<task>`` outputs, in name order; the ``dream`` format has one value column).

The output is written to ``OUT.partial`` and renamed to ``OUT`` when complete; ``resume=True`` continues from the
rows already in ``OUT.partial`` (after checking that they match the input).

Served predictions are the graph's values: batch post-processing steps (rank / quantile transforms, which need every
prediction of the set) are not applied here.

Rows that lack the constant flanks of the construct the model was trained in (the export's ``construct`` record;
``dream_yeast`` for an export without one) are predicted but counted, and a warning names how many and the first
(e.g. the 80-bp yeast insert alone, without its 17 + 13 bp flanks, is predicted differently from the full
promoter). A model whose encoding strips the flanks (``region: variable``) sees the same input either way: no check.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Protocol, Sequence

import numpy as np

from seq2exp.data.formats import (DEFAULT_MAX_SEQUENCE_LENGTH, ID_COLUMN_NAMES, SEQUENCE_COLUMN_NAMES, SequenceRecord,
                                   iter_sequence_records, sniff_is_fasta)
from seq2exp.data.formats import format_row, tsv_header  # noqa: F401 (the output rows; also the simulator's tables)
from seq2exp import jsonio
from seq2exp.errors import ConfigError, InputFormatError, Seq2ExpError
from seq2exp.serving import signatures as names

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("dream", "tsv")
TSV_HEADER = "id\tsequence\texpression\n"  # the first line of a --format tsv output
PARTIAL_SUFFIX = ".partial"
FINGERPRINT_SUFFIX = ".partial.json"  # beside OUT.partial: how many input rows it holds and their fingerprint


Record = SequenceRecord  # one input row: ``name``, upper-case ``sequence``, the 1-based ``line`` it starts on


def iter_records(path: str | os.PathLike, max_length: int | None = DEFAULT_MAX_SEQUENCE_LENGTH,
                 sequence_columns: Sequence[str] = SEQUENCE_COLUMN_NAMES) -> Iterator[Record]:
    """Stream the rows of a FASTA, DREAM (``sequence[<TAB>value]``, no header) or table-with-header file (tab- or
    comma-separated; its sequence column is the first of ``sequence_columns`` it has).

    The one reader of :mod:`seq2exp.data.formats` (:func:`~seq2exp.data.formats.iter_sequence_records`): gzip, a
    UTF-8 BOM, CRLF and lower-case DNA are accepted; an empty file is an error.
    """
    return iter_sequence_records(path, max_length=max_length, sequence_columns=sequence_columns)


def check_records(records: list[Record], path: str, max_length: int | None) -> None:
    """Raise ``InputFormatError`` naming the file and line of the first bad sequence in ``records``."""
    from seq2exp.data.alphabet import SequenceError, describe_bad_sequence, sequences_to_codes

    try:
        sequences_to_codes([r.sequence for r in records], max_length)
    except SequenceError as error:
        record = records[error.row]
        problem = describe_bad_sequence(record.sequence, max_length) or str(error)
        raise InputFormatError(f"row {record.name!r}: {problem}", path=path, line=record.line,
                               field="sequence") from None


def check_input(path: str, max_length: int | None, chunk_rows: int = 16384,
                sequence_columns: Sequence[str] = SEQUENCE_COLUMN_NAMES) -> int:
    """Read and check every row of ``path`` (the reader's format checks and :func:`check_records`); return the
    number of rows. :func:`predict_file` calls it before it creates or changes any output, so a bad row is an
    ``InputFormatError`` naming its file, line and field in seconds, not after the rows before it were predicted."""
    rows = 0
    for chunk in _chunks(iter_records(path, sequence_columns=sequence_columns), chunk_rows):
        check_records(chunk, path, max_length)
        rows += len(chunk)
    return rows


MODEL_RECORD_SUFFIX = ".model.json"  # beside the output: the model and the ONE version that predicted it


@dataclass(frozen=True)
class ModelOrientation:
    """What a model says about its rows' orientation: whether it reads an ``is_reverse`` channel (an ``oriented``
    signature), the rule its export recorded from its training table, and the training table's rule it ignores
    because it has no such channel. The default: a model that takes every row as given."""

    description: str = "the model"
    oriented: bool = False
    recorded_rule: dict | None = None
    ignored_rule: Any = None

    @classmethod
    def from_metadata(cls, meta: dict, oriented: bool, description: str) -> "ModelOrientation":
        """From an export's metadata (``seq2exp_metadata.json``) and whether its signatures take ``is_reverse``."""
        table = ((meta.get("config") or {}).get("data") or {}).get("table") or {}
        return cls(description, oriented, (meta.get("orientation") or {}).get("rule"),
                   None if oriented else table.get("orientation"))


class Backend(Protocol):
    """Where predictions come from."""

    max_length: int | None
    orientation: ModelOrientation

    def predict(self, sequences: list[str]) -> np.ndarray: ...

    def close(self) -> None: ...


class ServerBackend:
    """Predictions from a TF Serving / ``seq2exp serve`` server through :class:`~seq2exp.serving.client.Client`.

    The version is resolved ONCE (the given ``version``, the ``label``'s version, else the newest available) and
    pinned on every chunk, so a run never mixes versions even when a new one is rolled out meanwhile.
    """

    def __init__(self, target: str, model: str, *, version: int | None = None, label: str | None = None,
                 batch_size: int = 1024, max_concurrency: int = 4, timeout: float = 120.0,
                 transport: str = "grpc"):
        from seq2exp.serving.client import Client

        self.client = Client(target, model, version=version, label=label, batch_size=batch_size,
                             max_concurrency=max_concurrency, timeout=timeout, transport=transport)
        self.version = self.client.resolve_version()
        meta = self.client.metadata(version=self.version)
        self.max_length = served_max_length(meta)
        self.construct = None  # not in TF Serving's metadata: set it to check the rows' flanks
        self.strips_flanks = False
        self.model = model
        self.description = f"{model} version {self.version} at {target}"

        outputs = meta["signatures"].get(names.SERVING_DEFAULT, {}).get("outputs", {})
        self.tasks = names.task_outputs(outputs)  # {task: output alias}; empty for one task
        # an is_reverse channel to feed; TF Serving's metadata records no rule: give it (seq2exp predict --orientation)
        self.orientation = ModelOrientation(self.description, names.ORIENTED_SIGNATURE in meta["signatures"])

    @property
    def task_names(self) -> list[str] | None:
        """The model's task names (the columns :meth:`predict` returns), or ``None`` for a single-task model."""
        return list(self.tasks) or None

    def predict(self, sequences: list[str], is_reverse: np.ndarray | None = None) -> np.ndarray:
        """``[n]`` (``[n, T]`` for T tasks); ``is_reverse``: per row, through the ``serving_oriented`` signature."""
        if not self.tasks:
            return self.client.predict(sequences, version=self.version, is_reverse=is_reverse)
        result = self.client.predict_outputs(sequences, version=self.version, outputs=list(self.tasks.values()),
                                             is_reverse=is_reverse)
        return np.stack([result[alias] for alias in self.tasks.values()], axis=1)

    def close(self) -> None:
        self.client.close()


def resolve_saved_model_dir(path: str | os.PathLike) -> Path:
    """A version folder, or the highest version under a model folder ``M/<name>``."""
    from seq2exp.serving.config import list_versions

    path = Path(path)
    if (path / names.SAVED_MODEL_FILE).is_file():
        return path
    versions = list_versions(path)
    if not versions:
        raise ConfigError(f"{path} is neither a SavedModel folder nor a model folder with version subfolders")
    return path / str(versions[-1])


class SavedModelBackend:
    """Predictions in-process from an exported SavedModel (its ``serving_default`` signature), run on TF Serving's
    loading path (:class:`~seq2exp.serving.session.SessionModel`)."""

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 1024, intra_op_threads: int = 0,
                 warn: bool = True):
        from seq2exp.serving.session import SessionModel

        self.path = resolve_saved_model_dir(path)
        self.metadata = meta = export_metadata(self.path)  # read once: the interpret predictors use it too
        self._model = SessionModel(self.path, intra_op_threads=intra_op_threads)
        self.batch_size = batch_size
        self.version = int(self.path.name) if self.path.name.isdigit() else None
        self.model = self.path.parent.name
        self.max_length = meta.get("max_sequence_length")
        self.sequence_columns = sequence_columns_of(meta)
        self.construct = trained_construct(meta)
        encoding = meta.get("encoding") or {}
        self.strips_flanks = encoding.get("region") == "variable"
        self.input_window = InputWindow(int(encoding["length"]), str(encoding.get("trim", "right")),
                                        self.construct if self.strips_flanks else None) \
            if encoding.get("length") else None
        if warn and meta.get("batch_postprocess_not_in_graph"):
            logger.warning("this model's batch post-processing %s is not applied by streaming prediction",
                           meta["batch_postprocess_not_in_graph"])
        self.description = f"SavedModel {self.path}"
        self.tasks = names.task_outputs(self._model.signatures[names.SERVING_DEFAULT].outputs)
        self.orientation = ModelOrientation.from_metadata(
            meta, names.ORIENTED_SIGNATURE in self._model.signatures, self.description)  # an is_reverse channel?

    @property
    def task_names(self) -> list[str] | None:
        """The model's task names (the columns :meth:`predict` returns), or ``None`` for a single-task model."""
        return list(self.tasks) or None

    def predict(self, sequences: list[str], is_reverse: np.ndarray | None = None) -> np.ndarray:
        """``[n]`` (``[n, T]`` for T tasks); ``is_reverse``: per row, through the ``serving_oriented`` signature."""
        parts = []
        wanted = list(self.tasks.values()) or [names.EXPRESSION_OUTPUT]
        if is_reverse is not None:
            is_reverse = np.asarray(is_reverse, dtype=bool).reshape(-1)
            if len(is_reverse) != len(sequences):
                raise ConfigError(f"is_reverse has {len(is_reverse)} flags for {len(sequences)} sequences")
        for start in range(0, len(sequences), self.batch_size):
            batch = np.array([s.encode("ascii") for s in sequences[start:start + self.batch_size]], dtype=object)
            if is_reverse is None:
                result = self._model.run(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: batch}, wanted)
            else:
                result = self._model.run(names.ORIENTED_SIGNATURE, {
                    names.SEQUENCES_INPUT: batch,
                    names.IS_REVERSE_INPUT: is_reverse[start:start + self.batch_size]}, wanted)
            parts.append(np.stack([result[key] for key in wanted], axis=1) if self.tasks
                         else result[names.EXPRESSION_OUTPUT])
        if not parts:
            return np.zeros([0, len(self.tasks)] if self.tasks else [0], np.float32)
        return np.concatenate(parts)

    def close(self) -> None:
        self._model.close()


class InputWindow(NamedTuple):
    """An export's input window (its encoding): ``length`` bases, longer rows cut at the ``trim`` end; for an
    encoding of the ``variable`` region, of the insert between the ``construct``'s flanks (else ``None``)."""

    length: int
    trim: str
    construct: Any = None


def export_metadata(version_dir: str | os.PathLike) -> dict:
    """An exported version's seq2exp metadata (``{}`` for a SavedModel seq2exp did not write), read without loading
    the model: ``max_sequence_length`` lets a caller check its input before it pays for the load."""
    meta_path = Path(version_dir) / names.METADATA_FILE
    return jsonio.load_file(meta_path, expect=dict) if meta_path.exists() else {}


def sequence_columns_of(meta: dict) -> tuple[str, ...]:
    """The names an input table's sequence column may have for an export: its training table's own
    (``data.table.sequence_column``) first, then ``sequence`` and ``seq``."""
    recorded = (((meta.get("config") or {}).get("data") or {}).get("table") or {}).get("sequence_column")
    return ((str(recorded),) if recorded else ()) + SEQUENCE_COLUMN_NAMES


def trained_construct(meta: dict) -> Any:
    """The construct an export's model was trained in, from its metadata (``dream_yeast`` when the export predates
    construct records); ``None`` when the members of an ensemble differ."""
    from seq2exp.data.construct import resolve_construct

    if "construct" in meta and meta["construct"] is None:  # an ensemble whose members' constructs differ
        return None
    return resolve_construct(meta.get("construct"))


@dataclass
class RowCount:
    """Counts the input rows that ``rows_of`` picks out of each chunk's sequences (their indices) and keeps the first
    of them for the warning; ``rows_of`` ``None`` counts nothing."""

    rows_of: Callable[[list[str]], list[int]] | None
    count: int = 0
    first: Record | None = None

    def add(self, records: list[Record]) -> None:
        if self.rows_of is None:
            return
        rows = self.rows_of([r.sequence for r in records])
        if rows and self.first is None:
            self.first = records[rows[0]]
        self.count += len(rows)

    def first_row(self, total: int, path: str) -> str:
        """``PATH: N of TOTAL rows (first: row NAME, line L, B bp)``: the start of a warning line."""
        return (f"{path}: {self.count} of {total} rows (first: row {self.first.name!r}, line {self.first.line}, "
                f"{len(self.first.sequence)} bp)")


def missing_flanks(construct: Any) -> RowCount:
    """Counts the rows that lack the flanks of ``construct`` (``None``: no check; see the module docstring)."""
    return RowCount(None if construct is None else construct.rows_missing_flanks)


def flanks_warning(count: RowCount, construct: Any, total: int, path: str) -> str | None:
    """The warning line for :func:`missing_flanks`, or ``None`` when every row carries the flanks."""
    if not count.count:
        return None
    return (f"{count.first_row(total, path)} lack the constant flanks the model was trained with: "
            f"{construct.describe()}; they were predicted as given, but the model never saw such rows. Add the flanks "
            f"({construct.flank5}...{construct.flank3}) to get the trained model's predictions")


def longer_than_input(length: int | None, construct: Any = None) -> RowCount:
    """Counts the rows longer than the model's ``length``-bp input window, which the encoder trims (``encoding.trim``,
    as in training); with ``construct``, of the insert between its flanks (an encoding of the ``variable`` region)."""
    if length is None:
        return RowCount(None)

    def size(sequence: str) -> int:
        if construct is None:
            return len(sequence)
        start, stop = construct.insert_region(sequence)
        return stop - start

    return RowCount(lambda sequences: [i for i, s in enumerate(sequences) if size(s) > length])


def trimmed_warning(count: RowCount, length: int, trim: str, total: int, path: str) -> str | None:
    """The warning line for :func:`longer_than_input`, or ``None`` when every row fits the window."""
    if not count.count:
        return None
    return (f"{count.first_row(total, path)} are longer than the model's {length}-bp input: the encoder cut them to "
            f"{length} bp (encoding.trim {trim!r}, as in training), so the bases beyond were not seen")


ORIENTATION_AUTO = "auto"


def parse_orientation(text: str | None) -> str | dict | None:
    """``seq2exp predict --orientation``: ``auto`` (the rule the export recorded from its training table, if any),
    ``none`` (every row forward), ``COLUMN~TEXT`` (reverse where the field contains TEXT, e.g. ``seq_id~_Reversed:``)
    or ``COLUMN=V1,V2`` (reverse where the field is one of the values, e.g. ``strand=-``): the rule form of a
    training config's ``data.table.orientation``."""
    if text is None or text == ORIENTATION_AUTO:
        return ORIENTATION_AUTO
    if text == "none":
        return None
    column, sep, rest = text.partition("~")
    if sep and column and rest:
        return {"column": column, "contains": rest}
    column, sep, rest = text.partition("=")
    values = [value for value in rest.split(",") if value]
    if sep and column and values:
        return {"column": column, "values": values}
    raise ConfigError(f"--orientation {text!r}: expected auto, none, COLUMN~TEXT (e.g. seq_id~_Reversed:) or "
                      "COLUMN=V1,V2 (e.g. strand=-)")


def row_is_reverse(record: Record, rule: dict) -> bool:
    """Whether ``record`` was measured in reverse orientation under ``rule`` (``{column, contains | values}``, as
    ``data.table.orientation``): the rule's column of a TSV row, else the row's id (a FASTA name, a TSV's id)."""
    from seq2exp.data.formats import _is_reverse  # the training table reader's own test

    fields = record.fields or {}
    value = fields.get(str(rule["column"]).strip().lower())
    return _is_reverse(record.name if value is None else value, rule)


def rule_problem(path: str, rule: dict, sequence_columns: Sequence[str] = SEQUENCE_COLUMN_NAMES) -> str | None:
    """Why ``rule`` cannot be read from the rows of ``path``, or ``None``: a TSV needs the rule's column or an id
    column (:func:`row_is_reverse` reads the id then), a FASTA file has names; a DREAM file has neither."""
    records = iter_records(path, sequence_columns=sequence_columns)
    try:
        fields = next(records).fields
    finally:
        records.close()
    if fields is None:
        return None if sniff_is_fasta(path) else \
            "a DREAM file (sequence<TAB>value) has no column or row ids to read the rule from"
    if str(rule["column"]).strip().lower() in fields or any(name in fields for name in ID_COLUMN_NAMES):
        return None
    return (f"the table has no column {rule['column']!r} (its columns: {', '.join(fields)}) and no id column "
            f"({', '.join(ID_COLUMN_NAMES)}) to read the rule from")


def resolve_orientation(model: ModelOrientation, orientation: str | dict | None) -> dict | None:
    """The rule to apply (``None``: every row forward). An explicit rule for a model without an ``is_reverse``
    channel is a ``ConfigError``; ``auto`` uses the export's recorded rule, and notes an ignored training one."""
    if orientation == ORIENTATION_AUTO:
        if model.ignored_rule:
            logger.info("the model was trained on a table with an orientation (%s) but has no is_reverse channel: "
                        "every row is predicted as given", model.ignored_rule)
        return model.recorded_rule if model.oriented else None
    if orientation is not None and not model.oriented:
        raise ConfigError(f"--orientation: {model.description} has no "
                          f"'{names.ORIENTED_SIGNATURE}' signature (its architecture has no is_reverse channel), so "
                          "a row's orientation cannot reach it; use --orientation none or leave it out")
    return orientation


def served_max_length(meta: dict) -> int | None:
    """The longest sequence a served model accepts: the ``onehot`` signature's length in its metadata."""
    onehot = meta["signatures"].get(names.ONEHOT_SIGNATURE, {}).get("inputs", {}).get(names.ONEHOT_INPUT)
    return onehot["shape"][1] if onehot and onehot.get("shape") else None


def _complete_rows(partial: Path, output_format: str) -> list[int]:
    """Byte offsets just past each complete output row of ``partial`` (its header excluded)."""
    ends = (np.flatnonzero(np.fromfile(partial, dtype=np.uint8) == 10) + 1).tolist()
    return ends[1:] if output_format == "tsv" and ends else ends


def _record_digest(digest: "hashlib._Hash", record: Record) -> None:
    """Feed one input row to the resume fingerprint (its id and sequence, unambiguously separated)."""
    digest.update(f"{len(record.name)}:{record.name}\t{record.sequence}\n".encode("utf-8"))


def orientation_text(rule: dict | None) -> str:
    """A resolved orientation rule as ``--orientation`` spells it: ``none``, ``COLUMN~TEXT`` or ``COLUMN=V1,V2``."""
    if not rule:
        return "none"
    if "contains" in rule:
        return f"{rule['column']}~{rule['contains']}"
    return f"{rule['column']}=" + ",".join(str(value) for value in rule.get("values", []))


def _write_fingerprint(path: Path, rows: int, digest: "hashlib._Hash", output_format: str, input_text: str,
                       orientation: dict | None = None) -> None:
    from seq2exp.utils import atomic_write

    with atomic_write(path) as handle:
        handle.write(jsonio.dumps({"rows": rows, "sha256": digest.hexdigest(), "format": output_format,
                                   "input": input_text, "orientation": orientation}))


def _resume(partial: Path, fingerprint_path: Path, output_format: str, input_text: str,
            records: Iterator[Record], orientation: dict | None = None) -> tuple[int, "hashlib._Hash"]:
    """Check that ``partial`` was written from this input; cut it to its fingerprinted rows; return (rows, digest).

    The fingerprint beside ``OUT.partial`` holds the number of input rows written, the SHA-256 of their ids and
    sequences, the output format and the resolved orientation rule; the same rows of this input must hash the same,
    and the format and rule must be the same (rows predicted under two rules are never mixed), else the resume is
    refused before anything is written.
    """
    remedy = f"delete {partial} and {fingerprint_path.name} or run without --resume"
    try:
        saved = jsonio.load_file(fingerprint_path, expect=dict)
        rows, expected, saved_format = int(saved["rows"]), str(saved["sha256"]), saved.get("format")
    except FileNotFoundError:
        raise InputFormatError(f"--resume: {fingerprint_path} is missing, so {partial} cannot be checked against "
                               f"this input ({remedy})", path=input_text) from None
    except (ValueError, KeyError, TypeError):
        raise InputFormatError(f"--resume: {fingerprint_path} is not a resume fingerprint ({remedy})",
                               path=input_text) from None
    if saved_format != output_format:
        raise ConfigError(f"--resume: {partial} was written with --format {saved_format}, not {output_format}")
    saved_rule = saved.get("orientation")  # a fingerprint without the key predates orientation: all forward
    if orientation_text(saved_rule) != orientation_text(orientation):
        raise ConfigError(f"--resume: {partial} was predicted with --orientation {orientation_text(saved_rule)}, not "
                          f"{orientation_text(orientation)} (rows under two rules are never mixed): rerun with "
                          f"--orientation {orientation_text(saved_rule)}, or {remedy}")
    ends = _complete_rows(partial, output_format)
    if len(ends) < rows:
        raise InputFormatError(f"--resume: {partial} holds {len(ends)} complete rows, its fingerprint {rows} "
                               f"({remedy})", path=input_text)
    digest = hashlib.sha256()
    for count in range(rows):
        record = next(records, None)
        if record is None:
            raise InputFormatError(f"--resume: {partial} has {rows} rows, more than this input ({count}); {remedy}",
                                   path=input_text)
        _record_digest(digest, record)
    if digest.hexdigest() != expected:
        raise InputFormatError(f"--resume: this input's first {rows} rows differ from those {partial} was written "
                               f"from ({remedy})", path=input_text)
    keep = ends[rows - 1] if rows else (_header_bytes(partial) if output_format == "tsv" else 0)
    with open(partial, "rb+") as handle:  # drop rows written after the last fingerprint (a killed run)
        handle.truncate(keep)
    return rows, digest


def _header_bytes(partial: Path) -> int:
    with open(partial, "rb") as handle:
        return len(handle.readline())


@dataclass
class PredictSummary:
    rows: int
    resumed_from: int
    seconds: float
    output: Path
    model_version: int | None = None  # the one version every row came from (also in OUTPUT.model.json)
    rows_missing_flanks: int = 0  # rows (of this call) without the trained construct's flanks; warned about
    rows_trimmed: int = 0  # rows (of this call) longer than the model's input window, cut by the encoder; warned about
    rows_reverse: int = 0  # rows (of this call) predicted in reverse orientation (the is_reverse channel set)
    orientation: dict | None = None  # the rule that told them


def predict_file(input_path: str | os.PathLike, output_path: str | os.PathLike, backend: Backend, *,
                 output_format: str = "dream", chunk_rows: int = 8192, resume: bool = False,
                 progress: bool = True, orientation: str | dict | None = ORIENTATION_AUTO,
                 checked_rows: int | None = None) -> PredictSummary:
    """Predict every row of ``input_path`` into ``output_path`` (atomically; ``resume`` continues a partial run).

    ``orientation``: see :func:`parse_orientation` (``auto``: the export's recorded rule; ``None``: all forward).
    Rows it marks reverse are predicted with the model's ``is_reverse`` channel set (``serving_oriented`` signature).
    ``checked_rows``: what :func:`check_input` returned for this input, ``backend.max_length`` and its sequence
    columns (``backend.sequence_columns``, default ``sequence``, ``seq``), when the caller
    has run it already (``seq2exp predict`` does, before it loads the model); otherwise it runs here.
    """
    import time

    from tqdm import tqdm

    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output format {output_format!r}; valid: {list(OUTPUT_FORMATS)}")
    if int(chunk_rows) < 1:
        raise ConfigError(f"--chunk-rows must be >= 1, got {chunk_rows}")
    started = time.monotonic()
    input_text, output = os.fspath(input_path), Path(output_path)
    check_output_path(output, input_text)
    partial = output.with_name(output.name + PARTIAL_SUFFIX)
    fingerprint_path = output.with_name(output.name + FINGERPRINT_SUFFIX)
    task_names = getattr(backend, "task_names", None)
    if task_names and output_format == "dream":
        raise ConfigError(f"the model predicts {len(task_names)} tasks ({', '.join(task_names)}); the dream format "
                          "has one value column: use --format tsv")
    rule = resolve_orientation(backend.orientation, orientation)
    columns = tuple(getattr(backend, "sequence_columns", None) or SEQUENCE_COLUMN_NAMES)
    total = check_input(input_text, backend.max_length, sequence_columns=columns) if checked_rows is None \
        else checked_rows  # every row, before any output is created or changed
    problem = rule_problem(input_text, rule, columns) if rule is not None else None
    if problem and orientation == ORIENTATION_AUTO:
        logger.warning("%s: the orientation rule the model's export recorded (%s) cannot be applied: %s; every row is "
                       "predicted forward (--orientation none says so explicitly)", input_text,
                       orientation_text(rule), problem)
        rule = None
    elif problem:
        raise ConfigError(f"--orientation {orientation_text(rule)}: {problem} ({input_text})")
    reverse_rows = 0
    records = iter_records(input_text, sequence_columns=columns)
    if resume and partial.exists():
        skip, digest = _resume(partial, fingerprint_path, output_format, input_text, records, rule)
        mode = "a"
    else:
        skip, digest, mode = 0, hashlib.sha256(), "w"
    rows = skip
    construct = None if getattr(backend, "strips_flanks", False) else getattr(backend, "construct", None)
    flanks = missing_flanks(construct)
    window = getattr(backend, "input_window", None)  # an export's InputWindow; None: not known (a server)
    trimmed = longer_than_input(window.length, window.construct) if window else RowCount(None)
    chunk: list[Record] = []
    try:
        with open(partial, mode, encoding="utf-8") as handle, \
                tqdm(desc="predict", unit=" seq", disable=not progress, initial=skip, total=total,
                     dynamic_ncols=True) as bar:
            if mode == "w":
                if output_format == "tsv":
                    handle.write(tsv_header(task_names))
                handle.flush()
                _write_fingerprint(fingerprint_path, 0, digest, output_format, input_text, rule)
            for chunk in _chunks(records, chunk_rows):
                flanks.add(chunk)
                trimmed.add(chunk)
                if rule is None:
                    values = backend.predict([record.sequence for record in chunk])
                else:
                    flags = np.array([row_is_reverse(record, rule) for record in chunk], dtype=bool)
                    reverse_rows += int(flags.sum())
                    values = backend.predict([record.sequence for record in chunk], is_reverse=flags)
                handle.write("".join(format_row(r.name, r.sequence, v, output_format)
                                     for r, v in zip(chunk, values)))
                handle.flush()  # a killed run keeps whole chunks for --resume
                for record in chunk:
                    _record_digest(digest, record)
                rows += len(chunk)
                _write_fingerprint(fingerprint_path, rows, digest, output_format, input_text, rule)
                bar.update(len(chunk))
            os.fsync(handle.fileno())
    except Seq2ExpError as error:  # the same error, with what to do about the partial output
        if rows == 0:  # nothing predicted: leave nothing behind
            partial.unlink(missing_ok=True)
            fingerprint_path.unlink(missing_ok=True)
            raise
        where = f"while predicting input lines {chunk[0].line}-{chunk[-1].line}; " if chunk else ""
        error.args = (f"{error} [{where}{partial} keeps the {rows} rows predicted so far: rerun with --resume to "
                      "continue (the rows done are checked against the input), or delete it]",)
        raise
    os.replace(partial, output)
    fingerprint_path.unlink(missing_ok=True)
    done = rows - skip
    for message in (flanks_warning(flanks, construct, done, input_text),
                    trimmed_warning(trimmed, window.length, window.trim, done, input_text) if window else None):
        if message:
            logger.warning(message)
    version = getattr(backend, "version", None)
    from seq2exp.utils import atomic_write

    with atomic_write(output.with_name(output.name + MODEL_RECORD_SUFFIX)) as record:
        record.write(jsonio.dumps({"model": getattr(backend, "model", None), "version": version,
                                   "source": getattr(backend, "description", None), "rows": rows}) + "\n")
    return PredictSummary(rows=rows, resumed_from=skip, seconds=time.monotonic() - started, output=output,
                          model_version=version, rows_missing_flanks=flanks.count, rows_trimmed=trimmed.count,
                          rows_reverse=reverse_rows,
                          orientation=rule)


def check_output_path(output: Path, input_path: str | os.PathLike | None = None) -> None:
    """Refuse an output path that cannot be written: a folder, inside a missing folder or a file, or (with
    ``input_path``) the input itself or one of the files written beside the output, which the run would overwrite."""
    if output.is_dir():
        raise ConfigError(f"-o {output}: is a folder; give the predictions file's path")
    parent = output.parent
    if not parent.is_dir():
        what = "is a file" if parent.exists() else "does not exist (create it first)"
        raise ConfigError(f"-o {output}: the folder {parent} {what}")
    if input_path is not None and os.path.exists(input_path):
        for suffix in ("", PARTIAL_SUFFIX, FINGERPRINT_SUFFIX, MODEL_RECORD_SUFFIX):
            written = output.with_name(output.name + suffix)
            if written.exists() and os.path.samefile(written, input_path):
                raise ConfigError(f"-o {output}: the run would overwrite its input {os.fspath(input_path)} "
                                  f"({written.name}); give another output path")


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
