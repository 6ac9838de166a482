"""TF Serving's REST API on the embedded server, spoken to with a plain HTTP client (urllib)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from seq2exp.serving import signatures as names

from .conftest import random_promoters


@pytest.fixture(scope="module")
def rest(model_base):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    srv = ModelServer(discover_models(model_base, only=["autosome", "tiny"]), port=0, rest_port=0, poll_seconds=0,
                      max_message_bytes=256 * 1024).start()
    yield srv
    srv.stop(grace=1)


def _call(url: str, body: object | None = None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_row_and_columnar_predict_equal_in_process(rest, expected_outputs, sequences):
    url = f"{rest.rest_url}/v1/models/autosome:predict"
    expected = expected_outputs["autosome"]
    status, rows = _call(url, {"instances": sequences[:20]})
    assert status == 200
    assert set(rows["predictions"][0]) == {names.EXPRESSION_OUTPUT, names.BINS_OUTPUT}  # two outputs: objects
    np.testing.assert_allclose([row["expression"] for row in rows["predictions"]],
                               expected[names.EXPRESSION_OUTPUT][:20], atol=1e-5, rtol=0)
    np.testing.assert_allclose([row["bins"] for row in rows["predictions"]], expected[names.BINS_OUTPUT][:20],
                               atol=1e-5, rtol=0)
    status, named_rows = _call(url, {"instances": [{"sequences": s} for s in sequences[:3]]})
    assert status == 200 and named_rows["predictions"] == rows["predictions"][:3]
    status, columns = _call(f"{rest.rest_url}/v1/models/autosome/versions/1:predict",
                            {"signature_name": "serving_default", "inputs": {"sequences": sequences[:20]}})
    assert status == 200
    np.testing.assert_allclose(columns["outputs"]["expression"], expected[names.EXPRESSION_OUTPUT][:20],
                               atol=1e-5, rtol=0)


def test_onehot_signature_over_rest(rest, loaded_runs, expected_outputs, sequences):
    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.inference.onehot import codes_to_onehot

    codes, lengths = sequences_to_codes(sequences[:4])
    onehot = codes_to_onehot(codes, lengths, loaded_runs["autosome"].encoder.max_sequence_length)
    status, body = _call(f"{rest.rest_url}/v1/models/autosome:predict",
                         {"signature_name": "onehot", "inputs": onehot.tolist()})
    assert status == 200
    np.testing.assert_allclose(body["outputs"]["bins"], expected_outputs["autosome"][names.BINS_OUTPUT][:4],
                               atol=1e-5, rtol=0)


def test_status_and_metadata(rest, loaded_runs):
    status, body = _call(f"{rest.rest_url}/v1/models/tiny")
    assert status == 200
    assert body == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = _call(f"{rest.rest_url}/v1/models/autosome/versions/1/metadata")
    assert status == 200 and body["model_spec"] == {"name": "autosome", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    default = signatures[names.SERVING_DEFAULT]
    assert default["inputs"]["sequences"]["dtype"] == "DT_STRING"
    assert default["method_name"] == names.PREDICT_METHOD_NAME
    length = loaded_runs["autosome"].encoder.max_sequence_length
    assert [d["size"] for d in signatures["onehot"]["inputs"]["onehot"]["tensor_shape"]["dim"]] == \
        ["-1", str(length), "4"]


@pytest.mark.parametrize("path, body, code, fragment", [
    ("/v1/models/nope:predict", {"instances": ["ACGT"]}, 404, "Servable not found for request: Latest(nope)"),
    ("/v1/models/tiny/versions/9:predict", {"instances": ["ACGT"]}, 404, "Specific(tiny, 9)"),
    ("/v1/models/tiny/labels/canary:predict", {"instances": ["ACGT"]}, 404, "label: canary"),
    ("/v1/models/tiny:predict", {"instances": ["ACGTZ"]}, 400, "row 0"),
    ("/v1/models/tiny:predict", {"inputs": {"seqs": ["ACGT"]}}, 400,
     "input tensor alias not found in signature: seqs. Inputs expected to be in the set {sequences}."),
    ("/v1/models/tiny:predict", {"signature_name": "classify", "instances": ["ACGT"]}, 400,
     'Serving signature key "classify" not found.'),
    ("/v1/models/tiny:predict", {"instances": [1.5]}, 400, "input 'sequences' must be DT_STRING, got a JSON number"),
    ("/v1/models/tiny:predict", {"instances": [None]}, 400, "must be DT_STRING, got null"),
    ("/v1/models/tiny:predict", {"instances": [["ACGT", 2]]}, 400, "must be DT_STRING, got a JSON integer"),
    ("/v1/models/tiny:predict", {"signature_name": "onehot", "inputs": [[[0, 1]]]}, 400, "shape"),
    ("/v1/models/tiny:predict", {"instances": []}, 400, "non-empty"),
    ("/v1/models/tiny:predict", {"sequences": ["ACGT"]}, 400, "unknown request field"),
    ("/v1/models/tiny:explain", {"instances": ["ACGT"]}, 404, "Malformed request"),
])
def test_errors_are_json_with_tf_servings_http_codes(rest, path, body, code, fragment):
    status, answer = _call(rest.rest_url + path, body)
    assert status == code and list(answer) == ["error"], answer
    assert fragment in answer["error"]
    ok, _ = _call(f"{rest.rest_url}/v1/models/tiny:predict", {"instances": random_promoters(1)})
    assert ok == 200  # the server keeps serving


def test_malformed_json_and_the_body_size_cap(rest):
    status, answer = _call(f"{rest.rest_url}/v1/models/tiny:predict", raw=b"{not json")
    assert status == 400 and "JSON Parse error" in answer["error"]
    big = {"instances": random_promoters(3000, seed=4)}  # ~500 kB, over the 256 KiB cap
    status, answer = _call(f"{rest.rest_url}/v1/models/tiny:predict", big)
    assert status == 413 and "over the limit" in answer["error"]


def test_client_over_rest_equals_grpc(rest, sequences):
    from seq2exp.serving.client import Client, ModelNotFoundError

    with Client(rest.target, "autosome") as grpc_client, \
            Client(rest.rest_url, "autosome", transport="rest", batch_size=64) as rest_client:
        np.testing.assert_array_equal(rest_client.predict(sequences[:100]), grpc_client.predict(sequences[:100]))
        outputs = rest_client.predict_outputs(sequences[:10], outputs=[names.BINS_OUTPUT])
        assert list(outputs) == [names.BINS_OUTPUT] and outputs[names.BINS_OUTPUT].shape == (10, names.N_BINS)
        assert rest_client.status()[0]["state"] == "AVAILABLE"
        with pytest.raises(ModelNotFoundError):
            rest_client.predict(sequences[:1], version=7)
