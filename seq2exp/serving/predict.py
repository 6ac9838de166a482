"""Batch inference over FASTA / TSV / DREAM files (``seq2exp predict``), through a server or a SavedModel.

Input is streamed in chunks, so memory stays constant however many rows there are. Output rows are in input order:

* ``dream`` (default): ``sequence<TAB>prediction``, the challenge's submission format that ``seq2exp score`` reads;
* ``tsv``: a header ``id<TAB>sequence<TAB>expression`` and one row per input (FASTA names, a TSV's ``id``/``name``
  column, or the 0-based row number).

The output is written to ``OUT.partial`` and renamed to ``OUT`` when complete; ``resume=True`` continues from the
rows already in ``OUT.partial`` (after checking that they match the input).

Served predictions are the graph's values: batch post-processing steps (rank / quantile transforms, which need every
prediction of the set) are not applied here.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from seq2exp.errors import ConfigError, InputFormatError
from seq2exp.serving import signatures as names

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("dream", "tsv")
PARTIAL_SUFFIX = ".partial"


@dataclass
class Record:
    """One input row: ``name``, ``sequence`` and the 1-based ``line`` it starts on."""

    name: str
    sequence: str
    line: int


def iter_records(path: str | os.PathLike) -> Iterator[Record]:
    """Stream the rows of a FASTA, DREAM (``sequence[<TAB>value]``, no header) or TSV-with-header file.

    A TSV header is a first line with a ``sequence`` column (and optionally ``id`` or ``name``).
    """
    from seq2exp.data.formats import iter_fasta, open_text_bytes, sniff_is_fasta

    path_text = os.fspath(path)
    if sniff_is_fasta(path):
        for name, sequence, header_line in iter_fasta(path_text):
            yield Record(name, sequence, header_line)
        return
    with open_text_bytes(path) as handle:
        sequence_column, name_column, row = 0, None, 0
        for line_number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if line_number == 1:
                lowered = [f.strip().lower() for f in fields]
                if "sequence" in lowered:
                    sequence_column = lowered.index("sequence")
                    name_column = next((lowered.index(c) for c in ("id", "name") if c in lowered), None)
                    continue
            if sequence_column >= len(fields):
                raise InputFormatError(f"expected a sequence in column {sequence_column + 1}, the row has "
                                       f"{len(fields)} field(s)", path=path_text, line=line_number, field="sequence")
            name = fields[name_column] if name_column is not None and name_column < len(fields) else str(row)
            yield Record(name, fields[sequence_column].strip(), line_number)
            row += 1


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


MODEL_RECORD_SUFFIX = ".model.json"  # beside the output: the model and the ONE version that predicted it


class Backend(Protocol):
    """Where predictions come from."""

    max_length: int | None

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
        onehot = meta["signatures"].get(names.ONEHOT_SIGNATURE, {}).get("inputs", {}).get(names.ONEHOT_INPUT)
        self.max_length = onehot["shape"][1] if onehot and onehot.get("shape") else None
        self.model = model
        self.description = f"{model} version {self.version} at {target}"

    def predict(self, sequences: list[str]) -> np.ndarray:
        return self.client.predict(sequences, version=self.version)

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

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 1024):
        from seq2exp.serving.session import SessionModel

        self.path = resolve_saved_model_dir(path)
        self._model = SessionModel(self.path)
        self.batch_size = batch_size
        self.version = int(self.path.name) if self.path.name.isdigit() else None
        self.model = self.path.parent.name
        meta_path = self.path / names.METADATA_FILE
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.max_length = meta.get("max_sequence_length")
        if meta.get("batch_postprocess_not_in_graph"):
            logger.warning("this model's batch post-processing %s is not applied by streaming prediction",
                           meta["batch_postprocess_not_in_graph"])
        self.description = f"SavedModel {self.path}"

    def predict(self, sequences: list[str]) -> np.ndarray:
        parts = []
        for start in range(0, len(sequences), self.batch_size):
            batch = np.array([s.encode("ascii") for s in sequences[start:start + self.batch_size]], dtype=object)
            parts.append(self._model.run(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: batch},
                                         [names.EXPRESSION_OUTPUT])[names.EXPRESSION_OUTPUT])
        return np.concatenate(parts) if parts else np.zeros([0], np.float32)

    def close(self) -> None:
        self._model.close()


def _format_row(record: Record, value: float, output_format: str) -> str:
    if output_format == "dream":
        return f"{record.sequence}\t{value:.7g}\n"
    return f"{record.name}\t{record.sequence}\t{value:.7g}\n"


def _resume_point(partial: Path, output_format: str) -> tuple[int, str | None]:
    """(complete rows in ``partial``, the last row's sequence); truncates a half-written last line."""
    with open(partial, "rb+") as handle:
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            handle.truncate(keep)
    lines = data[:keep].decode("utf-8").splitlines()
    if output_format == "tsv" and lines:
        lines = lines[1:]
    if not lines:
        return 0, None
    fields = lines[-1].split("\t")
    return len(lines), fields[0] if output_format == "dream" else fields[1]


@dataclass
class PredictSummary:
    rows: int
    resumed_from: int
    seconds: float
    output: Path
    model_version: int | None = None  # the one version every row came from (also in OUTPUT.model.json)


def predict_file(input_path: str | os.PathLike, output_path: str | os.PathLike, backend: Backend, *,
                 output_format: str = "dream", chunk_rows: int = 8192, resume: bool = False,
                 progress: bool = True) -> PredictSummary:
    """Predict every row of ``input_path`` into ``output_path`` (atomically; ``resume`` continues a partial run)."""
    import time

    from tqdm import tqdm

    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"output format {output_format!r}; valid: {list(OUTPUT_FORMATS)}")
    started = time.monotonic()
    input_text, output = os.fspath(input_path), Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + PARTIAL_SUFFIX)
    skip, expected_last = (0, None)
    if resume and partial.exists():
        skip, expected_last = _resume_point(partial, output_format)
        mode = "a"
    else:
        mode = "w"
    records = iter_records(input_text)
    last_skipped: Record | None = None
    for _ in range(skip):  # the rows already predicted: check they are this input's
        last_skipped = next(records, None)
        if last_skipped is None:
            raise InputFormatError(f"--resume: {partial} has {skip} rows, more than the input", path=input_text)
    if skip and last_skipped.sequence != expected_last:
        raise InputFormatError(f"--resume: {partial} does not match this input at row {skip} "
                               "(delete it or run without --resume)", path=input_text, line=last_skipped.line)
    rows = skip
    with open(partial, mode, encoding="utf-8") as handle, \
            tqdm(desc="predict", unit=" seq", disable=not progress, initial=skip, dynamic_ncols=True) as bar:
        if mode == "w" and output_format == "tsv":
            handle.write("id\tsequence\texpression\n")
        for chunk in _chunks(records, chunk_rows):
            check_records(chunk, input_text, backend.max_length)
            values = backend.predict([record.sequence for record in chunk])
            handle.write("".join(_format_row(r, float(v), output_format) for r, v in zip(chunk, values)))
            handle.flush()  # a killed run keeps whole chunks for --resume
            rows += len(chunk)
            bar.update(len(chunk))
        os.fsync(handle.fileno())
    os.replace(partial, output)
    version = getattr(backend, "version", None)
    from seq2exp.utils import atomic_write

    with atomic_write(output.with_name(output.name + MODEL_RECORD_SUFFIX)) as record:
        record.write(json.dumps({"model": getattr(backend, "model", None), "version": version,
                                 "source": getattr(backend, "description", None), "rows": rows}) + "\n")
    return PredictSummary(rows=rows, resumed_from=skip, seconds=time.monotonic() - started, output=output,
                          model_version=version)


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
