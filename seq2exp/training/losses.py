"""The teams' losses, chosen by name from a config's ``loss`` entry: ``loss: {name: huber, delta: 1.0}``.

Each loss knows which model output it trains (``expression`` or ``bins``) and how to make its target from the
measured expression ``y`` (raw) and the transformed target ``z`` (:mod:`seq2exp.inference.transforms`). Loss
functions return one value per sample (``[B]``) so that ``model.fit`` and the multi-worker custom loop reduce them
the same way (mean over the global batch).

Auxiliary objectives (Unlock_DNA masked nucleotides, BUGF mutation detection) are not here: they are layers inside
those models that call ``add_loss`` while training, and ``model.fit`` adds them to the main loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from seq2exp.errors import ConfigError

N_BINS = 18


@dataclass(frozen=True)
class LossSpec:
    """A configured loss: the output it applies to, its target maker and its per-sample function."""

    name: str
    output: str
    make_target: Callable[[Any, Any], Any]  # (y_raw, z_transformed) -> target tensor
    fn: Callable[[Any, Any], Any]  # (target, prediction) -> [B]
    params: Mapping[str, Any]


def _flat(x):
    import tensorflow as tf

    return tf.reshape(tf.cast(x, tf.float32), [-1])


def _per_sample(elementwise: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Lift an elementwise loss ``f(target, prediction)`` to ``[B]``: the target ``[B]`` is compared with every
    column of a ``[B, K]`` prediction (NAD's four level heads all learn the same label) and averaged over K."""
    import tensorflow as tf

    def loss(t, p):
        p = tf.cast(p, tf.float32)
        p = tf.reshape(p, [tf.shape(p)[0], -1])
        t = tf.reshape(tf.cast(t, tf.float32), [-1, 1])
        return tf.reduce_mean(elementwise(t, p), axis=-1)

    return loss


def _mse(params):
    import tensorflow as tf

    return _per_sample(lambda t, p: tf.square(p - t))


def _l1(params):
    import tensorflow as tf

    return _per_sample(lambda t, p: tf.abs(p - t))


def _huber_fn(delta: float):
    import tensorflow as tf

    def huber(t, p):
        error = tf.abs(p - t)
        quadratic = tf.minimum(error, delta)
        return 0.5 * tf.square(quadratic) + delta * (error - quadratic)

    return _per_sample(huber)


def _huber(params):
    return _huber_fn(float(params.get("delta", 1.0)))


def _smooth_l1(params):
    """PyTorch ``SmoothL1Loss(beta)`` = Huber(delta=beta) / beta (NAD: beta 0.1 on the [0, 1] target)."""
    beta = float(params.get("beta", 1.0))
    huber = _huber_fn(beta)
    return lambda t, p: huber(t, p) / beta


def _bce(params):
    """Binary cross-entropy on a target in [0, 1] (mt: min-max-scaled expression, sigmoid output)."""
    import tensorflow as tf

    eps = 1e-7

    def bce(t, p):
        p = tf.clip_by_value(p, eps, 1.0 - eps)
        return -(t * tf.math.log(p) + (1.0 - t) * tf.math.log(1.0 - p))

    return _per_sample(bce)


def _kl_bins(params):
    """KL(target || predicted) over the 18 expression bins (autosome); predictions are softmax probabilities."""
    import tensorflow as tf

    eps = 1e-7

    def kl(t, p):
        t = tf.cast(t, tf.float32)
        p = tf.clip_by_value(tf.cast(p, tf.float32), eps, 1.0)
        return tf.reduce_sum(t * (tf.math.log(tf.maximum(t, eps)) - tf.math.log(p)), axis=-1)

    return kl


def _bin_focal(params):
    """Multi-class focal loss on bin probabilities (BUGF: gamma 2); ``gamma: 0`` is plain cross-entropy."""
    import tensorflow as tf

    gamma = float(params.get("gamma", 2.0))
    eps = 1e-7

    def focal(t, p):
        p = tf.clip_by_value(tf.cast(p, tf.float32), eps, 1.0)
        t = tf.cast(t, tf.float32)
        return -tf.reduce_sum(t * tf.pow(1.0 - p, gamma) * tf.math.log(p), axis=-1)

    return focal


def _soft_bins_target(params):
    from seq2exp.data.targets import soft_bin_targets

    shift, scale = float(params.get("shift", 0.5)), float(params.get("scale", 0.5))
    return lambda y, z: soft_bin_targets(_flat(y), n_bins=N_BINS, shift=shift, scale=scale)


def _rounded_bin_target(params):
    """One-hot bin of ``floor(y + U(0, 1))`` (BUGF's stochastic rounding) or of ``round(y)``."""
    import tensorflow as tf

    stochastic = bool(params.get("stochastic_rounding", True))

    def target(y, z):
        y = _flat(y)
        if stochastic:
            y = tf.floor(y + tf.random.uniform(tf.shape(y)))
        else:
            y = tf.round(y)
        return tf.one_hot(tf.cast(tf.clip_by_value(y, 0.0, N_BINS - 1.0), tf.int32), N_BINS)

    return target


def _transformed_target(params):
    return lambda y, z: z


# name -> (output, target maker factory, loss factory, allowed params)
LOSSES: dict[str, tuple[str, Callable, Callable, frozenset]] = {
    "mse": ("expression", _transformed_target, _mse, frozenset()),
    "l1": ("expression", _transformed_target, _l1, frozenset()),
    "huber": ("expression", _transformed_target, _huber, frozenset({"delta"})),
    "smooth_l1": ("expression", _transformed_target, _smooth_l1, frozenset({"beta"})),
    "bce": ("expression", _transformed_target, _bce, frozenset()),
    "kl_bins": ("bins", _soft_bins_target, _kl_bins, frozenset({"shift", "scale"})),
    "bin_focal": ("bins", _rounded_bin_target, _bin_focal, frozenset({"gamma", "stochastic_rounding"})),
}


def get_loss(spec: Mapping[str, Any] | str) -> LossSpec:
    """The loss a config's ``loss`` entry names; unknown names/parameters raise ``ConfigError``."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(f"loss: expected a mapping with a 'name' (one of: {', '.join(LOSSES)}), got {spec!r}")
    name = spec["name"]
    if name not in LOSSES:
        raise ConfigError(f"loss.name: unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
    output, target_factory, loss_factory, allowed = LOSSES[name]
    params = {k: v for k, v in spec.items() if k not in ("name", "output")}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(f"loss: unknown parameter(s) {unknown} for {name!r}; valid: {sorted(allowed) or '(none)'}")
    output = spec.get("output", output)
    return LossSpec(name, output, target_factory(params), loss_factory(params), params)


def multitask_loss(loss: LossSpec, n_tasks: int) -> LossSpec:
    """``loss`` over ``n_tasks`` tasks: targets ``[B, T]`` of measured values (NaN where missing), predictions
    ``[B, T]`` (``[B, T, 18]`` for bins). Per sample, the sum over tasks of the loss on that task's column
    (the Prix Fixe benchmarks' ``MSE(dev) + MSE(hk)`` when nothing is missing); a missing target contributes 0
    (masked, never imputed), and its NaN never reaches a gradient."""
    import tensorflow as tf

    def make_target(y, z):
        y = tf.cast(y, tf.float32)
        columns = []
        for task in range(n_tasks):
            target = tf.cast(loss.make_target(y[:, task], z[:, task]), tf.float32)
            missing = tf.math.is_nan(y[:, task])
            missing = tf.reshape(missing, tf.concat([tf.shape(missing), tf.ones([tf.rank(target) - 1], tf.int32)], 0))
            columns.append(tf.where(missing, tf.constant(float("nan")), target))
        return tf.stack(columns, axis=1)

    def fn(target, prediction):
        target = tf.cast(target, tf.float32)
        total = 0.0
        for task in range(n_tasks):
            t, p = target[:, task], prediction[:, task]
            missing = tf.math.is_nan(t)
            if t.shape.rank > 1:
                missing = tf.reduce_any(missing, axis=list(range(1, t.shape.rank)))
            safe = tf.where(tf.math.is_nan(t), tf.zeros_like(t), t)
            total += tf.where(missing, 0.0, loss.fn(safe, p))
        return total

    return LossSpec(loss.name, loss.output, make_target, fn, {**loss.params, "tasks": n_tasks})
