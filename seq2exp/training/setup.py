"""What both training loops share: :class:`TrainingSetup` and the pieces built from it.

:class:`TrainingSetup` is a validated config made concrete (data, model, loss, target transform); built from it:
the compiled model and the validation callback.

:mod:`seq2exp.training.driver` (``model.fit``) and :mod:`seq2exp.training.multiworker` (the custom loop) both
import this module; neither imports the other's internals.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seq2exp.inference import runs as inference

logger = logging.getLogger(__name__)


@dataclass
class TrainingSetup:
    """Everything both training loops need, prepared from a validated config."""

    config: dict
    out: Path
    train_path: Path
    val_path: Path | None
    strategy_name: str
    precision: str
    architecture: str
    model_config: dict
    encoder: Any
    loss: Any
    target_transform: Any
    train_cache: Any
    train_indices: np.ndarray
    val_cache: Any
    val_indices: np.ndarray
    steps_per_epoch: int
    total_steps: int
    data_info: dict = field(default_factory=dict)

    @property
    def task_names(self) -> list[str] | None:
        """The task names when the data has several target columns (``targets`` ``[n, T]``), else ``None``."""
        if np.ndim(self.train_cache.targets) != 2:
            return None
        return list(self.train_cache.target_names or [f"task{j}" for j in range(self.train_cache.targets.shape[1])])

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size"])

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    def build_model(self):
        """The architecture at the config's size, wrapped for SAM/GSAM when the config asks for it."""
        from seq2exp.models import registry

        model = registry.get(self.architecture).build_from(self.model_config)
        init_from = self.config["model"].get("init_from")
        if init_from:
            source = inference.load_model_file(Path(init_from) / inference.MODEL_FILE)
            copy_weights_by_layer(source, model)
            logger.info("initialised %s from %s", self.architecture, init_from)
        return model

    def sample_weights(self) -> np.ndarray | None:
        """Per-row training weights aligned with the cache (``data.sample_weight``), or ``None``."""
        spec = (self.config.get("data") or {}).get("sample_weight")
        if not spec:
            return None
        return compute_sample_weights(spec, np.asarray(self.train_cache.targets, np.float64),
                                      np.asarray(self.train_cache.lengths), self.train_indices)

    def make_target_fn(self) -> Callable:
        """``y [B] -> {output: target}`` for the ``tf.data`` pipeline (target transform + the loss's target)."""
        import tensorflow as tf

        loss, transform = self.loss, self.target_transform
        several = self.task_names is not None

        def to_targets(y):
            y = tf.cast(y, tf.float32) if several else tf.reshape(tf.cast(y, tf.float32), [-1])
            return {loss.output: loss.make_target(y, transform.tf_forward(y))}

        return to_targets

    def train_dataset(self, *, skip_steps: int = 0, input_context=None, batch_size: int | None = None):
        """The endless, seeded training stream of (inputs, targets) batches, from batch ``skip_steps`` on."""
        import tensorflow as tf

        from seq2exp.data.datasets import make_dataset

        augment = self.config.get("augment", {})
        weights = self.sample_weights()
        dataset = make_dataset(self.train_cache, self.encoder, batch_size=batch_size or self.batch_size,
                               indices=self.train_indices, shuffle=True, seed=self.seed,
                               rc_augment=bool(augment.get("reverse_complement")),
                               shift_augment=int(augment.get("shift", 0)), target=self.make_target_fn(),
                               repeat=True, input_context=input_context, skip_batches=skip_steps,
                               sample_weight=weights)
        if weights is not None and _weight_params(self.config["data"]["sample_weight"])["normalize"] == "batch":
            # sum(w * loss) / sum(w) per batch (BUGF), where Keras divides by the batch size
            dataset = dataset.map(lambda x, y, w: (x, y, w / tf.reduce_mean(w)), num_parallel_calls=tf.data.AUTOTUNE)
        noise = augment.get("label_noise")
        if noise:
            dataset = dataset.enumerate(start=skip_steps).map(
                _label_noise_fn(self.loss.output, float(noise["std"]), noise.get("clip"), self.seed),
                num_parallel_calls=tf.data.AUTOTUNE)
        if augment.get("conjoined_rc"):
            dataset = dataset.map(_conjoin_reverse_complement, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    def validation_data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """codes, lengths and measured expression of the validation rows (in memory)."""
        index = np.asarray(self.val_indices)
        return (np.asarray(self.val_cache.codes[index]), np.asarray(self.val_cache.lengths[index], np.int32),
                np.asarray(self.val_cache.targets[index], np.float32))

    def validation_orientation(self) -> np.ndarray | None:
        """The validation rows' reverse-orientation flags (bool ``[n_val]``, a table's ``data.table.orientation``)
        when the model reads an ``is_reverse`` channel, else ``None`` (every row forward). The per-epoch and the
        final validation feed these to the channel, as training and ``seq2exp predict`` do."""
        spec = self.encoder.spec
        if self.val_cache.reverse is None or not (spec.kind == "onehot" and spec.rc_channel):
            return None
        return self.val_cache.orientation(np.asarray(self.val_indices))


def _label_noise_fn(output: str, std: float, clip, seed: int):
    """NAD's training-label noise (Util/Utils.py ``np.clip(lab + N(0, sd), 0, 1)``): one draw per row, on the
    transformed target, seeded by the step (a resumed run draws the same noise)."""
    import tensorflow as tf

    def add_noise(step, element):
        inputs, targets, *rest = element
        target = targets[output]
        batch = tf.shape(target)[0]
        draw = tf.random.stateless_normal([batch], seed=tf.stack([tf.cast(seed, tf.int64) + (1 << 42),
                                                                  tf.cast(step, tf.int64)]), stddev=std)
        draw = tf.reshape(draw, tf.concat([[batch], tf.ones([tf.rank(target) - 1], tf.int32)], 0))
        noisy = target + tf.cast(draw, target.dtype)
        if clip is not None:
            noisy = tf.clip_by_value(noisy, float(clip[0]), float(clip[1]))
        return (inputs, {**targets, output: noisy}, *rest)

    return lambda step, *element: add_noise(step, element if len(element) > 1 else element[0])


def _conjoin_reverse_complement(inputs, targets, *weights):
    """BHI's post-hoc conjoined training: every batch also runs on the reverse complement of its one-hot input
    (flip length and A<->T, C<->G), loss averaged over both = the mean over the doubled batch."""
    import tensorflow as tf

    flipped = tf.reverse(inputs, axis=[1, 2])
    return (tf.concat([inputs, flipped], 0), *tf.nest.map_structure(lambda t: tf.concat([t, t], 0),
                                                                   (targets, *weights)))


def _weight_params(spec: dict) -> dict:
    from seq2exp.training.config import SAMPLE_WEIGHTS

    return {**SAMPLE_WEIGHTS[spec["name"]], **{k: v for k, v in spec.items() if k != "name"}}


def compute_sample_weights(spec: dict, targets: np.ndarray, lengths: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    """Per-row weights for ``data.sample_weight`` (see :data:`SAMPLE_WEIGHTS`), aligned with the cache rows."""
    params = _weight_params(spec)
    if spec["name"] == "length_triangle":
        return (1.0 - np.abs(lengths.astype(np.float64) - params["center"]) / params["scale"]).astype(np.float32)
    classes = np.round(targets)  # = Python round() (halves to even), as BioNML's [round(x) for x in df["y"]]
    train_classes = classes[train_rows]
    labels, counts = np.unique(train_classes, return_counts=True)
    balanced = len(train_classes) / (len(labels) * counts)  # sklearn compute_class_weight("balanced")
    balanced = np.minimum(balanced / balanced.min(), params["cap"])
    lookup = dict(zip(labels.tolist(), balanced.tolist()))
    return np.array([lookup.get(c, 1.0) for c in classes.tolist()], np.float32)


def copy_weights_by_layer(source, model) -> None:
    """Give ``model`` the weights of ``source`` layer by layer (by name), so a layer frozen in one stage and
    trainable in the next (BioNML's k-mer scanner) still gets its own weights (``set_weights`` on the whole model
    orders trainable weights first)."""
    from seq2exp.errors import ConfigError

    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            donor = source.get_layer(layer.name)
        except ValueError:
            raise ConfigError(f"model.init_from: the trained model has no layer {layer.name!r}") from None
        layer.set_weights(donor.get_weights())


def validation_functions(setup: TrainingSetup, model) -> tuple[Callable, Callable]:
    """(predict_fn, loss_fn) for :class:`~seq2exp.training.callbacks.ValidationCallback` (no TTA: fast)."""
    import tensorflow as tf

    graph = inference.PredictionGraph(model, setup.encoder, None, setup.target_transform, None)
    codes, lengths, measured = setup.validation_data()
    # rows measured in reverse orientation (a table's data.table.orientation) set the is_reverse channel, as in
    # training, the final validation (driver.finish_run) and seq2exp predict
    orientation = setup.validation_orientation()
    if orientation is None:
        model_outputs = tf.function(graph.tf_model_outputs, reduce_retracing=True)
    else:
        model_outputs = tf.function(lambda codes_batch, lengths_batch, orientation_batch: graph.tf_model_outputs(
            codes_batch, lengths_batch, orientation=orientation_batch), reduce_retracing=True)
    batch = max(setup.batch_size, 256)

    def predict_fn():
        parts: dict[str, list] = {}
        for start in range(0, len(codes), batch):
            extra = () if orientation is None else (tf.constant(orientation[start:start + batch]),)
            outputs = model_outputs(tf.constant(codes[start:start + batch]), tf.constant(lengths[start:start + batch]),
                                    *extra)
            for name, value in outputs.items():
                parts.setdefault(name, []).append(value)
        outputs = {name: tf.concat(values, 0) for name, values in parts.items()}
        outputs["expression_units"] = setup.target_transform.tf_inverse(outputs["expression"]).numpy()
        return outputs, measured

    y = tf.constant(measured)
    target = setup.loss.make_target(y, setup.target_transform.tf_forward(y))

    def loss_fn(outputs):
        return float(tf.reduce_mean(setup.loss.fn(target, outputs[setup.loss.output])))

    return predict_fn, loss_fn


def validation_callback(setup: TrainingSetup, model):
    """The run's :class:`~seq2exp.training.callbacks.ValidationCallback` (metrics, best model, early stopping);
    without validation rows it keeps the last epoch's model."""
    from seq2exp.training import callbacks as cb

    predict_fn, loss_fn = validation_functions(setup, model) if len(setup.val_indices) else (None, None)
    callbacks = setup.config.get("callbacks") or {}
    stopping = callbacks.get("early_stopping") or {}
    best_model = callbacks.get("best_model") or {}
    monitor = best_model.get("monitor", stopping.get("monitor", "val_pearson"))
    return cb.ValidationCallback(
        predict_fn, loss_fn, setup.out, model, monitor=monitor, stop_monitor=stopping.get("monitor", monitor),
        patience=stopping.get("patience"), min_delta=stopping.get("min_delta", 0.0),
        model_file=inference.MODEL_FILE, metrics_csv=inference.METRICS_CSV, metrics_json=inference.METRICS_JSON,
        task_names=setup.task_names)


def compile_model(setup: TrainingSetup, model, optimizer):
    """Compile with the loss on the output that has a target (auxiliary add_loss terms are summed by fit)."""
    jit = setup.config.get("jit_compile", False)
    model.compile(optimizer=optimizer, loss={setup.loss.output: setup.loss.fn}, jit_compile=jit)
    return model
