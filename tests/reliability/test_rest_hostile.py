"""The REST API under hostile and careless requests, spoken to over raw sockets (no client library in between).

Every case: TF Serving's status code, a JSON body ``{"error": ...}``, exactly one server log line for the failed
request (no traceback), and afterwards -- on the *same* connection when the server keeps it open -- a valid request
answers 200 (the body of the bad request was read, so keep-alive stays usable). A few hundred generated requests in
all, a few seconds.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import socket

import pytest

from seq2exp.serving import signatures as names
from tests.reliability.conftest import random_promoters

L = 256  # the tiny export's one-hot length
MAX_BODY = 1 << 20
MAX_ROWS = 8
GOOD = random_promoters(3, seed=5)
PREDICT = "/v1/models/tiny:predict"
STATUS = "/v1/models/tiny"


@pytest.fixture(scope="module")
def server(tiny_export):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    srv = ModelServer(discover_models(tiny_export), port=0, rest_port=0, poll_seconds=0,
                      max_message_bytes=MAX_BODY, max_request_rows=MAX_ROWS).start()
    yield srv
    srv.stop(grace=1)


def _request(method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             length: str | None = "auto") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if length == "auto" and body is not None:
        lines.append(f"Content-Length: {len(body)}")
    elif length not in (None, "auto"):
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + (body or b"")


def _exchange(sock: socket.socket, raw: bytes) -> tuple[int, dict, http.client.HTTPResponse, bytes]:
    sock.sendall(raw)
    response = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode("latin-1"))
    response.begin()
    data = response.read()
    return response.status, response.headers, response, data


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def _deep(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def _deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _b64(text: bytes) -> dict:
    return {"b64": base64.b64encode(text).decode()}


def _onehot_rows(rows: int) -> list:
    return [[[0.25] * 4 for _ in range(L)] for _ in range(rows)]


# (id, class, raw request bytes, expected status, pattern in the error message)
CASES: list[tuple[str, str, bytes, int, str]] = []


def case(case_id: str, klass: str, raw: bytes, status: int, pattern: str = "") -> None:
    CASES.append((case_id, klass, raw, status, pattern))


def post(body: bytes, path: str = PREDICT, **kwargs) -> bytes:
    return _request("POST", path, body, **kwargs)


# ---- JSON nesting: refused by the one JSON reader before parsing (never a RecursionError / 500)
for depth in (65, 100, 1_000, 10_000, 100_000):
    case(f"depth-list-{depth}", "json-depth", post(_deep(depth).encode()), 400, "nested too deeply")
    case(f"depth-instances-{depth}", "json-depth", post(('{"instances": ' + _deep(depth) + "}").encode()), 400,
         "nested too deeply")
    case(f"depth-object-{depth}", "json-depth", post(_deep_object(depth).encode()), 400, "nested too deeply")
case("depth-inputs-mixed-brackets", "json-depth", post(('{"inputs": ' + "[{\"a\":" * 40 + "1" + "}]" * 40
                                                        + "}").encode()), 400, "nested too deeply")
case("depth-brackets-in-strings-ok", "json-depth",
     post(_json({"instances": GOOD, "signature_name": "[[[[" * 100})), 400, "signature")

# ---- JSON syntax and encoding
for label, body in (("empty", b""), ("truncated", b'{"instances": ["ACGT"'), ("trailing", b'{"instances": []} x'),
                    ("single-quotes", b"{'instances': []}"), ("bare-word", b"instances"),
                    ("latin1", '{"instances": ["é"]}'.encode("latin-1")), ("utf16", _json({"a": 1}).decode()
                                                                           .encode("utf-16")),
                    ("nul", b"\x00" * 64), ("binary", bytes(range(256))), ("huge-int", b'{"instances": [1' +
                                                                           b"0" * 5000 + b"]}"),
                    ("lone-surrogate-escape", b'{"instances": ["\\ud800"]}'), ("comment", b'{"instances": [] /**/}'),
                    ("two-documents", b"{}{}")):
    case(f"syntax-{label}", "json-syntax", post(body), 400, "")

# ---- the body's structure
for label, body, pattern in (
        ("list", [1, 2], "must be a JSON object"), ("string", "ACGT", "must be a JSON object"),
        ("number", 3, "must be a JSON object"), ("null", None, "must be a JSON object"),
        ("empty-object", {}, "Missing 'inputs' or 'instances'"),
        ("both", {"instances": GOOD, "inputs": GOOD}, "Not both"),
        ("unknown-field", {"instances": GOOD, "extra": 1}, "unknown request field"),
        ("instances-empty", {"instances": []}, "non-empty"), ("instances-string", {"instances": "ACGT"}, "non-empty"),
        ("instances-object", {"instances": {"a": 1}}, "non-empty"),
        ("instances-null", {"instances": None}, "non-empty"),
        ("signature-number", {"instances": GOOD, "signature_name": 5}, "must be a string"),
        ("signature-unknown", {"instances": GOOD, "signature_name": "nope"}, "nope"),
        ("signature-list", {"instances": GOOD, "signature_name": ["x"]}, "must be a string"),
        ("named-unknown-alias", {"instances": [{"dna": GOOD[0]}]}, "dna"),
        ("named-different-keys", {"instances": [{"sequences": GOOD[0]}, {"seq": GOOD[1]}]}, "same named inputs"),
        ("inputs-unknown-alias", {"inputs": {"dna": GOOD}}, "dna"),
        ("inputs-scalar", {"inputs": GOOD[0]}, "empty|shape"),
        ("inputs-null", {"inputs": None}, ""),
        ("rows-over-cap", {"instances": GOOD * 3}, "more than the 8 allowed")):
    case(f"body-{label}", "body-structure", post(_json(body)), 429 if label == "rows-over-cap" else 400, pattern)

# ---- ragged, mixed and wrongly typed instances (TF Serving's JSON tensor reader: 400)
for label, instances in (
        ("ragged-strings", [["ACGT"], ["ACGT", "ACGT"]]), ("mixed-string-list", ["ACGT", ["ACGT"]]),
        ("mixed-list-string", [["ACGT"], "ACGT"]), ("empty-inner", [[], ["ACGT"]]), ("numbers", [1, 2]),
        ("null", [None]), ("bools", [True, False]), ("float", [1.5]), ("nested-objects", [[{"a": 1}]]),
        ("deep-ragged", [[["A"]], [["A"], ["C"]]]), ("string-and-number", ["ACGT", 3]),
        ("bad-letters", ["ACGTXYZ"]), ("empty-string", [""]), ("huge-number", [1e308]),
        ("rank-2-strings", [["ACGT", "ACGT"], ["ACGT", "ACGT"]])):
    case(f"instances-{label}", "instances", post(_json({"instances": instances})), 400, "")
onehot_ragged = _onehot_rows(2)
onehot_ragged[1] = onehot_ragged[1][:-1]
onehot_mixed = _onehot_rows(2)
onehot_mixed[0][3] = ["A", "C", "G", "T"]
onehot_null = _onehot_rows(1)
onehot_null[0][0][0] = None
for label, instances in (("ragged", onehot_ragged), ("strings", onehot_mixed), ("null", onehot_null),
                         ("rank-2", [[0.25] * 4 * L]), ("wrong-length", [[[0.25] * 4] * (L - 1)]),
                         ("wrong-channels", [[[0.25] * 5] * L]), ("scalars", [0.25, 0.25])):
    case(f"onehot-{label}", "instances", post(_json({"signature_name": names.ONEHOT_SIGNATURE,
                                                     "instances": instances})), 400, "")

# ---- {"b64": ...} values
for label, value in (("not-base64", {"b64": "!!!not base64!!!"}), ("bad-padding", {"b64": "QUNHVA="}),
                     ("number", {"b64": 12}), ("null", {"b64": None}), ("list", {"b64": ["QUNHVA=="]}),
                     ("non-ascii", {"b64": "QUNH\u00e9A=="}), ("binary-dna", _b64(b"\xff\xfe\x00ACGT")),
                     ("extra-key", {"b64": "QUNHVA==", "x": 1}), ("object", {"b64": {"a": 1}}),
                     ("whitespace", {"b64": "QUN HVA=="})):
    case(f"b64-{label}", "b64", post(_json({"instances": [value]})), 400, "")
    case(f"b64-inputs-{label}", "b64", post(_json({"inputs": [value, value]})), 400, "")

# ---- Content-Length and framing
for label, value in (("letters", "abc"), ("negative", "-1"), ("exponent", "1e3"), ("float", "12.0"),
                     ("arabic-digits", "\u0661\u0662"), ("superscript", "\u00b2"), ("hex", "0x10"),
                     ("plus", "+10"), ("huge", "9" * 40), ("empty", ""), ("comma-list", "10, 10")):
    raw = _request("POST", PREDICT, headers={"Content-Length": value}, length=None)
    case(f"length-{label}", "content-length", raw, 400, "Content-Length")
case("length-missing", "content-length", _request("POST", PREDICT, length=None), 411, "Content-Length")
case("length-two-values", "content-length",
     _request("POST", PREDICT, b"{}", headers={"Content-Length": "2"}, length="3"), 400, "Content-Length")
case("length-over-cap", "content-length", _request("POST", PREDICT, length=str(MAX_BODY + 1)), 413, "over the limit")
case("length-10GB", "content-length", _request("POST", PREDICT, length=str(10 * 2**30)), 413, "over the limit")
case("chunked", "content-length", _request("POST", PREDICT, headers={"Transfer-Encoding": "chunked"}, length=None)
     + b"2\r\n{}\r\n0\r\n\r\n", 411, "Content-Length")

# ---- methods: 405 with Allow (TF Serving answers JSON; http.server's default would be a 501 HTML page)
for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get", "PROPFIND"):
    case(f"method-{method}", "method", _request(method, PREDICT, b"{}"), 405, "not allowed")
case("method-HEAD", "method", _request("HEAD", STATUS), 405, "")
case("method-PUT-no-body", "method", _request("PUT", STATUS), 405, "not allowed")

# ---- paths
for label, method, path, status in (
        ("unknown-root", "GET", "/", 404), ("v2", "GET", "/v2/models/tiny", 404),
        ("empty-name", "GET", "/v1/models/", 404), ("get-predict", "GET", PREDICT, 404),
        ("post-status", "POST", STATUS, 404), ("post-metadata", "POST", STATUS + "/metadata", 404),
        ("version-word", "GET", "/v1/models/tiny/versions/one", 404),
        ("version-huge", "GET", "/v1/models/tiny/versions/" + "9" * 30, 404),
        ("version-missing", "GET", "/v1/models/tiny/versions/7", 404),
        ("label-missing", "GET", "/v1/models/tiny/labels/nope", 404), ("model-missing", "GET", "/v1/models/nope", 404),
        ("classify", "POST", "/v1/models/tiny:classify", 404), ("encoded-nul", "GET", "/v1/models/ti%00ny", 404),
        ("dotdot", "GET", "/v1/models/../../etc/passwd", 404), ("long-path", "GET", "/v1/models/" + "a" * 8000, 404),
        ("predict-missing-model", "POST", "/v1/models/nope:predict", 404)):
    body = _json({"instances": GOOD}) if method == "POST" else None
    case(f"path-{label}", "path", _request(method, path, body), status, "")

# ---- malformed HTTP (http.server's own errors, now JSON)
case("request-line-garbage", "http", b"GARBAGE\r\n\r\n", 400, "")
case("request-line-bad-version", "http", b"GET / HTTP/9.9\r\n\r\n", 505, "")
case("header-too-long", "http", b"GET /v1/models/tiny HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431, "")
case("too-many-headers", "http", b"GET /v1/models/tiny HTTP/1.1\r\n" + b"".join(
    f"X-{i}: 1\r\n".encode() for i in range(150)) + b"\r\n", 431, "")


@pytest.mark.parametrize("case_id, klass, raw, status, pattern", CASES, ids=[c[0] for c in CASES])
def test_hostile_rest_request(server, case_id, klass, raw, status, pattern, caplog):
    import re

    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        with caplog.at_level(logging.DEBUG, logger="seq2exp.serving.rest"):
            got, headers, response, data = _exchange(sock, raw)
        assert got == status, (case_id, got, data[:300])
        assert headers.get("Content-Type") == "application/json"
        if not raw.startswith(b"HEAD"):
            message = json.loads(data)["error"]
            assert re.search(pattern, message), (pattern, message)
        else:
            assert data == b""
        if status == 405:
            assert headers.get("Allow") == "GET, POST"
        failures = [r for r in caplog.records if r.name == "seq2exp.serving.rest" and r.levelno >= logging.WARNING]
        assert len(failures) == 1, [r.getMessage() for r in failures]
        assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)
        if not response.will_close:  # keep-alive: the next request on this connection is read cleanly
            again, _, _, data = _exchange(sock, _request("GET", STATUS))
            assert again == 200, data
    # and the server still predicts
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        again, _, _, data = _exchange(sock, post(_json({"instances": GOOD})))
        assert again == 200 and len(json.loads(data)["predictions"]) == len(GOOD)


def test_corpus_size():
    """The closing note's figures: the REST corpus by class."""
    counts: dict[str, int] = {}
    for _id, klass, *_ in CASES:
        counts[klass] = counts.get(klass, 0) + 1
    print("REST corpus:", json.dumps(counts), "total", len(CASES))
    assert len(CASES) >= 130


def test_keep_alive_after_404_with_body(server):
    """The issue's case: a 404 with an unread body used to poison the next request on the connection."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        body = _json({"instances": GOOD})
        status, _, response, _ = _exchange(sock, _request("POST", "/v1/models/tiny/nope:predict", body))
        assert status == 404 and not response.will_close
        status, _, _, data = _exchange(sock, post(body))
        assert status == 200 and len(json.loads(data)["predictions"]) == len(GOOD)


def test_valid_b64_and_bom_are_accepted(server):
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        plain = json.loads(_exchange(sock, post(_json({"instances": GOOD})))[3])["predictions"]
    for body in (_json({"instances": [_b64(s.encode()) for s in GOOD]}), b"\xef\xbb\xbf" + _json({"instances": GOOD}),
                 _json({"inputs": [_b64(s.encode()) for s in GOOD]})):
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
            status, _, _, data = _exchange(sock, post(body))
        assert status == 200, data
        answer = json.loads(data)
        assert answer.get("predictions", answer.get("outputs")) == plain


def test_unexpected_error_is_500_with_one_log_line(server, monkeypatch, caplog):
    """An error nobody expected: 500, a one-line JSON error (type and message, no traceback) and one warning line."""
    def boom(spec, body):
        raise RuntimeError("disk on fire\n  File 'x.py', line 1\nTraceback (most recent call last)")

    monkeypatch.setattr(server._rest, "predict", boom)
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        with caplog.at_level(logging.DEBUG, logger="seq2exp.serving.rest"):
            status, _, response, data = _exchange(sock, post(_json({"instances": GOOD})))
        assert status == 500 and json.loads(data) == {"error": "RuntimeError: disk on fire"}
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and warnings[0].exc_info is None and "\n" not in warnings[0].getMessage()
        assert not response.will_close
        again, _, _, _ = _exchange(sock, _request("GET", STATUS))
        assert again == 200


# ---- stalled and idle connections: every read has a deadline (the server's REST timeout)
TIMEOUT = 1.5


def _until_closed(sock: socket.socket, limit: float = 30.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when (monotonic seconds) it did."""
    import time

    sock.settimeout(limit)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic()


def test_stalled_and_idle_connections_are_closed_after_the_timeout(tiny_export, caplog):
    """Clients that stop sending -- a body short of its Content-Length, a request cut inside its headers, a
    connection that never sends a byte, a keep-alive connection left idle -- are closed about TIMEOUT seconds after
    their last byte (the stalled body with a 408), so they hold no thread; requests keep being served meanwhile."""
    import threading
    import time

    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    srv = ModelServer(discover_models(tiny_export), port=0, rest_port=0, poll_seconds=0,
                      rest_timeout_seconds=TIMEOUT).start()
    address = ("127.0.0.1", srv.rest_port)
    opened: list[tuple[str, socket.socket, float]] = []  # (kind, socket, when its last byte was sent)

    def client(kind: str, data: bytes = b"") -> None:
        sock = socket.create_connection(address, timeout=30)
        sock.sendall(data)
        opened.append((kind, sock, time.monotonic()))

    try:
        baseline = threading.active_count()
        with caplog.at_level(logging.DEBUG, logger="seq2exp.serving.rest"):
            for _ in range(10):
                client("stalled body", _request("POST", PREDICT, length="100") + b"{")
                client("cut headers", b"GET /v1/models/tiny HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                client("silent")
            kept = socket.create_connection(address, timeout=30)
            status, _, response, _ = _exchange(kept, post(_json({"instances": GOOD})))
            assert status == 200 and not response.will_close
            opened.append(("idle keep-alive", kept, time.monotonic()))
            with socket.create_connection(address, timeout=30) as sock:  # served while the others stall
                assert _exchange(sock, post(_json({"instances": GOOD})))[0] == 200
            for kind, sock, sent in opened:
                data, closed = _until_closed(sock)
                assert TIMEOUT * 0.8 <= closed - sent <= TIMEOUT + 10, (kind, closed - sent)
                if kind != "stalled body":
                    assert data == b"", (kind, data[:300])
                    continue
                head, _, body = data.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in head, data[:300]
                assert "did not arrive" in json.loads(body)["error"]
        failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(failures) == 10 and all(" -> 408: " in line for line in failures), failures
        deadline = time.monotonic() + 10
        while threading.active_count() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() <= baseline  # no handler thread left behind
        with socket.create_connection(address, timeout=30) as sock:
            assert _exchange(sock, post(_json({"instances": GOOD})))[0] == 200
    finally:
        for _, sock, _ in opened:
            sock.close()
        srv.stop(grace=1)


def test_stop_does_not_wait_for_a_stalled_body(server):
    """A request still being sent is not in flight: stopping the REST API does not wait ``grace`` seconds for it."""
    import time

    from seq2exp.serving.rest import RestServer

    rest = RestServer(server.manager, "127.0.0.1", 0, MAX_BODY, timeout=60).start()
    with socket.create_connection(("127.0.0.1", rest.port), timeout=30) as sock:
        sock.sendall(_request("POST", PREDICT, length="100") + b"{")
        time.sleep(0.3)  # the handler is waiting for the rest of the body
        started = time.monotonic()
        rest.stop(grace=30)
        assert time.monotonic() - started < 5
