"""Download the challenge's data record, with honest checksums.

The DREAM 2022 data are Zenodo record 10633252 (CC BY 4.0). The file names below are the ones public mirrors and
the teams' code use; neither they nor their checksums could be verified from the machine this was written on, so
every manifest entry starts **unverified** (``sha256=None``). The first successful download records the file's
SHA-256 in ``<out>/checksums.json`` and every later download or ``verify`` checks against it. A checksum the user
passes (``expected_sha256`` / ``--sha256 NAME=HEX``) always wins, and a mismatch is an error that keeps the old file.
URLs can be overridden per file or by a base URL (a mirror, or ``file://`` for an offline copy).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from seq2exp.errors import Seq2ExpError
from seq2exp.utils import atomic_write, sha256_file

logger = logging.getLogger(__name__)

ZENODO_RECORD = "10633252"
DEFAULT_BASE_URL = f"https://zenodo.org/records/{ZENODO_RECORD}/files"
CHECKSUMS_FILE = "checksums.json"


@dataclass(frozen=True)
class RemoteFile:
    """One file of the data record. ``sha256=None`` means unverified (recorded on first download)."""

    name: str
    description: str
    sha256: str | None = None
    extract: bool = False  # a .tar.gz unpacked into the output folder after download


MANIFEST: tuple[RemoteFile, ...] = (
    RemoteFile("train_sequences.txt", "training data: 6,739,258 rows 'sequence<TAB>expression' (DREAM format)"),
    RemoteFile("filtered_test_data_with_MAUDE_expression.txt",
               "the 71,103 test sequences with measured expression (DREAM format, test order)"),
    RemoteFile("test_subset_ids.tar.gz", "test subset CSVs (high/low/yeast/random/challenging/SNVs/motif_*)",
               extract=True),
    RemoteFile("public_leaderboard_ids.tar.gz", "public leaderboard index JSONs (discarded by the final scoring)",
               extract=True),
)
MANIFEST_BY_NAME = {entry.name: entry for entry in MANIFEST}


class DownloadError(Seq2ExpError):
    """A file could not be fetched or did not match its checksum."""


def read_checksums(out_dir: str | os.PathLike) -> dict[str, dict]:
    """The checksums recorded in ``out_dir/checksums.json`` (empty when none)."""
    path = Path(out_dir) / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise Seq2ExpError(f"{path}: not valid JSON ({error.msg}); fix or delete it") from None


def _write_checksums(out_dir: Path, records: Mapping[str, dict]) -> None:
    with atomic_write(out_dir / CHECKSUMS_FILE) as handle:
        json.dump(dict(sorted(records.items())), handle, indent=2)
        handle.write("\n")


def _expected(name: str, recorded: Mapping[str, dict], user: Mapping[str, str]) -> tuple[str | None, str]:
    """(expected sha256 or None, where it comes from) with precedence user > manifest > recorded."""
    if name in user:
        return user[name].lower(), "user"
    entry = MANIFEST_BY_NAME.get(name)
    if entry is not None and entry.sha256:
        return entry.sha256, "manifest"
    if name in recorded and recorded[name].get("sha256"):
        return recorded[name]["sha256"], "recorded"
    return None, "unverified"


def download_dataset(
    out_dir: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    base_url: str | None = None,
    urls: Mapping[str, str] | None = None,
    expected_sha256: Mapping[str, str] | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Fetch the record's files into ``out_dir`` (skipping ones already there and matching their checksum).

    Returns ``{name: path}``; archives are unpacked beside themselves (``test_subset_ids/``...).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    urls = dict(urls or {})
    user = {name: value.lower() for name, value in (expected_sha256 or {}).items()}
    wanted = list(names) if names else [entry.name for entry in MANIFEST]
    unknown = [name for name in wanted if name not in MANIFEST_BY_NAME and name not in urls]
    if unknown:
        raise Seq2ExpError(f"unknown data file(s) {unknown}; the record has {list(MANIFEST_BY_NAME)} "
                           "(or give --url NAME=URL)")
    recorded = read_checksums(out_dir)
    result: dict[str, Path] = {}
    for name in wanted:
        target = out_dir / name
        expected, origin = _expected(name, recorded, user)
        if target.exists() and not force:
            actual = sha256_file(target)
            if expected is not None and actual != expected:
                raise DownloadError(f"{target}: sha256 {actual} does not match the {origin} checksum {expected}; "
                                    "delete it or pass --force to download again")
            logger.info("%s already present (%s)", target, "verified" if expected else "unverified, recording")
        else:
            url = urls.get(name) or f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/{name}"
            actual = _fetch(url, target, expected, origin, timeout)
        recorded[name] = {
            "sha256": actual,
            "size": target.stat().st_size,
            "source": urls.get(name) or f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/{name}",
            "checked_against": origin,
        }
        _write_checksums(out_dir, recorded)
        entry = MANIFEST_BY_NAME.get(name)
        if (entry is not None and entry.extract) or name.endswith((".tar.gz", ".tgz")):
            extract_archive(target, out_dir)
        result[name] = target
    return result


def _fetch(url: str, target: Path, expected: str | None, origin: str, timeout: float) -> str:
    """Stream ``url`` into ``target`` atomically, hashing on the way; return the sha256."""
    logger.info("downloading %s -> %s", url, target)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.part-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - user-chosen URL
                    for block in iter(lambda: response.read(1 << 20), b""):
                        digest.update(block)
                        handle.write(block)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(
                    f"cannot download {url}: {reason}. Without network access, fetch the file elsewhere, put it at "
                    f"{target} and run the command again (it will be checksummed), or pass --base-url/--url"
                ) from None
            handle.flush()
            os.fsync(handle.fileno())
        actual = digest.hexdigest()
        if expected is not None and actual != expected:
            raise DownloadError(f"{url}: sha256 {actual} does not match the {origin} checksum {expected}; "
                                f"the file was not saved")
        os.replace(tmp_name, target)
        return actual
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def extract_archive(archive: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Unpack a ``.tar.gz`` into ``out_dir`` safely (no absolute paths, ``..`` or links); return the top entries.

    Each top-level entry is unpacked in a temporary folder first and then renamed into place, replacing an older copy.
    """
    archive, out_dir = Path(archive), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{archive.name}.extract-", dir=out_dir))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if member.name.startswith("/") or ".." in parts or member.issym() or member.islnk():
                    raise Seq2ExpError(f"{archive}: refusing unsafe archive entry {member.name!r}")
            try:
                tar.extractall(staging, filter="data")
            except TypeError:  # Python without extraction filters; members were checked above
                tar.extractall(staging)  # noqa: S202
        placed = []
        for entry in sorted(staging.iterdir()):
            final = out_dir / entry.name
            if final.is_dir():
                shutil.rmtree(final)
            elif final.exists():
                final.unlink()
            os.replace(entry, final)
            placed.append(final)
        return placed
    except tarfile.TarError as error:
        raise Seq2ExpError(f"{archive}: not a readable tar archive ({error})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify_dataset(out_dir: str | os.PathLike, expected_sha256: Mapping[str, str] | None = None) -> dict[str, str]:
    """Re-hash the files recorded in ``checksums.json``; return ``{name: "ok" | "missing" | "MISMATCH"}``."""
    out_dir = Path(out_dir)
    recorded = read_checksums(out_dir)
    user = {name: value.lower() for name, value in (expected_sha256 or {}).items()}
    report = {}
    for name in sorted(set(recorded) | set(user)):
        expected, _ = _expected(name, recorded, user)
        path = out_dir / name
        if not path.exists():
            report[name] = "missing"
        else:
            report[name] = "ok" if sha256_file(path) == expected else "MISMATCH"
    return report
