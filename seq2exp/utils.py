"""Small shared helpers: atomic file and folder writes, hashing."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.abc
import itertools
import os
import re
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


def missing_folders(path: str | os.PathLike) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first: what creating ``path`` would make."""
    path = Path(path)
    return list(itertools.takewhile(lambda folder: not folder.exists(), (path, *path.parents)))


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success rename it to ``path`` (which must not exist yet). On
    error the temporary folder is removed, and so are the missing parents this call created (when still empty)."""
    path = Path(path)
    created = missing_folders(path.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:  # no longer empty (another writer) or already gone
                break
        raise


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cpuinfo_values(key: str) -> list[str]:
    """The values of ``key`` (e.g. ``flags``, ``cpu MHz``) on every /proc/cpuinfo line that names it, one per
    logical CPU (none where the file cannot be read, as off Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            lines = [line.partition(":") for line in handle]
    except OSError:
        return []
    return [value.strip() for name, _, value in lines if name.strip() == key]


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    values = cpuinfo_values("flags")
    return frozenset(values[0].split()) if values else frozenset()


def onednn_isa_below_avx512() -> bool:
    """Whether ``ONEDNN_MAX_CPU_ISA`` (or the older ``DNNL_MAX_CPU_ISA``) keeps oneDNN to an ISA narrower than
    AVX-512, such as ``AVX2`` (read now; oneDNN itself reads it once, at its first use)."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().lower()
    return bool(cap) and cap not in ("all", "default") and not cap.startswith(("avx512", "avx10"))


_GLOG_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ ")


def unique_lines(text: str) -> str:
    """``text`` with each line kept once, in first-seen order; C++ log lines compare without their glog prefix
    (severity, time, thread id), so TensorFlow's start-up block, which two of its libraries print, shows once."""
    seen: set[str] = set()
    kept = []
    for line in text.splitlines(keepends=True):
        key = _GLOG_PREFIX.sub("", line).rstrip()
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def tensorflow_start_shown_once() -> Iterator[None]:
    """Run the body (TensorFlow's import) with file descriptor 2 captured, then write what was printed with repeated
    lines dropped (TensorFlow prints its CUDA/oneDNN/absl start-up block twice, from two libraries). The CLI hides
    the block entirely instead (``seq2exp.cli.quiet_tensorflow_start``)."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable file descriptor 2 (an embedded interpreter): leave it alone
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            if text:  # back to file descriptor 2, where it was going (not to a replaced sys.stderr, e.g. Jupyter's)
                with contextlib.suppress(OSError):
                    os.write(2, unique_lines(text).encode("utf-8", "replace"))


class _TensorflowStartShownOnce:
    """A ``sys.meta_path`` finder for the one top-level ``import tensorflow``: it finds TensorFlow with the other
    finders and runs its module code inside :func:`tensorflow_start_shown_once`, then removes itself. It changes
    nothing but the duplicated start-up lines on stderr (installed by ``import seq2exp``)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None):
        import importlib.machinery
        import sys

        if name != "tensorflow" or path is not None:
            return None
        self.remove()
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec_):
                return loader.create_module(spec_)

            def exec_module(self, module):
                with tensorflow_start_shown_once():
                    loader.exec_module(module)

        spec.loader = _Loader()
        return spec

    def remove(self) -> None:
        import sys

        while self in sys.meta_path:
            sys.meta_path.remove(self)


def show_tensorflow_start_once() -> None:
    """Install :class:`_TensorflowStartShownOnce` (once; not when TensorFlow is already imported or when
    ``SEQ2EXP_RAW_STDERR`` is set)."""
    import sys

    if "tensorflow" in sys.modules or os.environ.get("SEQ2EXP_RAW_STDERR"):
        return
    if not any(isinstance(finder, _TensorflowStartShownOnce) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TensorflowStartShownOnce())


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
