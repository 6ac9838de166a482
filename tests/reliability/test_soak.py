"""A bounded random-request soak of a running server (REST and gRPC on 127.0.0.1, the embedded ``seq2exp serve``).

Four client threads send a seeded random mix -- valid REST and gRPC predictions of random rows, and hostile REST
requests (random bytes, random JSON, random methods and paths, bad lengths, connections dropped mid-body) -- for at
most ``REQUESTS`` requests or ``SECONDS`` seconds. Checked: every valid answer equals the SavedModel called outside
the server (``tf.saved_model.load``: the oracle, no server batching), every hostile one is a 4xx JSON answer, the
server answers a status request at the end, and its resident memory after the soak stays within ``MAX_GROWTH_MIB``
of what it used after warm-up. The figures are printed (``-s``) for the closing note.
"""
from __future__ import annotations

import base64
import gc
import http.client
import json
import random
import socket
import threading
import time

import grpc
import numpy as np
import pytest

from seq2exp.serving import signatures as names
from tests.reliability.conftest import random_promoters

REQUESTS = 3000
SECONDS = 60.0
THREADS = 4
MAX_GROWTH_MIB = 150
POOL = random_promoters(64, seed=9)


def _rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def server(tiny_export):
    from seq2exp.serving.config import BatchingOptions, discover_models
    from seq2exp.serving.server import ModelServer

    srv = ModelServer(discover_models(tiny_export), port=0, rest_port=0, poll_seconds=0, max_request_rows=64,
                      max_message_bytes=4 << 20, batching=BatchingOptions(max_batch_size=32)).start()
    yield srv
    srv.stop(grace=1)


@pytest.fixture(scope="module")
def reference(tiny_export) -> dict[str, float]:
    """Each pool sequence's prediction by the SavedModel outside the server."""
    import tensorflow as tf

    function = tf.saved_model.load(str(tiny_export / "tiny" / "1")).signatures[names.SERVING_DEFAULT]
    values = function(**{names.SEQUENCES_INPUT: tf.constant(POOL)})[names.EXPRESSION_OUTPUT].numpy()
    return dict(zip(POOL, values.tolist()))


def _http(port: int, method: str, path: str, body: bytes | None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _hostile(rng: random.Random, port: int) -> tuple[str, int, bytes]:
    kind = rng.choice(["bytes", "json", "method", "path", "length", "drop", "deep", "ragged", "b64"])
    path = "/v1/models/tiny:predict"
    if kind == "bytes":
        return kind, *_http(port, "POST", path, rng.randbytes(rng.randint(0, 2000)))
    if kind == "json":
        value = rng.choice([[], {}, None, 3, "x", {"instances": rng.randint(0, 9)}, {"inputs": [[1], "A"]},
                            {"instances": ["ACGT"], "signature_name": rng.randbytes(4).hex()}])
        return kind, *_http(port, "POST", path, json.dumps(value).encode())
    if kind == "method":
        return kind, *_http(port, rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "FOO"]), path, b"{}")
    if kind == "path":
        return kind, *_http(port, rng.choice(["GET", "POST"]), "/v1/models/" + rng.randbytes(6).hex(), b"{}")
    if kind == "deep":
        depth = rng.randint(65, 50_000)
        return kind, *_http(port, "POST", path, b'{"instances": ' + b"[" * depth + b"]" * depth + b"}")
    if kind == "ragged":
        return kind, *_http(port, "POST", path, json.dumps({"instances": [["ACGT"], ["A", "C"]]}).encode())
    if kind == "b64":
        return kind, *_http(port, "POST", path, json.dumps({"instances": [{"b64": "%%%"}]}).encode())
    if kind == "length":
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {rng.choice(['x', '-5', '1e9'])}"
                         "\r\n\r\n".encode())
            response = http.client.HTTPResponse(sock)
            response.begin()
            return kind, response.status, response.read()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:  # drop: close mid-body
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{{\"inst".encode())
        sock.shutdown(socket.SHUT_WR)
        data = sock.recv(65536)
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 400
        return kind, status, data.split(b"\r\n\r\n", 1)[-1] or b'{"error": "closed"}'


def test_random_request_soak(server, reference):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    def valid_rest(rng: random.Random) -> None:
        rows = rng.sample(POOL, rng.randint(1, 20))
        body = {"instances": rows} if rng.random() < 0.6 else {
            "instances": [{"b64": base64.b64encode(s.encode()).decode()} for s in rows]}
        status, data = _http(server.rest_port, "POST", "/v1/models/tiny:predict", json.dumps(body).encode())
        assert status == 200, data[:300]
        np.testing.assert_allclose(json.loads(data)["predictions"], [reference[s] for s in rows], atol=1e-5)

    channel = grpc.insecure_channel(server.target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def valid_grpc(rng: random.Random) -> None:
        rows = rng.sample(POOL, rng.randint(1, 20))
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tiny"
        request.inputs[names.SEQUENCES_INPUT].CopyFrom(tf.make_tensor_proto([s.encode() for s in rows]))
        response = stub.Predict(request, timeout=30)
        got = tf.make_ndarray(response.outputs[names.EXPRESSION_OUTPUT])
        np.testing.assert_allclose(got, [reference[s] for s in rows], atol=1e-5)

    for seed in range(3):  # warm-up: every path once, then the memory baseline
        valid_rest(random.Random(seed))
        valid_grpc(random.Random(seed))
        _hostile(random.Random(seed), server.rest_port)
    gc.collect()
    before = _rss_mib()
    counts = {"rest_ok": 0, "grpc_ok": 0, "hostile": 0}
    statuses: dict[int, int] = {}
    failures: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()
    issued = iter(range(REQUESTS))

    def worker(index: int) -> None:
        rng = random.Random(1000 + index)
        while time.monotonic() - started < SECONDS:
            with lock:
                if next(issued, None) is None:
                    return
            draw = rng.random()
            try:
                if draw < 0.4:
                    valid_rest(rng)
                    key = "rest_ok"
                elif draw < 0.6:
                    valid_grpc(rng)
                    key = "grpc_ok"
                else:
                    kind, status, data = _hostile(rng, server.rest_port)
                    assert 400 <= status < 500, (kind, status, data[:200])
                    assert "error" in json.loads(data), (kind, data[:200])
                    key = "hostile"
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                with lock:
                    counts[key] += 1
            except Exception as error:  # noqa: BLE001 - collected and reported below
                with lock:
                    failures.append(f"{type(error).__name__}: {error}"[:300])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    gc.collect()
    after = _rss_mib()
    status, data = _http(server.rest_port, "GET", "/v1/models/tiny", None)
    channel.close()
    figures = {"requests": sum(counts.values()) + len(failures), **counts, "hostile_statuses": statuses,
               "failures": len(failures), "seconds": round(seconds, 1),
               "requests_per_s": round((sum(counts.values()) + len(failures)) / seconds, 1),
               "rss_mib_before": round(before, 1), "rss_mib_after": round(after, 1)}
    print("soak:", json.dumps(figures))
    assert not failures, failures[:5]
    assert status == 200 and json.loads(data)["model_version_status"][0]["state"] == "AVAILABLE"
    assert after - before < MAX_GROWTH_MIB, figures
    assert sum(counts.values()) >= min(REQUESTS, 100)
