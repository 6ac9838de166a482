"""The challenge's scores: per-subset Pearson r and Spearman rho, weighted into the Pearson and Spearman scores.

Pearson score = sum(w_i r_i^2) / sum(w_i), Spearman score = sum(w_i rho_i) / sum(w_i), over the subsets present
(weights in :data:`SUBSET_WEIGHTS`, /4.65 when all are present). Pair subsets correlate ``pred[alt] - pred[ref]``
with ``truth[alt] - truth[ref]``. Only indices present in both truth and predictions are scored (a pair needs all
four values); a subset with fewer than two scorable items is *missing* and the weights are renormalised over the
others. A correlation that is undefined (constant predictions or truth) is NaN (``null`` in JSON) with an
:class:`UndefinedCorrelationWarning`, and so is a score that needs it.
"""
from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from seq2exp.errors import InputFormatError
from seq2exp.evaluation.subsets import (
    PAIR_SUBSETS,
    SUBSET_NAMES,
    SUBSET_WEIGHTS,
    Exclusion,
    coerce_exclusion,
    coerce_subsets,
)
from seq2exp.evaluation.values import ValueTable, align, coerce_values

logger = logging.getLogger(__name__)


class UndefinedCorrelationWarning(UserWarning):
    """A correlation could not be computed (one side is constant); it is reported as NaN."""


def pearson_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``x`` ``[n, M]`` (or a vector) with ``y`` ``[n]``; NaN where undefined."""
    x = np.asarray(x, dtype=np.float64)
    vector = x.ndim == 1
    x = x.reshape(len(y), -1)
    y = np.asarray(y, dtype=np.float64)
    if y.size < 2:
        result = np.full(x.shape[1], np.nan)
        return result[0] if vector else result
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    sxx = np.einsum("ij,ij->j", xc, xc)
    syy = float(np.einsum("i,i->", yc, yc))
    sxy = np.einsum("i,ij->j", yc, xc)  # einsum, not BLAS: no thread pool start-up for these small products
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    # a column (or y) that is constant up to rounding has no defined correlation
    tiny_x = sxx <= (np.abs(x).max(axis=0) ** 2) * len(y) * 1e-26
    tiny_y = syy <= float(np.abs(y).max() ** 2) * len(y) * 1e-26
    r = np.where(tiny_x | tiny_y, np.nan, np.clip(r, -1.0, 1.0))
    return r[0] if vector else r


def average_ranks(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """1-based average ranks (ties share the mean of their positions), as ``scipy.stats.rankdata(method="average")``.

    ``axis=None`` ranks the flattened values; otherwise every 1-D slice along ``axis`` is ranked on its own.
    Exact (integer positions summed in float64). Numpy only, so importing the scoring code stays cheap.
    """
    values = np.asarray(values)
    if axis is None:
        return _average_ranks_1d(values.ravel())
    moved = np.moveaxis(values, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, moved.shape[-1])
    ranked = np.stack([_average_ranks_1d(row) for row in flat]) if len(flat) else np.zeros(flat.shape)
    return np.moveaxis(ranked.reshape(moved.shape), -1, axis)


def _average_ranks_1d(values: np.ndarray) -> np.ndarray:
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(n, bool)
    new[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(new)  # first position of each tie run
    ends = np.append(starts[1:], n)  # one past its last position
    run = np.cumsum(new) - 1
    ranks = np.empty(n, np.float64)
    ranks[order] = ((starts + ends + 1) / 2.0)[run]  # mean of the 1-based positions start+1 .. end
    return ranks


def spearman_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho (Pearson r of average ranks, as ``scipy.stats.spearmanr``) of each column of ``x`` with ``y``."""
    x = np.asarray(x, dtype=np.float64)
    vector = x.ndim == 1
    x = x.reshape(len(y), -1)
    if len(y) < 2:
        return pearson_columns(x[:, 0] if vector else x, y)
    result = pearson_columns(average_ranks(x, axis=0), average_ranks(y))
    return result[0] if vector else result


def weighted_scores(pearson: Mapping[str, float], spearman: Mapping[str, float]) -> tuple[float, float, dict]:
    """Combine per-subset r and rho (subsets present only) into (Pearson score, Spearman score, used weights)."""
    names = [name for name in SUBSET_NAMES if name in pearson]
    total = sum(SUBSET_WEIGHTS[name] for name in names)
    if not names:
        return math.nan, math.nan, {}
    weights = {name: SUBSET_WEIGHTS[name] / total for name in names}
    pearson_score = sum(weights[name] * pearson[name] ** 2 for name in names)
    spearman_score = sum(weights[name] * spearman[name] for name in names)
    return float(pearson_score), float(spearman_score), weights


@dataclass
class ScoringData:
    """Truth, predictions of one or more models, and the subsets (public items already excluded), aligned."""

    truth: np.ndarray  # float64 [N], NaN where absent
    predictions: np.ndarray  # float64 [M, N], NaN where absent
    names: list[str]
    subsets: dict[str, np.ndarray]  # "all" + singles (int64 [k]) + pairs (int64 [k, 2] alt, ref), present or not
    excluded: bool = False

    @property
    def truth_present(self) -> np.ndarray:
        return ~np.isnan(self.truth)

    def scorable(self, model: int | None = None) -> np.ndarray:
        """Indices scorable for one model (``None``: for every model at once)."""
        present = self.truth_present.copy()
        rows = range(len(self.names)) if model is None else [model]
        for row in rows:
            present &= ~np.isnan(self.predictions[row])
        return present

    def subset_items(self, name: str, present: np.ndarray) -> np.ndarray:
        """The subset's singles ``[k]`` or pairs ``[k, 2]`` whose values are all present."""
        items = self.subsets[name]
        if name in PAIR_SUBSETS:
            return items[present[items[:, 0]] & present[items[:, 1]]]
        return items[present[items]]

    def vectors(self, name: str, items: np.ndarray, models: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(truth ``[k]``, predictions ``[k, len(models)]``) of a subset; alt - ref differences for pairs."""
        models = list(models)
        if name in PAIR_SUBSETS:
            alt, ref = items[:, 0], items[:, 1]
            return self.truth[alt] - self.truth[ref], (self.predictions[models][:, alt] - self.predictions[models][:, ref]).T
        return self.truth[items], self.predictions[models][:, items].T


def prepare(
    predictions: Any,
    truth: Any,
    subsets: Any = None,
    exclude: Any = None,
    *,
    names: Sequence[str] | None = None,
    nonfinite: str = "error",
) -> ScoringData:
    """Read/align everything once. ``predictions``: one source or a list/dict of sources (path, mapping, array,
    :class:`ValueTable`); ``truth`` the same kinds; ``subsets`` a folder or mapping; ``exclude`` a leaderboard
    folder, mapping or :class:`Exclusion`."""
    sources, model_names = _normalise_predictions(predictions, names)
    truth_table = coerce_values(truth, "truth", nonfinite=nonfinite)
    tables = [coerce_values(source, name, nonfinite=nonfinite) for source, name in zip(sources, model_names)]
    truth_table, tables = align(truth_table, tables)
    n = truth_table.n
    subset_items = coerce_subsets(subsets)
    exclusion: Exclusion | None = coerce_exclusion(exclude)
    checked: dict[str, np.ndarray] = {"all": np.arange(n, dtype=np.int64)}
    for name in SUBSET_NAMES:
        if name not in subset_items:
            continue
        items = subset_items[name]
        beyond = items >= n
        if beyond.any():
            first = int(items.ravel()[np.flatnonzero(beyond.ravel())[0]])
            if truth_table.ordered:
                raise InputFormatError(f"subset {name!r}: test index {first} is beyond the truth {truth_table.source} "
                                       f"({n} test sequences)", field=name, path="subsets")
            items = items[~beyond.any(axis=1)] if items.ndim == 2 else items[~beyond]
        checked[name] = items
    if exclusion is not None:
        for name, items in checked.items():
            checked[name] = exclusion.filter_pairs(items) if name in PAIR_SUBSETS else exclusion.filter_singles(items)
    predictions_matrix = np.stack([table.values for table in tables]) if tables else np.zeros((0, n))
    return ScoringData(truth_table.values, predictions_matrix, model_names, checked, exclusion is not None)


def _normalise_predictions(predictions: Any, names: Sequence[str] | None) -> tuple[list[Any], list[str]]:
    if isinstance(predictions, Mapping) and predictions and all(isinstance(k, str) for k in predictions) and not all(
            _looks_like_index(k) for k in predictions):
        sources, default_names = list(predictions.values()), list(predictions.keys())
    elif isinstance(predictions, (list, tuple)) and predictions and isinstance(
            predictions[0], (str, os.PathLike, Mapping, ValueTable, np.ndarray, list, tuple)):
        sources = list(predictions)
        default_names = [_default_name(source, i) for i, source in enumerate(sources)]
    else:
        sources, default_names = [predictions], [_default_name(predictions, 0)]
    if names is not None:
        if len(names) != len(sources):
            raise ValueError(f"{len(names)} names for {len(sources)} prediction sets")
        default_names = [str(name) for name in names]
    if len(set(default_names)) != len(default_names):
        default_names = _deduplicate(default_names)
    return sources, default_names


def _looks_like_index(key: str) -> bool:
    return key.replace(",", "").strip().isdigit()


def _default_name(source: Any, position: int) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.path.splitext(os.path.basename(os.fspath(source).rstrip("/")))[0]
    if isinstance(source, ValueTable) and source.source != "<array>":
        return os.path.splitext(os.path.basename(source.source))[0]
    return f"model{position + 1}"


def _deduplicate(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 and names.count(name) == 1 else f"{name}#{seen[name]}")
    return result


def score_data(data: ScoringData, model: int) -> dict:
    """The contract JSON object of one model of ``data``."""
    present = data.scorable(model)
    pearson, spearman, counts, missing = {}, {}, {}, []
    for name in SUBSET_NAMES:
        if name not in data.subsets:
            missing.append(name)
            continue
        items = data.subset_items(name, present)
        if len(items) < 2:
            missing.append(name)
            continue
        y, x = data.vectors(name, items, [model])
        r = float(pearson_columns(x[:, 0], y))
        rho = float(spearman_columns(x[:, 0], y))
        for label, value in (("Pearson", r), ("Spearman", rho)):
            if math.isnan(value):
                warnings.warn(f"{data.names[model]}: subset {name!r}: {label} correlation undefined (constant "
                              f"{'truth' if np.ptp(y) == 0 else 'predictions'} over {len(items)} items); "
                              f"reported as NaN", UndefinedCorrelationWarning, stacklevel=3)
        pearson[name], spearman[name], counts[name] = r, rho, len(items)
    pearson_score, spearman_score, weights = weighted_scores(pearson, spearman)
    return {
        "pearson_score": pearson_score,
        "spearman_score": spearman_score,
        "subsets": {name: {"pearson": pearson[name], "spearman": spearman[name], "n": counts[name]}
                    for name in pearson},
        "missing_subsets": missing,
        "weights": weights,
        "public_excluded": data.excluded,
    }


def score(
    predictions: Any,
    truth: Any,
    subsets: Any = None,
    exclude: Any = None,
    *,
    nonfinite: str = "error",
) -> dict:
    """Score one set of predictions the way the challenge did; returns the contract JSON object (NaN for undefined).

    Args:
        predictions: a DREAM test-order file or JSON path, a ``{index: value}`` mapping, a dense array, or a
            :class:`~seq2exp.evaluation.values.ValueTable`.
        truth: the same kinds (e.g. the test file with measured values, or a public leaderboard's JSON).
        subsets: a ``test_subset_ids`` folder or ``{name: indices / [n, 2] (alt, ref) pairs}``; ``None`` = "all" only.
        exclude: a ``public_leaderboard_ids`` folder, mapping or ``Exclusion``: those items are not scored.
        nonfinite: ``"error"`` (NaN/inf values are an error naming the index) or ``"drop"`` (left out).
    """
    data = prepare(predictions, truth, subsets, exclude, nonfinite=nonfinite)
    if len(data.names) != 1:
        raise ValueError(f"score() takes one set of predictions, got {len(data.names)}; use score_many()")
    return score_data(data, 0)


def score_many(
    predictions: Any,
    truth: Any,
    subsets: Any = None,
    exclude: Any = None,
    *,
    names: Sequence[str] | None = None,
    nonfinite: str = "error",
) -> dict[str, dict]:
    """Score several prediction sets against one truth: ``{model name: contract JSON object}``."""
    data = prepare(predictions, truth, subsets, exclude, names=names, nonfinite=nonfinite)
    return {name: score_data(data, row) for row, name in enumerate(data.names)}
