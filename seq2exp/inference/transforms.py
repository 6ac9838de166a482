"""Target transforms: the ONE place that maps measured expression to a model's training target and back.

A config names the transform (``target: {transform: standardize}``); :func:`fit_target_transform` fits its
parameters on the training targets, the fitted transform (name + numbers) is stored in ``RUN/run.json``, and
prediction (in-process and the exported serving graph) applies :meth:`TargetTransform.tf_inverse`.

Transforms (the teams that used them):

- ``identity``: train on raw expression (autosome bins, Camformers, wztr, High Schoolers, BUGF bins).
- ``standardize``: ``(y - center) / std``; ``center`` is the training mean unless fixed (BHI uses 11.0).
- ``minmax``: min-max scale to ``[low, high]`` (mt: ``[0.001, 0.999]``, trained with BCE).
- ``nad``: NAD's compression of the low range (``y <= 8 -> y/8*3 + 5``) then ``(y - 5) / 12``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from seq2exp.errors import ConfigError


@dataclass(frozen=True)
class TargetTransform:
    """A fitted target transform: ``name`` (see :data:`TRANSFORMS`) and its numeric ``params``."""

    name: str = "identity"
    params: Mapping[str, float] = field(default_factory=dict)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Expression -> training target (numpy reference of :meth:`tf_forward`)."""
        import tensorflow as tf

        return self.tf_forward(tf.constant(np.asarray(y, dtype=np.float32))).numpy()

    def tf_forward(self, y):
        """Expression -> training target, as TensorFlow ops (used in the ``tf.data`` pipeline)."""
        return TRANSFORMS[self.name].forward(y, dict(self.params))

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Training-target units -> expression (numpy reference of :meth:`tf_inverse`)."""
        import tensorflow as tf

        return self.tf_inverse(tf.constant(np.asarray(z, dtype=np.float32))).numpy()

    def tf_inverse(self, z):
        """Training-target units -> expression, as TensorFlow ops (used by the prediction/serving graph)."""
        return TRANSFORMS[self.name].tf_inverse(z, dict(self.params))

    def to_dict(self) -> dict:
        return {"name": self.name, "params": {k: float(v) for k, v in self.params.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "TargetTransform":
        if not data:
            return cls()
        name = data.get("name", "identity")
        if name not in TRANSFORMS:
            raise ConfigError(f"target.transform: unknown transform {name!r}; choose one of: {', '.join(TRANSFORMS)}")
        return cls(name, dict(data.get("params", {})))


@dataclass(frozen=True)
class _TransformDef:
    fit: Callable[[np.ndarray, dict], dict]
    forward: Callable[[Any, dict], Any]
    tf_inverse: Callable[[Any, dict], Any]
    options: tuple[str, ...] = ()


def _fit_standardize(y: np.ndarray, options: dict) -> dict:
    center = float(options["center"]) if options.get("center") is not None else float(np.mean(y))
    std = float(options["std"]) if options.get("std") is not None else float(np.std(y))
    return {"center": center, "std": std if std > 0 else 1.0}


def _fit_minmax(y: np.ndarray, options: dict) -> dict:
    low, high = float(options.get("low", 0.0)), float(options.get("high", 1.0))
    y_min = float(options["min"]) if options.get("min") is not None else float(np.min(y))
    y_max = float(options["max"]) if options.get("max") is not None else float(np.max(y))
    if y_max <= y_min:
        y_max = y_min + 1.0
    return {"low": low, "high": high, "min": y_min, "max": y_max}


def _minmax_forward(y, p: dict):
    return p["low"] + (y - p["min"]) / (p["max"] - p["min"]) * (p["high"] - p["low"])


def _minmax_inverse(z, p: dict):
    return p["min"] + (z - p["low"]) / (p["high"] - p["low"]) * (p["max"] - p["min"])


def _nad_forward(y, p: dict):
    import tensorflow as tf

    compressed = tf.where(y <= 8.0, y / 8.0 * 3.0 + 5.0, y)
    return (compressed - 5.0) / 12.0


def _nad_inverse(z, p: dict):
    import tensorflow as tf

    u = z * 12.0 + 5.0
    return tf.where(u <= 8.0, (u - 5.0) * 8.0 / 3.0, u)


TRANSFORMS: dict[str, _TransformDef] = {
    "identity": _TransformDef(lambda y, o: {}, lambda y, p: y, lambda z, p: z),
    "standardize": _TransformDef(
        _fit_standardize,
        lambda y, p: (y - p["center"]) / p["std"],
        lambda z, p: z * p["std"] + p["center"],
        options=("center", "std"),
    ),
    "minmax": _TransformDef(_fit_minmax, _minmax_forward, _minmax_inverse, options=("low", "high", "min", "max")),
    "nad": _TransformDef(lambda y, o: {}, _nad_forward, _nad_inverse),
}


def fit_target_transform(spec: Mapping[str, Any] | None, y: np.ndarray) -> TargetTransform:
    """Fit the transform a config's ``target`` entry names (``{transform: name, <options>}``) on targets ``y``."""
    spec = dict(spec or {})
    name = spec.pop("transform", "identity")
    spec.pop("kind", None)
    if name not in TRANSFORMS:
        raise ConfigError(f"target.transform: unknown transform {name!r}; choose one of: {', '.join(TRANSFORMS)}")
    definition = TRANSFORMS[name]
    unknown = sorted(set(spec) - set(definition.options))
    if unknown:
        valid = ", ".join(definition.options) or "(none)"
        raise ConfigError(f"target: unknown option(s) {unknown} for transform {name!r}; valid: {valid}")
    y = np.asarray(y, dtype=np.float64)
    y = y[np.isfinite(y)]
    if y.size == 0:
        raise ConfigError("target: no finite training targets to fit the transform on")
    return TargetTransform(name, definition.fit(y, spec))
