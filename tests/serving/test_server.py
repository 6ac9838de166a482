"""export -> serve -> client: equal predictions, bad requests, hot reload, labels, concurrency, SIGTERM."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from seq2exp.serving import signatures as names
from seq2exp.serving.client import (Client, DeadlineExceededError, InvalidRequestError, ModelNotFoundError,
                                    RequestTooLargeError, ServerUnavailableError)
from seq2exp.serving.config import BatchingOptions
from seq2exp.serving.config import ModelConfig, read_model_config, write_model_config
from seq2exp.inference.onehot import codes_to_onehot
from seq2exp.serving.server import ModelServer

from .conftest import BIN_MODELS, random_promoters

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("architecture", ["autosome", "bhi"])
def test_served_predictions_equal_in_process(server, expected_outputs, sequences, architecture):
    with Client(server.target, architecture, batch_size=64, max_concurrency=3) as client:
        served = client.predict_outputs(sequences)  # 5 concurrent requests, reassembled in order
        expression = client.predict(sequences[:7])
    expected = expected_outputs[architecture]
    assert set(served) == set(expected)
    assert (names.BINS_OUTPUT in served) == (architecture in BIN_MODELS)
    for key, value in expected.items():
        np.testing.assert_allclose(served[key], value, atol=1e-5, rtol=0)
    np.testing.assert_allclose(expression, expected[names.EXPRESSION_OUTPUT][:7], atol=1e-5, rtol=0)


def test_onehot_signature_and_output_filter(server, loaded_runs, expected_outputs, sequences):
    from seq2exp.data.alphabet import sequences_to_codes

    codes, lengths = sequences_to_codes(sequences[:50])
    onehot = codes_to_onehot(codes, lengths, loaded_runs["autosome"].encoder.max_sequence_length)
    with Client(server.target, "autosome") as client:
        served = client.predict_onehot(onehot, outputs=[names.BINS_OUTPUT])
    assert list(served) == [names.BINS_OUTPUT]
    np.testing.assert_allclose(served[names.BINS_OUTPUT], expected_outputs["autosome"][names.BINS_OUTPUT][:50],
                               atol=1e-5, rtol=0)


def test_metadata_and_status(server, loaded_runs):
    with Client(server.target, "autosome") as client:
        meta = client.metadata()
        status = client.status()
    assert meta["model"] == "autosome" and meta["version"] == 1
    default = meta["signatures"][names.SERVING_DEFAULT]
    assert default["method_name"] == names.PREDICT_METHOD_NAME
    assert default["inputs"] == {names.SEQUENCES_INPUT: {"dtype": "DT_STRING", "shape": [-1]}}
    assert default["outputs"][names.BINS_OUTPUT] == {"dtype": "DT_FLOAT", "shape": [-1, names.N_BINS]}
    assert default["outputs"][names.EXPRESSION_OUTPUT] == {"dtype": "DT_FLOAT", "shape": [-1]}
    length = loaded_runs["autosome"].encoder.max_sequence_length
    assert meta["signatures"][names.ONEHOT_SIGNATURE]["inputs"][names.ONEHOT_INPUT]["shape"] == [-1, length, 4]
    assert status == [{"version": 1, "state": "AVAILABLE", "error_code": 0, "error_message": ""}]


# --- bad requests, with TF Serving's own client stubs and messages ------------------------------------------------
def _request(model="tiny", signature=names.SERVING_DEFAULT, version=None, label=None, output_filter=(), **inputs):
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label is not None:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(value)
    return request


GOOD = ["TGCATTTTTTTCACATCACGTAGCTAGCTAGCGGTTACGGCTGTT"]
BAD_REQUESTS = {
    "bad letter": (_request(sequences=tf.make_tensor_proto(GOOD + ["ACGTZ"])), grpc.StatusCode.INVALID_ARGUMENT,
                   "row 1"),
    "too long": (_request(sequences=tf.make_tensor_proto(["A" * 5000])), grpc.StatusCode.INVALID_ARGUMENT, "longer"),
    "empty string": (_request(sequences=tf.make_tensor_proto([""])), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    "empty input": (_request(sequences=tf.make_tensor_proto(np.array([], dtype=object), dtype=tf.string)),
                    grpc.StatusCode.INVALID_ARGUMENT, "empty"),
    "wrong dtype": (_request(sequences=tf.make_tensor_proto(np.zeros(3, np.float32))),
                    grpc.StatusCode.INVALID_ARGUMENT, "DT_STRING"),
    "wrong rank": (_request(sequences=tf.make_tensor_proto([GOOD, GOOD])), grpc.StatusCode.INVALID_ARGUMENT,
                   "shape"),
    "wrong onehot shape": (_request(signature=names.ONEHOT_SIGNATURE, onehot=tf.make_tensor_proto(
        np.zeros([1, 7, 4], np.float32))), grpc.StatusCode.INVALID_ARGUMENT, "shape"),
    "wrong input name": (_request(seqs=tf.make_tensor_proto(GOOD)), grpc.StatusCode.INVALID_ARGUMENT,
                         "input tensor alias not found in signature: seqs. Inputs expected to be in the set "
                         "{sequences}."),
    "unknown output": (_request(sequences=tf.make_tensor_proto(GOOD), output_filter=["bins"]),
                       grpc.StatusCode.INVALID_ARGUMENT, "output tensor alias not found in signature: bins"),
    "unknown signature": (_request(signature="classify", sequences=tf.make_tensor_proto(GOOD)),
                          grpc.StatusCode.FAILED_PRECONDITION, 'Serving signature key "classify" not found.'),
    "unknown model": (_request(model="nope", sequences=tf.make_tensor_proto(GOOD)), grpc.StatusCode.NOT_FOUND,
                      "Servable not found for request: Latest(nope)"),
    "unknown version": (_request(version=99, sequences=tf.make_tensor_proto(GOOD)), grpc.StatusCode.NOT_FOUND,
                        "Servable not found for request: Specific(tiny, 99)"),
    "unknown label": (_request(label="canary", sequences=tf.make_tensor_proto(GOOD)), grpc.StatusCode.NOT_FOUND,
                      "canary"),
}


@pytest.fixture(scope="module")
def stubs(server):
    channel = grpc.insecure_channel(server.target)
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
           model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_gets_its_status_and_the_server_keeps_serving(stubs, case):
    request, code, fragment = BAD_REQUESTS[case]
    predict, _ = stubs
    with pytest.raises(grpc.RpcError) as caught:
        predict.Predict(request, timeout=30)
    assert caught.value.code() == code, caught.value.details()
    assert fragment in caught.value.details()
    good = predict.Predict(_request(sequences=tf.make_tensor_proto(GOOD)), timeout=30)
    assert tf.make_ndarray(good.outputs[names.EXPRESSION_OUTPUT]).shape == (1,)
    assert good.model_spec.version.value == 1 and good.model_spec.signature_name == names.SERVING_DEFAULT


def test_bad_metadata_and_status_requests(stubs):
    predict, models = stubs
    no_field = get_model_metadata_pb2.GetModelMetadataRequest()
    no_field.model_spec.name = "tiny"
    with pytest.raises(grpc.RpcError) as caught:
        predict.GetModelMetadata(no_field, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    unknown = get_model_status_pb2.GetModelStatusRequest()
    unknown.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as caught:
        models.GetModelStatus(unknown, timeout=30)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_client_maps_statuses_to_typed_errors(server):
    with Client(server.target, "tiny") as client:
        with pytest.raises(InvalidRequestError, match="row 0"):
            client.predict(["ACGU"])
        with pytest.raises(ModelNotFoundError):
            client.predict(GOOD, version=5)
    with Client(server.target, "missing") as client, pytest.raises(ModelNotFoundError):
        client.status()
    with Client("127.0.0.1:1", "tiny", retries=3, backoff=0.1) as client, pytest.raises(ServerUnavailableError):
        client.predict(GOOD)  # gRPC's retry policy gave up within the deadline
    with Client(server.target, "tiny", timeout=0.001, batch_size=100_000) as client:
        with pytest.raises(DeadlineExceededError):
            client.predict(random_promoters(20_000, seed=2))


def test_batcher_merges_concurrent_requests_and_isolates_bad_ones():
    from seq2exp.serving.server import Batcher

    calls: list[int] = []
    gate, running = threading.Event(), threading.Event()

    def model(array):
        calls.append(len(array))
        running.set()
        gate.wait(5)  # the first call holds the worker while the others queue up
        if (array < 0).any():
            raise tf.errors.InvalidArgumentError(None, None, "negative input")
        return {"double": array * 2}

    batcher = Batcher(model, BatchingOptions(max_batch_size=8, num_batch_threads=1), "test")
    try:
        first = batcher.submit(np.array([1.0]))
        assert running.wait(5)  # the worker holds the first request: the next ones queue behind it
        queued = [batcher.submit(np.array([float(i)] * 2)) for i in range(3)] + [batcher.submit(np.array([-1.0]))]
        big = batcher.submit(np.arange(20.0))  # larger than max_batch_size: runs alone
        gate.set()
        assert first.result(5)["double"].tolist() == [2.0]
        for i, future in enumerate(queued[:3]):
            assert future.result(5)["double"].tolist() == [2.0 * i] * 2
        with pytest.raises(tf.errors.InvalidArgumentError):
            queued[3].result(5)
        assert big.result(5)["double"].tolist() == (np.arange(20.0) * 2).tolist()
    finally:
        batcher.close()
    assert calls[:2] == [1, 7]  # the queued requests ran as one batch of 7 rows ...
    assert calls[2:6] == [2, 2, 2, 1] and calls[6] == 20  # ... which failed, so each ran alone; then the big one


def test_allowed_batch_sizes_pad_merged_batches_with_the_first_row():
    from seq2exp.serving.server import Batcher

    shapes: list[tuple] = []
    gate, running = threading.Event(), threading.Event()

    def model(array):
        shapes.append(array.tolist())
        running.set()
        gate.wait(5)
        return {"double": array * 2}

    options = BatchingOptions(max_batch_size=8, num_batch_threads=1, allowed_batch_sizes=(2, 4, 8))
    batcher = Batcher(model, options, "test")
    try:
        first = batcher.submit(np.array([1.0]))
        assert running.wait(5)
        merged = [batcher.submit(np.array([10.0, 11.0])), batcher.submit(np.array([20.0, 21.0, 22.0]))]
        gate.set()
        assert first.result(5)["double"].tolist() == [2.0]  # the padding is not returned
        assert merged[0].result(5)["double"].tolist() == [20.0, 22.0]
        assert merged[1].result(5)["double"].tolist() == [40.0, 42.0, 44.0]
    finally:
        batcher.close()
    # 1 row -> 2, 5 rows -> 8, padded with copies of the batch's first row (TF Serving's BatchingSession)
    assert shapes == [[1.0, 1.0], [10.0, 11.0, 20.0, 21.0, 22.0, 10.0, 10.0, 10.0]]
    with pytest.raises(Exception, match="allowed_batch_sizes"):
        BatchingOptions(max_batch_size=8, allowed_batch_sizes=(2, 4))  # must end with max_batch_size


@pytest.mark.parametrize("rows, expected", [(1, 2), (2, 2), (3, 4), (4, 4), (5, 8), (8, 8), (9, 9)])
def test_allowed_batch_sizes_keep_a_batch_that_already_has_an_allowed_size(rows, expected):
    """TF Serving's rule (BatchingSession: the smallest allowed size >= the batch's rows), written out here: a batch
    of exactly an allowed size runs as it is; one over max_batch_size runs alone, unpadded."""
    from seq2exp.serving.server import Batcher

    sizes: list[int] = []

    def model(array):
        sizes.append(len(array))
        return {"double": array * 2}

    batcher = Batcher(model, BatchingOptions(max_batch_size=8, num_batch_threads=1, allowed_batch_sizes=(2, 4, 8)),
                      "exact")
    try:
        values = np.arange(rows, dtype=np.float32)
        assert batcher.submit(values).result(5)["double"].tolist() == (values * 2).tolist()
    finally:
        batcher.close()
    assert sizes == [expected]


def test_request_size_cap(model_base):
    from seq2exp.serving.config import discover_models

    with ModelServer(discover_models(model_base, only=["tiny"]), port=0, poll_seconds=0,
                     max_message_bytes=64 * 1024) as small:
        big = random_promoters(1000, seed=1)  # ~110 kB in one request
        with Client(small.target, "tiny", batch_size=1000) as client, pytest.raises(RequestTooLargeError):
            client.predict(big)
        # the client splits under its own message limit, and the server keeps serving
        with Client(small.target, "tiny", max_message_bytes=60 * 1024) as client:
            assert client.predict(big).shape == (1000,)


def test_sixteen_concurrent_clients_times_200_requests(server, loaded_runs):
    pool = random_promoters(64, seed=11)
    expected = loaded_runs["tiny"].prediction_graph().predict_outputs(pool)[names.EXPRESSION_OUTPUT]
    failures: list[str] = []
    rows_checked = [0]
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        with Client(server.target, "tiny") as client:
            for _ in range(200):
                rows = rng.choice(len(pool), size=int(rng.integers(1, 9)), replace=False)
                try:
                    got = client.predict([pool[i] for i in rows])
                    if not np.allclose(got, expected[rows], atol=1e-5, rtol=0):
                        failures.append(f"client {seed}: wrong values")
                except Exception as error:  # noqa: BLE001
                    failures.append(f"client {seed}: {error}")
                with lock:
                    rows_checked[0] += len(rows)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    assert rows_checked[0] >= 16 * 200


# --- hot reload, version policy and labels ------------------------------------------------------------------------
def _copy_version_atomically(source: Path, target: Path) -> None:
    temporary = target.parent / f".{target.name}.copying"
    shutil.copytree(source, temporary)
    os.replace(temporary, target)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_hot_reload_of_a_new_version(tmp_path, model_base, loaded_runs, tiny_v2, sequences):
    """A new version folder appearing while serving is loaded and becomes the default; the old one is unloaded."""
    base = tmp_path / "M"
    _copy_version_atomically(model_base / "tiny" / "1", base / "reload" / "1")
    expected_v1 = loaded_runs["tiny"].prediction_graph().predict(sequences[:30])
    expected_v2 = tiny_v2[1].predict(sequences[:30])
    assert not np.allclose(expected_v1, expected_v2, atol=1e-3)
    config = [ModelConfig(name="reload", base_path=str(base / "reload"))]
    with ModelServer(config, port=0, poll_seconds=0.1) as srv, Client(srv.target, "reload") as client:
        np.testing.assert_allclose(client.predict(sequences[:30]), expected_v1, atol=1e-5, rtol=0)
        _copy_version_atomically(tiny_v2[0], base / "reload" / "2")
        _wait_for(lambda: client.status()[0] == {"version": 2, "state": "AVAILABLE", "error_code": 0,
                                                 "error_message": ""})
        np.testing.assert_allclose(client.predict(sequences[:30]), expected_v2, atol=1e-5, rtol=0)
        _wait_for(lambda: [s["state"] for s in client.status()] == ["AVAILABLE", "END"])
        with pytest.raises(ModelNotFoundError):
            client.predict(sequences[:2], version=1)


def _rest_predict(url: str, sequences: list[str]) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps({"instances": sequences}).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_broken_or_half_copied_new_version_leaves_the_old_one_serving(tmp_path, model_base, loaded_runs, tiny_v2,
                                                                        sequences, caplog):
    """TF Serving's availability-preserving policy: the version a new one replaces is unloaded only once the new one
    is AVAILABLE. A version folder that fails to load (garbage ``saved_model.pb``; a non-atomic copy caught half
    written) is END with its error in GetModelStatus while the old version keeps answering over gRPC (TF Serving's
    own stubs) and REST; it is not loaded again while its folder is unchanged, and is once the copy completes."""
    base = tmp_path / "M"
    _copy_version_atomically(model_base / "tiny" / "1", base / "roll" / "1")
    expected_v1 = loaded_runs["tiny"].prediction_graph().predict(sequences[:10])
    expected_v2 = tiny_v2[1].predict(sequences[:10])
    config = [ModelConfig(name="roll", base_path=str(base / "roll"))]
    with ModelServer(config, port=0, rest_port=0, poll_seconds=0) as srv, grpc.insecure_channel(srv.target) as channel:
        predict = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus

        def served() -> tuple[int, np.ndarray]:
            """(version, expression) over gRPC; REST must give the same answer."""
            response = predict(_request("roll", sequences=tf.make_tensor_proto(sequences[:10])), timeout=60)
            expression = tf.make_ndarray(response.outputs[names.EXPRESSION_OUTPUT])
            code, body = _rest_predict(f"{srv.rest_url}/v1/models/roll:predict", sequences[:10])
            assert code == 200, body
            np.testing.assert_allclose(body["predictions"], expression, atol=1e-5, rtol=0)
            return response.model_spec.version.value, expression

        def states() -> list[tuple[int, str, int, str]]:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "roll"
            return [(s.version, get_model_status_pb2.ModelVersionStatus.State.Name(s.state), s.status.error_code,
                     s.status.error_message) for s in status(request, timeout=30).model_version_status]

        def load_failures() -> int:
            return sum("loading roll version" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

        caplog.set_level(logging.INFO, logger="seq2exp.serving.server")
        # a garbage version: still served by 1, the error in the status, not retried while unchanged
        (base / "roll" / "5").mkdir()
        (base / "roll" / "5" / "saved_model.pb").write_text("garbage\n")
        srv.manager.poll_once()
        version, expression = served()
        assert version == 1
        np.testing.assert_allclose(expression, expected_v1, atol=1e-5, rtol=0)
        (five, end, code, message), one = states()
        assert (five, end, one[:3]) == (5, "END", (1, "AVAILABLE", 0)) and code != 0 and "load failed" in message
        srv.manager.poll_once()
        assert load_failures() == 1 and served()[0] == 1

        # a non-atomic copy of a good version 6, caught before the variables' data arrived
        shutil.copytree(tiny_v2[0], base / "roll" / "6", ignore=shutil.ignore_patterns("variables.data*"))
        srv.manager.poll_once()
        assert load_failures() == 2 and served()[0] == 1
        assert [(v, s) for v, s, *_ in states()] == [(6, "END"), (5, "END"), (1, "AVAILABLE")]
        srv.manager.poll_once()
        assert load_failures() == 2
        for data in (tiny_v2[0] / "variables").glob("variables.data*"):  # the copy completes (inside variables/,
            shutil.copy(data, base / "roll" / "6" / "variables" / data.name)  # so 6's own mtime stays): loaded
        srv.manager.poll_once()
        version, expression = served()
        assert version == 6
        np.testing.assert_allclose(expression, expected_v2, atol=1e-5, rtol=0)
        assert [(v, s, c) for v, s, c, _ in states()] == [(6, "AVAILABLE", 0), (5, "END", code), (1, "END", 0)]


def test_models_config_version_policy_and_labels(tmp_path, model_base, loaded_runs, tiny_v2, sequences):
    """models.config with a 'specific' policy and labels: versions and labels select what is served."""
    base = tmp_path / "M"
    for version, source in ((1, model_base / "tiny" / "1"), (2, tiny_v2[0]), (3, model_base / "tiny" / "1")):
        _copy_version_atomically(source, base / "multi" / str(version))  # 1 and 2 served (specific policy), 3 not
    path = write_model_config(tmp_path / "models.config", [ModelConfig(
        name="multi", base_path=str(base / "multi"), policy="specific", versions=(1, 2),
        labels={"stable": 1, "canary": 2})])
    tiny = loaded_runs["tiny"].prediction_graph().predict(sequences[:10])
    with ModelServer(read_model_config(path), port=0, poll_seconds=0) as srv:
        with Client(srv.target, "multi", label="stable") as stable, Client(srv.target, "multi", version=2) as two:
            np.testing.assert_allclose(stable.predict(sequences[:10]), tiny, atol=1e-5, rtol=0)
            assert not np.allclose(two.predict(sequences[:10]), tiny, atol=1e-3)
            assert [s["version"] for s in stable.status()] == [1]  # the label's version
            with pytest.raises(ModelNotFoundError):
                two.predict(sequences[:1], version=3)
            with pytest.raises(ModelNotFoundError):
                two.predict(sequences[:1], label="nightly")
        with Client(srv.target, "multi") as latest:
            assert latest.metadata()["version"] == 2
            assert [(s["version"], s["state"]) for s in latest.status()] == [(2, "AVAILABLE"), (1, "AVAILABLE")]


def test_a_label_of_a_version_that_is_not_available_fails_the_config(tmp_path, model_base, capsys):
    """tensorflow_model_server refuses a config whose label points to a version that is not AVAILABLE
    (FAILED_PRECONDITION, the server does not start): a version the policy does not serve, or one that does not exist.
    The embedded server checks once its models are loaded, and does not start either."""
    from seq2exp.cli import main as cli_main
    from seq2exp.errors import ConfigError

    base = tmp_path / "M"
    for version in (1, 2):
        _copy_version_atomically(model_base / "tiny" / "1", base / "labelled" / str(version))
    for version, state in ((1, "not served by the latest policy"), (7, "no such version")):
        path = write_model_config(tmp_path / f"models-{version}.config", [ModelConfig(
            name="labelled", base_path=str(base / "labelled"), labels={"stable": version})])
        srv = ModelServer(read_model_config(path), port=0, rest_port=0, poll_seconds=0)
        with pytest.raises(ConfigError, match=rf"model labelled: label 'stable' points to version {version}, which "
                                              r"is not available \(available: 2\); TF Serving refuses such a config: "
                                              rf"Request to assign label to version {version} of model labelled, "
                                              r"which is not currently available for inference"):
            srv.start()
        assert srv.port is None and srv.rest_port is None and not srv.manager._servables["labelled"], state
        capsys.readouterr()
        assert cli_main(["serve", "--model-config-file", str(path), "--port", "0", "--poll-seconds", "0"]) == 2
        out, err = capsys.readouterr()
        assert "listening" not in out and err.startswith("seq2exp serve: error: model labelled: label 'stable'"), err
    path = write_model_config(tmp_path / "models.config", [ModelConfig(  # the served version: starts
        name="labelled", base_path=str(base / "labelled"), labels={"stable": 2})])
    with ModelServer(read_model_config(path), port=0, poll_seconds=0) as srv, \
            Client(srv.target, "labelled", label="stable") as client:
        assert client.metadata()["version"] == 2


# --- the command line: serve, SIGTERM ----------------------------------------------------------------------------
def test_graceful_stop_finishes_in_flight_requests(model_base, sequences, loaded_runs):
    from seq2exp.serving.config import discover_models

    expected = loaded_runs["tiny"].prediction_graph().predict(sequences)
    srv = ModelServer(discover_models(model_base, only=["tiny"]), port=0, poll_seconds=0).start()
    servable, arrived = srv.manager._servables["tiny"][1], threading.Event()
    original = servable.predict

    def predict(*args, **kwargs):
        arrived.set()  # the request is inside the server
        return original(*args, **kwargs)

    servable.predict = predict
    result: dict = {}
    with Client(srv.target, "tiny", batch_size=100_000, retries=0) as client:
        in_flight = threading.Thread(target=lambda: result.update(v=client.predict(sequences * 100)))
        in_flight.start()
        assert arrived.wait(60)
        srv.stop(grace=30)
        in_flight.join(60)
        assert result["v"].shape == (len(sequences) * 100,)
        np.testing.assert_allclose(result["v"][:len(sequences)], expected, atol=1e-5, rtol=0)
        with pytest.raises(ServerUnavailableError):
            client.predict(sequences[:1])


@pytest.mark.slow
def test_serve_command_and_graceful_sigterm(model_base, sequences, loaded_runs):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "seq2exp.cli", "-v", "serve", "--model-base-path",
                                str(model_base), "--model-name", "tiny", "--port", "0", "--poll-seconds", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line + process.stderr.read()
        arrived = threading.Event()  # the server logged (debug) that the big request is being served

        def watch_log() -> None:
            for log_line in process.stderr:
                if "Predict tiny/1" in log_line and "big" in watch:
                    arrived.set()

        watch: set[str] = set()
        threading.Thread(target=watch_log, daemon=True).start()
        target = line.split()[2]
        expected = loaded_runs["tiny"].prediction_graph().predict(sequences)
        with Client(target, "tiny", batch_size=50, max_concurrency=2) as client:
            np.testing.assert_allclose(client.predict(sequences), expected, atol=1e-5, rtol=0)
        result: dict = {}
        with Client(target, "tiny", batch_size=100_000) as one_request:  # one RPC, in flight during SIGTERM
            in_flight = threading.Thread(target=lambda: result.update(v=one_request.predict(sequences * 100)))
            watch.add("big")
            in_flight.start()
            assert arrived.wait(60)
            process.send_signal(signal.SIGTERM)
            in_flight.join(60)
        assert process.wait(60) == 0
        assert "stopped" in process.stdout.read()
        assert "v" in result and result["v"].shape == (len(sequences) * 100,)  # the in-flight request finished
        np.testing.assert_allclose(result["v"][:len(sequences)], expected, atol=1e-5, rtol=0)
    finally:
        if process.poll() is None:
            process.kill()
