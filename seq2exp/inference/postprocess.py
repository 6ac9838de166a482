"""Post-processing of predictions: the ONE place that defines it, for in-process prediction and for export.

A config's ``postprocess`` entry is a list of steps ``[{name: ..., <params>}]`` applied in order. There are two kinds:

- **graph steps** (:data:`GRAPH_STEPS`) are pure per-sequence functions written in TensorFlow. They run inside
  :class:`seq2exp.inference.graph.PredictionGraph`, hence in the exported serving graph too:
  ``normal_cdf`` (BHI's ``scipy.stats.norm.cdf(pred, loc, scale)`` "flattening", by default applied to the
  prediction in the model's target units, i.e. BHI's standardised output).
- **batch steps** (:data:`BATCH_STEPS`) need the whole set of predictions (a rank is only defined relative to the
  others), so they cannot be a per-request serving graph. They run in ``PredictionGraph.predict`` after all
  sequences are predicted, and ``seq2exp predict`` applies them to a whole input file: ``rank`` (NAD: rank / N),
  ``quantile`` (High Schoolers: ``sklearn.preprocessing.quantile_transform`` to a uniform distribution with 1000
  quantiles). A served model returns the values before batch steps; the exporter records them in its metadata.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seq2exp.errors import ConfigError


def _normal_cdf(model_units, expression, params: Mapping[str, float]):
    import tensorflow as tf

    value = model_units if params.get("on", "model") == "model" else expression
    loc, scale = float(params.get("loc", 0.0)), float(params.get("scale", 1.0))
    return 0.5 * (1.0 + tf.math.erf((value - loc) / (scale * np.sqrt(2.0))))


def _rank(values: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """NAD: each prediction replaced by its rank / N (ties get their average rank), in [0, 1)."""
    from scipy.stats import rankdata

    return ((rankdata(values, method="average") - 1.0) / max(len(values), 1)).astype(np.float32)


def _quantile(values: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    """Uniform quantile transform (as sklearn's ``quantile_transform``: ``n_quantiles`` landmarks, linear interpolation
    between them, averaged over ascending and descending interpolation so ties map to their mid-rank)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.astype(np.float32)
    n_quantiles = int(min(params.get("n_quantiles", 1000), values.size))
    references = np.linspace(0.0, 1.0, n_quantiles)
    landmarks = np.quantile(values, references)
    ascending = np.interp(values, landmarks, references)
    descending = -np.interp(-values, -landmarks[::-1], -references[::-1])
    return (0.5 * (ascending + descending)).clip(0.0, 1.0).astype(np.float32)


GRAPH_STEPS: dict[str, Callable] = {"normal_cdf": _normal_cdf}
BATCH_STEPS: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {"rank": _rank, "quantile": _quantile}
_STEP_PARAMS = {"normal_cdf": {"loc", "scale", "on"}, "rank": set(), "quantile": {"n_quantiles"}}


def validate_postprocess(steps: Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """Check a ``postprocess`` list; return it as plain dicts. Batch steps must come after graph steps."""
    checked: list[dict] = []
    seen_batch = False
    for index, step in enumerate(steps or []):
        if isinstance(step, str):
            step = {"name": step}
        if not isinstance(step, Mapping) or "name" not in step:
            raise ConfigError(f"postprocess[{index}]: expected a mapping with a 'name'")
        name = step["name"]
        if name not in GRAPH_STEPS and name not in BATCH_STEPS:
            valid = ", ".join([*GRAPH_STEPS, *BATCH_STEPS])
            raise ConfigError(f"postprocess[{index}].name: unknown step {name!r}; choose one of: {valid}")
        unknown = sorted(set(step) - {"name"} - _STEP_PARAMS[name])
        if unknown:
            raise ConfigError(f"postprocess[{index}]: unknown parameter(s) {unknown} for {name!r}; "
                              f"valid: {sorted(_STEP_PARAMS[name]) or '(none)'}")
        if name in GRAPH_STEPS and seen_batch:
            raise ConfigError(f"postprocess[{index}]: graph step {name!r} cannot follow a batch step")
        seen_batch = seen_batch or name in BATCH_STEPS
        checked.append(dict(step))
    return checked


def graph_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict]:
    return [dict(s) for s in validate_postprocess(steps) if s["name"] in GRAPH_STEPS]


def batch_steps(steps: Sequence[Mapping[str, Any]]) -> list[dict]:
    return [dict(s) for s in validate_postprocess(steps) if s["name"] in BATCH_STEPS]


def apply_graph_steps(steps: Sequence[Mapping[str, Any]], model_units, expression):
    """Apply the graph steps (TF) to a prediction; ``model_units`` is the raw (target-transformed) output."""
    for step in graph_steps(steps):
        expression = GRAPH_STEPS[step["name"]](model_units, expression, step)
        model_units = expression
    return expression


def apply_batch_steps(steps: Sequence[Mapping[str, Any]], values: np.ndarray) -> np.ndarray:
    """Apply the batch steps (numpy) to the predictions of a whole set of sequences."""
    values = np.asarray(values, dtype=np.float32)
    for step in batch_steps(steps):
        values = BATCH_STEPS[step["name"]](values, step)
    return values
