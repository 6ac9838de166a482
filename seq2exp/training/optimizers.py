"""Optimisers and learning-rate schedules, chosen by name from a config.

``optimizer: {name: adamw, learning_rate: 0.005, weight_decay: 0.01, ema: null, clipnorm: null}`` and
``schedule: {name: one_cycle, pct_start: 0.3, div_factor: 25}``. The schedule multiplies nothing: it *is* the
learning rate, with ``optimizer.learning_rate`` as its peak/base value. ``total_steps`` is filled in by the driver.

Optimisers: adam, adamw, adamax, radam (written here; Keras has none), lion, rmsprop, sgd. Any of them takes
``ema`` (Keras's built-in exponential moving average of the weights, swapped in at the end of ``fit``),
``clipnorm``, ``clipvalue``, ``global_clipnorm`` - several at once too (Unlock_DNA's ``clipnorm=1, clipvalue=0.5``:
Keras 3 allows one, so the gradient transform applies them in the tf.keras 2 order, value -> norm -> global norm).
``one_cycle`` also cycles the optimiser's ``beta_1`` between ``max_momentum`` (0.95) and ``base_momentum`` (0.85),
inversely to the learning rate, as PyTorch's ``OneCycleLR`` does by default (``cycle_momentum: true``; autosome).
Schedules: constant, one_cycle (PyTorch OneCycleLR, cosine annealing), cosine (with linear warm-up), noam
(Transformer warm-up / inverse square root), piecewise, linear (NAD's LinearLR), plateau (= constant here; the
``reduce_lr_on_plateau`` callback lowers it). SAM/GSAM is a model wrapper: :mod:`seq2exp.training.sam`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import keras
from keras import ops

from seq2exp.errors import ConfigError


def one_cycle_curve(step, total_steps: int, pct_start: float, start: float, peak: float, end: float):
    """PyTorch ``OneCycleLR``'s two cosine phases: ``start -> peak`` until step ``pct_start * total - 1``, then
    ``peak -> end`` at step ``total - 1`` (the learning rate; the momentum runs ``max -> base -> max``)."""
    step = ops.cast(step, "float32")
    up_end = max(float(pct_start * total_steps) - 1.0, 1.0)
    down_len = max(float(total_steps - 1) - up_end, 1.0)

    def cosine(a, b, fraction):
        fraction = ops.clip(fraction, 0.0, 1.0)
        return b + (a - b) / 2.0 * (1.0 + ops.cos(math.pi * fraction))

    return ops.where(step <= up_end, cosine(start, peak, step / up_end), cosine(peak, end, (step - up_end) / down_len))


@keras.saving.register_keras_serializable(package="seq2exp")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch ``OneCycleLR`` (two phases, cosine annealing): ``max_lr/div_factor`` -> ``max_lr`` over
    ``pct_start`` of the steps, then down to ``max_lr/(div_factor*final_div_factor)``."""

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        self.max_lr, self.total_steps, self.pct_start = float(max_lr), int(total_steps), float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)

    def __call__(self, step):
        initial = self.max_lr / self.div_factor
        return one_cycle_curve(step, self.total_steps, self.pct_start, initial, self.max_lr,
                               initial / self.final_div_factor)

    def get_config(self):
        return {"max_lr": self.max_lr, "total_steps": self.total_steps, "pct_start": self.pct_start,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor}


@keras.saving.register_keras_serializable(package="seq2exp")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` then cosine decay to ``alpha * base_lr`` at ``total_steps``."""

    def __init__(self, base_lr: float, total_steps: int, warmup_steps: int = 0, alpha: float = 0.0):
        self.base_lr, self.total_steps = float(base_lr), int(total_steps)
        self.warmup_steps, self.alpha = int(warmup_steps), float(alpha)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.base_lr * (step + 1.0) / max(float(self.warmup_steps), 1.0)
        fraction = ops.clip((step - self.warmup_steps) / max(float(self.total_steps - self.warmup_steps), 1.0), 0, 1)
        decayed = self.base_lr * (self.alpha + (1 - self.alpha) * 0.5 * (1.0 + ops.cos(math.pi * fraction)))
        return ops.where(step < self.warmup_steps, warm, decayed)

    def get_config(self):
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="seq2exp")
class Noam(keras.optimizers.schedules.LearningRateSchedule):
    """Transformer schedule ``scale * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)`` (Unlock_DNA)."""

    def __init__(self, d_model: int = 512, warmup_steps: int = 12500, scale: float = 1.0):
        self.d_model, self.warmup_steps, self.scale = int(d_model), int(warmup_steps), float(scale)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        return self.scale * self.d_model ** -0.5 * ops.minimum(ops.power(step, -0.5),
                                                               step * float(self.warmup_steps) ** -1.5)

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps, "scale": self.scale}


@keras.saving.register_keras_serializable(package="seq2exp")
class LinearFactor(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch ``LinearLR``: the factor goes linearly from ``start_factor`` to ``end_factor`` over ``total_steps``."""

    def __init__(self, base_lr: float, total_steps: int, start_factor: float = 1.0, end_factor: float = 0.01):
        self.base_lr, self.total_steps = float(base_lr), int(total_steps)
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)

    def __call__(self, step):
        fraction = ops.clip(ops.cast(step, "float32") / max(float(self.total_steps), 1.0), 0.0, 1.0)
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * fraction)

    def get_config(self):
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "start_factor": self.start_factor,
                "end_factor": self.end_factor}


@keras.saving.register_keras_serializable(package="seq2exp")
class RAdam(keras.optimizers.Optimizer):
    """Rectified Adam (Liu et al. 2020), as PyTorch's ``torch.optim.RAdam`` (BUGF); decoupled ``weight_decay``."""

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, name="radam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, variable.dtype), ops.cast(self.beta_2, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - beta_2))
        beta_1_power, beta_2_power = ops.power(beta_1, step), ops.power(beta_2, step)
        m_hat = m / (1 - beta_1_power)
        rho_inf = 2.0 / (1.0 - beta_2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta_2_power / (1.0 - beta_2_power)
        safe_rho = ops.maximum(rho_t, 5.0 + 1e-3)
        rect = ops.sqrt((safe_rho - 4) * (safe_rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe_rho))
        adaptive = ops.sqrt(1 - beta_2_power) / (ops.sqrt(v) + self.epsilon)
        update = ops.where(rho_t > 5.0, m_hat * rect * adaptive, m_hat)
        self.assign_sub(variable, lr * update)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


_COMMON = {"learning_rate", "ema", "ema_momentum", "clipnorm", "clipvalue", "global_clipnorm", "weight_decay"}
OPTIMIZERS: dict[str, tuple[Callable, frozenset]] = {
    "adam": (keras.optimizers.Adam, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "adamw": (keras.optimizers.AdamW, frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"})),
    "adamax": (keras.optimizers.Adamax, frozenset({"beta_1", "beta_2", "epsilon"})),
    "radam": (RAdam, frozenset({"beta_1", "beta_2", "epsilon"})),
    "lion": (keras.optimizers.Lion, frozenset({"beta_1", "beta_2"})),
    "rmsprop": (keras.optimizers.RMSprop, frozenset({"rho", "momentum", "epsilon", "centered"})),
    "sgd": (keras.optimizers.SGD, frozenset({"momentum", "nesterov"})),
}

MOMENTUM_KEYS = ("cycle_momentum", "base_momentum", "max_momentum")
SCHEDULES: dict[str, tuple[Callable[[float, int, dict], Any], frozenset]] = {
    "constant": (lambda lr, total, p: lr, frozenset()),
    "plateau": (lambda lr, total, p: lr, frozenset()),
    "one_cycle": (lambda lr, total, p: OneCycle(lr, total, **{k: v for k, v in p.items() if k not in MOMENTUM_KEYS}),
                  frozenset({"pct_start", "div_factor", "final_div_factor", *MOMENTUM_KEYS})),
    "cosine": (lambda lr, total, p: WarmupCosine(lr, total, **p), frozenset({"warmup_steps", "alpha"})),
    "noam": (lambda lr, total, p: Noam(**p), frozenset({"d_model", "warmup_steps", "scale"})),
    "piecewise": (lambda lr, total, p: keras.optimizers.schedules.PiecewiseConstantDecay(p["boundaries"], p["values"]),
                  frozenset({"boundaries", "values"})),
    "linear": (lambda lr, total, p: LinearFactor(lr, total, **p), frozenset({"start_factor", "end_factor"})),
}


def _check_params(section: str, name: str, params: Mapping[str, Any], allowed: frozenset) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"{section}: unknown parameter(s) {unknown} for {name!r}; valid: {sorted(allowed)}")


def validate_optimizer(spec: Mapping[str, Any], schedule: Mapping[str, Any] | None) -> None:
    """Check names and parameters of the ``optimizer`` and ``schedule`` entries (no TensorFlow work)."""
    name = spec.get("name")
    if name not in OPTIMIZERS:
        raise ConfigError(f"optimizer.name: unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    _check_params("optimizer", name, {k: v for k, v in spec.items() if k != "name"}, OPTIMIZERS[name][1] | _COMMON)
    schedule = dict(schedule or {"name": "constant"})
    sname = schedule.get("name")
    if sname not in SCHEDULES:
        raise ConfigError(f"schedule.name: unknown schedule {sname!r}; choose one of: {', '.join(SCHEDULES)}")
    params = {k: v for k, v in schedule.items() if k != "name"}
    _check_params("schedule", sname, params, SCHEDULES[sname][1])
    if sname == "piecewise" and ("boundaries" not in params or "values" not in params):
        raise ConfigError("schedule: 'piecewise' needs 'boundaries' and 'values'")
    if sname == "one_cycle" and params.get("cycle_momentum", True) and name not in _BETA_1_OPTIMIZERS:
        raise ConfigError(f"schedule.cycle_momentum: optimizer {name!r} has no beta_1 to cycle; set "
                          f"cycle_momentum: false or choose one of: {', '.join(_BETA_1_OPTIMIZERS)}")


_BETA_1_OPTIMIZERS = ("adam", "adamw", "adamax", "radam", "lion")
_CLIP_KEYS = ("clipvalue", "clipnorm", "global_clipnorm")  # the tf.keras 2 OptimizerV2 order


def _clip_all(grads, clips: Mapping[str, float]):
    """Every requested clipping, in tf.keras 2's order: per-value, per-tensor norm, then global norm."""
    if clips.get("clipvalue"):
        value = float(clips["clipvalue"])
        grads = [None if g is None else ops.clip(g, -value, value) for g in grads]
    if clips.get("clipnorm"):
        norm = float(clips["clipnorm"])
        grads = [None if g is None else _clip_by_norm(g, norm) for g in grads]
    if clips.get("global_clipnorm"):
        from keras.src.optimizers.base_optimizer import clip_by_global_norm

        grads = clip_by_global_norm(grads, float(clips["global_clipnorm"]))
    return grads


def _clip_by_norm(gradient, norm: float):
    """``tf.clip_by_norm``: scale the tensor to L2 norm ``norm`` when it is larger (zero stays zero)."""
    l2 = ops.sqrt(ops.sum(ops.square(gradient)))
    return gradient * (norm / ops.maximum(l2, norm))


def _once_per_step(optimizer, beta_1_curve: Callable | None = None) -> None:
    """Evaluate the learning-rate schedule, and a cycled ``beta_1`` (``beta_1_curve(step)``), once per optimiser step.

    Keras evaluates a schedule for every variable (AdamW's weight decay reads ``learning_rate`` per weight), and a
    cycled ``beta_1`` read per variable costs the same: for LegNet with one-cycle that was about 40 graph ops per
    weight, half of the 20,700-op training step that TensorFlow traces and optimises before the first step. Both are
    read from the optimiser's own ``iterations`` before the step's updates, as Keras reads them, so the values are
    the same; the schedule object itself is back in place after each step (configs, checkpoints)."""
    apply = optimizer.apply
    fixed_beta_1 = getattr(optimizer, "beta_1", None)

    def apply_once(grads, trainable_variables=None):
        schedule = optimizer._learning_rate
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            optimizer._learning_rate = schedule(optimizer.iterations)
        if beta_1_curve is not None:
            optimizer.beta_1 = beta_1_curve(optimizer.iterations)
        try:
            return apply(grads, trainable_variables)
        finally:
            optimizer._learning_rate = schedule
            if beta_1_curve is not None:
                optimizer.beta_1 = fixed_beta_1

    optimizer.apply = apply_once


def _fused_adam(optimizer) -> None:
    """Adam's and AdamW's per-weight update as TensorFlow's fused kernel (``ResourceApplyAdam``: Keras's formula,
    ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``, ``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``,
    ``w -= alpha m / (sqrt(v) + epsilon)``) instead of about 25 separate ops per weight; AdamW's decoupled decay
    (Keras's ``w -= w * weight_decay * lr`` before the update, same variables) is one multiply and one subtraction
    per weight. The step's scalars (``beta^t``, the learning rate, the decay factor) are computed once per optimiser
    step and graph, not once per weight: about 21 graph ops per weight became 5, a third of LegNet's traced training
    step. Sparse gradients, AMSGrad and other backends keep Keras's own update."""
    if keras.backend.backend() != "tensorflow" or getattr(optimizer, "amsgrad", True):
        return
    import tensorflow as tf

    keras_update_step = optimizer.update_step
    keras_apply = optimizer.apply
    # (graph, dtype, "adam" | "decay", id(learning rate)) -> (the step's scalar(s), that learning rate), kept for the
    # current apply() only
    step_scalars: dict = {}

    def step_scalar(dtype, what: str, learning_rate=None):
        key = (tf.compat.v1.get_default_graph(), dtype, what, id(learning_rate))
        if key not in step_scalars:
            if what == "adam":
                step = tf.cast(optimizer.iterations + 1, dtype)
                beta_1, beta_2 = tf.cast(optimizer.beta_1, dtype), tf.cast(optimizer.beta_2, dtype)
                value = {"beta1_power": tf.pow(beta_1, step), "beta2_power": tf.pow(beta_2, step),
                         "lr": tf.cast(learning_rate, dtype), "beta1": beta_1, "beta2": beta_2,
                         "epsilon": tf.cast(optimizer.epsilon, dtype)}
            else:  # the decoupled decay factor, with the learning rate Keras's decay reads
                value = tf.cast(optimizer.weight_decay, dtype) * tf.cast(optimizer.learning_rate, dtype)
            step_scalars[key] = (value, learning_rate)  # keeps learning_rate alive while its id is a key
        return step_scalars[key][0]

    def fused_update_step(gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices) or not isinstance(variable, tf.Variable):
            return keras_update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = optimizer._get_variable_index(variable)
        m, v = optimizer._momentums[index].value, optimizer._velocities[index].value
        return tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle,
                                            grad=tf.cast(gradient, dtype), **step_scalar(dtype, "adam", learning_rate))

    def weight_decay(variables):
        if optimizer.weight_decay is None:
            return

        def distributed(distribution, variables, **kwargs):
            def decay(variable):
                if optimizer._use_weight_decay(variable):
                    variable.assign_sub(variable * step_scalar(variable.dtype, "decay"))

            for variable in variables:
                variable = variable.value if isinstance(variable, keras.Variable) else variable
                distribution.extended.update(variable, decay, group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(distributed, optimizer._distribution_strategy, variables)

    def apply_with_step_scalars(grads, trainable_variables=None):
        step_scalars.clear()
        try:
            return keras_apply(grads, trainable_variables)
        finally:
            step_scalars.clear()

    optimizer.update_step = fused_update_step
    if hasattr(optimizer, "_distribution_strategy") and hasattr(optimizer, "_use_weight_decay"):
        optimizer._apply_weight_decay = weight_decay
    optimizer.apply = apply_with_step_scalars


def _one_cycle_beta_1(total_steps: int, pct_start: float, base: float, peak: float) -> Callable:
    """PyTorch OneCycleLR's momentum curve (``max -> base -> max``) as a function of the optimiser's step: it is
    read from the optimiser's own ``iterations`` inside the traced step, so it resumes with ``iterations``."""
    return lambda step: one_cycle_curve(step, total_steps, pct_start, peak, base, peak)


def build_optimizer_variables(model) -> None:
    """Create the compiled ``model``'s optimiser variables now, eagerly, if they do not exist yet.

    Without a distribution strategy Keras creates them inside the first traced training step; TensorFlow then traces
    the whole step a second time (a function that creates variables is traced twice), which doubled LegNet's
    first-step overhead."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def build_optimizer(spec: Mapping[str, Any], schedule: Mapping[str, Any] | None, total_steps: int):
    """A Keras optimizer for the config's ``optimizer``/``schedule`` entries over ``total_steps`` steps."""
    validate_optimizer(spec, schedule)
    params = {k: v for k, v in spec.items() if k != "name" and v is not None}
    learning_rate = float(params.pop("learning_rate", 1e-3))
    schedule = dict(schedule or {"name": "constant"})
    sname = schedule.pop("name")
    total = max(int(total_steps), 1)
    lr = SCHEDULES[sname][0](learning_rate, total, schedule)
    clips = {key: params.pop(key) for key in _CLIP_KEYS if params.get(key) is not None}
    if len(clips) == 1:
        params.update(clips)
    ema = params.pop("ema", None)
    if ema:
        params["use_ema"] = True
        params["ema_momentum"] = float(params.pop("ema_momentum", ema if isinstance(ema, float) else 0.99))
    else:
        params.pop("ema_momentum", None)
    optimizer_class = OPTIMIZERS[spec["name"]][0]
    if "weight_decay" in params and spec["name"] not in ("adamw",):
        params["weight_decay"] = float(params["weight_decay"])
    optimizer = optimizer_class(learning_rate=lr, **params)
    if len(clips) > 1:  # Keras 3 takes one clipping mode: the gradient transform applies all of them
        optimizer._clip_gradients = lambda grads: _clip_all(grads, clips)
        optimizer.seq2exp_clipping = clips
    beta_1_curve = None
    if sname == "one_cycle" and schedule.get("cycle_momentum", True):
        base, peak = float(schedule.get("base_momentum", 0.85)), float(schedule.get("max_momentum", 0.95))
        beta_1_curve = _one_cycle_beta_1(total, float(schedule.get("pct_start", 0.3)), base, peak)
        optimizer.seq2exp_beta_1_cycle = {"base_momentum": base, "max_momentum": peak}
    if spec["name"] in ("adam", "adamw"):
        _fused_adam(optimizer)
    _once_per_step(optimizer, beta_1_curve)
    return optimizer
