"""Property-based fuzzing (hypothesis) of the one JSON reader, the CLI number validators and the REST request
parser, each against an oracle that is not the code under test: Python's ``json`` module on texts it can parse,
``int``/``float``/``math.isfinite`` on the number texts, and a plain nested-list walk / numpy on the instances.

Budget: ``EXAMPLES`` examples per property (a few seconds each), deterministic (``derandomize``) so a failure
reproduces; the figures are in the closing note of issue 33.
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from seq2exp import argtypes, jsonio

EXAMPLES = 300
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# JSON values (the oracle is json.dumps / json.loads)
json_scalars = st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False) | st.text(
    max_size=20)
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(
    st.text(max_size=8), children, max_size=4), max_leaves=40)


def _depth(value) -> int:
    """Nesting depth of a parsed value (the oracle: a plain walk; 0 for scalars)."""
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@SETTINGS
@given(json_values)
def test_json_reader_equals_python_json_and_measures_depth(value):
    text = json.dumps(value)
    assert jsonio.json_depth(text.encode()) == _depth(value)
    if _depth(value) <= jsonio.MAX_DEPTH:
        assert jsonio.loads(text, "fuzz") == json.loads(text)


@SETTINGS
@given(st.integers(1, 3000), st.sampled_from(["[", "{\"k\":"]), st.text(alphabet="[]{}\"\\ ,:x", max_size=30))
@example(jsonio.MAX_DEPTH, "[", "").via("the deepest accepted")
@example(jsonio.MAX_DEPTH + 1, "[", "").via("the shallowest refused")
@example(jsonio.MAX_DEPTH + 1, '{"k":', "").via("the shallowest refused object")
def test_json_reader_refuses_deep_nesting_before_parsing(depth, opener, noise):
    closer = "]" if opener == "[" else "}"
    text = opener * depth + ("1" if opener != "[" else "") + closer * depth
    if depth > jsonio.MAX_DEPTH:
        with pytest.raises(jsonio.JSONInputError, match="nested too deeply") as caught:
            jsonio.loads(text, "body")
        assert caught.value.reason == "depth" and str(caught.value).startswith("body: ")
    else:
        assert _depth(jsonio.loads(text, "body")) == depth
    # and any noise after it is a typed error or a value, never another exception
    try:
        jsonio.loads(text + noise, "body")
    except jsonio.JSONInputError:
        pass


@SETTINGS
@given(st.binary(max_size=300))
def test_json_reader_on_random_bytes_raises_only_its_typed_error(data):
    try:
        parsed = jsonio.loads(data, "bytes")
    except jsonio.JSONInputError as error:
        assert error.reason in {"encoding", "depth", "syntax", "number", "type"}
        assert str(error).startswith("bytes")
        return
    assert parsed == json.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))


@SETTINGS
@given(st.text(max_size=30) | st.integers(-10**25, 10**25).map(str) | st.floats().map(repr))
def test_positive_int_accepts_exactly_the_decimal_integers_from_1(text):
    try:
        oracle = int(text.strip(), 10) if text.strip() and len(text.strip()) <= 24 else None
    except ValueError:
        oracle = None
    if oracle is not None and oracle >= 1:
        assert argtypes.positive_int(text) == oracle
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="must be an integer >= 1"):
            argtypes.positive_int(text)


@SETTINGS
@given(st.text(max_size=30) | st.floats().map(repr) | st.sampled_from(["nan", "inf", "-inf", "1e400", "NaN", "0"]),
       st.floats(-5, 5, allow_nan=False), st.floats(0, 10, allow_nan=False))
def test_float_range_accepts_exactly_finite_numbers_in_range(text, low, width):
    high = low + width
    parse = argtypes.float_range(low, high)
    try:
        oracle = float(text.strip())
    except ValueError:
        oracle = None
    if oracle is not None and math.isfinite(oracle) and low <= oracle <= high:
        assert parse(text) == oracle
    else:
        with pytest.raises(argparse.ArgumentTypeError, match="must be a finite number"):
            parse(text)


@SETTINGS
@given(st.lists(st.integers(-5, 2**64), max_size=6), st.booleans())
def test_int_list_matches_a_plain_check(values, unique):
    parse = argtypes.int_list(1, argtypes.INT64_MAX, unique=unique)
    text = ",".join(map(str, values))
    ok = bool(values) and all(1 <= v <= argtypes.INT64_MAX for v in values) and (
        not unique or len(set(values)) == len(values))
    if ok:
        assert parse(text) == tuple(values)
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


# ---- the REST parser: instances -> arrays (seq2exp.serving.server.json_shape and _json_array), against numpy
def _rectangular_shape(value) -> tuple | None:
    """The oracle: the shape of a rectangular nested list (None if ragged or mixed), by a recursive walk."""
    if not isinstance(value, list):
        return ()
    shapes = {_rectangular_shape(v) for v in value}
    if None in shapes or len(shapes) > 1:
        return None
    inner = shapes.pop() if shapes else ()
    if value and not all(isinstance(v, list) for v in value) and any(isinstance(v, list) for v in value):
        return None
    return (len(value),) + inner


nested_strings = st.recursive(st.text(alphabet="ACGT", min_size=1, max_size=5),
                              lambda children: st.lists(children, max_size=3), max_leaves=12)


@SETTINGS
@given(nested_strings)
def test_rest_string_instances_become_arrays_or_invalid_argument(instances):
    import grpc

    from seq2exp.serving import tensors
    from seq2exp.serving.requests import RequestError
    from seq2exp.serving.server import TensorSpec, _json_array

    spec = TensorSpec(name="sequences:0", dtype=tensors.DT_STRING, shape=None)
    oracle = _rectangular_shape(instances)
    try:
        array = _json_array("sequences", instances, spec)
    except RequestError as error:
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert oracle is None
        return
    assert oracle is not None and array.shape == oracle
    assert array.tolist() == _encoded(instances)


def _encoded(value):
    return [_encoded(v) for v in value] if isinstance(value, list) else value.encode()


nested_numbers = st.recursive(st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000),
                              lambda children: st.lists(children, max_size=3), max_leaves=16)


@SETTINGS
@given(nested_numbers)
def test_rest_float_instances_become_arrays_or_invalid_argument(instances):
    import grpc

    from seq2exp.serving import tensors
    from seq2exp.serving.requests import RequestError
    from seq2exp.serving.server import TensorSpec, _json_array

    spec = TensorSpec(name="onehot:0", dtype=1, shape=None)  # DT_FLOAT
    oracle = _rectangular_shape(instances)
    try:
        array = _json_array("onehot", instances, spec)
    except RequestError as error:
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert oracle is None
        return
    assert oracle is not None
    np.testing.assert_array_equal(array, np.asarray(instances, dtype=np.float32))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.sampled_from(["POST", "GET", "PUT"]),
       st.sampled_from(["/v1/models/tiny:predict", "/v1/models/tiny", "/v1/models/tiny/metadata", "/x"]))
def test_rest_server_answers_any_json_body_with_json(rest_server, body, method, path):
    """Any JSON body on any route: an answer with a JSON body and a TF Serving status; never a 500."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", rest_server.rest_port, timeout=30)
    try:
        payload = json.dumps({"instances": body} if isinstance(body, list) else body).encode()
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = json.loads(response.read())
        assert response.status in (200, 400, 404, 405, 429), (response.status, data)
        assert ("error" in data) == (response.status != 200)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def rest_server(tiny_export):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    server = ModelServer(discover_models(tiny_export), port=0, rest_port=0, poll_seconds=0).start()
    yield server
    server.stop(grace=1)
