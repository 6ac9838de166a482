"""Small shared helpers: atomic file and folder writes, hashing."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync and rename it to ``path``, on error remove it.

    A reader never sees a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success rename it to ``path`` (which must not exist yet)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` that imports each exported name's module on first use (``name -> module``;
    a module may be relative to ``package``, e.g. ``".graph"``), so importing the package stays free of TensorFlow.
    The value is kept in the package's namespace once imported. An export named like its own sub-module (e.g.
    ``evaluation.ensemble``, the function in ``evaluation/ensemble.py``) is bound again after that sub-module's
    import, which sets the package attribute to the module object."""
    import sys

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        loaded = importlib.import_module(module, package)
        namespace = sys.modules[package]
        setattr(namespace, name, getattr(loaded, name))
        child = loaded.__name__.rpartition(".")[2]
        if modules.get(child) == module and getattr(namespace, child, None) is loaded:
            setattr(namespace, child, getattr(loaded, child))
        return getattr(namespace, name)

    return __getattr__


def check_output_folder(path: str | os.PathLike, option: str = "-o") -> Path:
    """Refuse an output folder that cannot be one (it, or a folder above it, is a file), before any work is done.

    Raises ``ConfigError`` naming ``option``; creates nothing.
    """
    from seq2exp.errors import ConfigError

    path = Path(path)
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise ConfigError(f"{option} {path}: {candidate} is a file; {option} names a folder")
            break
    return path


def begin_staging(path: str | os.PathLike) -> Path:
    """An empty temporary folder for the outputs of ``path`` (see :func:`staged_dir`); finish with
    :func:`end_staging`. Refuses a ``path`` that is or lies under a file; creates nothing under ``path``."""
    path = Path(path)
    check_output_folder(path)
    anchor = next(candidate for candidate in (path.parent, *path.parent.parents) if candidate.exists())
    return Path(tempfile.mkdtemp(prefix=f".{path.name or 'out'}.tmp-", dir=anchor))


def end_staging(tmp: str | os.PathLike, path: str | os.PathLike, error: BaseException | None = None) -> None:
    """Without ``error``: move the entries of ``tmp`` into ``path`` (created when missing; entries of the same name
    replaced, sub-folders merged, others kept). Always: remove ``tmp``. With ``error``, ``path`` is left as it was."""
    tmp, path = Path(tmp), Path(path)
    try:
        if error is not None:
            return
        path.mkdir(parents=True, exist_ok=True)
        for entry in sorted(tmp.iterdir()):
            final = path / entry.name
            if final.is_dir() and not final.is_symlink():
                if entry.is_dir():  # merge a sub-folder entry by entry
                    for sub in sorted(entry.rglob("*"), key=lambda p: len(p.parts)):
                        target = final / sub.relative_to(entry)
                        if sub.is_dir():
                            target.mkdir(parents=True, exist_ok=True)
                        else:
                            os.replace(sub, target)
                    continue
                shutil.rmtree(final)
            os.replace(entry, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; on success move its entries into ``path`` (created when missing; entries of
    the same name replaced, others kept); on error remove it, leaving ``path`` as it was (not even created).

    The temporary folder lies in ``path``'s nearest existing ancestor, so the moves are renames on one filesystem.
    """
    tmp = begin_staging(path)
    try:
        yield tmp
    except BaseException as error:
        end_staging(tmp, path, error)
        raise
    end_staging(tmp, path)
