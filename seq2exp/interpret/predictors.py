"""Predictors for interpretation: one small interface, in-process (run folder / SavedModel) or a served model.

Everything that needs only predictions (in-silico mutagenesis, variant and motif effects, design) takes any
:class:`Predictor`; gradient attribution needs :class:`RunPredictor` (the model in-process). A served model (any
TF-Serving endpoint, through the TF-free :class:`seq2exp.serving.client.Client`) or an exported SavedModel can
predict but not give gradients: :func:`require_gradients` says so.

Predictions are the prediction graph's ``expression`` output with the run's TTA, before batch post-processing
steps (rank / quantile transforms need a whole set): exactly what a served model returns, so in-process and served
analyses agree.

Every predictor has a ``construct`` (:class:`seq2exp.data.construct.Construct`): the run's, the export's metadata
record, or for a served model (whose metadata does not say) the one given, else ``dream_yeast``. Its flanks are
marked in plots, left out of ISM top effects and protected in design (:func:`predictor_construct`).

A model with several tasks (``expression`` ``[n, T]``) is opened for ONE of them (``task=``): its predictions are
that task's column ``[n]`` and its gradients are of that column only, so every analysis works on one task.
:func:`select_task` is the one place the task is chosen; without ``task`` such a model is refused, naming its
tasks. A model with an ``is_reverse`` input channel (``oriented``) is predicted in forward orientation here
(``is_reverse = 0``), which opening it logs; :func:`predictor_record` gives the task and the orientation for a
stage's ``summary.json``. ``input_length`` is the number of bases the model reads (its encoding's length; random
backgrounds of a ``genomic`` model are that long).
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from seq2exp.errors import ConfigError

logger = logging.getLogger(__name__)


@runtime_checkable
class Predictor(Protocol):
    """Anything that predicts expression for DNA strings."""

    description: str
    supports_gradients: bool

    def predict(self, sequences: Sequence[str]) -> np.ndarray:
        """float32 ``[n]`` predictions, in input order."""
        ...

    def close(self) -> None: ...


FORWARD = "forward"  # the orientation every sequence is predicted in (summary.json "orientation")


def select_task(task_names: Sequence[str] | None, task: str | None, description: str) -> int | None:
    """The column of ``task`` in a model's ``expression`` output: the one place a task is chosen.

    Args:
        task_names: the model's tasks in the order of its output columns; ``None`` or one name for a single-task
            model (its ``expression`` is ``[n]``).
        task: the task asked for (``--task``; ``None``: none).
        description: the model, for the error messages.

    Returns:
        The column index for a model with several tasks, ``None`` for a single-task model (which takes ``task``
        only when it names the model's one task).

    Raises:
        ConfigError: several tasks and no ``task``, or a ``task`` the model does not have (naming the valid ones).
    """
    names = [str(name) for name in task_names or []]
    if len(names) > 1:
        if task is None:
            raise ConfigError(f"{description} predicts {len(names)} tasks ({', '.join(names)}): choose one with "
                              "--task (task= in Python)")
        if task not in names:
            raise ConfigError(f"--task {task!r}: {description} has no such task; valid choices are {names}")
        return names.index(task)
    if task is not None and task not in names:
        one = f"its one task is {names[0]!r}" if names else "it predicts one value and names no task"
        raise ConfigError(f"--task {task!r}: {description} is a single-task model ({one}); leave --task out")
    return None


class _OneTask:
    """What every predictor here shares: the task it predicts (:func:`select_task`) and whether its model has an
    ``is_reverse`` channel (always fed 0: forward)."""

    description: str
    task: str | None = None
    task_names: list[str] | None = None  # every task of the model, in its output's column order (None: one)
    oriented: bool = False
    input_length: int | None = None  # bases the model reads (its encoding's length), when known
    _column: int | None = None

    def _choose(self, task_names: Sequence[str] | None, task: str | None, oriented: bool) -> None:
        self._column = select_task(task_names, task, self.description)
        self.task_names = list(task_names) if task_names else None
        self.task = task
        self.oriented = bool(oriented)
        if self.oriented:
            logger.info("%s has an is_reverse input channel: every sequence is predicted in forward orientation "
                        "(is_reverse = 0)", self.description)

    def _selected(self, values: Any) -> np.ndarray:
        """float32 ``[n]``: the chosen task's column of ``[n, T]`` predictions (``[n]`` ones as they are)."""
        values = np.asarray(values, np.float32)
        return values if self._column is None else values[:, self._column]


def predictor_record(predictor: Any) -> dict:
    """``{"task", "orientation"}`` of a predictor for a stage's ``summary.json``: the task it predicts (``None``
    for a single-task model) and ``"forward"`` when its model has an ``is_reverse`` channel (else ``None``)."""
    return {"task": getattr(predictor, "task", None),
            "orientation": FORWARD if getattr(predictor, "oriented", False) else None}


def predictor_input_length(predictor: Any) -> int | None:
    """The number of bases a predictor's model reads (its encoding's length), or ``None`` when it does not say."""
    length = getattr(predictor, "input_length", None)
    return int(length) if length else None


class GradientsUnavailableError(ConfigError):
    """Gradient attribution was asked of a predictor that only predicts (a server or a SavedModel)."""


def require_gradients(predictor: Predictor, method: str) -> "RunPredictor":
    """``predictor`` if it can give gradients, else a clear error naming the alternatives."""
    if not getattr(predictor, "supports_gradients", False):
        raise GradientsUnavailableError(
            f"{method} needs the model's gradients, so the model in-process (a run folder); "
            f"{predictor.description} can only predict. Use method 'ism' (in-silico mutagenesis), which works "
            "against a server, or pass the run folder.")
    return predictor  # type: ignore[return-value]


class RunPredictor(_OneTask):
    """A trained run folder (or a loaded :class:`seq2exp.inference.runs.Run`) in-process, with gradients.

    Gradients are taken with ``tf.GradientTape`` on the one-hot sequence ``[B, W, 4]``: each TTA variant's model
    input is built from it differentiably (the encoder's ``sources`` map says which sequence base each input column
    holds; vector and padding columns stay constant), then the prediction graph averages the variants and applies
    the inverse target transform, as in :meth:`PredictionGraph.tf_predict_codes`. A model with several tasks
    needs ``task`` (one of its ``task_names``): predictions and gradients are that task's.
    """

    supports_gradients = True

    def __init__(self, run: Any, *, batch_size: int = 256, tta: Any = None, task: str | None = None):
        from seq2exp.inference.runs import Run, load_run

        self.run = run if isinstance(run, Run) else load_run(run)
        self.graph = self.run.prediction_graph(tta=tta)
        self.encoder = self.graph.encoder
        self.construct = self.encoder.construct
        self.input_length = int(self.encoder.spec.length)
        self.batch_size = int(batch_size)
        self.description = f"run {self.run.path}"
        self._gradient_fn = None
        self._choose(self.graph.task_names, task, self.graph.has_orientation)

    @property
    def max_length(self) -> int:
        return int(self.encoder.max_sequence_length)

    def predict(self, sequences: Sequence[str]) -> np.ndarray:
        return self._selected(self.graph.predict_outputs(list(sequences), self.batch_size)["expression"])

    def close(self) -> None:
        self._gradient_fn = None

    # --- gradients --------------------------------------------------------------------------------------------
    def _check_onehot(self) -> None:
        if self.encoder.spec.kind != "onehot":
            raise GradientsUnavailableError(
                f"gradient attribution needs a one-hot model input; this run's encoding is "
                f"{self.encoder.spec.kind!r} (use method 'ism')")

    def _encode_from(self, x, codes, lengths, *, reverse=False, shift=None):
        """The model input of one TTA variant, differentiable in the one-hot sequence ``x`` ``[B, W, 4]`` (A, C, G, T).

        Each A/C/G/T channel of the model input (in the encoder's ``onehot_letters`` order) is taken from ``x`` at the
        columns that hold a sequence base; every other value (vector and padding columns, the ``N`` / ``P`` letter
        channels, the constant channels) is the encoder's own.
        """
        import tensorflow as tf

        from seq2exp.data.encoding import BASES
        from seq2exp.models.blocks.layers import COMPLEMENT_LETTER

        letters = self.encoder.spec.onehot_letters
        base = self.encoder.tf_encode(codes, lengths, reverse=reverse, shift=shift)
        sources = self.encoder.tf_window_codes(codes, lengths, reverse=reverse, shift=shift, sources=True)
        gathered = tf.gather(x, tf.maximum(sources, 0), batch_dims=1)  # [B, window, 4]: A, C, G, T
        # channel j of the input reads x's channel of letters[j] (of its complement on a reverse-complemented row)
        read = [BASES.index(COMPLEMENT_LETTER[letter] if reverse else letter) if letter in BASES else 0
                for letter in letters]
        from_x = tf.constant([letter in BASES for letter in letters])
        channels = tf.gather(gathered, read, axis=-1)
        in_sequence = (sources[..., tf.newaxis] >= 0) & from_x
        letter_channels = tf.where(in_sequence, channels, base[..., : len(letters)])
        if self.encoder.spec.channels > len(letters):
            return tf.concat([letter_channels, base[..., len(letters):]], axis=-1)
        return letter_channels

    def _gradients(self):
        import tensorflow as tf

        if self._gradient_fn is None:
            self._check_onehot()
            column = self._column  # several tasks: the gradient of the chosen task's output only

            @tf.function(input_signature=[tf.TensorSpec([None, None], tf.uint8), tf.TensorSpec([None], tf.int32),
                                          tf.TensorSpec([None, None, 4], tf.float32)])
            def gradients(codes, lengths, x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    encode = functools.partial(self._encode_from, x)
                    value = self.graph.tf_predict_codes(codes, lengths, encode=encode)["expression"]
                    if column is not None:
                        value = value[:, column]
                return value, tape.gradient(value, x)

            self._gradient_fn = gradients
        return self._gradient_fn

    def codes(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 codes ``[n, W]``, int32 lengths ``[n]``) of ``sequences`` as the graph reads them."""
        from seq2exp.data import encoding

        codes, lengths = encoding.sequences_to_codes(list(sequences), max_length=self.max_length)
        return np.asarray(codes, np.uint8), np.asarray(lengths, np.int32)

    def value_and_gradient(self, sequences: Sequence[str], onehot: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
        """f and df/dx at one-hot points ``onehot`` ``[n, L, 4]`` (default: the sequences' own one-hot).

        ``sequences`` fix what the graph reads besides the bases (lengths, flank detection); ``onehot`` may be any
        point (an integrated-gradients path point). Returns (float32 ``[n]``, float32 ``[n, L, 4]``).
        """
        from seq2exp.interpret.sequences import onehot as to_onehot

        fn = self._gradients()
        codes, lengths = self.codes(sequences)
        length = len(sequences[0])
        x = to_onehot(sequences, self.encoder.spec.n_value) if onehot is None else np.asarray(onehot, np.float32)
        values, grads = [], []
        for start in range(0, len(sequences), self.batch_size):
            stop = start + self.batch_size
            padded = np.zeros([len(codes[start:stop]), codes.shape[1], 4], np.float32)
            padded[:, :length] = x[start:stop]
            value, grad = fn(codes[start:stop], lengths[start:stop], padded)
            values.append(value.numpy())
            grads.append(grad.numpy()[:, :length])
        return np.concatenate(values), np.concatenate(grads)


class SavedModelPredictor(_OneTask):
    """An exported SavedModel in-process (its ``serving_default`` signature): predictions only; ``task``: see
    :class:`RunPredictor`."""

    supports_gradients = False

    def __init__(self, path: str | os.PathLike, *, batch_size: int = 1024, task: str | None = None):
        from seq2exp.serving.predict import SavedModelBackend

        self._backend = SavedModelBackend(path, batch_size=batch_size)
        self.construct = self._backend.construct  # the export's record (dream_yeast for an export without one)
        self.description = self._backend.description
        self.max_length = self._backend.max_length
        window = self._backend.input_window  # the export's encoding length
        self.input_length = window.length if window else self.max_length
        try:  # the backend's columns (its expression_<task> outputs); a single task's name from the metadata
            self._choose(self._backend.task_names or self._backend.metadata.get("tasks"), task,
                         self._backend.orientation.oriented)
        except ConfigError:
            self._backend.close()
            raise

    def predict(self, sequences: Sequence[str]) -> np.ndarray:
        return self._selected(self._backend.predict(list(sequences)))

    def close(self) -> None:
        self._backend.close()


class ServerPredictor(_OneTask):
    """A served model (TF Serving or ``seq2exp serve``) over gRPC: batched, concurrent requests; predictions only.

    Through ``seq2exp predict``'s :class:`~seq2exp.serving.predict.ServerBackend`: the version is resolved once and
    pinned, and the served signatures say the tasks (``expression_<task>`` outputs; ``task``: see
    :class:`RunPredictor`) and whether the model has an ``is_reverse`` channel. TF Serving's metadata records no
    encoding: ``input_length`` is the longest sequence the model accepts."""

    supports_gradients = False

    def __init__(self, target: str, model: str, *, version: int | None = None, label: str | None = None,
                 batch_size: int = 1024, max_concurrency: int = 4, timeout: float = 120.0, construct: Any = None,
                 task: str | None = None):
        from seq2exp.data.construct import resolve_construct
        from seq2exp.serving.predict import ServerBackend

        self.construct = resolve_construct(construct)  # TF Serving's metadata has none: the given one, else yeast
        self._backend = ServerBackend(target, model, version=version, label=label, batch_size=batch_size,
                                      max_concurrency=max_concurrency, timeout=timeout)
        self.client = self._backend.client
        self.description = f"the served model {model!r} at {target}"
        self.max_length = self.input_length = self._backend.max_length
        try:
            self._choose(self._backend.task_names, task, self._backend.orientation.oriented)
        except ConfigError:
            self._backend.close()
            raise

    def predict(self, sequences: Sequence[str]) -> np.ndarray:
        return self._selected(self._backend.predict(list(sequences)))

    def close(self) -> None:
        self._backend.close()


def predictor_construct(predictor: Any) -> Any:
    """The :class:`~seq2exp.data.construct.Construct` a predictor's model was trained in (``dream_yeast`` when it
    does not say)."""
    from seq2exp.data.construct import resolve_construct

    return resolve_construct(getattr(predictor, "construct", None))


def open_predictor(source: str | os.PathLike | None = None, *, server: str | None = None, model: str | None = None,
                   version: int | None = None, batch_size: int | None = None,
                   max_concurrency: int = 4, construct: Any = None, task: str | None = None) -> Predictor:
    """A run folder (``run.json`` + ``model.keras``), an exported SavedModel (a version folder or ``M/<name>``), or
    ``server="host:port"`` with ``model=NAME`` (and its ``construct``, a name or mapping: default ``dream_yeast``).

    ``task``: the task to predict, required for a model with several tasks (see :func:`select_task`)."""
    if server:
        if not model:
            raise ConfigError("--server needs --model NAME (the served model's name)")
        if source:
            raise ConfigError("give a model folder or --server, not both")
        return ServerPredictor(server, model, version=version, batch_size=batch_size or 1024,
                               max_concurrency=max_concurrency, construct=construct, task=task)
    if not source:
        raise ConfigError("no model: give a run folder, an exported SavedModel folder, or --server and --model")
    path = Path(source)
    if (path / "run.json").is_file():
        return RunPredictor(path, batch_size=batch_size or 256, task=task)
    if path.is_dir():
        return SavedModelPredictor(path, batch_size=batch_size or 1024, task=task)
    raise ConfigError(f"{path}: not a run folder (run.json) or an exported SavedModel folder")
