"""Output heads. Each returns the model's output dict (DESIGN.md): ``{"expression": [B]}`` for regression heads,
``{"bins": [B, n_bins] softmax, "expression": [B] expected bin}`` for the soft-classification head.
Outputs are float32 even under a mixed-precision policy."""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator, Sequence

import keras

from seq2exp.models.blocks.conv import TORCH_BN, activation_layer, torch_conv_init
from seq2exp.models.blocks.layers import ExpectedBin, FusedDropout, SqueezeLast


# How many tasks the model being built predicts (set by ``registry.Architecture.build_from`` from a model config's
# ``"tasks"``): heads give ``expression`` ``[B]`` for one task (unchanged), ``[B, T]`` for T tasks.
_TASKS: contextvars.ContextVar[int] = contextvars.ContextVar("seq2exp_tasks", default=1)


@contextlib.contextmanager
def building_tasks(n_tasks: int) -> Iterator[None]:
    """Build heads for ``n_tasks`` tasks inside this block (see :func:`n_tasks`)."""
    token = _TASKS.set(int(n_tasks))
    try:
        yield
    finally:
        _TASKS.reset(token)


def n_tasks() -> int:
    """The number of tasks of the model being built: the width of its last regression layer."""
    return _TASKS.get()


def expression_output(x, name: str = "expression", **kwargs):
    """The ``expression`` output from the last ``[B, T]`` layer: squeezed to ``[B]`` for one task (exactly the
    single-task models' :class:`SqueezeLast`), kept ``[B, T]`` (float32) for several."""
    if n_tasks() == 1:
        return SqueezeLast(name=name, **kwargs)(x)
    return keras.layers.Activation("linear", dtype="float32", name=name)(x)


def apply_soft_bin_head(x, *, name: str, n_bins: int = 18, activation: str | None = "silu") -> dict:
    """Autosome's head: Conv1x1(-> n_bins, bias) -> activation -> mean over length -> softmax; the expression is
    the expected bin ``Σ p_i · i``. (The submission applies SiLU before the softmax; Prix Fixe's port does not.)
    With T tasks: T soft-bin heads in one Conv1x1(T * n_bins): ``bins`` ``[B, T, n_bins]``, ``expression``
    ``[B, T]``."""
    tasks = n_tasks()
    x = keras.layers.Conv1D(n_bins * tasks, 1, use_bias=True, kernel_initializer=torch_conv_init(1, n_bins * tasks),
                            name=f"{name}_conv")(x)
    if activation:
        x = activation_layer(activation, f"{name}_act")(x)
    logits = keras.layers.GlobalAveragePooling1D(name=f"{name}_pool")(x)
    if tasks > 1:
        logits = keras.layers.Reshape((tasks, n_bins), name=f"{name}_tasks")(logits)
    bins = keras.layers.Activation("softmax", dtype="float32", name="bins")(logits)
    expression = ExpectedBin(dtype="float32", name="expression")(bins)
    return {"bins": bins, "expression": expression}


def apply_mlp_regression_head(
    x, hidden_units: Sequence[int], *, name: str, activation: str = "relu", dropout: float | Sequence[float] = 0.0,
    batch_norm: bool = False, flatten: bool = True, input_dropout: float = 0.0, first_dropout: bool = True,
    output_activation: str | None = None, bn: dict | None = None,
) -> dict:
    """(Dropout) -> Flatten -> [Dense -> (BN) -> activation -> (Dropout)] * n -> Dense(1) -> (activation) -> [B].

    ``dropout`` is one rate for every hidden layer or one per layer; ``first_dropout=False`` skips it after the
    first hidden layer (wztr).
    """
    if input_dropout:
        x = FusedDropout(input_dropout, name=f"{name}_input_dropout")(x)
    if flatten and len(x.shape) > 2:
        x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    rates = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * len(hidden_units)
    for index, (units, rate) in enumerate(zip(hidden_units, rates)):
        x = keras.layers.Dense(units, name=f"{name}_dense{index}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(**(bn or TORCH_BN), name=f"{name}_bn{index}")(x)
        x = activation_layer(activation, f"{name}_act{index}")(x)
        if rate and (index > 0 or first_dropout):
            x = FusedDropout(rate, name=f"{name}_dropout{index}")(x)
    x = keras.layers.Dense(n_tasks(), name=f"{name}_output")(x)
    if output_activation:
        x = activation_layer(output_activation, f"{name}_output_act")(x)
    return {"expression": expression_output(x, dtype="float32")}


def regression_outputs(x, name: str = "expression") -> dict:
    """``{"expression": [B]}`` (float32) from a ``[B, 1]`` tensor (``[B, T]`` kept for several tasks)."""
    return {"expression": expression_output(x, name=name)}
