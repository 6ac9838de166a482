"""The per-request byte cap: element count x item size of the declared shape, checked before any tensor is built.

The oracle is numpy's own ``nbytes`` of an array of the declared shape and dtype; the shapes chosen lie between the
two readings (element count under the cap, bytes over it), so a cap on elements instead of bytes fails here."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2

from seq2exp.serving.requests import RequestError, RequestLimits, request_array

L = 256
CAP = 10_000  # bytes


def _proto(shape: list[int], dtype=types_pb2.DT_FLOAT, fill: bool = True) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    if fill:
        item = np.dtype(np.float32 if dtype == types_pb2.DT_FLOAT else np.float64)
        proto.tensor_content = np.full(shape, 0.25, item).tobytes()
    return proto


@pytest.mark.parametrize("rows, dtype, numpy_dtype", [(2, types_pb2.DT_FLOAT, np.float32),
                                                      (3, types_pb2.DT_FLOAT, np.float32),
                                                      (1, types_pb2.DT_DOUBLE, np.float64),
                                                      (2, types_pb2.DT_DOUBLE, np.float64)])
def test_byte_cap_is_elements_times_item_size(rows, dtype, numpy_dtype):
    shape = [rows, L, 4]
    nbytes = np.zeros(shape, numpy_dtype).nbytes  # the oracle
    elements = int(np.prod(shape))
    assert elements <= CAP  # the element count alone never trips the cap in these cases
    limits = RequestLimits(max_rows=100, max_tensor_bytes=CAP)
    if nbytes > CAP:
        with pytest.raises(RequestError) as caught:
            request_array(_proto(shape, dtype, fill=False), input_name="onehot", dtype=dtype, shape=(None, L, 4),
                          limits=limits)
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"would take {nbytes} bytes" in caught.value.message
    else:
        array = request_array(_proto(shape, dtype), input_name="onehot", dtype=dtype, shape=(None, L, 4),
                              limits=limits)
        assert array.shape == tuple(shape) and array.nbytes == nbytes
