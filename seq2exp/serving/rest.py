"""TensorFlow Serving's REST API on the embedded server (``seq2exp serve --rest-port``).

The same URLs, JSON bodies and HTTP status codes as ``tensorflow_model_server --rest_api_port``::

    POST /v1/models/NAME[/versions/N | /labels/L]:predict   {"signature_name": ..., "instances": [...]}  (row)
                                                            {"signature_name": ..., "inputs": ...}       (columnar)
    GET  /v1/models/NAME[/versions/N | /labels/L]            model status
    GET  /v1/models/NAME[/versions/N | /labels/L]/metadata   signature defs

Row requests answer ``{"predictions": [...]}`` (one value per row for a single output, one object per row
otherwise), columnar requests ``{"outputs": ...}``. Errors are ``{"error": "..."}`` with TF Serving's mapping of
status codes (``INVALID_ARGUMENT``/``FAILED_PRECONDITION`` 400, ``NOT_FOUND`` 404, ``RESOURCE_EXHAUSTED`` 429,
``UNAVAILABLE`` 503, ...); a body over the size cap is refused with 413 before it is read (and the connection
closed), a POST without ``Content-Length`` with 411, a ``Content-Length`` that is not one decimal number with 400,
any method but GET/POST with 405 and ``Allow: GET, POST``. Every answer has a JSON body, every failed request
writes one log line (no traceback), and the body of every answered request is read, so keep-alive connections stay
usable. Every read on a connection has a deadline (``timeout``, default 30 s as TF Serving's
``--rest_api_timeout_in_ms``): a body that stops arriving is answered 408 and the connection closed; a connection
that sends nothing for that long (a new one, or a keep-alive one between requests) or stops within its headers is
closed, so stalled clients cannot hold the server's threads. JSON bodies go through :mod:`seq2exp.jsonio` (nesting
deeper than 64 levels: 400). Requests become arrays through the same :func:`seq2exp.serving.server.prepare_inputs`
as gRPC requests, and run on the same batchers.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import numpy as np

from seq2exp import jsonio
from seq2exp.serving import signatures as names

logger = logging.getLogger(__name__)

# TF Serving's ToHTTPStatusCode (tensorflow_serving/model_servers/http_rest_api_handler / net_http)
HTTP_OF_CODE = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?P<suffix>:predict|/metadata)?$")
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}  # tensorflow.error.Code numbers match


class _Spec:
    """A ``ModelSpec``-like object for ``ModelManager.resolve`` / ``status`` from a REST path."""

    def __init__(self, name: str, version: str | None, label: str | None):
        self.name, self._version, self.version_label = name, version, label

        class _Version:
            value = int(version) if version else 0

        self.version = _Version()

    def WhichOneof(self, _field: str) -> str | None:  # noqa: N802 - protobuf's spelling
        if self._version:
            return "version"
        return "version_label" if self.version_label else None


def _rows_of(instances: Any, aliases: list[str]) -> dict[str, Any]:
    """Row format -> columns: ``[v, v, ...]`` for a single input, or ``[{alias: v, ...}, ...]``."""
    if not isinstance(instances, list) or not instances:
        raise _Error(400, "'instances' must be a non-empty JSON list")
    if all(isinstance(item, dict) and not set(item) == {"b64"} for item in instances):
        keys = set(instances[0])
        if any(set(item) != keys for item in instances):
            raise _Error(400, "every instance must have the same named inputs")
        return {alias: [item[alias] for item in instances] for alias in keys}
    if len(aliases) != 1:
        raise _Error(400, f"instances must be objects naming the inputs {sorted(aliases)}")
    return {aliases[0]: instances}


def _json_value(array: np.ndarray) -> Any:
    if array.dtype == object:
        return [_json_value(x) if isinstance(x, np.ndarray) else x.decode("utf-8", "replace") for x in array]
    return array.tolist()


class _Error(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class RestServer:
    """TF Serving's REST API over a ``ModelManager`` (the embedded server's), on ``host:port``.

    Args:
        manager: the served models (``seq2exp.serving.server.ModelManager``).
        host, port: where to listen (``port=0``: any free port; see ``.port``).
        max_body_bytes: the largest request body accepted (413 above it).
        timeout: seconds any read on a connection may wait (a stalled body: 408 and closed; an idle or stalled
            connection: closed).
    """

    def __init__(self, manager, host: str = names.DEFAULT_HOST, port: int = 8501,
                 max_body_bytes: int = names.DEFAULT_MAX_MESSAGE_BYTES,
                 timeout: float = names.DEFAULT_REST_TIMEOUT_SECONDS):
        self.manager, self.max_body_bytes, self.timeout = manager, int(max_body_bytes), float(timeout)
        handler = type("Handler", (_Handler,), {"rest": self, "timeout": self.timeout})
        self._httpd = ThreadingHTTPServer((host, int(port)), handler)
        self._httpd.daemon_threads = True
        self.host, self.port = host, self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._idle = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "RestServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="seq2exp-rest", daemon=True)
        self._thread.start()
        logger.info("REST API on %s", self.url)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting connections; requests being handled (received in full) get up to ``grace`` seconds to
        finish. Connections still sending a request are not waited for."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, grace)

    def _enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    # ------------------------------------------------------------------------------------------------------------
    def predict(self, spec: _Spec, body: dict) -> dict:
        from seq2exp.serving.requests import RequestError

        if not isinstance(body, dict):
            raise _Error(400, "the request body must be a JSON object")
        unknown = sorted(set(body) - {"signature_name", "instances", "inputs"})
        if unknown:
            raise _Error(400, f"unknown request field(s) {unknown}; valid: signature_name, instances, inputs")
        if ("instances" in body) == ("inputs" in body):
            raise _Error(400, "Missing 'inputs' or 'instances' key" if "instances" not in body
                         else "Not both 'inputs' and 'instances' may be given")
        servable = self.manager.resolve(spec)
        key = body.get("signature_name") or names.SERVING_DEFAULT
        if not isinstance(key, str):
            raise _Error(400, "'signature_name' must be a string")
        try:
            signature = servable.model.signature(key)
        except Exception as error:  # SignatureError: TF Serving's wording and code
            raise RequestError(getattr(grpc.StatusCode, getattr(error, "code", "INVALID_ARGUMENT")),
                               str(error)) from None
        aliases = sorted(signature.inputs)
        if "instances" in body:
            inputs = _rows_of(body["instances"], aliases)
        else:
            columns = body["inputs"]
            if isinstance(columns, dict) and set(columns) != {"b64"}:
                inputs = columns  # {alias: value}
            elif len(aliases) == 1:
                inputs = {aliases[0]: columns}
            else:
                raise _Error(400, f"'inputs' must be an object naming the inputs {aliases}")
        outputs = servable.predict(key, inputs, [], self.manager.limits)
        if "instances" in body:
            if len(outputs) == 1:
                (value,) = outputs.values()
                return {"predictions": _json_value(value)}
            columns = {alias: _json_value(value) for alias, value in outputs.items()}
            rows = len(next(iter(columns.values())))
            return {"predictions": [{alias: columns[alias][i] for alias in columns} for i in range(rows)]}
        if len(outputs) == 1:
            (value,) = outputs.values()
            return {"outputs": _json_value(value)}
        return {"outputs": {alias: _json_value(value) for alias, value in outputs.items()}}

    def status(self, spec: _Spec) -> dict:
        states = self.manager.status(spec)
        return {"model_version_status": [
            {"version": str(version), "state": state.state,
             "status": {"error_code": _CODE_NAMES.get(state.error_code, str(state.error_code)),
                        "error_message": state.error_message}}
            for version, state in states]}

    def metadata(self, spec: _Spec) -> dict:
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        servable = self.manager.resolve(spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        return {"model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
                "metadata": {names.SIGNATURE_DEF_METADATA_FIELD: json_format.MessageToDict(
                    signature_map, preserving_proto_field_name=True)}}


_LENGTH = re.compile(r"[0-9]{1,19}")
ALLOWED_METHODS = "GET, POST"


class _Handler(BaseHTTPRequestHandler):
    """Every answer is JSON (``{"error": ...}`` on failure, http.server's own errors included); the body of every
    answered request is read or discarded (or the connection closed), so a keep-alive connection stays usable."""

    rest: RestServer
    protocol_version = "HTTP/1.1"
    server_version = "seq2exp-rest"
    default_request_version = "HTTP/1.0"  # an unparsable request line still gets a status line and headers
    _method = ""

    def log_message(self, fmt: str, *args) -> None:  # route http.server's access log to logging
        logger.debug("%s %s", self.address_string(), fmt % args)

    def parse_request(self) -> bool:
        """http.server's parser; any method other than GET/POST is routed to :meth:`do_OTHER` (405, JSON)."""
        if not super().parse_request():
            return False
        self._method = self.command
        if self.command not in ("GET", "POST"):
            self.command = "OTHER"
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, header too long, ...) as JSON bodies."""
        try:
            text = message or HTTPStatus(code).phrase
        except ValueError:
            text = f"HTTP {code}"
        logger.warning("REST %s -> %d: %s", getattr(self, "requestline", "")[:200] or "?", code, text)
        self.close_connection = True
        self._send(code, {"error": text})

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and self._method != "HEAD":
            self.wfile.write(data)

    def _body(self, required: bool) -> bytes | None:
        """Read the request body (Content-Length only); ``None`` when there is none and none is required.

        A body over the cap is not read: the connection is closed after the 413. A chunked body cannot be
        framed here (TF Serving's REST API also needs Content-Length): 411, connection closed.
        """
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise _Error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required (no Transfer-Encoding)")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            if required:
                self.close_connection = True
                raise _Error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
            return None
        if len(set(lengths)) != 1 or not _LENGTH.fullmatch(lengths[0].strip()):
            self.close_connection = True  # the body cannot be framed
            raise _Error(400, f"Content-Length must be one decimal number of bytes, got {', '.join(lengths)[:80]!r}")
        length = int(lengths[0].strip())
        if length > self.rest.max_body_bytes:
            self.close_connection = True  # the body is not read
            raise _Error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         f"request body of {length} bytes is over the limit of {self.rest.max_body_bytes}")
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise _Error(HTTPStatus.REQUEST_TIMEOUT, f"the request body did not arrive: no data for "
                                                     f"{self.rest.timeout:g} s") from None
        if len(raw) != length:
            self.close_connection = True
            raise _Error(400, f"the request body ended after {len(raw)} of {length} bytes")
        return raw

    def _dispatch(self, method: str) -> None:
        from seq2exp.serving.requests import RequestError

        status, message, entered = 200, "", False
        try:
            raw = self._body(required=method == "POST")
            self.rest._enter()  # in flight once received: stop() does not wait for a stalled body
            entered = True
            if method not in ("GET", "POST"):
                raise _Error(HTTPStatus.METHOD_NOT_ALLOWED, f"Method {self._method} is not allowed; use GET or POST")
            match = _PATH.match(self.path.split("?", 1)[0])
            if match is None or (method == "POST") != (match["suffix"] == ":predict"):
                raise _Error(404, f"Malformed request: {method} {self.path[:200]}")
            spec = _Spec(match["name"], match["version"], match["label"])
            if method == "POST":
                try:
                    body = jsonio.loads(raw, "request body")
                except jsonio.JSONInputError as error:
                    raise _Error(400, f"JSON Parse error: {error}") from None
                self._send(200, self.rest.predict(spec, body))
            elif match["suffix"] == "/metadata":
                self._send(200, self.rest.metadata(spec))
            else:
                self._send(200, self.rest.status(spec))
        except _Error as error:
            status, message = int(error.status), error.message
        except RequestError as error:
            status, message = HTTP_OF_CODE.get(error.code, 500), error.message
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # noqa: BLE001 - the server keeps serving; one log line, no traceback
            from seq2exp.serving.requests import internal_message

            status, message = 500, internal_message(error)
            logger.debug("REST %s %s failed", method, self.path[:200], exc_info=True)
        finally:
            if entered:
                self.rest._leave()
        if status != 200:
            logger.warning("REST %s %s -> %d: %s", self._method or method, self.path[:200], status,
                           message.splitlines()[0][:300] if message else "")
            headers = {"Allow": ALLOWED_METHODS} if status == HTTPStatus.METHOD_NOT_ALLOWED else None
            try:
                self._send(status, {"error": message}, headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_OTHER(self) -> None:  # noqa: N802 - PUT, DELETE, PATCH, OPTIONS, HEAD, anything else: 405 + Allow
        self._dispatch(self._method)
