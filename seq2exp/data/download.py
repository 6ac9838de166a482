"""Download the challenge's data record: resumable (HTTP Range), checksum-verified, atomic.

The DREAM 2022 data are Zenodo record 10633252 (CC BY 4.0). The list of files is package data,
``seq2exp/data/zenodo_10633252.json``: each entry has a name, a description, a ``status`` and, when ``verified``, its
size and SHA-256. None could be checked from the machine the manifest was written on, so every entry is honestly
``unverified`` (``sha256``/``size`` null): the first download records the file's SHA-256 and size in
``<dest>/checksums.json`` and every later download or ``verify`` checks against them. A checksum the user passes
(``expected_sha256`` / ``--sha256 NAME=HEX``) always wins; a mismatch is an error that keeps nothing under the final
name.

A transfer streams into ``<dest>/<name>.part`` (its source URL and validators in ``<name>.part.json``). An interrupted
run leaves the ``.part`` file; the next run continues it with ``Range: bytes=N-`` (plus ``If-Range``). A server that
ignores the range (``200`` instead of ``206``) or whose file changed makes the download restart from zero; a ``416``
means the part is already whole (its size is the remote size) or is discarded. Only a complete file whose checksum
matches is renamed to its final name. URLs can be overridden per file or by a base URL (a mirror, or ``file://``).
"""
from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from seq2exp.errors import Seq2ExpError
from seq2exp.jsonio import dumps
from seq2exp.utils import atomic_write, sha256_file

logger = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).with_name("zenodo_10633252.json")
CHECKSUMS_FILE = "checksums.json"
PART_SUFFIX = ".part"
_BLOCK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RemoteFile:
    """One file of the data record. ``sha256=None`` means unverified (recorded on first download)."""

    name: str
    description: str
    sha256: str | None = None
    size: int | None = None
    extract: bool = False  # a .tar.gz unpacked into the output folder after download


@dataclass(frozen=True)
class Manifest:
    """The data record: where it lives and its files."""

    record: str
    base_url: str
    files: tuple[RemoteFile, ...]


class DownloadError(Seq2ExpError):
    """A file could not be fetched or did not match its checksum."""


def load_manifest(path: str | os.PathLike = MANIFEST_PATH) -> Manifest:
    """Read and check a manifest JSON (see ``zenodo_10633252.json``).

    An entry is either ``"status": "verified"`` with a 64-hex ``sha256`` (and optionally its ``size``) or
    ``"status": "unverified"`` with ``sha256`` and ``size`` null; anything else is an error naming the entry.
    """
    path = Path(path)
    from seq2exp import jsonio

    try:
        data = jsonio.load_file(path, expect=dict)
        entries = data["files"]
        record, base_url = str(data["record"]), str(data["base_url"])
        if not isinstance(entries, list):
            raise TypeError("'files' must be a list")
    except (OSError, jsonio.JSONInputError, KeyError, TypeError) as error:
        raise Seq2ExpError(f"{path}: not a readable data manifest ({error})") from None
    files = []
    for index, entry in enumerate(entries):
        where = f"{path}: files[{index}]"
        if isinstance(entry, dict):
            where += f" ({entry.get('name')!r})"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise Seq2ExpError(f"{where}: an entry needs a 'name'")
        status, sha256, size = entry.get("status"), entry.get("sha256"), entry.get("size")
        if status == "verified":
            if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
                raise Seq2ExpError(f"{where}: a verified entry needs a 64-hex lower-case 'sha256'")
            if size is not None and (not isinstance(size, int) or size < 0):
                raise Seq2ExpError(f"{where}: 'size' must be a byte count or null")
        elif status == "unverified":
            if sha256 is not None or size is not None:
                raise Seq2ExpError(f"{where}: an unverified entry must have null 'sha256' and 'size'")
        else:
            raise Seq2ExpError(f"{where}: 'status' must be 'verified' or 'unverified', got {status!r}")
        files.append(RemoteFile(name=entry["name"], description=entry.get("description", ""), sha256=sha256,
                                size=size, extract=bool(entry.get("extract", False))))
    return Manifest(record=record, base_url=base_url, files=tuple(files))


_MANIFEST = load_manifest()
ZENODO_RECORD = _MANIFEST.record
DEFAULT_BASE_URL = _MANIFEST.base_url
MANIFEST: tuple[RemoteFile, ...] = _MANIFEST.files
MANIFEST_BY_NAME = {entry.name: entry for entry in MANIFEST}


def read_checksums(out_dir: str | os.PathLike) -> dict[str, dict]:
    """The checksums recorded in ``out_dir/checksums.json`` (empty when none)."""
    from seq2exp import jsonio

    path = Path(out_dir) / CHECKSUMS_FILE
    if not path.exists():
        return {}
    data = jsonio.load_file(path, expect=dict)
    for name, record in data.items():
        if not isinstance(record, dict):
            raise jsonio.JSONInputError(f"entry {name!r} must be an object with 'sha256', found "
                                        f"{jsonio.type_name(record)}", source=str(path), reason="type", field=name)
        sha256 = record.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower())):
            raise jsonio.JSONInputError(f"entry {name!r}: 'sha256' must be 64 hex digits or null", source=str(path),
                                        reason="type", field=name)
        size = record.get("size")
        if size is not None and (type(size) is not int or not 0 <= size < 2**63):
            raise jsonio.JSONInputError(f"entry {name!r}: 'size' must be a byte count or null", source=str(path),
                                        reason="type", field=name)
    return data


def _write_checksums(out_dir: Path, records: Mapping[str, dict]) -> None:
    with atomic_write(out_dir / CHECKSUMS_FILE) as handle:
        handle.write(dumps(dict(sorted(records.items())), indent=2))
        handle.write("\n")


def _expected(name: str, recorded: Mapping[str, dict], user: Mapping[str, str]) -> tuple[str | None, int | None, str]:
    """(expected sha256 or None, expected size or None, where they come from); user > manifest > recorded."""
    if name in user:
        return user[name].lower(), None, "user"
    entry = MANIFEST_BY_NAME.get(name)
    if entry is not None and entry.sha256:
        return entry.sha256, entry.size, "manifest"
    if name in recorded and recorded[name].get("sha256"):
        return recorded[name]["sha256"], recorded[name].get("size"), "recorded"
    return None, None, "unverified"


def part_paths(target: str | os.PathLike) -> tuple[Path, Path]:
    """The stable ``.part`` file an interrupted download of ``target`` continues from, and its metadata file."""
    target = Path(target)
    return target.with_name(target.name + PART_SUFFIX), target.with_name(target.name + PART_SUFFIX + ".json")


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

    Interrupted transfers resume from ``<name>.part`` on the next call. Returns ``{name: path}``; archives are
    unpacked beside themselves (``test_subset_ids/``...).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    urls = dict(urls or {})
    user = {name: value.lower() for name, value in (expected_sha256 or {}).items()}
    for name, value in user.items():
        if not _HEX64.fullmatch(value):
            raise Seq2ExpError(f"--sha256 {name}: expected 64 hex digits, got {value!r}")
    wanted = list(names) if names else [entry.name for entry in MANIFEST]
    unknown = [name for name in wanted if name not in MANIFEST_BY_NAME and name not in urls]
    if unknown:
        raise Seq2ExpError(f"unknown data file(s) {unknown}; the record has {list(MANIFEST_BY_NAME)} "
                           "(or give --url NAME=URL)")
    recorded = read_checksums(out_dir)
    result: dict[str, Path] = {}
    for name in wanted:
        target = out_dir / name
        url = urls.get(name) or f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/{name}"
        expected, expected_size, origin = _expected(name, recorded, user)
        if target.exists() and not force:
            actual = sha256_file(target)
            if expected is not None and actual != expected:
                raise DownloadError(f"{target}: sha256 {actual} does not match the {origin} checksum {expected}; "
                                    "delete it or pass --force to download again")
            logger.info("%s already present (%s)", target, "verified" if expected else "unverified, recording")
        else:
            if force:
                for path in part_paths(target):
                    path.unlink(missing_ok=True)
            actual = fetch_resumable(url, target, expected_sha256=expected, expected_size=expected_size,
                                     origin=origin, timeout=timeout)
        recorded[name] = {"sha256": actual, "size": target.stat().st_size, "source": url, "checked_against": origin}
        _write_checksums(out_dir, recorded)
        entry = MANIFEST_BY_NAME.get(name)
        if (entry is not None and entry.extract) or name.endswith((".tar.gz", ".tgz")):
            extract_archive(target, out_dir)
        result[name] = target
    return result


def fetch_resumable(
    url: str,
    target: str | os.PathLike,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    origin: str = "expected",
    timeout: float = 60.0,
) -> str:
    """Download ``url`` to ``target`` through ``<target>.part``, continuing an earlier partial transfer.

    Returns the file's SHA-256. Raises :class:`DownloadError` when the transfer fails (the ``.part`` file is kept for
    the next call), is incomplete, or does not match ``expected_sha256``/``expected_size`` (the part is discarded).
    Nothing appears under ``target`` unless the whole file arrived and matched.
    """
    target = Path(target)
    part, meta_path = part_paths(target)
    meta = _read_json(meta_path)
    if part.exists() and meta.get("url") != url:
        logger.info("%s belongs to another source (%s); starting over", part, meta.get("url"))
        _discard(part, meta_path)
        meta = {}
    for _attempt in range(2):  # a second pass only after the server rejected or replaced the partial file
        offset = part.stat().st_size if part.exists() else 0
        if expected_size is not None and offset > expected_size:
            _discard(part, meta_path)
            offset, meta = 0, {}
        outcome = _transfer(url, part, meta_path, meta, offset, timeout)
        if outcome == "restart":
            _discard(part, meta_path)
            meta = {}
            continue
        break
    else:  # pragma: no cover - a server that rejects every range twice
        raise DownloadError(f"{url}: the server rejected the download twice; try again later")
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        _discard(part, meta_path)
        raise DownloadError(f"{url}: got {size} bytes, the {origin} size is {expected_size}; the file was not saved")
    actual = sha256_file(part)
    if expected_sha256 is not None and actual != expected_sha256:
        _discard(part, meta_path)
        raise DownloadError(f"{url}: sha256 {actual} does not match the {origin} checksum {expected_sha256}; "
                            "the file was not saved")
    os.replace(part, target)
    meta_path.unlink(missing_ok=True)
    return actual


def _transfer(url: str, part: Path, meta_path: Path, meta: Mapping[str, Any], offset: int, timeout: float) -> str:
    """One HTTP(S)/file request appending to (or restarting) ``part``; ``"done"`` or ``"restart"``."""
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    logger.info("downloading %s -> %s%s", url, part, f" (resuming at byte {offset})" if offset else "")
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as error:
        content_range = error.headers.get("Content-Range", "") if error.headers else ""
        error.close()
        if error.code == 416 and offset:
            total = _content_range_total(content_range)
            if total == offset:
                logger.info("%s: the partial file is already complete (%d bytes)", part, offset)
                return "done"
            logger.warning("%s: the server rejected the range bytes=%d- (size %s); starting over", url, offset, total)
            return "restart"
        raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"cannot download {url}: {reason}. Without network access, fetch the file elsewhere, put it at "
            f"{part.with_name(part.name[: -len(PART_SUFFIX)])} and run the command again (it will be checksummed), "
            "or pass --base-url/--url"
        ) from None
    with response:
        status = response.getcode()
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if offset and status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != offset:
                logger.warning("%s: asked for bytes %d-, got a range starting at %s; starting over", url, offset, start)
                return "restart"
            mode = "ab"
        else:
            if offset:
                logger.info("%s: the server ignored the range request (status %s); restarting from zero", url, status)
            offset, mode, total = 0, "wb", length
        _write_json(meta_path, {"url": url, "etag": response.headers.get("ETag"),
                                "last_modified": response.headers.get("Last-Modified"), "size": total})
        received = 0
        try:
            with open(part, mode) as handle:
                try:
                    for block in iter(lambda: response.read(_BLOCK), b""):
                        handle.write(block)
                        received += len(block)
                finally:
                    handle.flush()
                    os.fsync(handle.fileno())
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(f"{url}: transfer interrupted after {offset + received} bytes ({error}); "
                                f"the partial file {part} is kept: run the command again to resume") from None
    have = part.stat().st_size
    if total is not None and have < total:
        raise DownloadError(f"{url}: transfer interrupted at {have} of {total} bytes; the partial file {part} is "
                            "kept: run the command again to resume")
    return "done"


def _content_range(value: str) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes A-B/T`` header; None where absent or ``*``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    return int(match.group(1)), (None if match.group(2) == "*" else int(match.group(2)))


def _content_range_total(value: str) -> int | None:
    """The total size of a 416's ``Content-Range: bytes */T`` header (None when absent)."""
    match = re.fullmatch(r"\s*bytes\s+(?:\*|\d+-\d+)/(\d+)\s*", value or "")
    return int(match.group(1)) if match else None


def _read_json(path: Path) -> dict:
    from seq2exp import jsonio

    try:
        return jsonio.load_file(path, expect=dict)
    except (OSError, jsonio.JSONInputError):
        return {}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_write(path) as handle:
        handle.write(dumps(dict(data)))


def _discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


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
        expected, _, _ = _expected(name, recorded, user)
        path = _inside(out_dir, name)
        if not os.path.lexists(path):
            report[name] = "missing"
            continue
        # never follow a link out of the folder, never read a device, FIFO or socket (/dev/zero never ends)
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(Path(os.path.realpath(out_dir))):
            raise Seq2ExpError(f"{out_dir / CHECKSUMS_FILE}: {name!r} resolves to {real}, outside {out_dir}; "
                               "refusing to read it")
        if not real.is_file():
            raise Seq2ExpError(f"{out_dir / CHECKSUMS_FILE}: {name!r} is not a regular file; refusing to read it")
        report[name] = "ok" if sha256_file(real) == expected else "MISMATCH"
    return report


def _inside(out_dir: Path, name: str) -> Path:
    """``out_dir / name`` for a recorded name that is a plain relative path inside ``out_dir``."""
    parts = Path(name).parts
    if (not name or "\0" in name or os.path.isabs(name) or ".." in parts or name.startswith("~")
            or any(part in ("", ".") for part in name.split("/"))):
        raise Seq2ExpError(f"{out_dir / CHECKSUMS_FILE}: entry name {name!r} is not a file name inside the folder "
                           "(absolute paths and '..' are refused)")
    return out_dir / name
