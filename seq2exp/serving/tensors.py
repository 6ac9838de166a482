"""numpy <-> ``TensorProto`` without TensorFlow.

The functions work on any message with TensorFlow's ``TensorProto`` field names: the client's wire-compatible class
(:mod:`seq2exp.serving.protos.serving_wire_pb2`) and the real ``tensorflow.core.framework.tensor_pb2.TensorProto``
the embedded server uses. They follow ``tf.make_tensor_proto`` / ``tf.make_ndarray`` (numbers in
``tensor_content``, strings in ``string_val``; a short typed ``*_val`` list is padded with its last value).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

# TensorFlow DataType enum value -> numpy dtype (little-endian, as TensorFlow writes tensor_content).
DT_STRING = 7
DTYPE_OF_ENUM: dict[int, np.dtype] = {
    1: np.dtype("<f4"),
    2: np.dtype("<f8"),
    3: np.dtype("<i4"),
    4: np.dtype("u1"),
    5: np.dtype("<i2"),
    6: np.dtype("i1"),
    9: np.dtype("<i8"),
    10: np.dtype("?"),
    17: np.dtype("<u2"),
    19: np.dtype("<f2"),
    22: np.dtype("<u4"),
    23: np.dtype("<u8"),
}
ENUM_OF_DTYPE: dict[np.dtype, int] = {dtype.newbyteorder("="): enum for enum, dtype in DTYPE_OF_ENUM.items()}
DTYPE_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
               7: "DT_STRING", 9: "DT_INT64", 10: "DT_BOOL", 17: "DT_UINT16", 19: "DT_HALF", 22: "DT_UINT32",
               23: "DT_UINT64"}
# DataType enum -> the repeated field that holds its values when tensor_content is empty.
_VALUE_FIELD = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val",
                9: "int64_val", 10: "bool_val", 17: "int_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val"}


class TensorConversionError(ValueError):
    """A TensorProto cannot be turned into an array (unsupported dtype, wrong number of values)."""


def dtype_name(enum_value: int) -> str:
    """``DT_FLOAT``-style name of a DataType enum value."""
    return DTYPE_NAMES.get(int(enum_value), f"DataType({int(enum_value)})")


def make_tensor_proto(values: Any, proto_class: type, *, dtype: Any = None) -> Any:
    """Build a ``proto_class`` (a TensorProto) from an array or from a list of strings/bytes."""
    proto = proto_class()
    array = values if isinstance(values, np.ndarray) else None
    if array is None:
        if isinstance(values, (str, bytes)):
            values = [values]
        values = list(values)
        if dtype is None and all(isinstance(v, (str, bytes)) for v in values):
            return _string_proto(values, [len(values)], proto)
        array = np.asarray(values, dtype=dtype)
    elif dtype is not None:
        array = array.astype(dtype, copy=False)
    if array.dtype.kind in "USO":
        return _string_proto(array.reshape(-1).tolist(), list(array.shape), proto)
    key = array.dtype.newbyteorder("=")
    if key not in ENUM_OF_DTYPE:
        raise TensorConversionError(f"unsupported dtype {array.dtype} (supported: "
                                    f"{sorted(str(d) for d in ENUM_OF_DTYPE)} and strings)")
    proto.dtype = ENUM_OF_DTYPE[key]
    _set_shape(proto, array.shape)
    proto.tensor_content = np.ascontiguousarray(array, dtype=DTYPE_OF_ENUM[proto.dtype]).tobytes()
    return proto


def _string_proto(items: Iterable[Any], shape: list[int], proto: Any) -> Any:
    proto.dtype = DT_STRING
    _set_shape(proto, shape)
    proto.string_val.extend(item.encode("utf-8") if isinstance(item, str) else bytes(item) for item in items)
    return proto


def _set_shape(proto: Any, shape: Iterable[int]) -> None:
    for size in shape:
        proto.tensor_shape.dim.add().size = int(size)


def shape_of(proto: Any) -> tuple[int, ...]:
    """The shape of a TensorProto (``-1`` never appears in a request tensor)."""
    if proto.tensor_shape.unknown_rank:
        raise TensorConversionError("tensor has an unknown rank")
    return tuple(int(dim.size) for dim in proto.tensor_shape.dim)


def make_ndarray(proto: Any) -> np.ndarray:
    """The numpy array held by a TensorProto (strings come back as an object array of ``bytes``)."""
    shape = shape_of(proto)
    if any(size < 0 for size in shape):
        raise TensorConversionError(f"negative dimension in shape {list(shape)}")
    size = int(np.prod(shape, dtype=np.int64))
    if proto.dtype == DT_STRING:
        values = list(proto.string_val)
        if len(values) != size:
            raise TensorConversionError(f"shape {list(shape)} needs {size} strings, got {len(values)}")
        array = np.empty(size, dtype=object)
        array[:] = values
        return array.reshape(shape)
    if proto.dtype not in DTYPE_OF_ENUM:
        raise TensorConversionError(f"unsupported tensor dtype {dtype_name(proto.dtype)}")
    dtype = DTYPE_OF_ENUM[proto.dtype]
    if proto.tensor_content:
        if len(proto.tensor_content) != size * dtype.itemsize:
            raise TensorConversionError(f"shape {list(shape)} of {dtype_name(proto.dtype)} needs "
                                        f"{size * dtype.itemsize} bytes, tensor_content has "
                                        f"{len(proto.tensor_content)}")
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    values = getattr(proto, _VALUE_FIELD[proto.dtype])
    if proto.dtype == 19:
        flat = np.asarray(values, dtype=np.uint16).view(np.float16)
    else:
        flat = np.asarray(values, dtype=dtype.newbyteorder("="))
    if flat.size == size:
        return flat.reshape(shape)
    if 0 < flat.size < size:  # TensorFlow's convention: the last value fills the rest
        return np.concatenate([flat, np.full(size - flat.size, flat[-1], flat.dtype)]).reshape(shape)
    if flat.size == 0 and size == 0:
        return flat.reshape(shape)
    raise TensorConversionError(f"shape {list(shape)} needs {size} values, got {flat.size}")
