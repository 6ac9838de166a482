"""Ensembles as in the paper (Fig. 4): a linear regression over several models' predictions, fitted without leakage.

The scorable test indices are split into ``folds`` random folds; each fold's ensemble predictions come from a least
squares fit (with intercept) of the truth on the models' predictions over the *other* folds, so no index is
predicted by a regression that saw its measured value.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seq2exp.evaluation.metrics import ScoringData, prepare


def ensemble(
    predictions: Any,
    truth: Any = None,
    *,
    models: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, dict]:
    """Out-of-fold linear-regression ensemble of ``models`` (default: all) of ``predictions``.

    ``predictions`` is a :class:`ScoringData` or what :func:`~seq2exp.evaluation.metrics.prepare` accepts (with
    ``truth``). Returns ``(values, info)``: ``values`` float64 ``[N]`` (NaN where not every model predicts or the
    truth is unknown), ``info`` the models, folds, seed and each fold's coefficients (intercept first).
    """
    data = predictions if isinstance(predictions, ScoringData) else prepare(predictions, truth, names=names)
    chosen = list(data.names) if models is None else list(models)
    unknown = [name for name in chosen if name not in data.names]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; have {data.names}")
    if len(chosen) < 1:
        raise ValueError("an ensemble needs at least one model")
    rows = [data.names.index(name) for name in chosen]
    present = data.truth_present.copy()
    for row in rows:
        present &= ~np.isnan(data.predictions[row])
    indices = np.flatnonzero(present)
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if indices.size < folds * (len(rows) + 2):
        raise ValueError(f"too few scorable indices ({indices.size}) for a {folds}-fold ensemble of {len(rows)} models")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(indices.size, np.int64)
    fold_of[rng.permutation(indices.size)] = np.arange(indices.size) % folds
    design = np.column_stack([np.ones(indices.size)] + [data.predictions[row, indices] for row in rows])
    target = data.truth[indices]
    values = np.full(data.truth.size, np.nan)
    coefficients = []
    for fold in range(folds):
        held_out = fold_of == fold
        solution, *_ = np.linalg.lstsq(design[~held_out], target[~held_out], rcond=None)
        values[indices[held_out]] = design[held_out] @ solution
        coefficients.append(solution.tolist())
    info = {"models": chosen, "folds": folds, "seed": seed, "coefficients": coefficients,
            "fitted_on": int(indices.size)}
    return values, info


def with_ensemble(data: ScoringData, name: str = "ensemble", **kwargs: Any) -> tuple[ScoringData, dict]:
    """``data`` plus one more model: the out-of-fold ensemble of its models (see :func:`ensemble`)."""
    if name in data.names:
        raise ValueError(f"a model is already called {name!r}")
    values, info = ensemble(data, **kwargs)
    extended = ScoringData(
        truth=data.truth,
        predictions=np.vstack([data.predictions, values[None, :]]),
        names=[*data.names, name],
        subsets=data.subsets,
        excluded=data.excluded,
    )
    return extended, info
