"""The registry of the teams' published checkpoints (package data ``published.json``) and their download.

Each entry: ``name``, the seq2exp ``architecture`` it imports into, where it is published (``url``,
``published``), ``status`` (``verified`` with ``sha256``/``size``, or ``unverified`` with both null: never an
invented checksum), ``licence``, ``citation``, ``training_data`` and the team's ``reported_scores``.
:func:`fetch_checkpoint` downloads through :func:`seq2exp.data.download.fetch_resumable` (resumable, checksum
verified, atomic); an unverified file's checksum is recorded on its first download in ``<dir>/checksums.json`` and
checked on every later one.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seq2exp.errors import ConfigError, Seq2ExpError
from seq2exp.jsonio import dumps, load_file

REGISTRY_PATH = Path(__file__).with_name("published.json")
CHECKSUMS_FILE = "checksums.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")
CARD_FIELDS = ("name", "description", "published", "url", "licence", "citation", "training_data", "reported_scores")


@dataclass(frozen=True)
class PublishedCheckpoint:
    """One published checkpoint (see the module docstring)."""

    name: str
    architecture: str
    url: str
    file: str
    status: str
    sha256: str | None = None
    size: int | None = None
    entry: dict = field(default_factory=dict)

    def card(self) -> dict[str, Any]:
        """The model card an import of this checkpoint carries (provenance, licence, citation, data, scores)."""
        card = {key: self.entry[key] for key in CARD_FIELDS if key in self.entry}
        card["checksum_status"] = self.status
        return card


def load_registry(path: str | os.PathLike = REGISTRY_PATH) -> dict[str, PublishedCheckpoint]:
    """Read and check the registry (an entry that claims a checksum must carry a real one)."""
    path = Path(path)
    try:
        entries = load_file(path, expect=dict)["checkpoints"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise Seq2ExpError(f"{path}: not a readable checkpoint registry ({error})") from None
    result = {}
    for index, entry in enumerate(entries):
        where = f"{path}: checkpoints[{index}] ({entry.get('name')!r})"
        missing = [key for key in ("name", "architecture", "url", "file", "status", "licence", "citation",
                                   "training_data") if not entry.get(key)]
        if missing:
            raise Seq2ExpError(f"{where}: missing {missing}")
        status, sha256, size = entry["status"], entry.get("sha256"), entry.get("size")
        if status == "verified":
            if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256) or not isinstance(size, int):
                raise Seq2ExpError(f"{where}: a verified entry needs a 64-hex 'sha256' and a 'size'")
        elif status != "unverified" or sha256 is not None or size is not None:
            raise Seq2ExpError(f"{where}: 'status' must be 'verified', or 'unverified' with null sha256 and size")
        result[entry["name"]] = PublishedCheckpoint(entry["name"], entry["architecture"], entry["url"], entry["file"],
                                                    status, sha256, size, dict(entry))
    return result


def get_published(name: str) -> PublishedCheckpoint:
    """The registry entry ``name`` (a ``ConfigError`` listing the known names otherwise)."""
    registry = load_registry()
    if name not in registry:
        raise ConfigError(f"unknown published checkpoint {name!r}; known: {', '.join(registry)} "
                          "(seq2exp import --list)")
    return registry[name]


def fetch_checkpoint(checkpoint: PublishedCheckpoint, directory: str | os.PathLike, *, url: str | None = None,
                     expected_sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``checkpoint`` into ``directory`` (kept there: a later call reuses it after checking it).

    The expected checksum is, in order: ``expected_sha256`` (the user's), the registry's (verified entries), the
    one recorded on the first download. ``url`` overrides where it comes from (a mirror, ``file://``).
    """
    from seq2exp.data.download import fetch_resumable, read_checksums
    from seq2exp.utils import atomic_write, sha256_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if expected_sha256 is not None and not _HEX64.fullmatch(expected_sha256.lower()):
        raise ConfigError(f"--sha256: expected 64 hex digits, got {expected_sha256!r}")
    recorded = read_checksums(directory).get(checkpoint.file, {})
    if expected_sha256:
        expected, size, origin = expected_sha256.lower(), None, "given"
    elif checkpoint.sha256:
        expected, size, origin = checkpoint.sha256, checkpoint.size, "published"
    else:
        expected, size, origin = recorded.get("sha256"), recorded.get("size"), "recorded"
    target = directory / checkpoint.file
    if target.exists():
        actual = sha256_file(target)
        if expected is None or actual == expected:
            return _record(directory, checkpoint, target, actual, read_checksums, atomic_write)
        target.unlink()  # a stale or damaged copy: fetch again
    actual = fetch_resumable(url or checkpoint.url, target, expected_sha256=expected, expected_size=size,
                             origin=origin, timeout=timeout)
    return _record(directory, checkpoint, target, actual, read_checksums, atomic_write)


def _record(directory: Path, checkpoint: PublishedCheckpoint, target: Path, sha256: str, read_checksums,
            atomic_write) -> Path:
    records = read_checksums(directory)
    if records.get(checkpoint.file, {}).get("sha256") != sha256:
        records[checkpoint.file] = {"sha256": sha256, "size": target.stat().st_size, "checkpoint": checkpoint.name,
                                    "status": checkpoint.status}
        with atomic_write(directory / CHECKSUMS_FILE) as handle:
            handle.write(dumps(dict(sorted(records.items())), indent=2))
            handle.write("\n")
    return target


def default_download_dir() -> Path:
    """``$SEQ2EXP_CHECKPOINTS`` or ``~/.cache/seq2exp/checkpoints``."""
    return Path(os.environ.get("SEQ2EXP_CHECKPOINTS") or Path.home() / ".cache" / "seq2exp" / "checkpoints")
