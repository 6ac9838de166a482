"""The client's retry policy, against a real gRPC server that answers UNAVAILABLE a set number of times: gRPC's
own retries (service config) make the call succeed within ``retries``, and give up with ServerUnavailableError
after them; other statuses are not retried."""
from __future__ import annotations

import threading
from concurrent import futures

import grpc
import numpy as np
import pytest

from seq2exp.serving import signatures as names
from seq2exp.serving import tensors
from seq2exp.serving.client import Client, ServerUnavailableError, ServingError
from seq2exp.serving.protos import serving_wire_pb2 as wire


class FlakyPredict:
    """Predict that aborts with ``status`` on its first ``failures`` calls, then returns one value per row."""

    def __init__(self, failures: int, status: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE):
        self.failures, self.status, self.calls = failures, status, 0
        self.lock = threading.Lock()

    def __call__(self, request, context):
        with self.lock:
            self.calls += 1
            failing = self.calls <= self.failures
        if failing:
            context.abort(self.status, "model still loading")
        rows = tensors.make_ndarray(request.inputs["sequences"])
        response = wire.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 7
        response.outputs[names.EXPRESSION_OUTPUT].CopyFrom(
            tensors.make_tensor_proto(np.arange(len(rows), dtype=np.float32), wire.TensorProto))
        return response


@pytest.fixture
def flaky_server():
    servers = []

    def start(handler: FlakyPredict) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        service, method = names.PREDICT_METHOD.strip("/").split("/")
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, {
            method: grpc.unary_unary_rpc_method_handler(
                handler, request_deserializer=wire.PredictRequest.FromString,
                response_serializer=wire.PredictResponse.SerializeToString)})])
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def test_unavailable_is_retried_until_the_server_answers(flaky_server):
    handler = FlakyPredict(failures=3)
    with Client(flaky_server(handler), "dream", retries=4, backoff=0.01, max_backoff=0.05, timeout=20) as client:
        values = client.predict(["ACGT", "GGCC"])
    assert values.tolist() == [0.0, 1.0] and client.last_version == 7
    assert handler.calls == 4  # three UNAVAILABLE answers, then the one that worked


def test_retries_run_out_with_a_clear_error(flaky_server):
    handler = FlakyPredict(failures=10)
    with Client(flaky_server(handler), "dream", retries=2, backoff=0.01, max_backoff=0.05, timeout=20) as client:
        with pytest.raises(ServerUnavailableError):
            client.predict(["ACGT"])
    assert handler.calls == 3


def test_other_statuses_are_not_retried(flaky_server):
    handler = FlakyPredict(failures=1, status=grpc.StatusCode.INVALID_ARGUMENT)
    with Client(flaky_server(handler), "dream", retries=4, backoff=0.01, timeout=20) as client:
        with pytest.raises(ServingError):
            client.predict(["ACGT"])
    assert handler.calls == 1
