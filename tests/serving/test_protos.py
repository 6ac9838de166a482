"""The TensorFlow-free wire messages match TF Serving's field for field; numpy <-> TensorProto round trips."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import descriptor
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, predict_pb2

from seq2exp.serving import tensors
from seq2exp.serving.protos import serving_wire_pb2 as wire

PAIRS = [
    (wire.TensorProto, tensor_pb2.TensorProto),
    (wire.TensorShapeProto, tf.TensorShape([1]).as_proto().__class__),
    (wire.TensorInfo, meta_graph_pb2.TensorInfo),
    (wire.SignatureDef, meta_graph_pb2.SignatureDef),
    (wire.SignatureDefMap, get_model_metadata_pb2.SignatureDefMap),
    (wire.ModelSpec, model_pb2.ModelSpec),
    (wire.PredictRequest, predict_pb2.PredictRequest),
    (wire.PredictResponse, predict_pb2.PredictResponse),
    (wire.GetModelMetadataRequest, get_model_metadata_pb2.GetModelMetadataRequest),
    (wire.GetModelMetadataResponse, get_model_metadata_pb2.GetModelMetadataResponse),
    (wire.GetModelStatusRequest, get_model_status_pb2.GetModelStatusRequest),
    (wire.GetModelStatusResponse, get_model_status_pb2.GetModelStatusResponse),
    (wire.ModelVersionStatus, get_model_status_pb2.ModelVersionStatus),
]
_VARINT = {descriptor.FieldDescriptor.TYPE_ENUM, descriptor.FieldDescriptor.TYPE_INT32}


def _compatible(ours: descriptor.FieldDescriptor, theirs: descriptor.FieldDescriptor) -> bool:
    if ours.type in _VARINT and theirs.type in _VARINT:  # an enum upstream may be an int32 here: same varint
        return True
    return ours.type == theirs.type


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=[p[0].DESCRIPTOR.name for p in PAIRS])
def test_every_field_matches_upstream(ours, theirs):
    def check(our_desc, their_desc):
        for field in our_desc.fields:
            assert field.name in their_desc.fields_by_name, f"{our_desc.full_name}.{field.name} not upstream"
            upstream = their_desc.fields_by_name[field.name]
            assert field.number == upstream.number, f"{our_desc.full_name}.{field.name} number"
            assert _compatible(field, upstream), f"{our_desc.full_name}.{field.name} type"
            assert field.is_repeated == upstream.is_repeated, f"{our_desc.full_name}.{field.name} label"
            if field.message_type is not None and field.message_type.full_name.startswith("seq2exp"):
                check(field.message_type, upstream.message_type)
        return True

    assert check(ours.DESCRIPTOR, theirs.DESCRIPTOR)


def test_enums_match_upstream():
    for value in wire.DataType.DESCRIPTOR.values:
        assert types_pb2.DataType.Value(value.name) == value.number
    for value in wire.ModelVersionStatus.State.DESCRIPTOR.values:
        assert get_model_status_pb2.ModelVersionStatus.State.Value(value.name) == value.number


def test_predict_request_bytes_round_trip_through_upstream():
    request = wire.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.version_label = "stable"
    request.model_spec.signature_name = "serving_default"
    request.inputs["sequences"].CopyFrom(tensors.make_tensor_proto(["ACGT", "GGN"], wire.TensorProto))
    upstream = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert upstream.model_spec.version_label == "stable"
    assert tf.make_ndarray(upstream.inputs["sequences"]).tolist() == [b"ACGT", b"GGN"]
    again = wire.PredictRequest.FromString(upstream.SerializeToString())
    assert again == request


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool", "float16"])
def test_numeric_tensors_agree_with_tensorflow(dtype):
    array = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    ours = tensors.make_tensor_proto(array, tensor_pb2.TensorProto)
    np.testing.assert_array_equal(tf.make_ndarray(ours), array)
    theirs = tf.make_tensor_proto(array)
    np.testing.assert_array_equal(tensors.make_ndarray(wire.TensorProto.FromString(theirs.SerializeToString())),
                                  array)
    # values in the typed *_val field (how other clients send small tensors), incl. the "last value fills" rule
    short = tf.make_tensor_proto(np.ones([2, 2], dtype=dtype), shape=[2, 2])
    np.testing.assert_array_equal(tensors.make_ndarray(short), np.ones([2, 2], dtype=dtype))


def test_bad_tensors_are_rejected():
    proto = tensors.make_tensor_proto(np.zeros([2, 2], np.float32), wire.TensorProto)
    proto.tensor_shape.dim[0].size = 3
    with pytest.raises(tensors.TensorConversionError, match="needs"):
        tensors.make_ndarray(proto)
    strings = tensors.make_tensor_proto(["A", "C"], wire.TensorProto)
    strings.tensor_shape.dim[0].size = 5
    with pytest.raises(tensors.TensorConversionError, match="strings"):
        tensors.make_ndarray(strings)
    with pytest.raises(tensors.TensorConversionError, match="unsupported"):
        tensors.make_tensor_proto(np.zeros(2, np.complex64), wire.TensorProto)
