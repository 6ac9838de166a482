"""The one JSON reader (and strict writer) of the package: REST bodies, configs, run records, leaderboard ids,
plasmids, checksums.

Every JSON text seq2exp reads goes through :func:`loads` (text or bytes already in memory) or :func:`load_file`
(a path). Both refuse, with a :class:`JSONInputError` naming the source (file path or ``request body``):

- text that is not UTF-8 (a UTF-8 byte-order mark is accepted, as ``json.load`` of a file opened as ``utf-8-sig``);
- nesting deeper than ``max_depth`` (default :data:`MAX_DEPTH`), checked *before* parsing, so a hostile
  ``[[[[...`` never reaches the parser's recursion;
- invalid JSON (with the line and column), integers longer than Python's digit limit;
- files over ``max_bytes`` and paths that are not regular files (``/dev/zero``, a FIFO), before reading.

``expect`` checks the top-level type (``dict``, ``list``, ``str``) with an error naming what was found.

What seq2exp writes as JSON (the CLI's one-line summaries, run records, reports) goes through :func:`dumps`: strict
JSON, NaN and infinities as ``null`` (a validation set without spread gives a NaN correlation), numpy values as
plain numbers, so ``jq``, JavaScript and every other strict parser read it.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from seq2exp.errors import InputFormatError

MAX_DEPTH = 64  # REST instances are 3-4 levels deep; configs and records fewer than 10
MAX_FILE_BYTES = 1 << 30  # a JSON file larger than 1 GiB is not a seq2exp file

# a JSON string literal: quote, then any non-quote non-backslash run or a backslash escape, then quote
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1

_TYPE_NAMES = {dict: "a JSON object", list: "a JSON list", str: "a JSON string", float: "a JSON number",
               int: "a JSON integer", bool: "true/false", type(None): "null"}


class JSONInputError(InputFormatError):
    """A JSON text was refused. ``reason`` is one of ``encoding``, ``depth``, ``syntax``, ``number``, ``type``,
    ``size``, ``file``; the message names the source (path or ``request body``) and, for syntax errors, the line."""

    def __init__(self, message: str, *, source: str, reason: str, line: int | None = None,
                 field: str | None = None):
        self.reason = reason
        super().__init__(message, path=source, line=line, field=field)


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (brackets inside strings ignored); 0 for a scalar."""
    stripped = _STRING.sub(b"", data) if b'"' in data else data
    if not stripped:
        return 0
    steps = _OPEN[np.frombuffer(stripped, np.uint8)]
    steps = steps[steps != 0]
    if not steps.size:
        return 0
    return int(np.cumsum(steps, dtype=np.int64).max())


def type_name(value: Any) -> str:
    """How a parsed JSON value is called in error messages (``a JSON list``, ``null``, ...)."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def loads(data: str | bytes | bytearray, source: str, *, max_depth: int = MAX_DEPTH, expect: type | tuple | None = None,
          object_pairs_hook: Callable | None = None) -> Any:
    """Parse one JSON text from ``source`` (a path or ``request body``: it only names the text in errors)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)  # lone surrogates: refused
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JSONInputError(f"not UTF-8 text (byte {error.start})", source=source, reason="encoding") from None
    depth = json_depth(raw)
    if depth > max_depth:
        raise JSONInputError(f"JSON nested too deeply ({depth} levels; at most {max_depth})", source=source,
                             reason="depth")
    try:
        value = json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as error:
        raise JSONInputError(f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})",
                             source=source, reason="syntax", line=error.lineno) from None
    except RecursionError:  # unreachable below max_depth; kept so no text can raise it past here
        raise JSONInputError("JSON nested too deeply", source=source, reason="depth") from None
    except ValueError as error:  # an integer beyond sys.get_int_max_str_digits()
        raise JSONInputError(f"a number JSON cannot hold here ({error})", source=source, reason="number") from None
    if expect is not None and not isinstance(value, expect):
        wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in (expect if isinstance(expect, tuple)
                                                                      else (expect,)))
        raise JSONInputError(f"expected {wanted}, found {type_name(value)}", source=source, reason="type")
    return value


def load_file(path: str | os.PathLike, *, max_depth: int = MAX_DEPTH, expect: type | tuple | None = None,
              max_bytes: int = MAX_FILE_BYTES, object_pairs_hook: Callable | None = None) -> Any:
    """Read and parse a JSON file; only a regular file no larger than ``max_bytes`` is read.

    A missing file raises ``FileNotFoundError`` (callers that treat it as empty check first); anything else that
    cannot be used is a :class:`JSONInputError`.
    """
    path = Path(path)
    source = str(path)
    with open(path, "rb") as handle:  # FileNotFoundError / PermissionError carry the path
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise JSONInputError("not a regular file", source=source, reason="file")
        if info.st_size > max_bytes:
            raise JSONInputError(f"{info.st_size} bytes, over the limit of {max_bytes} for a JSON file",
                                 source=source, reason="size")
        raw = handle.read(max_bytes + 1)
    if raw.startswith((b"\x1f\x8b",)):
        raise JSONInputError("a gzip file, expected JSON text", source=source, reason="encoding")
    return loads(raw, source, max_depth=max_depth, expect=expect, object_pairs_hook=object_pairs_hook)


def jsonable(value: Any) -> Any:
    """A copy of ``value`` that strict JSON accepts: NaN/inf become ``null``, numpy scalars/arrays plain Python."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``value`` (NaN/inf -> ``null``; ``kwargs`` as ``json.dumps``)."""
    return json.dumps(jsonable(value), allow_nan=False, **kwargs)
