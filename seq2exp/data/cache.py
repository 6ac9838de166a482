"""The training cache: a DREAM training file parsed once into memory-mapped numpy arrays.

A cache folder holds ``codes.npy`` (``uint8 [n, W]``, ``PAD_CODE`` past each row's length), ``lengths.npy``
(``int32``), ``targets.npy`` (``float32`` measured expression), ``singleton.npy`` (``bool``: the expression is a
whole number, autosome's flag), ``line_numbers.npy`` (``int64``, 1-based source line of each row) and
``meta.json`` (format version, source file size / mtime / sha256, parse options, summary statistics).

The folder is built beside its final name and renamed into place, so a reader never sees half a cache; a cache
whose source file and options are unchanged is reused. Arrays are opened with ``mmap_mode="r"``: a 6.7 M-row cache
costs page cache, not process memory. No TensorFlow here.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from seq2exp.data.alphabet import N_CODE, PAD_CODE, is_integer_expression, sequences_to_codes
from seq2exp.data.formats import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_SEQUENCE_LENGTH, iter_dream_chunks
from seq2exp.errors import InputFormatError, Seq2ExpError
from seq2exp.jsonio import dumps
from seq2exp.utils import atomic_dir, atomic_write, sha256_file

logger = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1
# Rows are stored at the width of the longest one, so one stray multi-kilobase line would blow the cache up: longer
# rows are invalid unless the caller raises the limit (challenge rows are 87-135 bp).
DEFAULT_MAX_LENGTH = DEFAULT_MAX_SEQUENCE_LENGTH  # the readers' limit
ARRAY_NAMES = ("codes", "lengths", "targets", "singleton", "line_numbers")


@dataclass
class TrainingCache:
    """Parsed training rows. Arrays may be read-only memory maps; index them with numpy fancy indexing."""

    codes: np.ndarray  # uint8 [n, W]
    lengths: np.ndarray  # int32 [n]
    targets: np.ndarray  # float32 [n]
    singleton: np.ndarray  # bool [n]
    line_numbers: np.ndarray  # int64 [n]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    reverse: np.ndarray | None = None  # bool [n]: rows measured in reverse orientation (tables); None = none

    @property
    def target_names(self) -> list[str] | None:
        """The task names of a cache built from a table (``targets`` is ``[n, T]`` when there are several)."""
        return self.meta.get("target_names")

    def orientation(self, rows: np.ndarray) -> np.ndarray:
        """The reverse-orientation flag (bool) of ``rows`` (all ``False`` without an orientation)."""
        rows = np.asarray(rows, np.int64)
        return np.zeros(rows.size, bool) if self.reverse is None else np.asarray(self.reverse[rows], bool)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.lengths.shape[0])

    def __len__(self) -> int:
        return self.n

    @property
    def width(self) -> int:
        """Columns of ``codes`` (the longest row)."""
        return int(self.codes.shape[1])

    @property
    def source_sha256(self) -> str | None:
        """SHA-256 of the file the cache was built from (``None`` for an in-memory cache)."""
        return self.meta.get("source", {}).get("sha256")

    @classmethod
    def open(cls, cache_dir: str | os.PathLike) -> "TrainingCache":
        """Open a cache folder written by :func:`build_cache` (arrays memory-mapped read-only)."""
        cache_dir = Path(cache_dir)
        meta_path = cache_dir / "meta.json"
        if not meta_path.exists():
            raise Seq2ExpError(f"{cache_dir}: not a seq2exp training cache (no meta.json); build it with "
                               "`seq2exp data cache TRAIN --out DIR`")
        from seq2exp import jsonio

        meta = jsonio.load_file(meta_path, expect=dict)
        if meta.get("format_version") != CACHE_FORMAT_VERSION:
            raise Seq2ExpError(f"{cache_dir}: cache format {meta.get('format_version')} is not the supported "
                               f"{CACHE_FORMAT_VERSION}; rebuild it")
        arrays = {name: np.load(cache_dir / f"{name}.npy", mmap_mode="r") for name in ARRAY_NAMES}
        if (cache_dir / "reverse.npy").exists():  # tables with an orientation
            arrays["reverse"] = np.load(cache_dir / "reverse.npy", mmap_mode="r")
        cache = cls(**arrays, meta=meta, path=cache_dir)
        if any(array.shape[0] != cache.n for array in arrays.values()) or cache.n != meta.get("rows"):
            raise Seq2ExpError(f"{cache_dir}: cache arrays disagree with meta.json; rebuild it")
        return cache

    @classmethod
    def from_sequences(cls, sequences: Sequence[str], values: Sequence[float] | np.ndarray, *,
                       reverse: np.ndarray | None = None, target_names: Sequence[str] | None = None
                       ) -> "TrainingCache":
        """An in-memory cache of Python sequences and expressions (tests, small experiments); ``values`` may be
        ``[n, T]`` (several tasks, NaN where missing) with ``target_names``; ``reverse``: per-row orientation."""
        codes, lengths = sequences_to_codes(sequences)
        targets = np.asarray(values, dtype=np.float32)
        if targets.shape[:1] != (len(sequences),) or targets.ndim > 2:
            raise ValueError(f"{len(sequences)} sequences but values of shape {targets.shape}")
        meta: dict[str, Any] = {"rows": len(sequences)}
        if target_names is not None:
            meta["target_names"] = list(target_names)
        singleton = is_integer_expression(targets) if targets.ndim == 1 else np.zeros(len(sequences), bool)
        return cls(codes, lengths, targets, singleton, np.arange(1, len(sequences) + 1, dtype=np.int64), meta=meta,
                   reverse=None if reverse is None else np.asarray(reverse, bool))

    def split(self, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """A random train/validation split of row indices: ``(train, val)``, each sorted ``int64``.

        The same ``(n, val_fraction, seed)`` always gives the same split. ``val_fraction`` = 0 gives an empty
        validation set.
        """
        return split_rows(np.arange(self.n, dtype=np.int64), val_fraction, seed)

    def read_codes(self, rows: np.ndarray) -> np.ndarray:
        """``codes[rows]`` as a new ``uint8 [len(rows), W]`` array.

        For a cache opened from disk the rows are read with positional reads (one per run of consecutive rows) instead
        of through the memory map: the bytes come via the OS page cache, so iterating over all 6.7 M rows does not grow
        the process's resident memory by the 0.9 GB of the codes file (mapped pages count as the process's own).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise IndexError(f"row indices must be in [0, {self.n})")
        source = self._codes_file()
        if source is None or rows.size == 0:
            return np.array(self.codes[rows])
        filename, offset = source
        width = self.width
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        run_bounds = np.concatenate(([0], np.flatnonzero(np.diff(sorted_rows) != 1) + 1, [rows.size])).tolist()
        staging = np.empty((rows.size, width), dtype=np.uint8)
        view = memoryview(staging).cast("B")
        fd = os.open(filename, os.O_RDONLY)
        try:
            for first, last in zip(run_bounds[:-1], run_bounds[1:]):
                size = (last - first) * width
                got = os.preadv(fd, [view[first * width: first * width + size]],
                                offset + int(sorted_rows[first]) * width)
                if got != size:
                    raise Seq2ExpError(f"{filename}: short read ({got} of {size} bytes); the cache is damaged, "
                                       "rebuild it")
        finally:
            os.close(fd)
        out = np.empty_like(staging)
        out[order] = staging
        return out

    def _codes_file(self) -> tuple[str, int] | None:
        """(file, byte offset of row 0) when ``codes`` is a whole memory-mapped ``.npy`` file, else ``None``."""
        codes = self.codes
        filename, offset = getattr(codes, "filename", None), getattr(codes, "offset", None)
        if filename is None or offset is None or not codes.flags.c_contiguous or codes.dtype != np.uint8:
            return None
        try:
            whole = os.path.getsize(filename) == offset + codes.shape[0] * codes.shape[1]
        except OSError:
            return None
        return (filename, int(offset)) if whole else None  # a slice of a map would have the parent's offset

    def sequences(self, indices: Sequence[int] | np.ndarray | None = None) -> list[str]:
        """Rows as upper-case strings (all rows, or ``indices``)."""
        from seq2exp.data.alphabet import codes_to_sequences

        indices = np.arange(self.n) if indices is None else np.asarray(indices)
        return codes_to_sequences(np.asarray(self.codes[indices]), np.asarray(self.lengths[indices]))


def _source_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _reusable(cache_dir: Path, source: Path, options: dict[str, Any],
              source_sha256: Callable[[], str]) -> TrainingCache | None:
    """The existing cache at ``cache_dir`` if it was built from this very file with these options."""
    if not (cache_dir / "meta.json").exists():
        return None
    try:
        cache = TrainingCache.open(cache_dir)
    except (Seq2ExpError, OSError, ValueError, json.JSONDecodeError) as error:
        logger.info("rebuilding cache %s: %s", cache_dir, error)
        return None
    built_from = cache.meta.get("source", {})
    if cache.meta.get("options") != options:
        return None
    identity = _source_identity(source)
    if built_from.get("size") != identity["size"]:
        return None
    if built_from.get("mtime_ns") == identity["mtime_ns"]:
        return cache
    return cache if built_from.get("sha256") == source_sha256() else None  # touched but unchanged


def build_cache(
    train_txt: str | os.PathLike,
    cache_dir: str | os.PathLike,
    *,
    on_invalid: str = "error",
    max_length: int | None = DEFAULT_MAX_LENGTH,
    force: bool = False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    source_sha256: str | None = None,
    table: Any = None,
) -> TrainingCache:
    """Parse a DREAM training file into a cache folder (or reuse an up-to-date one) and open it.

    Every row needs a finite expression: an empty one is an ``InputFormatError`` naming the line (or, with
    ``on_invalid="skip"``, a skipped row, like any other invalid row); so is a sequence longer than ``max_length``
    (``None`` = no limit). ``source_sha256``: the file's SHA-256 when the caller has hashed it already (it is
    then not hashed again). ``table``: a :class:`~seq2exp.data.formats.TableSpec` (or its dict) for a file with a
    header and named target columns: ``targets`` is then ``[n, T]`` for several targets (NaN where missing), and
    ``reverse.npy`` holds each row's orientation.
    """
    source = Path(train_txt)
    cache_dir = Path(cache_dir)
    if not source.is_file():
        raise InputFormatError("training file not found", path=str(source))
    digest: list[str] = [source_sha256] if source_sha256 else []

    def sha256() -> str:
        if not digest:
            digest.append(sha256_file(source))
        return digest[0]

    options = {"on_invalid": on_invalid, "max_length": max_length}
    if table is not None:
        from seq2exp.data.formats import TableSpec

        table = TableSpec.from_dict(table)
        options["table"] = table.to_dict()
    if not force:
        existing = _reusable(cache_dir, source, options, sha256)
        if existing is not None:
            logger.info("reusing training cache %s (%d rows)", cache_dir, existing.n)
            return existing
    started = time.perf_counter()
    staging = cache_dir.with_name(f"{cache_dir.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    with atomic_dir(staging) as tmp:
        meta = _write_arrays(source, tmp, on_invalid=on_invalid, max_length=max_length, chunk_bytes=chunk_bytes,
                             table=table)
        meta.update(format_version=CACHE_FORMAT_VERSION, options=options,
                    source={**_source_identity(source), "sha256": sha256()},
                    build_seconds=round(time.perf_counter() - started, 3))
        with atomic_write(tmp / "meta.json") as handle:
            handle.write(dumps(meta, indent=2))
    _swap_into_place(staging, cache_dir)
    logger.info("built training cache %s: %d rows (%d skipped) in %.1f s", cache_dir, meta["rows"],
                meta["skipped"], time.perf_counter() - started)
    return TrainingCache.open(cache_dir)


def _swap_into_place(staging: Path, cache_dir: Path) -> None:
    """Replace ``cache_dir`` by the finished ``staging`` folder (the old one is removed after the rename)."""
    retired = None
    if cache_dir.exists():
        retired = cache_dir.with_name(f"{cache_dir.name}.old-{os.getpid()}")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(cache_dir, retired)
    os.replace(staging, cache_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def _write_arrays(source: Path, out: Path, *, on_invalid: str, max_length: int | None,
                  chunk_bytes: int, table: Any = None) -> dict[str, Any]:
    """Parse ``source`` block by block into ``out/*.npy``; return the summary for ``meta.json``.

    Blocks are spilled to temporary files first because the final width (the longest row) is known only at the end.
    """
    parts = out / "parts"
    parts.mkdir()
    n_rows = skipped = width = 0
    part_shapes: list[tuple[int, int]] = []
    lengths, targets, lines, flags = [], [], [], []
    if table is not None:
        from seq2exp.data.formats import iter_table_chunks

        chunks = iter_table_chunks(source, table, on_invalid=on_invalid, max_length=max_length)
    else:
        chunks = iter_dream_chunks(source, on_invalid=on_invalid, max_length=max_length, chunk_bytes=chunk_bytes,
                                   require_expression=True)
    for index, chunk in enumerate(chunks):
        np.save(parts / f"{index:06d}.npy", chunk.codes)
        part_shapes.append(chunk.codes.shape)
        lengths.append(chunk.lengths)
        targets.append(chunk.expression)
        lines.append(chunk.line_numbers)
        flags.append(chunk.reverse)
        n_rows += chunk.codes.shape[0]
        skipped += chunk.skipped
        if chunk.codes.shape[0]:
            width = max(width, int(chunk.lengths.max()))
    if n_rows == 0:
        raise InputFormatError("no training rows" + (f" ({skipped} invalid rows skipped)" if skipped else ""),
                               path=str(source))
    n_with_n = 0
    with open(out / "codes.npy", "wb") as handle:  # streamed: no memory map, so no resident copy of the matrix
        np.lib.format.write_array_header_1_0(
            handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                     "shape": (n_rows, width)})
        for index in range(len(part_shapes)):
            part = np.load(parts / f"{index:06d}.npy")
            block = np.full((part.shape[0], width), PAD_CODE, dtype=np.uint8)
            used = min(part.shape[1], width)
            block[:, :used] = part[:, :used]
            n_with_n += int((block == N_CODE).any(axis=1).sum())
            handle.write(block.tobytes())
        handle.flush()
        os.fsync(handle.fileno())
    shutil.rmtree(parts)
    lengths_all = np.concatenate(lengths)
    targets_all = np.concatenate(targets).astype(np.float32)
    extra: dict[str, Any] = {}
    if table is not None:  # one target: [n] as a DREAM file's; several: [n, T] with NaN where missing
        if targets_all.shape[1] == 1:
            targets_all = targets_all[:, 0]
        np.save(out / "reverse.npy", np.concatenate(flags).astype(bool))
        extra = {"target_names": list(table.targets), "reversed_rows": int(np.concatenate(flags).sum()),
                 "missing_targets": np.isnan(targets_all).reshape(n_rows, -1).sum(axis=0).tolist()}
    np.save(out / "lengths.npy", lengths_all)
    np.save(out / "targets.npy", targets_all)
    np.save(out / "singleton.npy", is_integer_expression(targets_all) if targets_all.ndim == 1
            else np.zeros(n_rows, bool))
    np.save(out / "line_numbers.npy", np.concatenate(lines))
    return {
        **extra,
        "rows": n_rows,
        "width": width,
        "skipped": skipped,
        "stats": {
            "length_min": int(lengths_all.min()),
            "length_max": int(lengths_all.max()),
            "length_mean": float(lengths_all.mean()),
            "rows_with_n": n_with_n,
            "expression_min": float(np.nanmin(targets_all)),
            "expression_max": float(np.nanmax(targets_all)),
            "expression_mean": float(np.nanmean(targets_all)),
            "expression_std": float(np.nanstd(targets_all)),
            "integer_fraction": float(is_integer_expression(targets_all[np.isfinite(targets_all)]).mean()),
        },
    }


def split_rows(rows: np.ndarray, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train/validation split of ``rows`` (row indices): ``(train, val)``, each sorted ``int64``.

    The same ``(len(rows), val_fraction, seed)`` always picks the same positions; ``val_fraction`` = 0 gives an
    empty validation set, and a positive one keeps at least one row on each side.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rows = np.asarray(rows, dtype=np.int64)
    n_val = int(round(len(rows) * val_fraction))
    if val_fraction > 0 and len(rows) > 1:
        n_val = min(max(n_val, 1), len(rows) - 1)
    order = np.random.default_rng(seed).permutation(len(rows))
    return np.sort(rows[order[n_val:]]), np.sort(rows[order[:n_val]])
