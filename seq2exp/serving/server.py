"""An embedded TensorFlow-Serving-compatible gRPC and REST server (``seq2exp serve``).

Each version is loaded and run on TensorFlow Serving's own path (:class:`seq2exp.serving.session.SessionModel`:
the session loader, ``Session.run`` by SignatureDef tensor names), so what it serves cannot drift from
``tensorflow_model_server``. gRPC and REST requests are turned into arrays by ONE function,
:func:`prepare_inputs` (aliases, dtype, shape, rows), before they reach the batcher. It implements
``tensorflow.serving.PredictionService/Predict`` and ``GetModelMetadata`` and
``tensorflow.serving.ModelService/GetModelStatus`` with TF Serving's own messages, over the same ``models.config``
and version policies as ``tensorflow_model_server``, so a client cannot tell the two apart. Like TF Serving it

* polls each model's base path and loads new version folders while running (folders being written by an export
  are not versions yet), replaying the version's ``assets.extra/tf_serving_warmup_requests`` before serving it.
  Versions are replaced as by TF Serving's ``AvailabilityPreservingPolicy``: the version a new one replaces is
  unloaded only once the new one is AVAILABLE, so a version that fails to load (a broken or half-copied folder)
  leaves the old one serving. The failed version is ``END`` with its error in ``GetModelStatus`` and is loaded
  again at the first poll after anything in its folder changed (TF Serving instead retries a failed load
  ``--max_num_load_retries`` times a minute apart, then only once the folder has gone and come back). The models
  themselves are fixed at start: a model folder added under ``--model-base-path`` later is served after a restart
  (TF Serving, too, serves only the models of its config);
* checks, once the models have loaded at start, that every version label of the config points to an AVAILABLE
  version, and does not start otherwise: the check ``tensorflow_model_server`` applies to a config
  (``FAILED_PRECONDITION``). TF Serving checks its first config before any model has loaded, so there a config with
  labels needs ``--allow_version_labels_for_unavailable_models=true``, which skips the check; the embedded server
  has no such flag;
* batches concurrent requests for the same version and signature on the server side (``batching.config``),
  padding a merged batch to the next of ``allowed_batch_sizes`` with copies of its first row, as TF Serving does;
* serves TF Serving's REST API too (``--rest-port``; :mod:`seq2exp.serving.rest`);
* answers bad requests with the right status (``INVALID_ARGUMENT`` for dtype/shape/sequence errors,
  ``NOT_FOUND`` for an unknown model, version or label, ``RESOURCE_EXHAUSTED`` over the message-size cap,
  ``UNAVAILABLE`` while nothing is loaded or the batch queue is full) and keeps serving;
* binds 127.0.0.1 unless told otherwise, and stops gracefully (in-flight requests finish).
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import grpc
import numpy as np

from seq2exp.errors import ConfigError, Seq2ExpError
from seq2exp.jsonio import type_name
from seq2exp.serving import signatures as names
from seq2exp.serving import tensors
from seq2exp.serving.config import BatchingOptions, ModelConfig, list_versions
from seq2exp.serving.session import SessionModel, Signature, SignatureError, TensorSpec
from seq2exp.serving.requests import (RequestError, RequestLimits, check_shape, internal_message,
                                     predict_in_batches, request_array)

logger = logging.getLogger(__name__)


def _tf_error_message(error: Exception) -> str:
    """The meaningful part of a TensorFlow error: the failed assertion's text, without graph traces."""
    text = getattr(error, "message", None) or str(error)
    marker = "assertion failed:"
    if marker in text:
        reason = text[text.index(marker) + len(marker):].split("\n")[0].strip()
        return reason.strip("[] ").replace("] [", " ") or text[:1000]
    noise = ("Graph execution error", "Detected at node", "<stack", "File ", "[[")
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith((" ", "\t")) and not line.strip().startswith(noise)]
    return " ".join(lines[:2])[:1000] or type(error).__name__


# ----------------------------------------------------------------------------------------------------------------
# Server-side batching
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Task:
    inputs: dict[str, np.ndarray]
    future: futures.Future = field(default_factory=futures.Future)

    @property
    def rows(self) -> int:
        return int(next(iter(self.inputs.values())).shape[0])


def padded_batch_size(rows: int, allowed: Sequence[int]) -> int:
    """The smallest of ``allowed`` that holds ``rows`` (``rows`` itself when none is given or none is as large)."""
    return next((size for size in allowed if size >= rows), rows)


class Batcher:
    """Merges concurrent requests into batches of up to ``max_batch_size`` rows for ``fn`` (alias -> array).

    A worker takes the oldest request, then every request already queued (waiting up to ``batch_timeout_micros``
    for more) while the batch stays within ``max_batch_size``; a request larger than that runs alone. With
    ``allowed_batch_sizes`` the merged batch is padded to the next allowed size with copies of its first row (TF
    Serving's ``BatchingSession``), and the padding is dropped from the outputs. When a merged batch fails with a
    TensorFlow ``InvalidArgumentError``, its requests are re-run one by one so that only the bad request fails.
    """

    def __init__(self, fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], options: BatchingOptions,
                 name: str):
        self._fn, self._options, self._name = fn, options, name
        self._queue: collections.deque[_Task] = collections.deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"batch-{name}-{i}", daemon=True)
                         for i in range(options.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, inputs: dict[str, np.ndarray] | np.ndarray) -> futures.Future:
        """Queue one request (alias -> array, or one array for a single-input ``fn``); its future gets the outputs."""
        task = _Task(inputs if isinstance(inputs, dict) else {"": inputs})
        limit = self._options.max_enqueued_batches * self._options.max_batch_size
        with self._cond:
            if self._closed:
                raise RequestError(grpc.StatusCode.UNAVAILABLE, f"{self._name} is unloading")
            if self._queued_rows and self._queued_rows + task.rows > limit:
                raise RequestError(grpc.StatusCode.UNAVAILABLE,
                                   f"batch queue of {self._name} is full ({self._queued_rows} rows queued)")
            self._queue.append(task)
            self._queued_rows += task.rows
            self._cond.notify()
        return task.future

    def close(self) -> None:
        """Finish the queued requests, then stop the workers."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _take_batch(self) -> list[_Task] | None:
        timeout = self._options.batch_timeout_micros / 1e6
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            batch = [self._queue.popleft()]
            rows = batch[0].rows
            deadline = time.monotonic() + timeout
            while rows < self._options.max_batch_size:
                if self._queue:
                    if rows + self._queue[0].rows > self._options.max_batch_size:
                        break
                    task = self._queue.popleft()
                    batch.append(task)
                    rows += task.rows
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            self._queued_rows -= rows
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            self._run(batch)

    def _call(self, inputs: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
        """``fn`` on ``inputs``, padded to the next allowed batch size (never past ``max_batch_size``)."""
        size = padded_batch_size(rows, self._options.allowed_batch_sizes) if rows <= self._options.max_batch_size \
            else rows
        if size > rows:
            inputs = {key: np.concatenate([value, np.repeat(value[:1], size - rows, axis=0)])
                      for key, value in inputs.items()}
        single = list(inputs) == [""]
        outputs = self._fn(inputs[""] if single else inputs)
        return {key: value[:rows] for key, value in outputs.items()} if size > rows else outputs

    def _run(self, batch: list[_Task]) -> None:
        import tensorflow as tf

        if len(batch) == 1:
            try:
                batch[0].future.set_result(self._call(batch[0].inputs, batch[0].rows))
            except Exception as error:  # noqa: BLE001 - delivered to the waiting request
                batch[0].future.set_exception(error)
            return
        rows = sum(task.rows for task in batch)
        try:
            merged = self._call({key: np.concatenate([task.inputs[key] for task in batch])
                                 for key in batch[0].inputs}, rows)
        except tf.errors.InvalidArgumentError:
            for task in batch:  # find the bad request(s): only they fail
                self._run([task])
            return
        except Exception as error:  # noqa: BLE001
            for task in batch:
                task.future.set_exception(error)
            return
        start = 0
        for task in batch:
            stop = start + task.rows
            task.future.set_result({key: value[start:stop] for key, value in merged.items()})
            start = stop


# ----------------------------------------------------------------------------------------------------------------
# Loaded versions
# ----------------------------------------------------------------------------------------------------------------
def _json_array(alias: str, values: Any, spec: TensorSpec) -> np.ndarray:
    """A REST (JSON) input as an array of the signature's dtype (strings: bytes; ``{"b64": ...}`` decoded)."""
    import base64

    if spec.dtype == tensors.DT_STRING:
        import binascii

        shape, leaves = json_shape(alias, values)

        def to_bytes(item):
            if isinstance(item, dict) and set(item) == {"b64"}:
                if not isinstance(item["b64"], str):
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"input {alias!r}: a \"b64\" value must be a base64 string")
                try:
                    return base64.b64decode(item["b64"].encode("ascii"), validate=True)
                except (UnicodeEncodeError, binascii.Error, ValueError) as error:
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"input {alias!r}: a \"b64\" value is not valid base64 ({error})") from None
            if isinstance(item, str):
                return item.encode("utf-8", "surrogatepass")
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"input {alias!r} must be DT_STRING, got {type_name(item)}")

        array = np.empty(len(leaves), dtype=object)
        array[:] = [to_bytes(item) for item in leaves]
        return array.reshape(shape)
    dtype = tensors.DTYPE_OF_ENUM.get(spec.dtype)
    if dtype is None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {alias!r}: unsupported dtype "
                                                             f"{tensors.dtype_name(spec.dtype)}")
    # the JSON types TF Serving's reader takes for the dtype (json_tensor.cc AddValueToTensor): true/false for
    # DT_BOOL only, integers for the integer types, any number for the float types
    allowed = "b" if dtype.kind == "b" else "iu" if dtype.kind in "iu" else "iuf"
    try:  # fast path: a rectangular list of numbers is what numpy itself builds as a numeric array
        guess = np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        guess = None
    if guess is not None and guess.dtype.kind in allowed:
        return guess.astype(dtype.newbyteorder("="))
    shape, leaves = json_shape(alias, values)  # anything else: checked value by value, for a precise error
    wanted = {"b": "true or false", "iu": "integers", "iuf": "numbers"}[allowed]
    for item in leaves:
        kind = "b" if isinstance(item, bool) else "i" if isinstance(item, int) else "f" if isinstance(item, float) \
            else None
        if kind is None or kind not in allowed:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"input {alias!r} must be {tensors.dtype_name(spec.dtype)} values ({wanted}), got "
                               f"{type_name(item)}")
    try:
        return np.asarray(leaves, dtype=dtype.newbyteorder("=")).reshape(shape)
    except (TypeError, ValueError, OverflowError) as error:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {alias!r} must be a (nested, rectangular) list of "
                           f"{tensors.dtype_name(spec.dtype)} values: {error}") from None


def json_shape(alias: str, values: Any) -> tuple[tuple[int, ...], list]:
    """The shape of a rectangular nested JSON list and its leaves in row-major order.

    Ragged lists (``[["S"], ["S", "S"]]``), lists mixed with scalars (``["S", ["S"]]``) and empty inner lists are
    INVALID_ARGUMENT, as TF Serving's JSON tensor reader refuses them (HTTP 400). Iterative: no recursion.
    """
    shape: list[int] = []
    level = [values]
    while level and isinstance(level[0], list):
        size = len(level[0])
        if any(not isinstance(item, list) or len(item) != size for item in level):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"input {alias!r} is not a rectangular list: the lists at depth {len(shape) + 1} "
                               "differ in length, or lists are mixed with values")
        shape.append(size)
        level = [x for item in level for x in item]
    if any(isinstance(item, list) for item in level):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {alias!r} is not a rectangular list: lists are mixed with values")
    return tuple(shape), level


def prepare_inputs(model: SessionModel, signature_key: str, inputs: Mapping[str, Any],
                   output_filter: Sequence[str] = (), limits: RequestLimits | None = None
                   ) -> tuple[Signature, dict[str, np.ndarray]]:
    """THE conversion of a request (gRPC ``TensorProto``s or REST JSON values, by alias) into arrays.

    Checks, in TF Serving's order and wording where it has one: the signature, the input aliases, the
    ``output_filter``; then each input: a ``TensorProto`` through :func:`seq2exp.serving.requests.request_array`
    (dtype, declared shape and the per-request caps, all before any tensor is built), JSON values against the same
    dtype, shape and caps. Both the gRPC service and the REST handler call it, so one check covers both.
    """
    limits = limits or RequestLimits()
    try:
        signature = model.check_aliases(signature_key, list(inputs), output_filter)
    except SignatureError as error:
        raise RequestError(getattr(grpc.StatusCode, error.code), str(error)) from None
    arrays: dict[str, np.ndarray] = {}
    for alias, value in inputs.items():
        spec = signature.inputs[alias]
        shape = None if spec.shape is None else tuple(None if size < 0 else size for size in spec.shape)
        if hasattr(value, "tensor_shape"):  # a TensorProto (gRPC)
            if shape is None:
                shape = tuple(None for _ in value.tensor_shape.dim)
            arrays[alias] = request_array(value, input_name=alias, dtype=spec.dtype, shape=shape, limits=limits)
            continue
        array = value if isinstance(value, np.ndarray) else _json_array(alias, value, spec)  # REST
        check_shape(alias, tuple(array.shape), shape, limits)
        if array.ndim == 0:  # a scalar has no rows to predict
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {alias!r} is empty (shape [])")
        arrays[alias] = array
    rows = {array.shape[0] for array in arrays.values()}
    if len(rows) > 1:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"inputs have different numbers of rows: {sorted(rows)}")
    return signature, arrays


class Servable:
    """One loaded version of a model: its :class:`SessionModel` (TF Serving's loader) and one batcher per
    signature."""

    def __init__(self, name: str, version: int, path: Path, batching: BatchingOptions):
        self.name, self.version, self.path = name, version, path
        self.model = SessionModel(path)
        self.signature_defs = {key: value for key, value in self.model.signature_defs.items()
                               if not key.startswith("__")}  # not __saved_model_init_op
        self.signatures: dict[str, Signature] = self.model.signatures
        self._batchers = {key: Batcher(self._runner(key), batching, f"{name}/{version}/{key}")
                          for key in self.signatures}
        self._batch_rows = batching.max_batch_size  # a larger request runs in batches of this many rows

    def _runner(self, key: str) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return self.model.run(key, inputs)

        return run

    def warm_up(self) -> int:
        """Replay ``assets.extra/tf_serving_warmup_requests`` (like TF Serving); returns the number replayed."""
        return self.model.replay_warmup()

    def predict(self, signature: str, inputs: Mapping[str, Any], output_filter: Sequence[str],
                limits: RequestLimits | None = None) -> dict[str, np.ndarray]:
        """Outputs of ``signature`` for a request's ``inputs`` (TensorProtos or JSON values by alias); a request
        larger than ``max_batch_size`` rows runs that many rows at a time (``requests.predict_in_batches``)."""
        import tensorflow as tf

        _, arrays = prepare_inputs(self.model, signature, inputs, output_filter, limits)
        batcher = self._batchers[signature]
        try:
            if len(arrays) == 1:
                (alias, array), = arrays.items()
                outputs = predict_in_batches(lambda part: batcher.submit({alias: part}).result(), array,
                                             self._batch_rows)
            else:
                outputs = batcher.submit(arrays).result()
        except tf.errors.InvalidArgumentError as error:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, _tf_error_message(error)) from None
        except tf.errors.ResourceExhaustedError as error:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, _tf_error_message(error)) from None
        if output_filter:
            outputs = {key: outputs[key] for key in output_filter}
        return outputs

    def unload(self) -> None:
        for batcher in self._batchers.values():
            batcher.close()
        self._batchers = {}
        self.model.close()


# ----------------------------------------------------------------------------------------------------------------
# Models and version policy
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class VersionState:
    state: str  # LOADING / AVAILABLE / UNLOADING / END (ModelVersionStatus.State names)
    error_code: int = 0  # tensorflow.error.Code
    error_message: str = ""
    contents: tuple = ()  # _folder_contents of the version folder when its load began


def _folder_contents(path: Path) -> tuple:
    """What a version folder holds, cheaply: (inode, files, bytes, newest mtime/ctime in ns) over the whole tree.

    A version that failed to load is tried again only once this changes: a copy that was still being written has
    finished (files added or grown under ``variables/``), or the folder was replaced.
    """
    try:
        inode, files, size, newest = path.stat().st_ino, 0, 0, 0
        for folder, subfolders, filenames in os.walk(path):
            for entry in [folder, *(os.path.join(folder, name) for name in filenames)]:
                info = os.stat(entry)
                newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
                if entry != folder:
                    files, size = files + 1, size + info.st_size
    except OSError:  # removed or renamed meanwhile
        return ()
    return inode, files, size, newest


class ModelManager:
    """The served models: scans base paths, applies each version policy, loads and unloads versions."""

    def __init__(self, models: Iterable[ModelConfig], batching: BatchingOptions | None = None):
        self.configs = {model.name: model for model in models}
        self.batching = batching or BatchingOptions()
        self.limits = RequestLimits()
        self._servables: dict[str, dict[int, Servable]] = {name: {} for name in self.configs}
        self._states: dict[str, dict[int, VersionState]] = {name: {} for name in self.configs}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polls = 0
        self._polled = threading.Condition()

    def wait_for_polls(self, count: int, timeout: float = 60.0) -> bool:
        """Block until ``count`` more scans have completed (so "nothing changed" can be checked without sleeps)."""
        with self._polled:
            target = self._polls + count
            return self._polled.wait_for(lambda: self._polls >= target, timeout)

    def poll_once(self) -> None:
        """One scan: load the versions the policy wants that are not loaded, then unload the versions it no longer
        wants, as TF Serving's ``AvailabilityPreservingPolicy`` does (see :meth:`_unload_unwanted`)."""
        try:
            self._poll()
        finally:
            with self._polled:
                self._polls += 1
                self._polled.notify_all()

    def _poll(self) -> None:
        for name, config in self.configs.items():
            model_dir = Path(config.base_path)
            wanted = config.select_versions(list_versions(model_dir))
            for version in wanted:
                with self._lock:
                    state = self._states[name].get(version)
                    if version in self._servables[name]:
                        continue
                path = model_dir / str(version)
                contents = _folder_contents(path)
                if state is not None and state.state == "END" and state.error_code and state.contents == contents:
                    continue  # failed before and unchanged since: not tried again every poll
                self._load(name, version, path, contents)
            self._unload_unwanted(name, wanted)

    def _unload_unwanted(self, name: str, wanted: Sequence[int]) -> None:
        """Unload the loaded versions the policy no longer wants, but never the last one before a wanted version is
        AVAILABLE (TF Serving's ``AvailabilityPreservingPolicy``): while the new version is loading, or when it failed
        to load, the newest old version keeps serving. With no version folder left at all, every version goes."""
        with self._lock:
            loaded = sorted(self._servables[name])
        unwanted = [version for version in loaded if version not in wanted]
        if wanted and not set(loaded) & set(wanted):
            unwanted = unwanted[:-1]  # keep the newest until its replacement is available
        for version in unwanted:
            self._unload(name, version)

    def _load(self, name: str, version: int, path: Path, contents: tuple) -> None:
        with self._lock:
            self._states[name][version] = VersionState("LOADING", contents=contents)
        started = time.monotonic()
        try:
            servable = Servable(name, version, path, self.batching)
            replayed = servable.warm_up()
        except Exception as error:  # noqa: BLE001 - a bad version must not stop the server
            with self._lock:
                self._states[name][version] = VersionState("END", 13, f"load failed: {_tf_error_message(error)}",
                                                           contents)
                serving = sorted(self._servables[name], reverse=True)
            logger.error("loading %s version %d from %s failed: %s; serving %s; tried again when its folder "
                         "changes", name, version, path, error,
                         f"version {', '.join(map(str, serving))} still" if serving else "no version")
            return
        with self._lock:
            self._servables[name][version] = servable
            self._states[name][version] = VersionState("AVAILABLE", contents=contents)
        logger.info("serving %s version %d (%.1fs, %d warm-up requests)", name, version,
                    time.monotonic() - started, replayed)

    def _unload(self, name: str, version: int) -> None:
        with self._lock:
            servable = self._servables[name].pop(version)
            self._states[name][version] = VersionState("UNLOADING")
        servable.unload()
        with self._lock:
            self._states[name][version] = VersionState("END")
        logger.info("unloaded %s version %d", name, version)

    def check_labels(self) -> None:
        """Refuse (``ConfigError``) a config with a version label whose version is not AVAILABLE, as
        ``tensorflow_model_server`` refuses it (``FAILED_PRECONDITION``, in its words). Labels are fixed from then on:
        a request for a label whose version was unloaded since is ``NOT_FOUND``, as in TF Serving."""
        for name, config in self.configs.items():
            with self._lock:
                available = sorted(self._servables[name], reverse=True)
            for label, version in config.unserved_labels(available).items():
                raise ConfigError(f"model {name}: label {label!r} points to version {version}, which is not available "
                                  f"(available: {', '.join(map(str, available)) or 'none'}); TF Serving refuses such "
                                  f"a config: Request to assign label to version {version} of model {name}, which is "
                                  "not currently available for inference")

    def start_polling(self, interval: float) -> None:
        if interval <= 0 or self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll_once()
                except Exception:  # noqa: BLE001 - keep polling
                    logger.exception("version poll failed")

        self._thread = threading.Thread(target=loop, name="seq2exp-version-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            loaded = [(name, version) for name, versions in self._servables.items() for version in versions]
        for name, version in loaded:
            self._unload(name, version)

    def _spec_version(self, spec) -> tuple[str, int | None, str | None]:
        choice = spec.WhichOneof("version_choice")
        if choice == "version":
            return spec.name, int(spec.version.value), None
        if choice == "version_label":
            return spec.name, None, spec.version_label
        return spec.name, None, None

    def resolve(self, spec) -> Servable:
        """The loaded version a request's ``ModelSpec`` asks for."""
        name, version, label = self._spec_version(spec)
        with self._lock:
            if name not in self.configs:  # TF Serving's wording
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})")
            if label is not None:
                labels = self.configs[name].labels
                if label not in labels:
                    raise RequestError(grpc.StatusCode.NOT_FOUND,
                                       f"Unrecognized servable version label: {label}")
                version = labels[label]
            loaded = self._servables[name]
            if version is not None:
                if version not in loaded:
                    raise RequestError(grpc.StatusCode.NOT_FOUND,
                                       f"Servable not found for request: Specific({name}, {version})")
                return loaded[version]
            if not loaded:
                loading = any(s.state == "LOADING" for s in self._states[name].values())
                code = grpc.StatusCode.UNAVAILABLE if loading else grpc.StatusCode.NOT_FOUND
                raise RequestError(code, f"model {name!r} has no available version yet")
            return loaded[max(loaded)]

    def status(self, spec) -> list[tuple[int, VersionState]]:
        name, version, label = self._spec_version(spec)
        with self._lock:
            if name not in self.configs:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"model {name!r} is not served")
            if label is not None:
                if label not in self.configs[name].labels:
                    raise RequestError(grpc.StatusCode.NOT_FOUND, f"model {name!r} has no version label {label!r}")
                version = self.configs[name].labels[label]
            states = dict(self._states[name])
        if version is not None:
            if version not in states:
                raise RequestError(grpc.StatusCode.NOT_FOUND, f"model {name!r} version {version} is unknown")
            return [(version, states[version])]
        return sorted(states.items(), reverse=True)


# ----------------------------------------------------------------------------------------------------------------
# gRPC services
# ----------------------------------------------------------------------------------------------------------------
def _guard(method: Callable) -> Callable:
    """Turn RequestError and unexpected exceptions into gRPC statuses; the server keeps running."""

    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except RequestError as error:
            logger.warning("%s failed: %s %s", method.__name__, error.code.name, error.message.splitlines()[0][:300])
            context.abort(error.code, error.message)
        except Exception as error:  # noqa: BLE001 - one log line, one line to the client, no traceback
            message = internal_message(error)
            logger.error("%s failed: INTERNAL %s", method.__name__, message)
            context.abort(grpc.StatusCode.INTERNAL, message)

    wrapper.__name__ = method.__name__
    return wrapper


def _services(manager: ModelManager):
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                         predict_pb2, prediction_service_pb2_grpc)
    from tensorflow.core.framework import tensor_pb2

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        @_guard
        def Predict(self, request, context):  # noqa: N802 - gRPC method name
            servable = manager.resolve(request.model_spec)
            signature = request.model_spec.signature_name or names.SERVING_DEFAULT
            logger.debug("Predict %s/%d %s", servable.name, servable.version, signature)
            outputs = servable.predict(signature, request.inputs, list(request.output_filter),
                                       manager.limits)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = signature
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tensors.make_tensor_proto(value, tensor_pb2.TensorProto))
            return response

        @_guard
        def GetModelMetadata(self, request, context):  # noqa: N802
            fields = list(request.metadata_field)
            if not fields:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "metadata_field must name at least one field")
            unknown = sorted(set(fields) - {names.SIGNATURE_DEF_METADATA_FIELD})
            if unknown:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"unknown metadata_field {unknown}; valid: [{names.SIGNATURE_DEF_METADATA_FIELD!r}]")
            servable = manager.resolve(request.model_spec)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in servable.signature_defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.metadata[names.SIGNATURE_DEF_METADATA_FIELD].Pack(signature_map)
            return response

        def Classify(self, request, context):  # noqa: N802
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Classify is not served; use Predict")

        def Regress(self, request, context):  # noqa: N802
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Regress is not served; use Predict")

    class ModelService(model_service_pb2_grpc.ModelServiceServicer):
        @_guard
        def GetModelStatus(self, request, context):  # noqa: N802
            response = get_model_status_pb2.GetModelStatusResponse()
            for version, state in manager.status(request.model_spec):
                item = response.model_version_status.add()
                item.version = version
                item.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
                item.status.error_code = state.error_code
                item.status.error_message = state.error_message
            return response

        def HandleReloadConfigRequest(self, request, context):  # noqa: N802
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "edit models.config and restart the embedded server")

    return PredictionService(), ModelService(), prediction_service_pb2_grpc, model_service_pb2_grpc


class ModelServer:
    """The embedded server. ``start()`` loads the models, then serves; ``stop()`` drains and unloads.

    Args:
        models: what to serve (``read_model_config`` / ``discover_models``).
        host, port: where to listen (``port=0`` picks a free port; see ``.port`` after ``start``).
        batching: server-side batching options (``batching.config``).
        poll_seconds: how often base paths are scanned for new versions (0: never).
        max_message_bytes: the largest request (and response) accepted; also the REST body cap and the largest
            input tensor a request may expand to.
        rest_port: also serve TF Serving's REST API on ``host:rest_port`` (``None``: no REST; 0: any free port;
            see ``.rest_port``).
        max_request_rows: the most rows one Predict request may hold (``requests.DEFAULT_MAX_REQUEST_ROWS``);
            more is ``RESOURCE_EXHAUSTED``. A request is run ``batching.max_batch_size`` rows at a time.
        rest_timeout_seconds: how long any read on a REST connection may wait (a stalled body: 408; an idle
            keep-alive or stalled connection: closed).
    """

    def __init__(self, models: Sequence[ModelConfig], *, host: str = names.DEFAULT_HOST,
                 port: int = names.DEFAULT_PORT, batching: BatchingOptions | None = None,
                 poll_seconds: float = names.DEFAULT_POLL_SECONDS,
                 max_message_bytes: int = names.DEFAULT_MAX_MESSAGE_BYTES, max_workers: int = 32,
                 rest_port: int | None = None, max_request_rows: int | None = None,
                 rest_timeout_seconds: float = names.DEFAULT_REST_TIMEOUT_SECONDS):
        self.manager = ModelManager(models, batching)
        self.manager.limits = RequestLimits(max_rows=max_request_rows or RequestLimits().max_rows,
                                            max_tensor_bytes=int(max_message_bytes))
        self.requested_rest_port, self.rest_timeout_seconds = rest_port, float(rest_timeout_seconds)
        self.rest_port: int | None = None
        self._rest = None
        self.host, self.requested_port, self.poll_seconds = host, int(port), poll_seconds
        self.max_message_bytes, self.max_workers = int(max_message_bytes), int(max_workers)
        self.port: int | None = None
        self._server: grpc.Server | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def rest_url(self) -> str | None:
        return f"http://{self.host}:{self.rest_port}" if self.rest_port is not None else None

    def start(self) -> "ModelServer":
        self.manager.poll_once()
        try:
            self.manager.check_labels()
        except ConfigError:
            self.manager.stop()
            raise
        for name, versions in self.manager._states.items():
            if not any(state.state == "AVAILABLE" for state in versions.values()):
                logger.warning("model %s has no loadable version under %s yet", name,
                               self.manager.configs[name].base_path)
        prediction, model_service, prediction_grpc, model_grpc = _services(self.manager)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="seq2exp-grpc"),
            options=[("grpc.max_receive_message_length", self.max_message_bytes),
                     ("grpc.max_send_message_length", self.max_message_bytes),
                     ("grpc.so_reuseport", 0)])
        prediction_grpc.add_PredictionServiceServicer_to_server(prediction, server)
        model_grpc.add_ModelServiceServicer_to_server(model_service, server)
        address = f"{self.host}:{self.requested_port}"
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as error:
            port = 0
            logger.debug("bind failed: %s", error)
        if not port:
            self.manager.stop()
            raise Seq2ExpError(f"cannot listen on {address} (port in use?)")
        if self.requested_rest_port is not None:
            from seq2exp.serving.rest import RestServer

            try:
                self._rest = RestServer(self.manager, self.host, self.requested_rest_port, self.max_message_bytes,
                                        self.rest_timeout_seconds).start()
            except OSError as error:
                server.stop(0)
                self.manager.stop()
                raise Seq2ExpError(f"cannot listen on {self.host}:{self.requested_rest_port} for REST: "
                                   f"{error.strerror or error}") from None
            self.rest_port = self._rest.port
        server.start()
        self._server, self.port = server, port
        self.manager.start_polling(self.poll_seconds)
        logger.info("serving %s on %s", sorted(self.manager.configs), self.target)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting requests, let in-flight ones finish (up to ``grace`` s), unload the models."""
        if self._rest is not None:
            self._rest.stop(grace)
            self._rest = None
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.manager.stop()

    def wait(self, timeout: float | None = None) -> bool:
        return self._server.wait_for_termination(timeout) if self._server is not None else True

    def __enter__(self) -> "ModelServer":
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info) -> None:
        self.stop()
