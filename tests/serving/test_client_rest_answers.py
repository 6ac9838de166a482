"""The REST transport against servers that are not TF Serving's REST API: a gRPC port (HTTP/2 bytes), an HTTP server
answering something else, and a status answer without its optional ``status`` object. Each is a ``ServingError``
(``seq2exp predict``: one line, exit 2), never a traceback; TF Serving's own optional-field form still works."""
from __future__ import annotations

import json
import socket
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest

from seq2exp.serving.client import Client, ServerUnavailableError, ServingError
from tests.reliability.conftest import assert_one_line_error, run_cli


class Answers(BaseHTTPRequestHandler):
    """Answers every GET/POST with ``self.server.answers[path suffix]`` (200, JSON or raw text)."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = next((text for suffix, text in self.server.answers.items() if self.path.endswith(suffix)), "{}")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    server.answers = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def grpc_port():
    """A real gRPC server (no services): what a REST client meets when it is given the gRPC port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(0)


def test_the_grpc_port_given_as_the_rest_port(grpc_port, tmp_path, capsys):
    client = Client(f"http://127.0.0.1:{grpc_port}", "dream", transport="rest", timeout=5)
    with pytest.raises(ServerUnavailableError, match=r"did not answer in HTTP/1\.1 .*not its gRPC port"):
        client.predict(["ACGT"])
    source = tmp_path / "in.txt"
    source.write_text("ACGT\n")
    result = run_cli(["predict", source, "-o", tmp_path / "p.txt", "--server", f"127.0.0.1:{grpc_port}",
                      "--model", "dream", "--transport", "rest"], capsys)
    assert_one_line_error(result, "predict", r"did not answer in HTTP/1\.1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


@pytest.mark.parametrize("answers, pattern", [
    ({"/dream": "<html>not json</html>"}, r"status\(dream\) failed: not a TF Serving REST answer .*not valid JSON"),
    ({"/dream": "[1, 2]"}, r"status\(dream\) failed: not a TF Serving REST answer"),
    ({"/dream": json.dumps({"versions": []})}, r"status\(dream\) failed: not a TF Serving REST answer \(KeyError"),
    ({"/dream": json.dumps({"model_version_status": [{"version": "3", "state": "AVAILABLE"}]}),
      ":predict": json.dumps({"predictions": [1.0]})}, r"Predict\(dream version 3, rows 0-1 of 1\) failed: not a TF Serving REST answer \(KeyError"),
], ids=["html", "json-list", "no-status-list", "row-format-answer"])
def test_answers_tf_serving_would_not_send(http_server, answers, pattern):
    http_server.answers.update(answers)
    client = Client(f"http://127.0.0.1:{http_server.server_port}", "dream", transport="rest", timeout=5)
    with pytest.raises(ServingError, match=pattern):
        client.predict(["ACGT"])


def test_a_version_without_its_optional_status_object(http_server):
    """TF Serving may leave out ``status`` when it is OK (proto3 JSON omits defaults): read as OK, not KeyError."""
    http_server.answers.update({"/dream": json.dumps({"model_version_status": [
        {"version": "3", "state": "AVAILABLE"},
        {"version": "2", "state": "END", "status": {"error_code": "NOT_FOUND", "error_message": "gone"}}]}),
        ":predict": json.dumps({"outputs": [0.25]})})
    client = Client(f"http://127.0.0.1:{http_server.server_port}", "dream", transport="rest", timeout=5)
    assert client.status() == [{"version": 3, "state": "AVAILABLE", "error_code": 0, "error_message": ""},
                               {"version": 2, "state": "END", "error_code": 5, "error_message": "gone"}]
    assert client.predict(["ACGT"]).tolist() == [0.25]


def test_a_closed_port_is_still_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", "dream", transport="rest", timeout=5, retries=0)
    with pytest.raises(ServerUnavailableError):
        client.predict(["ACGT"])
