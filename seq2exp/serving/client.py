"""A gRPC client for TensorFlow Serving and the embedded ``seq2exp serve`` server, without TensorFlow.

Needs only ``grpcio``, ``protobuf`` and ``numpy`` (``pip install seq2exp[client]``): the messages come from the
wire-compatible subset in :mod:`seq2exp.serving.protos`, and the RPCs are called by TF Serving's method paths.

    with Client("127.0.0.1:8500", "dream") as client:
        expression = client.predict(["TGCATTTTTTTCACATC...", ...])      # numpy float32 [n]
        outputs = client.predict_outputs(sequences)                     # {"expression": ..., "bins": ...}

Large inputs are split into requests of ``batch_size`` rows (and under the message-size limit) that run
concurrently. One ``predict`` call uses ONE model version: it is resolved once (or taken from ``version=``),
pinned in every request, and checked in every response's ``model_spec.version``, so a hot reload during the call
never mixes versions (``client.last_version`` says which one answered). ``UNAVAILABLE`` is retried by gRPC itself
(the channel's service-config retry policy, exponential back-off), each RPC has its own deadline, and gRPC statuses
become the typed exceptions below. ``transport="rest"`` speaks TF Serving's REST API instead (``target`` is then
``http://host:port``), for networks that only pass HTTP.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import grpc
import numpy as np

from seq2exp.errors import Seq2ExpError
from seq2exp.jsonio import JSONInputError, loads
from seq2exp.serving import signatures as names
from seq2exp.serving import tensors
from seq2exp.serving.protos import serving_wire_pb2 as wire

logger = logging.getLogger(__name__)

_STRING_BYTES_OVERHEAD = 6  # protobuf framing per string_val item (tag + length varint), generous


class ServingError(Seq2ExpError):
    """A request failed. ``code`` is the ``grpc.StatusCode``, ``details`` the server's message."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None, details: str = ""):
        self.code, self.details = code, details
        super().__init__(message)


class InvalidRequestError(ServingError):
    """INVALID_ARGUMENT / FAILED_PRECONDITION / OUT_OF_RANGE: bad sequences, dtype or shape, unknown signature."""


class ModelNotFoundError(ServingError):
    """NOT_FOUND: the model, version or version label is not served."""


class ServerUnavailableError(ServingError):
    """UNAVAILABLE after every retry: no server, or the model is still loading."""


class DeadlineExceededError(ServingError):
    """DEADLINE_EXCEEDED: the request did not finish within the client's timeout."""


class RequestTooLargeError(ServingError):
    """RESOURCE_EXHAUSTED: a message is over the size limit of the server or the client."""


_ERROR_OF_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidRequestError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidRequestError,
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RequestTooLargeError,
}
_CODE_OF_HTTP = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
                 413: grpc.StatusCode.RESOURCE_EXHAUSTED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
                 503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.DEADLINE_EXCEEDED}
_CODE_NUMBER_OF_NAME = {code.name: code.value[0] for code in grpc.StatusCode}
STATE_NAMES = {value.number: value.name for value in wire.ModelVersionStatus.State.DESCRIPTOR.values}


def error_from_rpc(error: grpc.RpcError, what: str) -> ServingError:
    """The typed exception for a failed RPC."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    cls = _ERROR_OF_CODE.get(code, ServingError)
    code_name = code.name if code is not None else "UNKNOWN"
    return cls(f"{what} failed: {code_name}: {details}", code, details or "")


@contextlib.contextmanager
def _rest_answer(what: str):
    """Parse a REST answer's JSON inside: a shape TF Serving would not send is a ``ServingError``, not a traceback."""
    from google.protobuf.json_format import ParseError

    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ParseError) as error:
        raise ServingError(f"{what} failed: not a TF Serving REST answer ({type(error).__name__}: {error})",
                           grpc.StatusCode.UNKNOWN) from None


class Client:
    """Predictions, metadata and status from one served model.

    Args:
        target: ``host:port`` of the server.
        model: the model name (``models.config``'s ``name``).
        version: a version number to use, or ``None`` for the server's choice (the latest available).
        label: a version label (``stable``, ``canary``, ...) instead of a number.
        signature: the signature to call (``serving_default`` on strings).
        batch_size: rows per request; larger inputs are split.
        max_concurrency: requests in flight at once for one ``predict`` call.
        timeout: deadline of each RPC, seconds.
        retries: how often gRPC retries an ``UNAVAILABLE`` RPC (service-config retry policy; at most 4, gRPC's
            cap), with exponential back-off from ``backoff`` up to ``max_backoff`` seconds.
        max_message_bytes: gRPC send/receive limit (REST: the body size); requests are split to stay below it.
        transport: ``"grpc"`` (default) or ``"rest"`` (TF Serving's REST API; ``target`` ``http://host:port``).
    """

    def __init__(self, target: str, model: str, *, version: int | None = None, label: str | None = None,
                 signature: str = names.SERVING_DEFAULT, batch_size: int = 1024, max_concurrency: int = 4,
                 timeout: float = 60.0, retries: int = 4, backoff: float = 0.1, max_backoff: float = 5.0,
                 max_message_bytes: int = names.DEFAULT_MAX_MESSAGE_BYTES,
                 channel_options: Sequence[tuple[str, Any]] = (), transport: str = "grpc"):
        if version is not None and label is not None:
            raise ValueError("give a version or a label, not both")
        if batch_size < 1 or max_concurrency < 1:
            raise ValueError("batch_size and max_concurrency must be >= 1")
        if transport not in ("grpc", "rest"):
            raise ValueError(f"transport must be 'grpc' or 'rest', got {transport!r}")
        self.target, self.model, self.version, self.label = target, model, version, label
        self.transport = transport
        self.signature, self.batch_size, self.max_concurrency = signature, int(batch_size), int(max_concurrency)
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, int(retries), backoff, max_backoff
        self.max_message_bytes = int(max_message_bytes)
        self.last_version: int | None = None
        self._rest_url = (target if "://" in target else f"http://{target}").rstrip("/")
        options = [("grpc.max_send_message_length", self.max_message_bytes),
                   ("grpc.max_receive_message_length", self.max_message_bytes),
                   ("grpc.enable_retries", 1), ("grpc.service_config", self._service_config()), *channel_options]
        self._channel = grpc.insecure_channel(target, options=options)
        self._predict = self._channel.unary_unary(
            names.PREDICT_METHOD, request_serializer=wire.PredictRequest.SerializeToString,
            response_deserializer=wire.PredictResponse.FromString)
        self._metadata = self._channel.unary_unary(
            names.GET_MODEL_METADATA_METHOD, request_serializer=wire.GetModelMetadataRequest.SerializeToString,
            response_deserializer=wire.GetModelMetadataResponse.FromString)
        self._status = self._channel.unary_unary(
            names.GET_MODEL_STATUS_METHOD, request_serializer=wire.GetModelStatusRequest.SerializeToString,
            response_deserializer=wire.GetModelStatusResponse.FromString)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # --- context manager ------------------------------------------------------------------------------------------
    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel and the request threads."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        self._channel.close()

    # --- requests -------------------------------------------------------------------------------------------------
    def _model_spec(self, spec: Any, *, version: int | None, label: str | None, signature: str | None) -> None:
        spec.name = self.model
        version = self.version if version is None and label is None else version
        label = self.label if version is None and label is None else label
        if version is not None:
            spec.version.value = int(version)
        elif label is not None:
            spec.version_label = label
        if signature is not None:
            spec.signature_name = signature

    def _service_config(self) -> str:
        """gRPC service config: retry ``UNAVAILABLE`` on both services (gRPC caps attempts at 5)."""
        config: dict = {"name": [{"service": "tensorflow.serving.PredictionService"},
                                 {"service": "tensorflow.serving.ModelService"}]}
        if self.retries > 0:
            config["retryPolicy"] = {"maxAttempts": min(self.retries + 1, 5),
                                     "initialBackoff": f"{max(self.backoff, 0.001):.3f}s",
                                     "maxBackoff": f"{max(self.max_backoff, self.backoff, 0.001):.3f}s",
                                     "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
        return json.dumps({"methodConfig": [config]})

    def _call(self, method, request, what: str):
        """One RPC with its own deadline (``timeout``); gRPC's retry policy retries UNAVAILABLE within it."""
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise error_from_rpc(error, what) from None

    # --- REST transport ---------------------------------------------------------------------------------------------
    def _rest_path(self, version: int | None, label: str | None) -> str:
        path = f"{self._rest_url}/v1/models/{self.model}"
        if version is not None:
            return f"{path}/versions/{int(version)}"
        return f"{path}/labels/{label}" if label is not None else path

    def _rest(self, url: str, body: dict | None, what: str) -> dict:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return loads(response.read(), f"REST answer from {url}", expect=dict)
        except JSONInputError as error:  # an HTTP server, but not TF Serving's REST API
            raise ServingError(f"{what} failed: not a TF Serving REST answer ({error})", grpc.StatusCode.UNKNOWN) \
                from None
        except urllib.error.HTTPError as error:
            try:
                details = loads(error.read(), f"REST answer from {url}", expect=dict).get("error", "")
            except ValueError:
                details = error.reason
            code = _CODE_OF_HTTP.get(error.code)
            cls = _ERROR_OF_CODE.get(code, ServingError)
            raise cls(f"{what} failed: HTTP {error.code}: {details}", code, details) from None
        except http.client.HTTPException as error:  # not HTTP at all: e.g. the gRPC port (HTTP/2 frames)
            raise ServerUnavailableError(
                f"{what} failed: {url} did not answer in HTTP/1.1 ({type(error).__name__}); is it TF Serving's REST "
                "port (8501 by default), not its gRPC port?", grpc.StatusCode.UNAVAILABLE) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise DeadlineExceededError(f"{what} failed: timed out", grpc.StatusCode.DEADLINE_EXCEEDED) from None
            raise ServerUnavailableError(f"{what} failed: {reason}", grpc.StatusCode.UNAVAILABLE) from None

    # --- versions ---------------------------------------------------------------------------------------------------
    def resolve_version(self, *, version: int | None = None, label: str | None = None) -> int:
        """The version a request would get now: ``version``, the label's version, else the newest AVAILABLE one."""
        version = self.version if version is None and label is None else version
        label = self.label if version is None and label is None else label
        if version is not None:
            return int(version)
        available = [row["version"] for row in self.status(label=label) if row["state"] == "AVAILABLE"]
        if not available:
            raise ServerUnavailableError(f"{self.model} has no AVAILABLE version at {self.target}",
                                         grpc.StatusCode.UNAVAILABLE)
        return max(available)

    def predict(self, sequences: Sequence[str] | np.ndarray | str, *, version: int | None = None,
                label: str | None = None, is_reverse: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
        """Expression predictions (float32 ``[n]``) for DNA strings, in input order (``is_reverse``: see
        :meth:`predict_outputs`)."""
        return self.predict_outputs(sequences, version=version, label=label,
                                    is_reverse=is_reverse)[names.EXPRESSION_OUTPUT]

    def predict_tasks(self, sequences: Sequence[str] | np.ndarray | str, *, version: int | None = None,
                      label: str | None = None,
                      is_reverse: Sequence[bool] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Named predictions: ``{task: float32 [n]}`` for a model with several tasks (its ``expression_<task>``
        outputs), ``{"expression": [n]}`` for a single-task model."""
        result = self.predict_outputs(sequences, version=version, label=label, is_reverse=is_reverse)
        tasks = names.task_outputs(result)
        return {task: result[alias] for task, alias in tasks.items()} or \
            {names.EXPRESSION_OUTPUT: result[names.EXPRESSION_OUTPUT]}

    def predict_outputs(self, sequences: Sequence[str] | np.ndarray | str, *, version: int | None = None,
                        label: str | None = None, outputs: Sequence[str] | None = None,
                        is_reverse: Sequence[bool] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every output (``expression`` and, for bin models, ``bins``) for DNA strings, in input order.

        ``is_reverse``: one flag per sequence, ``True`` for a row measured in reverse orientation; sent with the
        sequences to the ``serving_oriented`` signature (models with an ``is_reverse`` channel only). ``None``: the
        client's signature (``serving_default``: every row forward)."""
        if isinstance(sequences, (str, bytes)):
            sequences = [sequences]
        items = [s.encode("ascii", "replace") if isinstance(s, str) else bytes(s) for s in sequences]
        if is_reverse is None:
            return self._predict_chunks(items, names.SEQUENCES_INPUT, signature=self.signature, version=version,
                                        label=label, outputs=outputs)
        flags = np.asarray(is_reverse, dtype=bool).reshape(-1)
        if len(flags) != len(items):
            raise ValueError(f"is_reverse has {len(flags)} flags for {len(items)} sequences")
        return self._predict_chunks(items, names.SEQUENCES_INPUT, signature=names.ORIENTED_SIGNATURE,
                                    version=version, label=label, outputs=outputs,
                                    extra={names.IS_REVERSE_INPUT: flags})

    def predict_onehot(self, onehot: np.ndarray, *, version: int | None = None, label: str | None = None,
                       outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Outputs for one-hot input ``float32 [n, L, 4]`` through the ``onehot`` signature."""
        array = np.asarray(onehot, dtype=np.float32)
        return self._predict_chunks(array, names.ONEHOT_INPUT, signature=names.ONEHOT_SIGNATURE, version=version,
                                    label=label, outputs=outputs)

    def _chunks(self, values: Any, extra_row_bytes: int = 0) -> list[tuple[int, int]]:
        """[start, stop) row ranges of at most batch_size rows and (roughly) under the message limit."""
        n_rows = len(values)
        if isinstance(values, np.ndarray):
            row_bytes = [values[0].nbytes + extra_row_bytes] * n_rows if n_rows else []
        else:
            row_bytes = [len(v) + _STRING_BYTES_OVERHEAD + extra_row_bytes for v in values]
        limit = max(self.max_message_bytes - 4096, 1)
        ranges, start, size = [], 0, 0
        for row in range(n_rows):
            if row > start and (row - start >= self.batch_size or size + row_bytes[row] > limit):
                ranges.append((start, row))
                start, size = row, 0
            size += row_bytes[row]
        if n_rows:
            ranges.append((start, n_rows))
        return ranges

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="seq2exp-client")
            return self._pool

    def _predict_chunks(self, values: Any, input_name: str, *, signature: str, version: int | None,
                        label: str | None, outputs: Sequence[str] | None,
                        extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``values`` under ``input_name`` (and the ``extra`` inputs, one row per value, cut at the same rows) in
        requests of at most ``batch_size`` rows."""
        extra = dict(extra or {})
        ranges = self._chunks(values, sum(int(array[:1].nbytes) + 2 for array in extra.values()))
        if not ranges:
            return {names.EXPRESSION_OUTPUT: np.zeros([0], np.float32)}
        explicit = version is not None or label is not None or self.version is not None or self.label is not None
        if len(ranges) == 1 and not explicit and self.transport == "grpc":
            pinned = None  # one request cannot mix versions: the response names the one that answered
        else:
            pinned = self.resolve_version(version=version, label=label)  # ONE version for every chunk of this call
        answered: list[int] = []

        def run(bounds: tuple[int, int]) -> dict[str, np.ndarray]:
            what = f"Predict({self.model} version {pinned}, rows {bounds[0]}-{bounds[1]} of {len(values)})"
            if self.transport == "rest":
                result = self._rest_predict(values[bounds[0]:bounds[1]], input_name, signature, pinned, outputs,
                                            what, {key: array[bounds[0]:bounds[1]] for key, array in extra.items()})
            else:
                request = wire.PredictRequest()
                self._model_spec(request.model_spec, version=pinned, label=None, signature=signature)
                request.inputs[input_name].CopyFrom(
                    tensors.make_tensor_proto(values[bounds[0]:bounds[1]], wire.TensorProto))
                for key, array in extra.items():
                    request.inputs[key].CopyFrom(tensors.make_tensor_proto(array[bounds[0]:bounds[1]],
                                                                           wire.TensorProto))
                if outputs:
                    request.output_filter.extend(outputs)
                response = self._call(self._predict, request, what)
                answered.append(int(response.model_spec.version.value))
                if pinned is not None and response.model_spec.version.value != pinned:
                    raise ServingError(f"{what}: the response came from version "
                                       f"{response.model_spec.version.value}, not the pinned {pinned}")
                result = {key: tensors.make_ndarray(proto) for key, proto in response.outputs.items()}
            got = len(result.get(names.EXPRESSION_OUTPUT, next(iter(result.values()))))
            if got != bounds[1] - bounds[0]:
                raise ServingError(f"server returned {got} rows for a request of {bounds[1] - bounds[0]}")
            return result

        if len(ranges) == 1:
            parts = [run(ranges[0])]
        else:
            parts = list(self._executor().map(run, ranges))
        self.last_version = pinned if pinned is not None else answered[0]
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def _rest_predict(self, values: Any, input_name: str, signature: str, version: int,
                      outputs: Sequence[str] | None, what: str,
                      extra: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """One columnar REST Predict (``/versions/N`` pins the version); TF Serving's REST has no output_filter,
        so the outputs are selected here."""
        column = values.tolist() if isinstance(values, np.ndarray) else [v.decode("ascii", "replace") for v in values]
        inputs = {input_name: column, **{key: array.tolist() for key, array in (extra or {}).items()}}
        body = self._rest(f"{self._rest_path(version, None)}:predict",
                          {"signature_name": signature, "inputs": inputs}, what)
        with _rest_answer(what):
            answer = body["outputs"]
            answer = answer if isinstance(answer, dict) else {names.EXPRESSION_OUTPUT: answer}
            result = {key: np.asarray(value, dtype=np.float32) for key, value in answer.items()
                      if not outputs or key in outputs}
        missing = sorted(set(outputs or ()) - set(result))
        if missing:
            raise InvalidRequestError(f"{what}: outputs {missing} not among {sorted(answer)}",
                                      grpc.StatusCode.INVALID_ARGUMENT)
        return result

    # --- metadata and status ----------------------------------------------------------------------------------------
    def metadata(self, *, version: int | None = None, label: str | None = None) -> dict:
        """The model's signatures: ``{"model", "version", "signatures": {name: {"inputs", "outputs", ...}}}``.

        Each tensor is ``{"dtype": "DT_STRING", "shape": [-1]}`` (``-1`` = any size).
        """
        request = wire.GetModelMetadataRequest()
        self._model_spec(request.model_spec, version=version, label=label, signature=None)
        signature_map = wire.SignatureDefMap()
        if self.transport == "rest":
            from google.protobuf import json_format

            version = self.version if version is None and label is None else version
            label = self.label if version is None and label is None else label
            what = f"metadata({self.model})"
            body = self._rest(f"{self._rest_path(version, label)}/metadata", None, what)
            with _rest_answer(what):
                json_format.ParseDict(body["metadata"][names.SIGNATURE_DEF_METADATA_FIELD], signature_map,
                                      ignore_unknown_fields=True)
                request.model_spec.name = body["model_spec"]["name"]
                response = wire.GetModelMetadataResponse()
                response.model_spec.name = body["model_spec"]["name"]
                response.model_spec.version.value = int(body["model_spec"]["version"])
        else:
            request.metadata_field.append(names.SIGNATURE_DEF_METADATA_FIELD)
            response = self._call(self._metadata, request, f"GetModelMetadata({self.model})")
            packed = response.metadata[names.SIGNATURE_DEF_METADATA_FIELD]
            signature_map.ParseFromString(packed.value)  # upstream type name; same bytes as our message
        return {
            "model": response.model_spec.name,
            "version": int(response.model_spec.version.value),
            "signatures": {key: {"method_name": sig.method_name,
                                 "inputs": _tensor_infos(sig.inputs), "outputs": _tensor_infos(sig.outputs)}
                           for key, sig in signature_map.signature_def.items() if not key.startswith("__")},
        }

    def status(self, *, version: int | None = None, label: str | None = None) -> list[dict]:
        """Each version's state: ``[{"version", "state", "error_code", "error_message"}]``, newest first."""
        if self.transport == "rest":
            version = self.version if version is None and label is None else version
            label = self.label if version is None and label is None else label
            what = f"status({self.model})"
            body = self._rest(self._rest_path(version, label), None, what)
            with _rest_answer(what):  # TF Serving's GetModelStatus JSON; a version without a status object is OK
                rows = [{"version": int(item["version"]), "state": str(item["state"]),
                         "error_code": _CODE_NUMBER_OF_NAME.get((item.get("status") or {}).get("error_code", "OK"), 2),
                         "error_message": (item.get("status") or {}).get("error_message", "")}
                        for item in body["model_version_status"]]
            return sorted(rows, key=lambda row: -row["version"])
        request = wire.GetModelStatusRequest()
        self._model_spec(request.model_spec, version=version, label=label, signature=None)
        response = self._call(self._status, request, f"GetModelStatus({self.model})")
        rows = [{"version": int(item.version), "state": STATE_NAMES.get(item.state, str(item.state)),
                 "error_code": int(item.status.error_code), "error_message": item.status.error_message}
                for item in response.model_version_status]
        return sorted(rows, key=lambda row: -row["version"])

    def wait_until_available(self, version: int | None = None, timeout: float = 60.0) -> int:
        """Block until ``version`` (or any version) is AVAILABLE; return that version."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                for row in self.status():
                    if row["state"] == "AVAILABLE" and (version is None or row["version"] == version):
                        return row["version"]
            except (ServerUnavailableError, ModelNotFoundError):
                pass
            if time.monotonic() > deadline:
                raise ServerUnavailableError(f"{self.model} version {version or 'any'} not available after "
                                             f"{timeout:.0f}s at {self.target}")
            time.sleep(0.1)


def _tensor_infos(infos: Any) -> dict[str, dict]:
    return {key: {"dtype": tensors.dtype_name(info.dtype),
                  "shape": [int(d.size) for d in info.tensor_shape.dim] if not info.tensor_shape.unknown_rank
                  else None}
            for key, info in infos.items()}

