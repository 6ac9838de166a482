"""The Beam batch-inference pipeline: files -> validated chunks -> RunInference -> sharded outputs + manifest.

One pipeline for every scale: the DirectRunner on one machine (``direct_num_workers`` processes), Flink, Spark or
Dataflow through ``--beam-option`` flags. Its steps::

    input files --read (seq2exp predict's reader, one file per element)--> chunks of ``batch_size`` consecutive rows
      --Reshuffle--> validate each row (bad -> the chunk's dead letters) --RunInference--> predictions
      --group by shard (file, chunk // chunks_per_shard)--> predictions-FFFFF-SSSSS.{txt,tsv} (+ rejected-*.tsv)
      --all shard stats--> manifest.json (written last: its presence means the run is complete)

The model runs either in the workers (:class:`SessionModelHandler`: the exported SavedModel loaded the way
TensorFlow Serving loads it, ``tf.compat.v1.saved_model.loader.load`` + ``Session.run`` by SignatureDef tensor
names) or behind a TF Serving endpoint (:class:`ServerModelHandler`: the TensorFlow-free
:class:`~seq2exp.serving.client.Client`, one pinned model version for the whole run).

Output rows are exactly ``seq2exp predict``'s (``dream``: ``sequence<TAB>prediction``; ``tsv``: ``id``,
``sequence``, ``expression`` with a header, or ``id``, ``sequence``, ``<task 1>``, ``<task 2>``, ... for a model with
several tasks: the columns and order of ``seq2exp predict --format tsv``, from the same backends; rows measured in
reverse orientation set the model's ``is_reverse`` channel under the same rule as ``seq2exp predict --orientation``).
Shard ``FFFFF-SSSSS`` holds rows of input file ``FFFFF`` (its index in the manifest's ``inputs``) in input order,
so the shards in name order are the inputs in order, and every row can be joined back to its file and line through
the manifest. A bad row (bad letter, empty, too long, a malformed
line, a failed model call) never stops the job and is never dropped silently: it lands in ``rejected-FFFFF-SSSSS.tsv``
(``file``, ``line``, ``id``, ``reason``, ``sequence``), and the manifest's counts add up:
``rows_in == rows_out + rows_rejected``.

Inputs are read with :func:`seq2exp.serving.predict.iter_records` from paths every worker can open (a shared
folder, or files baked into the worker image); outputs go through Beam's ``FileSystems`` (local, ``gs://``, ...).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from seq2exp.batch import import_beam

beam = import_beam()  # as ``import apache_beam as beam``, without its "apitools not found" warning
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RemoteModelHandler, RunInference  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from seq2exp.errors import ConfigError, InputFormatError, Seq2ExpError  # noqa: E402
from seq2exp.jsonio import dumps, loads  # noqa: E402
from seq2exp.serving import signatures as names  # noqa: E402
from seq2exp.serving.predict import SavedModelBackend, ServerBackend, format_row, tsv_header  # noqa: E402

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = {"dream": ".txt", "tsv": ".tsv"}  # format -> shard file extension
MANIFEST_FILE = "manifest.json"
PREDICTIONS_PREFIX = "predictions"
REJECTED_PREFIX = "rejected"
REJECTED_HEADER = "file\tline\tid\treason\tsequence\n"


# ----------------------------------------------------------------------------------------------------------------
# Elements
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Rejected:
    """A dead letter: an input row (or a line the reader stopped at) that produced no prediction, and why."""

    file_index: int
    line: int
    name: str
    reason: str
    sequence: str = ""


@dataclass
class Chunk:
    """Up to ``batch_size`` consecutive rows of one input file (number ``index`` in that file), plus its dead
    letters. ``rows_in`` counts every row read into the chunk, good or bad."""

    file_index: int
    index: int
    names: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    rows_in: int = 0
    first_line: int = 0
    last_line: int = 0
    reverse: list[bool] | None = None  # per row, measured in reverse orientation (when an orientation rule applies)


@dataclass
class ChunkResult:
    """A chunk after inference: its output text (rows in input order) and dead letters."""

    file_index: int
    index: int
    text: str
    rows_out: int
    rows_in: int
    first_line: int
    last_line: int
    rejected: list[Rejected]


# ----------------------------------------------------------------------------------------------------------------
# Reading and validation
# ----------------------------------------------------------------------------------------------------------------
def _is_remote(path: str) -> bool:
    return FileSystems.get_scheme(path) not in (None, "file")


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Input paths: each argument a file or a glob (sorted matches), local or on a Beam filesystem (``gs://``);
    duplicates kept once, in first-seen order."""
    paths: list[str] = []
    for pattern in patterns:
        if _is_remote(pattern):
            matches = sorted(m.path for result in FileSystems.match([pattern]) for m in result.metadata_list)
            if not matches:
                raise InputFormatError(f"no file matches {pattern!r}", path=pattern)
        elif glob.has_magic(pattern):
            matches = sorted(os.path.abspath(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputFormatError(f"no file matches {pattern!r}", path=pattern)
        elif os.path.isfile(pattern):
            matches = [os.path.abspath(pattern)]
        elif os.path.isdir(pattern):
            raise InputFormatError("is a folder, expected a file or a glob such as 'folder/*.fasta'", path=pattern)
        else:
            raise InputFormatError("file not found", path=pattern)
        paths.extend(p for p in matches if p not in paths)
    if not paths:
        raise InputFormatError("no input files")
    return paths


@contextlib.contextmanager
def _local_copy(path: str) -> Iterator[str]:
    """``path`` itself when local; else a temporary local copy (same suffix, so ``.gz`` is still gunzipped)."""
    if not _is_remote(path):
        yield path
        return
    suffix = ".gz" if path.endswith(".gz") else ""
    with tempfile.TemporaryDirectory(prefix="seq2exp-batch-") as folder:
        local = os.path.join(folder, "input" + suffix)
        with FileSystems.open(path, compression_type="uncompressed") as source, open(local, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        yield local


def _records(path: str, errors: list) -> Iterator[Any]:
    """The rows of ``path`` through the one reader (:func:`seq2exp.data.formats.iter_sequence_records`, what
    ``seq2exp predict`` reads with); bad rows go to ``errors`` and reading goes on."""
    from seq2exp.data.formats import iter_sequence_records

    with _local_copy(path) as local:
        yield from iter_sequence_records(local, errors=errors)


class ReadChunks(beam.DoFn):
    """``(file_index, path)`` -> the file's rows in chunks (``seq2exp predict``'s reader, so every format it reads:
    FASTA, DREAM, TSV with a header, gzip). A row the reader refuses (a bad DREAM row, a malformed TSV line) becomes
    a dead letter and reading goes on; an error of the whole file (unreadable, not gzip, binary) is one dead letter."""

    def __init__(self, chunk_rows: int, orientation: dict | None = None):
        self.chunk_rows = chunk_rows
        self.orientation = orientation  # seq2exp predict's rule (row_is_reverse): each row's is_reverse flag

    def _new_chunk(self, file_index: int, index: int) -> Chunk:
        return Chunk(file_index, index, reverse=None if self.orientation is None else [])

    def process(self, element: tuple[int, str]) -> Iterator[Chunk]:
        from seq2exp.serving.predict import row_is_reverse

        file_index, path = element
        chunk = self._new_chunk(file_index, 0)
        errors: list = []
        try:
            for record in _records(path, errors):
                if errors:
                    self._reject(chunk, errors, path)
                if not chunk.rows_in:
                    chunk.first_line = record.line
                chunk.names.append(record.name)
                chunk.sequences.append(record.sequence)
                chunk.lines.append(record.line)
                if chunk.reverse is not None:
                    chunk.reverse.append(row_is_reverse(record, self.orientation))
                chunk.rows_in += 1
                chunk.last_line = max(chunk.last_line, record.line)
                if chunk.rows_in >= self.chunk_rows:
                    yield chunk
                    chunk = self._new_chunk(file_index, chunk.index + 1)
            self._reject(chunk, errors, path)
        except (Seq2ExpError, OSError, EOFError, UnicodeError, ValueError) as error:  # gzip/zlib errors are OSError
            self._reject(chunk, errors, path)
            line = int(getattr(error, "line", None) or chunk.last_line or 0)
            reason = f"{_reason(error)}; the rest of this file was not read"
            logger.warning("%s line %d: %s", path, line, reason)
            self._reject(chunk, [Rejected(file_index, line, "", reason)], path)
        if chunk.rows_in or chunk.index == 0:
            yield chunk  # an empty file still yields one (empty) chunk, so it has a line in the manifest

    @staticmethod
    def _reject(chunk: Chunk, errors: list, path: str) -> None:
        """Move the reader's errors (or ready dead letters) into ``chunk``."""
        for error in errors:
            if not isinstance(error, Rejected):
                error = Rejected(chunk.file_index, int(getattr(error, "line", 0) or 0),
                                 getattr(error, "record_id", ""), _reason(error), getattr(error, "sequence", ""))
            chunk.rejected.append(error)
            chunk.rows_in += 1
            chunk.first_line = min(chunk.first_line, error.line) if chunk.first_line else error.line
            chunk.last_line = max(chunk.last_line, error.line)
        errors.clear()


def _reason(error: BaseException) -> str:
    """One line: the error's message without the file and line (the dead letter's own columns)."""
    message = str(error) or type(error).__name__
    path = getattr(error, "path", None)
    if path and message.startswith(str(path)):
        message = re.sub(r"^, line \d+", "", message[len(str(path)):]).lstrip(",: ")
    return " ".join(message.split())


def validate_chunk(chunk: Chunk, max_length: int | None) -> Chunk:
    """Move the chunk's bad rows (empty, too long, a letter outside ACGTN) to its dead letters, with the reason."""
    from seq2exp.data.alphabet import SequenceError, describe_bad_sequence, sequences_to_codes

    try:
        sequences_to_codes(chunk.sequences, max_length)  # vectorised: the common all-good chunk costs one call
        return chunk
    except (SequenceError, UnicodeError, ValueError):
        pass
    keep = []
    for i, sequence in enumerate(chunk.sequences):
        problem = describe_bad_sequence(sequence, max_length)
        if problem is None:
            keep.append(i)
        else:
            chunk.rejected.append(Rejected(chunk.file_index, chunk.lines[i], chunk.names[i], problem, sequence))
    chunk.names = [chunk.names[i] for i in keep]
    chunk.sequences = [chunk.sequences[i] for i in keep]
    chunk.lines = [chunk.lines[i] for i in keep]
    if chunk.reverse is not None:
        chunk.reverse = [chunk.reverse[i] for i in keep]
    return chunk


# ----------------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------------
class SessionModelHandler(ModelHandler):
    """RunInference handler for an exported SavedModel loaded in each worker (one model per worker process).

    Each RunInference element is a :class:`Chunk` (already a model batch), so Beam's batching is one element."""

    def __init__(self, path: str, model_id: str, intra_op_threads: int = 0):
        super().__init__(min_batch_size=1, max_batch_size=1)
        self.path, self.model_id, self.intra_op_threads = path, model_id, intra_op_threads

    def load_model(self) -> SavedModelBackend:
        # seq2exp predict's backend: TF Serving's session path, its task columns (one chunk = one model call)
        return SavedModelBackend(self.path, batch_size=1 << 30, intra_op_threads=self.intra_op_threads, warn=False)

    def run_inference(self, batch: Sequence[Chunk], model: SavedModelBackend,
                      inference_args: dict | None = None) -> Iterable[PredictionResult]:
        return [PredictionResult(chunk, model.predict(chunk.sequences, **_orientation(chunk)), self.model_id)
                for chunk in batch]

    def get_num_bytes(self, batch: Sequence[Chunk]) -> int:
        return sum(len(s) for chunk in batch for s in chunk.sequences)

    def get_metrics_namespace(self) -> str:
        return "seq2exp_batch"


def _orientation(chunk: Chunk) -> dict:
    """The backends' ``is_reverse`` argument for a chunk (none without an orientation rule)."""
    return {} if chunk.reverse is None else {"is_reverse": np.array(chunk.reverse, dtype=bool)}


def _retryable(error: Exception) -> bool:
    from seq2exp.serving.client import DeadlineExceededError, ServerUnavailableError

    return isinstance(error, (ServerUnavailableError, DeadlineExceededError))


DEFAULT_MAX_OUTAGE_S = 120.0  # seq2exp batch --max-outage
OUTAGE_PROBE_S = 30.0  # while the server counts as gone, one chunk in this many seconds still tries it


class ServerModelHandler(RemoteModelHandler):
    """RunInference handler that calls a TF Serving (or ``seq2exp serve``) endpoint with the TF-free client, pinned
    to one model version; UNAVAILABLE / DEADLINE_EXCEEDED are retried (Beam's back-off and client-side throttling).

    A server unreachable for longer than ``max_outage_s`` (each worker's own view: every call failing since) counts as
    gone: chunks then fail at once, without a call or retries, and become dead letters (one chunk every
    :data:`OUTAGE_PROBE_S` still tries it, and a success ends the outage). Without this a dead server held each chunk
    for its retries' back-off (about 30 s), which for a large input meant hours before the run ended."""

    def __init__(self, target: str, model: str, version: int, *, batch_size: int = 1024, concurrency: int = 4,
                 timeout: float = 120.0, num_retries: int = 3, max_outage_s: float = DEFAULT_MAX_OUTAGE_S):
        super().__init__(namespace="seq2exp_batch", num_retries=num_retries, throttle_delay_secs=1,
                         retry_filter=self._retry)
        self.target, self.model, self.version = target, model, version
        self.batch_size, self.concurrency, self.timeout = batch_size, concurrency, timeout
        self.model_id = f"{model}:{version}@{target}"
        self.max_outage_s = float(max_outage_s)
        self._outage_since: float | None = None  # the first failed call since the last success (this worker)
        self._last_call = 0.0

    def _gone(self, now: float) -> bool:
        return self._outage_since is not None and now - self._outage_since > self.max_outage_s

    def _retry(self, error: Exception) -> bool:
        return _retryable(error) and not self._gone(time.monotonic())

    def create_client(self) -> ServerBackend:
        # seq2exp predict --server's backend, on the pinned version: the same client calls and task columns
        return ServerBackend(self.target, self.model, version=self.version, batch_size=self.batch_size,
                             max_concurrency=self.concurrency, timeout=self.timeout)

    def request(self, batch: Sequence[Chunk], model: ServerBackend,
                inference_args: dict | None = None) -> list[PredictionResult]:
        from seq2exp.serving.client import ServerUnavailableError

        now = time.monotonic()
        if self._gone(now) and now - self._last_call < OUTAGE_PROBE_S:
            raise ServerUnavailableError(f"{self.model_id} has been unreachable for {now - self._outage_since:.0f} s "
                                         f"(--max-outage {self.max_outage_s:g} s): not called")
        self._last_call = now
        empty = np.zeros([0, len(model.tasks)] if model.tasks else [0], np.float32)
        try:
            results = [PredictionResult(chunk, model.predict(chunk.sequences, **_orientation(chunk)) if chunk.sequences
                                        else empty, self.model_id) for chunk in batch]
        except Exception as error:
            if _retryable(error) and self._outage_since is None:
                self._outage_since = now
            raise
        self._outage_since = None
        return results

    def batch_elements_kwargs(self) -> dict:
        return {"min_batch_size": 1, "max_batch_size": 1}

    def get_metrics_namespace(self) -> str:
        return "seq2exp_batch"


@dataclass
class ModelSource:
    """Where the predictions come from, resolved once at launch: a handler for the workers, the longest sequence
    the model accepts, and the manifest's description (name, version, checksum or endpoint)."""

    handler: ModelHandler
    max_length: int | None
    info: dict


def saved_model_source(path: str | os.PathLike, *, intra_op_threads: int = 0,
                       orientation: str | dict | None = "auto") -> ModelSource:
    """A version folder ``M/NAME/V`` (or ``M/NAME``: its latest version) run inside the workers. ``orientation``:
    as ``seq2exp predict --orientation`` (``auto``: the rule the export recorded)."""
    from seq2exp.serving.predict import ModelOrientation, resolve_orientation, resolve_saved_model_dir

    version_dir = resolve_saved_model_dir(path).resolve()
    meta_path = version_dir / names.METADATA_FILE
    from seq2exp import jsonio

    meta = jsonio.load_file(meta_path, expect=dict) if meta_path.exists() else {}
    name = meta.get("name") or version_dir.parent.name
    version = int(meta.get("version") or (version_dir.name if version_dir.name.isdigit() else 0))
    if meta.get("batch_postprocess_not_in_graph"):
        logger.warning("this model's batch post-processing %s is not applied by batch inference",
                       meta["batch_postprocess_not_in_graph"])
    info = {"source": "saved_model", "name": name, "version": version, "path": str(version_dir),
            "sha256": saved_model_checksum(version_dir),
            # the task columns in seq2exp predict's order (its backends' task_names: the signature's task outputs)
            "tasks": list(names.task_outputs(meta.get("outputs") or [])) or None}
    model_orientation = ModelOrientation.from_metadata(meta, bool(meta.get("orientation")),
                                                       f"SavedModel {version_dir}")
    info["orientation"] = resolve_orientation(model_orientation, orientation)  # before anything is read or created
    handler = SessionModelHandler(str(version_dir), f"{name}:{version}", intra_op_threads)
    return ModelSource(handler, meta.get("max_sequence_length"), info)


def server_source(target: str, model: str, *, version: int | None = None, label: str | None = None,
                  batch_size: int = 1024, concurrency: int = 4, timeout: float = 120.0,
                  orientation: str | dict | None = "auto", max_outage_s: float = DEFAULT_MAX_OUTAGE_S) -> ModelSource:
    """A model behind a TF Serving endpoint; the version (given, or the label's / the latest) is pinned at launch,
    as ``seq2exp predict --server`` pins it (its :class:`~seq2exp.serving.predict.ServerBackend`). ``orientation``:
    as ``seq2exp predict --orientation`` (a server records no rule: give one); ``max_outage_s``: see
    :class:`ServerModelHandler`."""
    from seq2exp.serving.predict import resolve_orientation

    backend = ServerBackend(target, model, version=version, label=label, timeout=timeout)
    backend.close()
    rule = resolve_orientation(backend.orientation, orientation)
    pinned, max_length = backend.version, backend.max_length
    info = {"source": "server", "name": model, "version": pinned, "target": target, "label": label,
            "sha256": None, "tasks": backend.task_names,  # a server does not publish its files' checksum
            "orientation": rule}
    handler = ServerModelHandler(target, model, pinned, batch_size=batch_size, concurrency=concurrency,
                                 timeout=timeout, max_outage_s=max_outage_s)
    return ModelSource(handler, max_length, info)


def saved_model_checksum(version_dir: str | os.PathLike) -> str:
    """SHA-256 over a version folder: every file's relative path and SHA-256, in sorted order."""
    from seq2exp.utils import sha256_file

    root = os.fspath(version_dir)
    files = sorted(os.path.relpath(os.path.join(folder, name), root)
                   for folder, _, names_ in os.walk(root) for name in names_)
    digest = hashlib.sha256()
    for relative in files:
        digest.update(f"{relative}\0{sha256_file(os.path.join(root, relative))}\n".encode())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------
def format_rows(chunk: Chunk, values: np.ndarray, output_format: str) -> str:
    """The chunk's output rows, exactly as ``seq2exp predict`` writes them (its :func:`format_row`; one value per
    task for a model with several)."""
    return "".join(format_row(n, s, v, output_format) for n, s, v in zip(chunk.names, chunk.sequences, values))


def to_result(prediction: PredictionResult, output_format: str, n_tasks: int = 1) -> ChunkResult:
    chunk: Chunk = prediction.example
    values = np.asarray(prediction.inference)
    if len(values) != len(chunk.sequences):
        raise Seq2ExpError(f"the model returned {len(values)} values for {len(chunk.sequences)} rows")
    columns = values.shape[1] if values.ndim == 2 else 1
    if columns != n_tasks:
        raise Seq2ExpError(f"the model returned {columns} task column(s), the run was launched for {n_tasks}")
    return ChunkResult(chunk.file_index, chunk.index, format_rows(chunk, values, output_format), len(values),
                       chunk.rows_in, chunk.first_line, chunk.last_line, chunk.rejected)


def failed_to_results(failure: tuple[Any, Exception]) -> Iterator[ChunkResult]:
    """A batch whose model call failed (after retries): every row of it becomes a dead letter with the error."""
    batch, error = failure
    reason = f"inference failed: {_reason(error)}"
    for chunk in batch:
        chunk = getattr(chunk, "example", chunk)
        rejected = chunk.rejected + [Rejected(chunk.file_index, line, name, reason, sequence)
                                     for name, sequence, line in zip(chunk.names, chunk.sequences, chunk.lines)]
        yield ChunkResult(chunk.file_index, chunk.index, "", 0, chunk.rows_in, chunk.first_line, chunk.last_line,
                          rejected)


def shard_key(result: ChunkResult, chunks_per_shard: int) -> tuple[tuple[int, int], ChunkResult]:
    """``((file_index, shard), result)``: consecutive chunks of one file share a shard."""
    return (result.file_index, result.index // chunks_per_shard), result


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with FileSystems.create(tmp) as handle:
        handle.write(text.encode("utf-8"))
    FileSystems.rename([tmp], [path])


class WriteShard(beam.DoFn):
    """``((file_index, shard), [ChunkResult])`` -> one predictions file (+ a rejected file when there are dead
    letters), each written to a temporary name and renamed; yields the shard's manifest entry."""

    def __init__(self, output_dir: str, output_format: str, input_paths: Sequence[str],
                 task_names: Sequence[str] | None = None):
        self.output_dir, self.output_format, self.input_paths = output_dir, output_format, list(input_paths)
        self.task_names = list(task_names or []) or None

    def process(self, element: tuple[tuple[int, int], Iterable[ChunkResult]]) -> Iterator[dict]:
        (file_index, shard), results = element
        results = sorted(results, key=lambda r: r.index)
        stem = f"{file_index:05d}-{shard:05d}"
        name = f"{PREDICTIONS_PREFIX}-{stem}{OUTPUT_FORMATS[self.output_format]}"
        header = tsv_header(self.task_names) if self.output_format == "tsv" else ""
        _write_atomically(FileSystems.join(self.output_dir, name), header + "".join(r.text for r in results))
        rejected = sorted((x for r in results for x in r.rejected), key=lambda x: x.line)
        rejected_name = None
        if rejected:
            rejected_name = f"{REJECTED_PREFIX}-{stem}.tsv"
            path = self.input_paths[file_index]
            text = "".join(f"{path}\t{x.line}\t{_clean(x.name)}\t{_clean(x.reason)}\t{_clean(x.sequence)}\n"
                           for x in rejected)
            _write_atomically(FileSystems.join(self.output_dir, rejected_name), REJECTED_HEADER + text)
        lines = [r.first_line for r in results if r.rows_in] + [r.last_line for r in results if r.rows_in]
        yield {"file": name, "rejected_file": rejected_name, "input": file_index, "shard": shard,
               "chunks": len(results), "rows_in": sum(r.rows_in for r in results),
               "rows_out": sum(r.rows_out for r in results), "rows_rejected": len(rejected),
               "first_line": min(lines, default=0), "last_line": max(lines, default=0)}


def _clean(text: str) -> str:
    return str(text).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def build_manifest(shards: list[dict], static: dict) -> dict:
    """The run's manifest from every shard's entry: totals, per-input counts, the shards in order."""
    shards = sorted(shards, key=lambda s: (s["input"], s["shard"]))
    inputs = []
    for index, path in enumerate(static["inputs"]):
        mine = [s for s in shards if s["input"] == index]
        inputs.append({"index": index, "path": path, "shards": len(mine),
                       **{key: sum(s[key] for s in mine) for key in ("rows_in", "rows_out", "rows_rejected")}})
    totals = {key: sum(s[key] for s in shards) for key in ("rows_in", "rows_out", "rows_rejected")}
    return {"complete": True, **totals, "model": static["model"], "format": static["format"],
            "batch_size": static["batch_size"], "shard_rows": static["shard_rows"], "inputs": inputs,
            "shards": shards, "runner": static["runner"], "created_at": static["created_at"],
            "seq2exp_version": static["seq2exp_version"], "apache_beam_version": beam.__version__}


def write_manifest(shards: list[dict], output_dir: str, static: dict) -> dict:
    manifest = build_manifest(shards, static)
    _write_atomically(FileSystems.join(output_dir, MANIFEST_FILE), dumps(manifest, indent=2) + "\n")
    return manifest


# ----------------------------------------------------------------------------------------------------------------
# The pipeline
# ----------------------------------------------------------------------------------------------------------------
def pipeline_options(beam_options: Sequence[str] = ()) -> PipelineOptions:
    """``K=V`` strings (``--beam-option``) -> ``PipelineOptions``; DirectRunner unless ``runner=`` says otherwise.

    An option Beam does not know is a ``ConfigError`` (Beam itself would only log and ignore it)."""
    flags = []
    for option in beam_options:
        key, sep, value = option.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ConfigError(f"--beam-option {option!r}: expected KEY=VALUE, e.g. runner=FlinkRunner")
        flags.append(f"--{key}={value}")
    if not any(f.startswith("--default_sdk_harness_log_level=") for f in flags):
        flags.append("--default_sdk_harness_log_level=WARNING")  # workers relay their INFO lines otherwise
    runner = next((f.partition("=")[2] for f in flags if f.startswith("--runner=")), "")
    if runner.rpartition(".")[2] == "DaskRunner":
        raise ConfigError("runner=DaskRunner: Beam's Dask runner (apache-beam 2.77) sends a multi-output step's "
                          "main output to its tagged outputs, so the pipeline's predictions (RunInference with "
                          "exception handling) would be lost without an error; use the DirectRunner, "
                          "PortableRunner, FlinkRunner, SparkRunner or DataflowRunner")
    options = PipelineOptions(flags)
    # Beam keeps a flag it cannot parse under its own name only when asked to retain unknown options
    unknown = set(options.get_all_options(retain_unknown_options=True)) - \
        set(options.get_all_options(retain_unknown_options=False))
    for flag in flags:
        key = flag[2:].partition("=")[0]
        if key in unknown:
            raise ConfigError(f"--beam-option {key}: not a Beam pipeline option (see `python -m apache_beam."
                              "examples.wordcount --help` for the runners' options)")
    return options


@dataclass
class BatchSummary:
    output_dir: str
    manifest: dict
    seconds: float


def run_batch(inputs: Sequence[str], output_dir: str, source: ModelSource, *, output_format: str = "dream",
              batch_size: int = 1024, shard_rows: int = 1_000_000,
              beam_options: Sequence[str] = ()) -> BatchSummary:
    """Build and run the pipeline; returns when it has finished (``manifest.json`` written last)."""
    import time

    from seq2exp import __version__

    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output format {output_format!r}; valid: {sorted(OUTPUT_FORMATS)}")
    tasks = list(source.info.get("tasks") or []) if len(source.info.get("tasks") or []) > 1 else []
    if tasks and output_format == "dream":  # before anything is read or created, as seq2exp predict refuses it
        raise ConfigError(f"model {source.info['name']} predicts {len(tasks)} tasks ({', '.join(tasks)}); the dream "
                          "format has one value column: use --format tsv (id, sequence, one column per task)")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    if shard_rows < batch_size:
        raise ConfigError(f"--shard-rows must be >= --batch-size ({batch_size}), got {shard_rows}")
    paths = expand_inputs(inputs)
    _warn_unanswerable_rule(paths, source.info.get("orientation"))
    _check_output_dir(output_dir)
    options = _checked_pipeline_options(beam_options)
    runner = options.get_all_options().get("runner") or "DirectRunner"
    _check_runner(runner)
    chunks_per_shard = shard_rows // batch_size
    static = {"inputs": paths, "model": source.info, "format": output_format, "batch_size": batch_size,
              "shard_rows": chunks_per_shard * batch_size, "runner": runner,
              "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "seq2exp_version": __version__}
    if not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)
    logger.info("batch inference over %d file(s) with %s on %s", len(paths), source.info["name"], runner)
    started = time.monotonic()
    with beam.Pipeline(options=options) as pipeline:
        chunks = (pipeline
                  | "Inputs" >> beam.Create(list(enumerate(paths)))
                  | "Read" >> beam.ParDo(ReadChunks(batch_size, source.info.get("orientation")))
                  | "Spread" >> beam.Reshuffle()
                  | "Validate" >> beam.Map(validate_chunk, source.max_length))
        main, dead = chunks | "Predict" >> RunInference(source.handler).with_exception_handling()
        results = (main | "Format" >> beam.Map(to_result, output_format, max(len(tasks), 1)),
                   dead.failed_inferences | "FailedRows" >> beam.FlatMap(failed_to_results)) | beam.Flatten()
        shards = (results
                  | "ByShard" >> beam.Map(shard_key, chunks_per_shard)
                  | "Group" >> beam.GroupByKey()
                  | "Write" >> beam.ParDo(WriteShard(output_dir, output_format, paths, tasks)))
        _ = (shards
             | "AllShards" >> beam.combiners.ToList()
             | "Manifest" >> beam.Map(write_manifest, output_dir, static))
    seconds = time.monotonic() - started
    with FileSystems.open(FileSystems.join(output_dir, MANIFEST_FILE)) as handle:
        manifest = loads(handle.read(), FileSystems.join(output_dir, MANIFEST_FILE), expect=dict)
    return BatchSummary(output_dir, manifest, seconds)


def _warn_unanswerable_rule(paths: Sequence[str], rule: dict | None) -> None:
    """A warning for each local input whose rows cannot answer the orientation rule (``seq2exp predict``'s
    :func:`~seq2exp.serving.predict.rule_problem`): their rows are predicted forward."""
    from seq2exp.serving.predict import orientation_text, rule_problem

    for path in paths if rule else ():
        problem = rule_problem(path, rule) if os.path.isfile(path) else None
        if problem:
            logger.warning("%s: the orientation rule %s cannot be applied: %s; its rows are predicted forward", path,
                           orientation_text(rule), problem)


def _checked_pipeline_options(beam_options: Sequence[str]) -> PipelineOptions:
    """:func:`pipeline_options`, with a value Beam refuses (``direct_num_workers=many``) as a one-line
    ``ConfigError``: Beam parses the values with argparse, which would print its usage text and exit."""
    import contextlib
    import io

    try:
        with contextlib.redirect_stderr(io.StringIO()) as beam_says:
            return pipeline_options(beam_options)
    except SystemExit:
        lines = [line for line in beam_says.getvalue().splitlines() if "error:" in line]
        detail = lines[-1].split("error:", 1)[1].strip() if lines else "refused by Beam"
        raise ConfigError(f"--beam-option: {detail}") from None


def _check_runner(runner: str) -> None:
    """An unknown ``runner=`` is a ``ConfigError`` before anything is created (Beam would raise at launch)."""
    from apache_beam.runners.runner import create_runner

    try:
        create_runner(runner)
    except (ValueError, ImportError) as error:
        raise ConfigError(f"--beam-option runner={runner}: {' '.join(str(error).split())[:300]}") from None


def _check_output_dir(output_dir: str) -> None:
    """Refuse an output folder that already holds a run (a manifest or shards): outputs are never mixed; a local
    -o that is a file or lies under a file is refused before the pipeline runs."""
    if "://" not in output_dir:
        from seq2exp.utils import check_output_folder

        check_output_folder(output_dir)
    if not FileSystems.exists(output_dir):
        return
    pattern = FileSystems.join(output_dir, "*")
    taken = [m.path for result in FileSystems.match([pattern]) for m in result.metadata_list
             if os.path.basename(m.path) == MANIFEST_FILE
             or os.path.basename(m.path).startswith((PREDICTIONS_PREFIX + "-", REJECTED_PREFIX + "-"))]
    if taken:
        raise ConfigError(f"output folder {output_dir} already holds a batch run ({os.path.basename(taken[0])}); "
                          "choose a new folder or remove it")
