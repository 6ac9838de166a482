"""Predict requests checked before any tensor is built, run in bounded batches, and failures kept to one line.

The server calls these where a request's ``TensorProto`` becomes an array (gRPC and REST alike):

* :func:`request_array` checks the declared dtype and shape against the signature and the per-request caps
  (:class:`RequestLimits`) *before* materialising anything, so a tiny message that declares ``[1000000, 256, 4]``
  costs nothing; only then are the values read (a short numeric ``*_val`` list is padded with its last value, as
  TensorFlow's ``Tensor::FromProto`` does, and only up to the size cap);
* :func:`predict_in_batches` runs a large request through the model ``batch_rows`` rows at a time, so the memory a
  request takes is bounded by the batch size, not by the request;
* :func:`internal_message` is what a client sees of an unexpected error: one line, never a Python traceback.

Status codes follow TF Serving: a malformed request is ``INVALID_ARGUMENT``, one over a cap ``RESOURCE_EXHAUSTED``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import grpc
import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.serving import signatures as names
from seq2exp.serving import tensors

DEFAULT_MAX_REQUEST_ROWS = 250_000  # > the challenge's 71,103 test sequences in one request


class RequestError(Exception):
    """A request the server refuses: becomes a gRPC status (an HTTP status over REST) with ``message``."""

    def __init__(self, code: grpc.StatusCode, message: str):
        self.code, self.message = code, message
        super().__init__(f"{code.name}: {message}")


@dataclass(frozen=True)
class RequestLimits:
    """Per-request caps: ``max_rows`` rows, and ``max_tensor_bytes`` for the input tensor once materialised."""

    max_rows: int = DEFAULT_MAX_REQUEST_ROWS
    max_tensor_bytes: int = names.DEFAULT_MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int) or self.max_rows < 1:
            raise ConfigError(f"max rows per request must be an integer >= 1, got {self.max_rows!r}")
        if isinstance(self.max_tensor_bytes, bool) or not isinstance(self.max_tensor_bytes, int) \
                or self.max_tensor_bytes < 1:
            raise ConfigError(f"max tensor bytes must be an integer >= 1, got {self.max_tensor_bytes!r}")


def _declared_shape(proto: Any, input_name: str) -> tuple[int, ...]:
    try:
        return tensors.shape_of(proto)
    except tensors.TensorConversionError as error:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {input_name!r}: {error}") from None


def check_shape(input_name: str, declared: tuple[int, ...], shape: tuple | None, limits: RequestLimits) -> None:
    """An input's (declared) shape against the signature's ``shape`` (``None`` = any rank; ``None`` sizes = any)
    and the rows cap: the one shape check of gRPC tensors and REST values."""
    if shape is not None and (len(declared) != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, declared))):
        shown = [-1 if size is None else size for size in shape]
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {input_name!r} must have shape {shown}, got {list(declared)}")
    if any(size < 0 for size in declared):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {input_name!r}: negative dimension in shape {list(declared)}")
    rows = declared[0] if declared else 1
    if rows == 0 or 0 in declared:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {input_name!r} is empty (shape {list(declared)})")
    if rows > limits.max_rows:
        raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"input {input_name!r} has {rows} rows, more than the {limits.max_rows} allowed per "
                           f"request; split it into smaller requests")


def request_array(proto: Any, *, input_name: str, dtype: int, shape: tuple, limits: RequestLimits) -> np.ndarray:
    """The request's input as an array, checked against the signature's ``dtype``/``shape`` and ``limits``.

    Everything is checked on the declared shape first (rank, fixed dimensions, no negative or empty dimension,
    rows and materialised bytes under the caps); the values are read last.
    """
    if proto.dtype != dtype:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {input_name!r} must be {tensors.dtype_name(dtype)}, "
                           f"got {tensors.dtype_name(proto.dtype)}")
    declared = _declared_shape(proto, input_name)
    check_shape(input_name, declared, shape, limits)
    size = 1
    for dimension in declared:
        size *= int(dimension)  # Python ints: no overflow on hostile shapes
    if proto.dtype != tensors.DT_STRING:
        item = tensors.DTYPE_OF_ENUM[proto.dtype].itemsize if proto.dtype in tensors.DTYPE_OF_ENUM else 1
        if size * item > limits.max_tensor_bytes:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                               f"input {input_name!r} of shape {list(declared)} would take {size * item} bytes, more "
                               f"than the {limits.max_tensor_bytes} allowed per request")
    try:
        return tensors.make_ndarray(proto)
    except tensors.TensorConversionError as error:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {input_name!r}: {error}") from None


def predict_in_batches(run: Callable[[np.ndarray], dict[str, np.ndarray]], array: np.ndarray,
                       batch_rows: int) -> dict[str, np.ndarray]:
    """``run`` over ``array`` ``batch_rows`` rows at a time (one after the other), outputs concatenated by key."""
    if array.shape[0] <= batch_rows:
        return run(array)
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, array.shape[0], batch_rows):
        for key, value in run(array[start:start + batch_rows]).items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(values) for key, values in parts.items()}


def internal_message(error: BaseException, limit: int = 300) -> str:
    """One line for the client about an unexpected error: its type and first meaningful line, no traceback."""
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in str(text).splitlines()
             if line.strip() and not line.startswith((" ", "\t"))
             and not line.strip().startswith(("Traceback", "File ", "Graph execution error", "Detected at node",
                                              "<stack", "[["))]
    first = lines[0] if lines else ""
    message = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return message[:limit]
