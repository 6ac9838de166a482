"""Run an exported SavedModel the way TensorFlow Serving does: the session loader and ``Session.run`` by tensor name.

TensorFlow Serving loads a version with the C++ session loader (``tensorflow::LoadSavedModel``: import the
MetaGraph, run the restore op, run the init op) and answers Predict with ``Session::Run``, feeding and fetching the
tensor names recorded in the SignatureDefs. :class:`SessionModel` is that path from Python
(``tf.compat.v1.saved_model.loader.load`` + ``Session.run``), so the export self-check, the embedded server, the
benchmarks and batch pipelines run exactly what ``tensorflow_model_server`` runs::

    model = SessionModel("M/autosome/3")
    model.signatures["serving_default"].inputs      # {"sequences": TensorSpec("serve_sequences:0", 7, (-1,))}
    model.run("serving_default", {"sequences": np.array([b"ACGT..."])})  # {"expression": ..., "bins": ...}

``SessionModel.run`` raises :class:`SignatureError` (with TensorFlow Serving's wording) for an unknown signature,
input or output alias; TensorFlow errors of the run itself (a bad letter, a wrong shape) pass through as
``tf.errors.OpError``.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from seq2exp.errors import Seq2ExpError

logger = logging.getLogger(__name__)

SERVE_TAG = "serve"


class SignatureError(Seq2ExpError):
    """A request that names a signature, input or output the SavedModel does not have.

    ``code`` is the gRPC status name TensorFlow Serving answers with (``INVALID_ARGUMENT`` or
    ``FAILED_PRECONDITION``).
    """

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TensorSpec:
    """One SignatureDef entry: the graph tensor name, its ``DataType`` enum and its shape (-1: any size)."""

    name: str
    dtype: int
    shape: tuple[int, ...] | None  # None: unknown rank


@dataclass(frozen=True)
class Signature:
    """One SignatureDef: ``inputs`` / ``outputs`` by alias, and its method name."""

    key: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]
    method_name: str


def _tensor_spec(info) -> TensorSpec:
    shape = None if info.tensor_shape.unknown_rank else tuple(int(d.size) for d in info.tensor_shape.dim)
    return TensorSpec(info.name, int(info.dtype), shape)


def _keys(mapping: Mapping) -> str:
    return ",".join(sorted(mapping))


class SessionModel:
    """A SavedModel loaded with TensorFlow Serving's session loader; thread-safe ``run`` by SignatureDef names.

    Args:
        path: the version folder (``M/<name>/<version>``).
        tags: the MetaGraph tags (TF Serving's default: ``serve``).
        intra_op_threads, inter_op_threads: session thread pools (0: TensorFlow's default).
    """

    def __init__(self, path: str | os.PathLike, tags: Sequence[str] = (SERVE_TAG,), *,
                 intra_op_threads: int = 0, inter_op_threads: int = 0):
        import tensorflow as tf
        from tensorflow.python.util import deprecation

        self.path = Path(path)
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra_op_threads,
                                          inter_op_parallelism_threads=inter_op_threads)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        try:
            with deprecation.silence():
                meta_graph = tf.compat.v1.saved_model.loader.load(self.session, list(tags), str(self.path))
        except Exception:
            self.session.close()
            raise
        self.meta_graph = meta_graph
        self.signature_defs = dict(meta_graph.signature_def)
        self.signatures: dict[str, Signature] = {
            key: Signature(key, {alias: _tensor_spec(info) for alias, info in sig.inputs.items()},
                           {alias: _tensor_spec(info) for alias, info in sig.outputs.items()}, sig.method_name)
            for key, sig in self.signature_defs.items() if not key.startswith("__")}
        self._callables: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------------------------------------------------
    def signature(self, key: str) -> Signature:
        """The signature ``key``; :class:`SignatureError` (TF Serving's wording) when there is none."""
        try:
            return self.signatures[key]
        except KeyError:
            raise SignatureError(f'Serving signature key "{key}" not found.', "FAILED_PRECONDITION") from None

    def check_aliases(self, key: str, input_aliases: Sequence[str],
                      output_filter: Sequence[str] = ()) -> Signature:
        """Check a request's input aliases and ``output_filter`` against signature ``key`` (TF Serving's rules)."""
        signature = self.signature(key)
        sent = set(input_aliases)
        if len(sent) != len(signature.inputs):
            extra, missing = sent - set(signature.inputs), set(signature.inputs) - sent
            raise SignatureError(
                f"input size does not match signature: {len(sent)}!={len(signature.inputs)} "
                f"len({{{_keys(sent)}}}) != len({{{_keys(signature.inputs)}}}). Sent extra: {{{_keys(extra)}}}. "
                f"Missing but required: {{{_keys(missing)}}}.")
        for alias in sorted(sent):
            if alias not in signature.inputs:
                raise SignatureError(f"input tensor alias not found in signature: {alias}. Inputs expected to be "
                                     f"in the set {{{_keys(signature.inputs)}}}.")
        seen: set[str] = set()
        for alias in output_filter:
            if alias not in signature.outputs:
                raise SignatureError(f"output tensor alias not found in signature: {alias} Outputs expected to be "
                                     f"in the set {{{_keys(signature.outputs)}}}.")
            if alias in seen:
                raise SignatureError(f"duplicate output tensor alias in output_filter: {alias}")
            seen.add(alias)
        return signature

    def run(self, key: str, inputs: Mapping[str, Any], output_filter: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Feed ``inputs`` (alias -> array) to signature ``key``; fetch ``output_filter`` (default: all outputs)."""
        signature = self.check_aliases(key, list(inputs), output_filter)
        aliases = tuple(sorted(signature.inputs))
        fetch = tuple(output_filter) or tuple(sorted(signature.outputs))
        function = self._callable(signature, aliases, fetch)
        values = function(*[inputs[alias] for alias in aliases])
        return dict(zip(fetch, values))

    def _callable(self, signature: Signature, aliases: tuple[str, ...], fetch: tuple[str, ...]):
        cache_key = (signature.key, aliases, fetch)
        function = self._callables.get(cache_key)
        if function is None:
            with self._lock:
                function = self._callables.get(cache_key)
                if function is None:
                    function = self.session.make_callable(
                        [signature.outputs[alias].name for alias in fetch],
                        feed_list=[signature.inputs[alias].name for alias in aliases])
                    self._callables[cache_key] = function
        return function

    def replay_warmup(self, path: str | os.PathLike | None = None) -> int:
        """Run every ``PredictLog`` request of ``assets.extra/tf_serving_warmup_requests`` (as TF Serving does on
        load); returns how many were replayed. A failing request raises, as it fails TF Serving's load."""
        count = 0
        for request in warmup_requests(path or self.path):
            arrays = {alias: tensor_to_array(proto) for alias, proto in request.inputs.items()}
            self.run(request.model_spec.signature_name or "serving_default", arrays, list(request.output_filter))
            count += 1
        return count

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.session.close()

    def __enter__(self) -> "SessionModel":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def warmup_requests(version_dir: str | os.PathLike) -> Iterator[Any]:
    """The ``PredictRequest``s of a version's warm-up file (TFRecord of ``PredictionLog``), in order."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from seq2exp.serving import signatures as names

    path = Path(version_dir) / names.WARMUP_FILE
    if not path.exists():
        return
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():  # not the deprecated tf_record_iterator
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") == "predict_log":
            yield log.predict_log.request


def tensor_to_array(proto) -> np.ndarray:
    """A ``TensorProto`` as numpy (TensorFlow's own converter)."""
    import tensorflow as tf

    return tf.make_ndarray(proto)
