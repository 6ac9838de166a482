"""The server process under memory pressure and killed under load, through TF Serving's own client stubs.

The server runs in a subprocess whose address space is capped (``RLIMIT_AS``) at what it uses once loaded plus a
headroom: a large request (2*10^5 sequences, 22 MB, under the 64 MiB message cap) and amplified ``onehot``
requests must be answered or refused while it stays up. Then it is killed with SIGKILL while clients keep
requesting, and every client must fail fast with ``UNAVAILABLE`` instead of hanging. A slow negative control shows
the cap is tight: without the server's batching the same large request does not fit.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from seq2exp.serving import signatures as names
from tests.reliability.conftest import REPO_ROOT, random_promoters

HEADROOM_MIB = 768
LARGE_ROWS = 200_000
CLIENTS = 6


def _start(base, *extra: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2", MALLOC_ARENA_MAX="2")
    process = subprocess.Popen([sys.executable, "-m", "tests.reliability.limited_server", str(base),
                                "--headroom-mib", str(HEADROOM_MIB), *extra], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise AssertionError(f"server did not start: {line}{process.stderr.read()[-3000:]}")
    return process, line.split()[2]


def _stub(target: str):
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 256 << 20),
                                                     ("grpc.max_receive_message_length", 256 << 20)])
    return channel, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _strings_request(sequences):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    tensor = request.inputs[names.SEQUENCES_INPUT]
    tensor.dtype = 7
    tensor.tensor_shape.dim.add().size = len(sequences)
    tensor.string_val.extend(s.encode() for s in sequences)
    return request


def _onehot_request(shape):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = names.ONEHOT_SIGNATURE
    tensor = request.inputs[names.ONEHOT_INPUT]
    tensor.dtype = 1
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    tensor.float_val.append(0.25)
    return request


def _rows(response) -> int:
    return int(response.outputs[names.EXPRESSION_OUTPUT].tensor_shape.dim[0].size)


def test_memory_capped_server_answers_large_and_amplified_requests_then_clients_fail_fast_when_killed(tiny_export):
    process, target = _start(tiny_export)
    channel, stub = _stub(target)
    try:
        # --- memory: everything below runs inside HEADROOM_MIB of address space beyond the loaded server
        large = _strings_request(random_promoters(LARGE_ROWS, seed=2))
        assert large.ByteSize() < names.DEFAULT_MAX_MESSAGE_BYTES
        assert _rows(stub.Predict(large, timeout=300)) == LARGE_ROWS
        for shape, pattern in (([1_000_000, 256, 4], "rows, more than the 250000 allowed"),
                               ([200_000, 256, 4], "bytes, more than the 67108864 allowed")):
            with pytest.raises(grpc.RpcError) as caught:
                stub.Predict(_onehot_request(shape), timeout=60)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and pattern in caught.value.details()
        assert process.poll() is None

        # --- fault: kill it while CLIENTS threads keep sending requests
        small = _strings_request(random_promoters(64, seed=3))
        everyone_served = threading.Barrier(CLIENTS + 1)
        killed_at: list[float] = []
        failures: dict[int, tuple[grpc.StatusCode, float]] = {}

        def client(slot: int) -> None:
            own_channel, own_stub = _stub(target)
            try:
                own_stub.Predict(small, timeout=30)
                everyone_served.wait(timeout=120)
                while True:
                    try:
                        own_stub.Predict(small, timeout=30)
                    except grpc.RpcError as error:
                        failures[slot] = (error.code(), time.monotonic())
                        return
            finally:
                own_channel.close()

        threads = [threading.Thread(target=client, args=(slot,), daemon=True) for slot in range(CLIENTS)]
        for thread in threads:
            thread.start()
        everyone_served.wait(timeout=120)  # every client got an answer: the server is under load
        process.send_signal(signal.SIGKILL)
        killed_at.append(time.monotonic())
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a client hangs after the server died"
        assert sorted(failures) == list(range(CLIENTS))
        assert {code for code, _ in failures.values()} == {grpc.StatusCode.UNAVAILABLE}, failures
        slowest = max(at for _, at in failures.values()) - killed_at[0]
        assert slowest < 10.0, f"clients took {slowest:.1f}s to notice (their deadline is 30 s)"
        with pytest.raises(grpc.RpcError) as caught:  # a new call on a dead server: UNAVAILABLE at once
            stub.Predict(small, timeout=30)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        channel.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def test_seq2exp_client_fails_fast_on_a_dead_server(tiny_export):
    """The project's own client (retries with back-off) gives up with ``ServerUnavailableError`` too."""
    from seq2exp.serving.client import Client, ServerUnavailableError

    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{sock.getsockname()[1]}"
    started = time.monotonic()
    client = Client(target, "tiny", retries=2, backoff=0.05, timeout=30)
    try:
        with pytest.raises(ServerUnavailableError):
            client.predict(["ACGT"])
    finally:
        client.close()
    assert time.monotonic() - started < 10.0


@pytest.mark.slow
def test_negative_control_without_server_batching_the_large_request_does_not_fit(tiny_export):
    """The same cap with one batch as large as the request: the request fails (so the cap above is tight), the
    server still answers small requests afterwards."""
    process, target = _start(tiny_export, "--max-batch-size", str(LARGE_ROWS))
    channel, stub = _stub(target)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(_strings_request(random_promoters(LARGE_ROWS, seed=2)), timeout=300)
        assert caught.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL)
        assert "Traceback" not in caught.value.details()
        assert _rows(stub.Predict(_strings_request(random_promoters(8, seed=3)), timeout=60)) == 8
        assert process.poll() is None
    finally:
        channel.close()
        process.kill()
        process.wait(timeout=30)
