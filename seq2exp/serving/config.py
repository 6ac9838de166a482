"""TF Serving deployment files: ``models.config`` (model_config_list) and ``batching.config`` (BatchingParameters).

The same files drive the real ``tensorflow_model_server`` (``--model_config_file``, ``--batching_parameters_file``)
and the embedded ``seq2exp serve``. ``models.config`` is read and written with TF Serving's own
``model_server_config_pb2``; ``batching.config`` with the field-for-field copy of ``BatchingParameters`` in
:mod:`seq2exp.serving.protos` (``tensorflow-serving-api`` does not ship ``session_bundle_config_pb2``).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from seq2exp import jsonio
from seq2exp.errors import ConfigError
from seq2exp.serving import signatures as names
from seq2exp.utils import atomic_write

VERSION_POLICIES = ("latest", "all", "specific")
_VERSION_DIR = re.compile(r"^[1-9][0-9]*$")  # canonical positive integers only: "0003" and "0" are not versions
_MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64
# A model name is one path component: TF Serving's REST paths and folder names take letters, digits, '_', '-', '.',
# and it must not start with '.' (no '.', '..' or hidden folders) or '-' (no flags).
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
STALE_EXPORT_SECONDS = 3600.0  # an export's temporary folder untouched this long is left from an interrupted export
_logged_ignored: set[str] = set()
logger = logging.getLogger(__name__)


def check_model_name(name: str) -> str:
    """``name`` if it is a valid model name (one path component, TF Serving's characters); else ``ConfigError``."""
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ConfigError(f"model name {name!r}: use letters, digits, '_', '-', '.' (one folder name, not starting "
                          f"with '.' or '-', at most 255 characters)")
    return name


@dataclass
class ModelConfig:
    """One served model: where its versions live and which of them to serve.

    ``policy`` is TF Serving's servable version policy: ``latest`` (the ``num_versions`` highest), ``all``, or
    ``specific`` (``versions``). ``labels`` maps a version label (``stable``, ``canary``) to a version number.
    """

    name: str
    base_path: str
    policy: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_model_name(self.name)
        if self.policy not in VERSION_POLICIES:
            raise ConfigError(f"model {self.name}: version policy {self.policy!r}; valid: {list(VERSION_POLICIES)}")
        if self.policy == "latest" and self.num_versions < 1:
            raise ConfigError(f"model {self.name}: latest.num_versions must be >= 1, got {self.num_versions}")
        if self.policy == "specific" and not self.versions:
            raise ConfigError(f"model {self.name}: the 'specific' policy needs at least one version")
        for label, version in self.labels.items():
            if not re.match(r"^[A-Za-z0-9_-]+$", label) or label[0].isdigit():
                raise ConfigError(f"model {self.name}: version label {label!r} must be a word not starting with a digit")
            if int(version) < 1:
                raise ConfigError(f"model {self.name}: label {label!r} points to version {version}; versions are >= 1")

    def select_versions(self, available: Iterable[int]) -> list[int]:
        """The versions this policy serves among the ``available`` ones, highest first."""
        available = sorted(set(available), reverse=True)
        if self.policy == "latest":
            return available[: self.num_versions]
        if self.policy == "all":
            return available
        return [v for v in available if v in set(self.versions)]

    def unserved_labels(self, served: Iterable[int]) -> dict[str, int]:
        """The labels (label -> version) whose version is not among ``served``: TF Serving assigns a label only to
        a version that is available."""
        served = set(served)
        return {label: version for label, version in sorted(self.labels.items()) if version not in served}

    def policy_text(self) -> str:
        """The version policy as ``seq2exp serve-config`` flags, for messages."""
        if self.policy == "latest":
            return f"--policy latest --num-versions {self.num_versions}"
        if self.policy == "all":
            return "--policy all"
        return f"--policy specific --versions {','.join(map(str, sorted(self.versions)))}"

    def to_proto(self):
        """TF Serving ``ModelConfig`` message."""
        from tensorflow_serving.config import model_server_config_pb2

        proto = model_server_config_pb2.ModelConfig(name=self.name, base_path=self.base_path,
                                                     model_platform="tensorflow")
        policy = proto.model_version_policy
        if self.policy == "latest":
            policy.latest.num_versions = self.num_versions
        elif self.policy == "all":
            policy.all.SetInParent()
        else:
            policy.specific.versions.extend(sorted(self.versions))
        for label, version in sorted(self.labels.items()):
            proto.version_labels[label] = int(version)
        return proto

    @classmethod
    def from_proto(cls, proto, *, relative_to: Path | None = None) -> "ModelConfig":
        """From a TF Serving ``ModelConfig`` (a relative ``base_path`` is taken relative to ``relative_to``)."""
        if proto.model_platform not in ("", "tensorflow"):
            raise ConfigError(f"model {proto.name}: model_platform {proto.model_platform!r}; valid: ['tensorflow']")
        base_path = proto.base_path
        if not base_path:
            raise ConfigError(f"model {proto.name}: base_path is empty")
        if relative_to is not None and not os.path.isabs(base_path):
            base_path = str((relative_to / base_path).resolve())
        which = proto.model_version_policy.WhichOneof("policy_choice")
        kwargs: dict = {}
        if which in (None, "latest"):
            kwargs = {"policy": "latest", "num_versions": proto.model_version_policy.latest.num_versions or 1}
        elif which == "all":
            kwargs = {"policy": "all"}
        else:
            kwargs = {"policy": "specific", "versions": tuple(proto.model_version_policy.specific.versions)}
        return cls(name=proto.name, base_path=base_path, labels=dict(proto.version_labels), **kwargs)


def model_server_config_text(models: Iterable[ModelConfig]) -> str:
    """``models.config`` text (TF Serving ``ModelServerConfig`` with a ``model_config_list``)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    seen = set()
    for model in models:
        if model.name in seen:
            raise ConfigError(f"model {model.name!r} is listed twice")
        seen.add(model.name)
        config.model_config_list.config.append(model.to_proto())
    if not seen:
        raise ConfigError("no models to serve")
    return text_format.MessageToString(config)


def _comment(header: str | None) -> str:
    return "".join(f"# {line}\n" for line in header.splitlines()) if header else ""


def write_model_config(path: str | os.PathLike, models: Iterable[ModelConfig], header: str | None = None) -> Path:
    """Write ``models.config`` atomically (``header``: comment lines on top)."""
    text = model_server_config_text(models)
    with atomic_write(path) as handle:
        handle.write(_comment(header) + text)
    return Path(path)


def read_model_config(path: str | os.PathLike) -> list[ModelConfig]:
    """Parse ``models.config`` (text ``ModelServerConfig``); relative base paths are relative to the file."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"model config file {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"model config file {path} is a folder") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TF Serving model config (not UTF-8 text)") from None
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ConfigError(f"{path}: not a TF Serving model config: {error}") from None
    if config.WhichOneof("config") != "model_config_list" or not config.model_config_list.config:
        raise ConfigError(f"{path}: needs a non-empty model_config_list")
    models = [ModelConfig.from_proto(item, relative_to=path.parent) for item in config.model_config_list.config]
    if len({m.name for m in models}) != len(models):
        raise ConfigError(f"{path}: a model name is listed twice")
    return models


def parse_version(name: str) -> int | None:
    """The version number a folder name stands for: a canonical positive integer that fits int64, else ``None``."""
    if not _VERSION_DIR.match(name):
        return None
    number = int(name)
    return number if number <= _MAX_VERSION else None


def list_versions(model_dir: str | os.PathLike) -> list[int]:
    """Complete version folders of a model (canonical positive int64 names holding ``saved_model.pb``), ascending.

    Other names are not versions and are ignored with one log line each, as TF Serving does: temporary folders of
    an export (``.N.tmp-*``), ``0003`` (not canonical), ``0``, ``99999999999999999999`` (beyond int64), files.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    versions = []
    for entry in model_dir.iterdir():
        version = parse_version(entry.name)
        if version is not None and entry.is_dir():
            if (entry / names.SAVED_MODEL_FILE).is_file():
                versions.append(version)
            continue
        key = str(entry)
        if key not in _logged_ignored:
            _logged_ignored.add(key)
            logger.info("ignoring %s: not a version folder (versions are folders named by a positive integer)", entry)
    return sorted(versions)


def clean_stale_exports(model_dir: str | os.PathLike, older_than: float = STALE_EXPORT_SECONDS) -> list[Path]:
    """Remove the temporary folders (``.N.tmp-*``) interrupted exports left in ``model_dir``; returns them.

    A folder counts as stale when nothing in it changed for ``older_than`` seconds (an export in progress keeps
    writing to its folder); newer ones may belong to a running export and are kept.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    now, removed = time.time(), []
    for entry in model_dir.iterdir():
        if not (entry.name.startswith(".") and ".tmp-" in entry.name and entry.is_dir()):
            continue
        try:
            newest = max([entry.stat().st_mtime] + [path.stat().st_mtime for path in entry.rglob("*")])
        except OSError:
            continue  # vanished meanwhile: renamed by its export or removed by another cleaner
        if now - newest >= older_than:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
            logger.info("removed %s, left by an interrupted export", entry)
    return removed


def discover_models(model_base_path: str | os.PathLike, *, container_base: str | None = None,
                    only: Iterable[str] | None = None, **policy) -> list[ModelConfig]:
    """One ``ModelConfig`` per model folder ``M/<name>/`` holding at least one version.

    ``container_base`` replaces ``M`` in the written ``base_path`` (``/models`` inside the serving image).
    """
    base = Path(model_base_path)
    if not base.is_dir():
        raise ConfigError(f"model base path {base} is not a folder")
    wanted = set(only) if only else None
    models = []
    for entry in sorted(base.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or (wanted and entry.name not in wanted):
            continue
        if not list_versions(entry):
            continue
        base_path = f"{container_base.rstrip('/')}/{entry.name}" if container_base else str(entry.resolve())
        models.append(ModelConfig(name=entry.name, base_path=base_path, **policy))
    missing = (wanted or set()) - {m.name for m in models}
    if missing:
        raise ConfigError(f"no exported versions under {base} for model(s) {sorted(missing)}")
    if not models:
        raise ConfigError(f"no exported models under {base} (expected {base}/<name>/<version>/saved_model.pb)")
    return models


@dataclass
class BatchingOptions:
    """Server-side batching (TF Serving's ``BatchingParameters``)."""

    max_batch_size: int = names.DEFAULT_MAX_BATCH_SIZE
    batch_timeout_micros: int = names.DEFAULT_BATCH_TIMEOUT_MICROS
    num_batch_threads: int = names.DEFAULT_NUM_BATCH_THREADS
    max_enqueued_batches: int = 100
    allowed_batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.num_batch_threads < 1 or self.max_enqueued_batches < 1:
            raise ConfigError("batching: max_batch_size, num_batch_threads and max_enqueued_batches must be >= 1")
        if self.batch_timeout_micros < 0:
            raise ConfigError("batching: batch_timeout_micros must be >= 0")
        sizes = list(self.allowed_batch_sizes)
        if sizes and (sizes != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ConfigError("batching: allowed_batch_sizes must increase and end with max_batch_size")

    def to_text(self) -> str:
        """``batching.config`` text."""
        from google.protobuf import text_format

        from seq2exp.serving.protos import serving_wire_pb2 as wire

        proto = wire.BatchingParameters()
        proto.max_batch_size.value = self.max_batch_size
        proto.batch_timeout_micros.value = self.batch_timeout_micros
        proto.max_enqueued_batches.value = self.max_enqueued_batches
        proto.num_batch_threads.value = self.num_batch_threads
        proto.allowed_batch_sizes.extend(self.allowed_batch_sizes)
        return text_format.MessageToString(proto)

    @classmethod
    def from_text(cls, text: str, source: str = "batching config") -> "BatchingOptions":
        from google.protobuf import text_format

        from seq2exp.serving.protos import serving_wire_pb2 as wire

        proto = wire.BatchingParameters()
        try:
            text_format.Parse(text, proto)
        except text_format.ParseError as error:
            raise ConfigError(f"{source}: not a TF Serving BatchingParameters text: {error}") from None
        defaults = cls()
        return cls(
            max_batch_size=proto.max_batch_size.value if proto.HasField("max_batch_size") else defaults.max_batch_size,
            batch_timeout_micros=(proto.batch_timeout_micros.value if proto.HasField("batch_timeout_micros")
                                  else defaults.batch_timeout_micros),
            num_batch_threads=(proto.num_batch_threads.value if proto.HasField("num_batch_threads")
                               else defaults.num_batch_threads),
            max_enqueued_batches=(proto.max_enqueued_batches.value if proto.HasField("max_enqueued_batches")
                                  else defaults.max_enqueued_batches),
            allowed_batch_sizes=tuple(proto.allowed_batch_sizes))

    @classmethod
    def read(cls, path: str | os.PathLike) -> "BatchingOptions":
        try:
            return cls.from_text(Path(path).read_bytes().decode("utf-8-sig"), str(path))
        except FileNotFoundError:
            raise ConfigError(f"batching parameters file {path} not found") from None
        except IsADirectoryError:
            raise ConfigError(f"batching parameters file {path} is a folder") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a TF Serving BatchingParameters text (not UTF-8 text)") from None

    def write(self, path: str | os.PathLike, header: str | None = None) -> Path:
        with atomic_write(path) as handle:
            handle.write(_comment(header) + self.to_text())
        return Path(path)


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"2.21.0rc1"`` -> ``(2, 21, 0)``: the leading numeric release parts."""
    match = re.match(r"^(\d+(?:\.\d+)*)", str(text).strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def exports_newer_than(models: Sequence["ModelConfig"], serving_version: str,
                       local_base: Mapping[str, str] | None = None) -> list[tuple[str, int, str]]:
    """(model, version, exporting TensorFlow) of every exported version written by a TensorFlow newer than
    ``serving_version``: TF Serving of that version may fail to load them (new ops or attributes).

    ``local_base`` maps a model name to the folder to read when the config holds a container path.
    """
    import json

    target = _version_tuple(serving_version)
    found = []
    for model in models:
        base = Path((local_base or {}).get(model.name, model.base_path))
        for version in list_versions(base):
            meta_path = base / str(version) / names.METADATA_FILE
            try:
                exported = jsonio.load_file(meta_path, expect=dict).get("tensorflow_version")
            except (OSError, ValueError):
                continue
            if exported and _version_tuple(exported)[:3] > target[:3]:
                found.append((model.name, version, exported))
    return found
