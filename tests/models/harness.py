"""Shared model test harness (keras-hub ``test_case`` style), used for every registered architecture.

``tests/models/test_registry.py`` runs these checks for every name in ``seq2exp.models.names()``, so an architecture
registered by any module of ``seq2exp.models.zoo`` is covered automatically. Per-architecture test files may call
the same helpers for extra checks. Stable API (other test files rely on it):

- ``demo_examples(path, n, seed=0) -> (sequences, expression)``: real rows of the DREAM demo file.
- ``demo_inputs(path, name, n, seed=0) -> np.ndarray``: those rows encoded for architecture ``name``'s smoke config.
- ``seeded_smoke_model(name, seed=0) -> keras.Model``: the smoke-size model built after seeding Keras.
- ``encode(config, sequences, *, reverse=False, singleton=None) -> np.ndarray``: the model input the data layer
  produces for ``config["input"]`` (``seq2exp.data.encoding.Encoder``; a small local one-hot stands in until the
  data layer exists).
- ``head_targets(head, expression) -> dict``: training targets for ``model.fit`` (``expression`` scaled to [0, 1];
  plus 18-bin soft targets for ``bins`` heads).
- ``head_loss(head)`` / ``compile_for_head(model, head, learning_rate=1e-3)``: MSE on ``expression`` or KL divergence
  on ``bins`` (``seq2exp.training.losses`` when present).
- ``assert_param_count(architecture, model, tolerance=0.10)``.
- ``predict(model, inputs) -> dict``: inference outputs as numpy.
- ``assert_outputs(model, outputs, head, batch_size)``: output names, shapes, dtypes, finite values.
- ``assert_keras_round_trip(model, inputs, folder)``: ``.keras`` save -> ``load_model`` -> same outputs.
- ``assert_export_safe(model, inputs, folder)``: ``tf.saved_model.save`` of a ``tf.function`` calling the model,
  reloaded, gives the same outputs.
- ``assert_training_lowers_loss(model, head, inputs, expression, epochs=10)``: ``model.fit`` on a fixed batch.
- ``assert_train_steps_lower_loss(model, head, inputs, expression, steps=4)``: ``train_on_batch`` steps on one
  fixed batch (real-size models), dropout off: finite losses, each below the one before.
- ``split_cpu(count=2)`` / ``two_replica_strategy()`` / ``assert_builds_under_strategy(architecture, inputs)``.

Importing this module changes no TensorFlow setting. Two replicas on one CPU need two logical CPU devices, which
can only be configured before TensorFlow starts and then hold for the whole process, so the strategy checks run
in a subprocess of their own (``python -m tests.models.two_replicas``; see ``../shared/KNOWN_ISSUES.md``).
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

N_BINS = 18
EXPRESSION_SCALE = 17.0  # demo expressions are on the 0-17 bin scale; targets are scaled to [0, 1]


# ----------------------------------------------------------------------------------------------- demo data
def demo_examples(path: Path | str, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` random rows (sequence, expression) of a DREAM training file, chosen reproducibly."""
    sequences: list[str] = []
    values: list[float] = []
    with open(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 2 and fields[0]:
                sequences.append(fields[0].upper())
                values.append(float(fields[1]))
    rows = np.random.default_rng(seed).choice(len(sequences), size=min(n, len(sequences)), replace=False)
    return [sequences[i] for i in rows], np.asarray([values[i] for i in rows], dtype=np.float32)


def demo_inputs(path: Path | str, name: str, n: int, seed: int = 0) -> np.ndarray:
    """The model input of ``n`` demo rows (:func:`demo_examples`) under architecture ``name``'s smoke config."""
    from seq2exp import models

    sequences, _ = demo_examples(path, n, seed=seed)
    return encode(models.get(name).config(smoke=True), sequences)


def seeded_smoke_model(name: str, seed: int = 0) -> keras.Model:
    """``models.build(name, smoke=True)`` after ``keras.utils.set_random_seed(seed)`` (reproducible weights)."""
    from seq2exp import models

    keras.utils.set_random_seed(seed)
    return models.build(name, smoke=True)


def _data_encoder(spec: Mapping[str, Any]):
    """``seq2exp.data.encoding.Encoder(spec)`` when the data layer is importable, else ``None``."""
    if importlib.util.find_spec("seq2exp.data.encoding") is None:
        return None
    from seq2exp.data.encoding import Encoder

    return Encoder(dict(spec))


def _local_encode(spec: Mapping[str, Any], sequences: Sequence[str], reverse: bool, singleton) -> np.ndarray:
    """Stand-in for the data layer's encoder (N padding, one-hot over A, C, G, T / tokens only)."""
    kind = spec.get("kind", "onehot")
    length = int(spec.get("length", 110))
    letters = spec.get("token_order", "ACGTN") if kind == "tokens" else "ACGTN"
    codes = np.full((len(sequences), length), 5, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        if spec.get("region", "full") == "variable" and len(sequence) > 30:
            sequence = sequence[17:-13]
        if reverse:
            sequence = sequence[::-1].translate(str.maketrans("ACGT", "TGCA"))
        sequence = sequence[:length]
        codes[row, : len(sequence)] = [letters.index(base) for base in sequence]
    if kind == "tokens":
        return np.where(codes == 5, int(spec.get("pad_token", 5)), codes).astype(np.int32)
    if kind != "onehot" or spec.get("onehot_letters", "ACGT") != "ACGT":
        raise NotImplementedError(f"the local stand-in encoder makes A, C, G, T one-hot only, not {dict(spec)}")
    table = np.zeros((6, 4), dtype=np.float32)
    table[:4] = np.eye(4)
    table[4] = float(spec.get("n_value", 0.25))
    channels = [table[codes]]
    if spec.get("rc_channel"):
        channels.append(np.full((len(sequences), length, 1), float(reverse), dtype=np.float32))
    if spec.get("singleton_channel"):
        flags = np.zeros(len(sequences)) if singleton is None else np.asarray(singleton, dtype=np.float32)
        channels.append(np.broadcast_to(flags[:, None, None], (len(sequences), length, 1)).astype(np.float32))
    return np.concatenate(channels, axis=-1)


def encode(config: Mapping[str, Any], sequences: Sequence[str], *, reverse: bool = False, singleton=None):
    """The model input for ``sequences`` under the model config's ``"input"`` encoding spec."""
    spec = config["input"]
    encoder = _data_encoder(spec)
    if encoder is None:
        return _local_encode(spec, sequences, reverse, singleton)
    return np.asarray(encoder.encode(list(sequences), reverse=reverse, singleton=singleton))


# ----------------------------------------------------------------------------------------------- targets/losses
def soft_bins(expression: np.ndarray, n_bins: int = N_BINS, shift: float = 0.5, scale: float = 0.5) -> np.ndarray:
    """Autosome's soft 18-bin targets (uses the data layer's ``soft_bin_targets`` when it exists)."""
    if importlib.util.find_spec("seq2exp.data.encoding") is not None:
        from seq2exp.data import encoding

        if hasattr(encoding, "soft_bin_targets"):
            return np.asarray(encoding.soft_bin_targets(np.asarray(expression, np.float32), n_bins=n_bins,
                                                         shift=shift, scale=scale))
    from scipy.stats import norm

    edges = np.concatenate([[-np.inf], np.arange(1, n_bins, dtype=np.float64), [np.inf]])
    cdf = norm.cdf((edges[None, :] - (np.asarray(expression, np.float64)[:, None] + shift)) / scale)
    return (cdf[:, 1:] - cdf[:, :-1]).astype(np.float32)


def head_targets(head: str, expression: np.ndarray) -> dict[str, np.ndarray]:
    """``model.fit`` targets: ``expression`` scaled to [0, 1] (fits sigmoid/ReLU/linear outputs) or ``bins``."""
    if head == "bins":
        return {"bins": soft_bins(expression)}
    return {"expression": (np.asarray(expression, np.float32) / EXPRESSION_SCALE).clip(0.0, 1.0)}


def head_loss(head: str):
    """``(output name, loss)``: the training package's ``kl_bins`` / ``mse`` when present, else Keras's."""
    try:
        from seq2exp.training.losses import get_loss
    except ImportError:
        get_loss = None
    if get_loss is not None:
        spec = get_loss("kl_bins" if head == "bins" else "mse")
        return spec.output, spec.fn
    if head == "bins":
        return "bins", keras.losses.KLDivergence()
    return "expression", keras.losses.MeanSquaredError()


def compile_for_head(model: keras.Model, head: str, learning_rate: float = 1e-3) -> keras.Model:
    """Compile for a quick fit: KL divergence on ``bins`` for bin heads, MSE on ``expression`` otherwise, with the
    Adam that ``seq2exp train`` builds (TensorFlow's fused update). Its variables are created here, as the training
    driver does, so that the first step is traced once."""
    from seq2exp.training.optimizers import build_optimizer, build_optimizer_variables

    output, loss = head_loss(head)
    optimizer = build_optimizer({"name": "adam", "learning_rate": learning_rate}, None, total_steps=1)
    model.compile(optimizer=optimizer, loss={output: loss}, jit_compile=False)
    build_optimizer_variables(model)
    return model


# ----------------------------------------------------------------------------------------------- checks
def count_params(model: keras.Model) -> int:
    """All weights, trainable and not (``model.count_params()``; includes BatchNorm moving statistics)."""
    return int(sum(math.prod(weight.shape) for weight in model.weights))


def trainable_params(model: keras.Model) -> int:
    """Trainable parameters (PyTorch ``sum(p.numel() for p in model.parameters())`` counts these)."""
    return int(sum(math.prod(weight.shape) for weight in model.trainable_weights))


def param_tolerance(architecture) -> float:
    """How far (relative) the trainable count may be from ``paper_params``: 2% for a count stated exactly (team
    report, team code, hand count; a PyTorch port's second LSTM/GRU bias is ~0.05%), plus half a unit of the last
    decimal for the paper's Table 1 (millions to one decimal: +-50,000)."""
    tolerance = 0.02
    if (architecture.paper_params_source or "").startswith("paper Table 1"):
        tolerance += 50_000 / architecture.paper_params
    return tolerance


def assert_param_count(architecture, model: keras.Model, tolerance: float | None = None) -> int:
    """The model's trainable parameters are within ``tolerance`` (default :func:`param_tolerance`) of the
    architecture's ``paper_params``."""
    n_params = trainable_params(model)
    expected = architecture.paper_params
    assert expected, f"{architecture.name}: no paper_params to compare against"
    tolerance = param_tolerance(architecture) if tolerance is None else tolerance
    ratio = n_params / expected
    assert abs(ratio - 1.0) <= tolerance, (
        f"{architecture.name}: {n_params:,} trainable parameters vs {expected:,} from "
        f"{architecture.paper_params_source} (ratio {ratio:.3f}, tolerance {tolerance:.3f})"
    )
    return n_params


def as_numpy_outputs(outputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Output dict -> numpy arrays."""
    return {name: np.asarray(keras.ops.convert_to_numpy(value)) for name, value in outputs.items()}


def predict(model: keras.Model, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Inference-mode outputs as numpy (``predict_on_batch``: traced once, much faster than eager for RNNs)."""
    return as_numpy_outputs(model.predict_on_batch(inputs))


def assert_outputs(model: keras.Model, outputs: Mapping[str, Any], head: str, batch_size: int) -> None:
    """Dict outputs per DESIGN.md: ``expression`` [B] float32 always, ``bins`` [B, 18] probabilities for bins."""
    assert_single_named_input(model)
    assert isinstance(outputs, Mapping), f"outputs must be a dict, got {type(outputs).__name__}"
    values = as_numpy_outputs(outputs)
    assert "expression" in values, f"no 'expression' output: {sorted(values)}"
    assert values["expression"].shape == (batch_size,), values["expression"].shape
    assert values["expression"].dtype == np.float32, values["expression"].dtype
    assert np.isfinite(values["expression"]).all()
    if head == "bins":
        bins = values["bins"]
        assert bins.shape == (batch_size, N_BINS), bins.shape
        np.testing.assert_allclose(bins.sum(axis=1), 1.0, rtol=1e-4)
        expected_bin = (bins * np.arange(N_BINS, dtype=np.float32)).sum(axis=1)
        np.testing.assert_allclose(values["expression"], expected_bin, rtol=1e-4, atol=1e-4)


def assert_single_named_input(model: keras.Model) -> None:
    """One input, named ``inputs``."""
    assert len(model.inputs) == 1, f"{len(model.inputs)} inputs"
    name = model.inputs[0].name
    assert name == "inputs" or name.startswith("inputs"), f"input is named {name!r}, not 'inputs'"


def assert_keras_round_trip(model: keras.Model, inputs: np.ndarray, folder: Path) -> keras.Model:
    """``model.save(.keras)`` then ``keras.models.load_model`` gives the same inference outputs."""
    path = Path(folder) / f"{model.name}.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    before = predict(model, inputs)
    after = predict(restored, inputs)
    assert sorted(before) == sorted(after)
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-5, atol=1e-5, err_msg=name)
    return restored


def assert_export_safe(model: keras.Model, inputs: np.ndarray, folder: Path) -> None:
    """A ``tf.function`` calling the model saves as a SavedModel and reloads with the same outputs."""

    class Exported(tf.Module):
        def __init__(self, wrapped: keras.Model):
            super().__init__()
            self.model = wrapped

        @tf.function(input_signature=[tf.TensorSpec([None, *inputs.shape[1:]], tf.as_dtype(inputs.dtype))])
        def predict(self, batch):
            return self.model(batch, training=False)

    path = str(Path(folder) / "saved_model")
    tf.saved_model.save(Exported(model), path)
    reloaded = tf.saved_model.load(path)
    before = predict(model, inputs)
    after = as_numpy_outputs(reloaded.predict(tf.constant(inputs)))
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-4, atol=1e-5, err_msg=name)


def assert_training_lowers_loss(
    model: keras.Model, head: str, inputs: np.ndarray, expression: np.ndarray, epochs: int = 10,
    learning_rate: float = 1e-3,
) -> list[float]:
    """``model.fit`` on one fixed batch of real data: the mean loss of the last 3 epochs is below the first's."""
    compile_for_head(model, head, learning_rate)
    history = model.fit(inputs, head_targets(head, expression), batch_size=len(inputs), epochs=epochs,
                        shuffle=False, verbose=0)
    losses = [float(value) for value in history.history["loss"]]
    assert all(np.isfinite(losses)), losses
    assert np.mean(losses[-3:]) < losses[0], f"loss did not go down: {losses}"
    return losses


def disable_dropout(model: keras.Model) -> int:
    """Set every ``Dropout`` layer's rate (nested ones included) to 0 before the model is traced; returns how many.
    The training-mode loss on a fixed batch is then a function of the weights alone."""
    layers = [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.Dropout)]
    for layer in layers:
        layer.rate = 0.0
    return len(layers)


def assert_train_steps_lower_loss(
    model: keras.Model, head: str, inputs: np.ndarray, expression: np.ndarray, steps: int = 4,
    learning_rate: float = 1e-5,
) -> list[float]:
    """``steps`` × ``train_on_batch`` on one fixed batch of real rows: every loss finite, each below the one before.

    Dropout is off and the optimiser is plain SGD with a small step, so the loss is a function of the weights alone
    and a small enough gradient step must lower it (Adam's first steps, of size ``learning_rate`` on every weight at
    once, can raise the loss of a large model; so can new dropout masks)."""
    disable_dropout(model)
    output, loss = head_loss(head)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss={output: loss}, jit_compile=False)
    targets = head_targets(head, expression)
    losses = [float(np.ravel(model.train_on_batch(inputs, targets))[0]) for _ in range(steps)]
    assert all(np.isfinite(losses)), losses
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), f"loss did not go down: {losses}"
    return losses


def split_cpu(count: int = 2) -> None:
    """Split the CPU into ``count`` logical devices. Only a process of its own may call this (before TensorFlow
    starts): the setting cannot be undone and would hold for every later test of a pytest session."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)


def two_replica_strategy() -> tf.distribute.MirroredStrategy:
    """``MirroredStrategy`` over two logical CPU devices (after :func:`split_cpu`); two replicas or an error."""
    devices = [device.name for device in tf.config.list_logical_devices("CPU")][:2]
    strategy = tf.distribute.MirroredStrategy(devices)
    assert strategy.num_replicas_in_sync == 2, (
        f"{strategy.num_replicas_in_sync} replica(s) over {devices}: call split_cpu() before TensorFlow starts")
    return strategy


def assert_builds_under_strategy(architecture, inputs: np.ndarray, overrides: Mapping | None = None) -> None:
    """The model builds inside ``strategy.scope()`` (mirrored variables) and runs a distributed forward pass with a
    share of the batch on each replica (equal outputs on both when ``inputs`` is two copies of the same rows)."""
    strategy = two_replica_strategy()
    with strategy.scope():
        model = architecture.build(overrides, smoke=True)
    variable = model.weights[0]
    assert strategy.extended.variable_created_in_scope(getattr(variable, "value", variable)), (
        "model variables were not created in the strategy's scope"
    )
    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(len(inputs))
    distributed = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def step(batch):
        return strategy.run(lambda x: model(x, training=False)["expression"], args=(batch,))

    for batch in distributed:
        per_replica = strategy.experimental_local_results(step(batch))
        sizes = [int(tf.shape(value)[0]) for value in per_replica]
        assert len(sizes) == 2 and sum(sizes) == len(inputs), sizes  # both replicas ran a share of the batch
        assert all(size > 0 for size in sizes), sizes
        if len(inputs) % 2 == 0 and np.array_equal(inputs[: len(inputs) // 2], inputs[len(inputs) // 2:]):
            # the same rows on both replicas: the mirrored copies compute the same function
            np.testing.assert_allclose(np.asarray(per_replica[0]), np.asarray(per_replica[1]), rtol=1e-5,
                                       atol=1e-6)
