"""The prediction graph: model + encoder + TTA + inverse target transform + post-processing in ONE TF graph.

The same graph serves in-process prediction, the exported serving graph and interpretation.

``PredictionGraph.tf_predict_codes(codes, lengths)`` does, in TensorFlow:

1. test-time augmentation (:class:`TTA`: reverse complement and +-k bp shifts, done by ``Encoder.tf_encode(...,
   reverse=, shift=)`` with ``seq2exp.data.encoding``'s code augmentations), each variant run through the model;
2. the mean of the variants' outputs (``expression`` and, for bin models, the ``bins`` probabilities) — for BHI
   this is the post-hoc reverse-complement conjoining;
3. the inverse target transform (:mod:`seq2exp.inference.transforms`), back to expression units;
4. the *graph* post-processing steps (:mod:`seq2exp.inference.postprocess`, e.g. BHI's normal-CDF flattening).

*Batch* post-processing steps (rank / quantile transforms of NAD and High Schoolers) need every prediction of the
set, so they are applied by :meth:`PredictionGraph.predict` (and ``seq2exp predict``) after the graph, never inside
it: a served model returns the values before those steps.

"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.inference import postprocess as postprocess_lib
from seq2exp.inference.transforms import TargetTransform

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class TTA:
    """Test-time augmentation: average the model over the reverse complement and +-k bp shifts.

    Config form: ``tta: {reverse_complement: true, shifts: [-2, -1, 0, 1, 2]}`` (BHI); ``{reverse_complement: true}``
    (autosome); ``{}`` or ``null`` for none. Shift 0 is always included.
    """

    reverse_complement: bool = False
    shifts: tuple[int, ...] = (0,)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "TTA":
        data = dict(data or {})
        unknown = sorted(set(data) - {"reverse_complement", "shifts"})
        if unknown:
            raise ConfigError(f"tta: unknown key(s) {unknown}; valid: reverse_complement, shifts")
        rc = data.get("reverse_complement", False)
        if not isinstance(rc, bool):
            raise ConfigError(f"tta.reverse_complement: expected true/false, got {rc!r}")
        shifts = data.get("shifts", [0])
        if not isinstance(shifts, (list, tuple)) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                             for s in shifts):
            raise ConfigError(f"tta.shifts: expected a list of integers, got {shifts!r}")
        return cls(rc, tuple(sorted(set(shifts) | {0})))

    def to_dict(self) -> dict:
        return {"reverse_complement": self.reverse_complement, "shifts": list(self.shifts)}

    def variants(self) -> list[tuple[int, bool]]:
        """(shift, reverse) pairs the prediction averages over."""
        strands = (False, True) if self.reverse_complement else (False,)
        return [(shift, reverse) for shift in self.shifts for reverse in strands]


def _as_output_dict(outputs) -> dict:
    """Normalise a model's outputs to a float32 dict with ``expression`` [B] (other outputs kept as they are)."""
    import tensorflow as tf

    if not isinstance(outputs, Mapping):
        outputs = {"expression": outputs}
    result = {name: tf.cast(value, tf.float32) for name, value in outputs.items()}
    shape = result["expression"].shape
    if not (shape.rank == 2 and shape[-1] is not None and shape[-1] > 1):  # [B, T] stays for several tasks
        result["expression"] = tf.reshape(result["expression"], [-1])
    return result


def model_task_names(model) -> list[str] | None:
    """The task names a model was built for (its model config's ``tasks``), or ``None``."""
    from seq2exp.models.registry import build_info

    info = build_info(model) or {}
    tasks = (info.get("config") or {}).get("tasks")
    return list(tasks) if tasks else None


class _InProcessPrediction:
    """In-process prediction for a graph with ``tf_predict_codes``, ``max_sequence_length``, ``has_bins`` and
    ``postprocess`` (the single and the ensemble graph share it)."""

    _compiled = None
    _compiled_oriented = None

    def _compiled_predict(self, oriented: bool = False):
        import tensorflow as tf

        if oriented:
            if self._compiled_oriented is None:
                self._compiled_oriented = tf.function(
                    lambda codes, lengths, orientation: self.tf_predict_codes(codes, lengths,
                                                                              orientation=orientation),
                    input_signature=[tf.TensorSpec([None, None], tf.uint8), tf.TensorSpec([None], tf.int32),
                                     tf.TensorSpec([None], tf.bool)])
            return self._compiled_oriented
        if self._compiled is None:
            self._compiled = tf.function(
                self.tf_predict_codes,
                input_signature=[tf.TensorSpec([None, None], tf.uint8), tf.TensorSpec([None], tf.int32)],
            )
        return self._compiled

    def check_orientation(self, orientation: Sequence[bool] | np.ndarray | None, rows: int) -> np.ndarray | None:
        """``orientation`` as bool ``[rows]`` (``None`` stays ``None``: every row forward); a ``ConfigError`` when
        the graph has no ``is_reverse`` channel to feed it to, or when the length differs."""
        if orientation is None:
            return None
        if not self.has_orientation:
            raise ConfigError("this model has no is_reverse input channel (its encoding's rc_channel is off): a "
                              "row's orientation cannot reach it; predict without an orientation")
        flags = np.asarray(orientation, dtype=bool).reshape(-1)
        if flags.shape[0] != rows:
            raise ConfigError(f"orientation has {flags.shape[0]} flags for {rows} sequences")
        return flags

    def tf_predict_strings(self, sequences) -> dict:
        """string [B] -> outputs; a bad letter / empty / over-long string fails naming the row."""
        from seq2exp.data import encoding

        codes, lengths = encoding.tf_strings_to_codes(sequences, self.max_sequence_length)
        return self.tf_predict_codes(codes, lengths)

    def predict_outputs(self, sequences: Sequence[str], batch_size: int = 1024,
                        orientation: Sequence[bool] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """All graph outputs for ``sequences`` (before batch post-processing). ``orientation``: per row, whether it
        was measured in reverse orientation (sets the ``is_reverse`` channel, as in training; models with that
        channel only, see :attr:`has_orientation`); ``None``: every row forward."""
        from seq2exp.data import encoding

        flags = self.check_orientation(orientation, len(sequences))
        predict = self._compiled_predict(oriented=flags is not None)
        chunks: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(sequences), batch_size):
            codes, lengths = encoding.sequences_to_codes(list(sequences[start:start + batch_size]),
                                                         max_length=self.max_sequence_length)
            arguments = [np.asarray(codes, dtype=np.uint8), np.asarray(lengths, dtype=np.int32)]
            if flags is not None:
                arguments.append(flags[start:start + batch_size])
            outputs = predict(*arguments)
            for name, value in outputs.items():
                chunks.setdefault(name, []).append(value.numpy())
        if not chunks:
            empty = {"expression": np.zeros([0], np.float32)}
            if self.has_bins:
                empty["bins"] = np.zeros([0, 18], np.float32)
            return empty
        return {name: np.concatenate(parts) for name, parts in chunks.items()}

    def predict(self, sequences: Sequence[str], batch_size: int = 1024,
                orientation: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
        """Expression predictions for ``sequences``: the graph, then the batch post-processing steps
        (``orientation``: see :meth:`predict_outputs`)."""
        expression = self.predict_outputs(sequences, batch_size, orientation)["expression"]
        return postprocess_lib.apply_batch_steps(self.postprocess, expression)

    @property
    def batch_postprocess(self) -> list[dict]:
        """The steps :meth:`predict` applies after the graph (empty for most runs)."""
        return postprocess_lib.batch_steps(self.postprocess)


class PredictionGraph(_InProcessPrediction):
    """Model + encoder + TTA + target transform + post-processing as one TensorFlow computation."""

    _traced_model = None

    def __init__(self, model, encoder, tta: TTA | Mapping | None = None,
                 target_transform: TargetTransform | Mapping | None = None,
                 postprocess: Sequence[Mapping[str, Any]] | None = None):
        self.model = model
        self.encoder = encoder
        self.tta = tta if isinstance(tta, TTA) else TTA.from_dict(tta)
        self.target_transform = (target_transform if isinstance(target_transform, TargetTransform)
                                 else TargetTransform.from_dict(target_transform))
        self.postprocess = postprocess_lib.validate_postprocess(postprocess)
        self.has_bins = "bins" in _output_names(model)
        self.task_names = model_task_names(model)  # None, or the names of expression's T columns (T >= 1)

    # --- TensorFlow graph pieces (also used by the serving export) ---------------------------------------------
    @property
    def has_orientation(self) -> bool:
        """Whether the model reads an ``is_reverse`` channel, so a row's measured orientation can be fed to it."""
        spec = self.encoder.spec
        return spec.kind == "onehot" and bool(spec.rc_channel)

    def tf_model_outputs(self, codes, lengths, encode=None, orientation=None) -> dict:
        """Mean of the model outputs over the TTA variants, in the model's target units.

        Each variant is ``Encoder.tf_encode(codes, lengths, reverse=..., shift=...)``: the encoder shifts the row
        along the construct (filling from the real vector flanks, ``seq2exp.data.encoding.shift_codes``) and
        reverse-complements the model's input window (``reverse_complement_codes``; sets ``is_reverse`` when the
        spec has that channel), so TTA and training augmentation share one definition. ``encode`` replaces
        ``Encoder.tf_encode`` (same arguments; interpretation passes a differentiable one-hot version).
        ``orientation``: bool ``[B]``, the rows measured in reverse orientation (``Encoder.tf_encode``'s
        ``orientation``: the ``is_reverse`` channel is ``orientation XOR reverse``, as in training).
        """
        import tensorflow as tf

        codes = tf.convert_to_tensor(codes)
        lengths = tf.cast(tf.convert_to_tensor(lengths), tf.int32)
        total: dict | None = None
        variants = self.tta.variants()
        encode = encode or self.encoder.tf_encode
        model_outputs = self._model_function()
        for shift, reverse in variants:
            options = {} if orientation is None else {"orientation": orientation}
            inputs = encode(codes, lengths, reverse=reverse, shift=shift if shift else None, **options)
            outputs = model_outputs(inputs)
            total = outputs if total is None else {k: total[k] + outputs[k] for k in total}
        return {k: v / float(len(variants)) for k, v in total.items()}

    def _model_function(self):
        """The model's inference call (outputs as :func:`_as_output_dict` makes them) as one ``tf.function``, kept
        with the graph: every TTA variant, and every function traced from this graph (the export's signatures, the
        in-process prediction), calls the same traced model instead of tracing it again (a 10-variant BHI graph
        traced the model 10 times). TensorFlow inlines the calls when it runs them, so what runs is unchanged."""
        import tensorflow as tf

        if self._traced_model is None:
            model = self.model
            self._traced_model = tf.function(lambda inputs: _as_output_dict(model(inputs, training=False)),
                                             reduce_retracing=True, autograph=False)
        return self._traced_model

    def tf_predict_codes(self, codes, lengths, encode=None, orientation=None) -> dict:
        """codes [B, L] + lengths [B] -> ``{"expression": [B]}`` (+ ``"bins": [B, 18]`` for bin models).

        ``encode``, ``orientation``: see :meth:`tf_model_outputs`."""
        averaged = self.tf_model_outputs(codes, lengths, encode, orientation)
        model_units = averaged["expression"]
        expression = self.target_transform.tf_inverse(model_units)
        expression = postprocess_lib.apply_graph_steps(self.postprocess, model_units, expression)
        result = {"expression": expression}
        if "bins" in averaged:
            result["bins"] = averaged["bins"]
        return result

    @property
    def max_sequence_length(self) -> int:
        """The longest sequence the encoder accepts."""
        return int(self.encoder.max_sequence_length)


class _MemberVariables:
    """Stands in for ``graph.model`` where only the variables are read (the serving export tracks them)."""

    def __init__(self, models: Sequence[Any]):
        self.variables = [variable for model in models for variable in model.variables]


class EnsembleGraph(_InProcessPrediction):
    """The mean of several prediction graphs' expression outputs, as one TensorFlow computation.

    Each member keeps its own encoder, TTA, target transform and graph post-processing; the mean is taken in
    expression units (after each member's graph steps). ``bins`` is averaged too when every member has it. Batch
    post-processing steps (rank / quantile transforms) are applied once, to the mean, so all members must record
    the same ones. The export, the server and in-process prediction see it as any other graph.
    """

    def __init__(self, members: Sequence[PredictionGraph]):
        members = list(members)
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two models, got {len(members)}")
        steps = [postprocess_lib.batch_steps(member.postprocess) for member in members]
        if any(step != steps[0] for step in steps[1:]):
            raise ConfigError(f"ensemble members record different batch post-processing steps {steps}: "
                              "the mean is post-processed once, so they must be the same")
        self.members = members
        self.postprocess = steps[0]
        self.has_bins = all(member.has_bins for member in members)
        self.model = _MemberVariables([member.model for member in members])
        self.tta = None

    @property
    def has_orientation(self) -> bool:
        """Whether every member reads an ``is_reverse`` channel."""
        return all(member.has_orientation for member in self.members)

    @property
    def max_sequence_length(self) -> int:
        """The longest sequence every member accepts."""
        return min(member.max_sequence_length for member in self.members)

    def tf_predict_codes(self, codes, lengths, orientation=None) -> dict:
        """codes [B, L] + lengths [B] -> ``{"expression": [B]}``: the members' mean (+ mean ``bins``)."""
        options = {} if orientation is None else {"orientation": orientation}
        outputs = [member.tf_predict_codes(codes, lengths, **options) for member in self.members]
        keys = ["expression"] + (["bins"] if self.has_bins else [])
        return {key: sum(output[key] for output in outputs) / float(len(outputs)) for key in keys}


def _output_names(model) -> list[str]:
    """Names of a model's outputs: the keys of a functional model's output dict, else its ``output_names``."""
    try:
        output = model.output
    except (AttributeError, ValueError):
        output = None
    if isinstance(output, Mapping):
        return list(output)
    return list(getattr(model, "output_names", None) or ["expression"])
