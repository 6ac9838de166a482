"""Closed-form fitting of the k-mer ridge baseline (the model is the registered ``kmer_ridge`` architecture,
:mod:`seq2exp.models.zoo.kmer_ridge`).

The ridge weights are solved in closed form, streaming over the training batches (the normal equations are
accumulated, so the training set never needs to fit in memory), on standardised features, for each ``alphas``
value; the value with the best validation Pearson r is kept.

Use it through ``seq2exp train`` with a config ``model: {architecture: kmer_ridge, config: {ks: [1, 2, 3, 4, 5, 6],
alphas: [...]}}`` (see ``training/configs/kmer_ridge.yaml``), or from Python with :func:`fit_kmer_ridge`.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np


logger = logging.getLogger(__name__)

def kmer_model_config(overrides: Mapping[str, Any] | None) -> dict:
    """The k-mer ridge model config (the registered ``kmer_ridge`` defaults + ``overrides``), validated."""
    from seq2exp.models import registry
    from seq2exp.models.zoo.kmer_ridge import validate_kmer_config

    config = registry.get("kmer_ridge").config(overrides)
    validate_kmer_config(config)
    return config


def _accumulate(feature_model, dataset) -> tuple[np.ndarray, np.ndarray, float, float, int]:
    gram = sums = xty = None
    y_sum = y_sq = 0.0
    count = 0
    for inputs, y in dataset:
        x = feature_model(inputs, training=False).numpy().astype(np.float64)
        y = np.asarray(y["expression"] if isinstance(y, Mapping) else y, np.float64).reshape(-1)
        measured = np.isfinite(y)  # a row without this task's value (NaN) is left out of the fit, never imputed
        x, y = x[measured], y[measured]
        if gram is None:
            gram, sums, xty = np.zeros((x.shape[1],) * 2), np.zeros(x.shape[1]), np.zeros(x.shape[1])
        gram += x.T @ x
        sums += x.sum(0)
        xty += x.T @ y
        y_sum += y.sum()
        y_sq += (y ** 2).sum()
        count += len(y)
    return gram, sums, xty, y_sum, count


def fit_kmer_ridge(config: Mapping[str, Any], train_dataset, val_dataset, val_targets: np.ndarray):
    """Solve the ridge weights (streaming normal equations), pick ``alpha`` on validation Pearson r.

    Args:
        config: a :func:`kmer_model_config` dict.
        train_dataset / val_dataset: one pass of ``(inputs, {"expression": y})`` batches (``make_dataset``).
        val_targets: measured expression of the validation rows, in ``val_dataset`` order.
    Rows whose target is missing (NaN) are left out of the fit and of the validation Pearson r.
    Returns ``(model, {"alpha": ..., "val_pearson_by_alpha": {...}})``.
    """
    from seq2exp.training.callbacks import pearson_spearman

    from seq2exp.models import registry
    from seq2exp.models.zoo.kmer_ridge import feature_model as features_of

    model = registry.get("kmer_ridge").build_from(config)
    feature_model = features_of(model)
    gram, sums, xty, y_sum, n = _accumulate(feature_model, train_dataset)
    mean, y_mean = sums / n, y_sum / n
    covariance = gram / n - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(covariance), 0, None))
    std[std < 1e-12] = 1.0
    standardised_gram = (covariance * n) / np.outer(std, std)
    standardised_xty = (xty - n * mean * y_mean) / std
    val_features = np.concatenate([feature_model(x, training=False).numpy() for x, _ in val_dataset]).astype(np.float64)
    scores, solutions = {}, {}
    from scipy.linalg import cho_factor, cho_solve

    for alpha in config["alphas"]:  # one Cholesky solve per alpha (cheaper than an eigendecomposition)
        regularised = standardised_gram + alpha * np.eye(len(std))
        weights = cho_solve(cho_factor(regularised, check_finite=False), standardised_xty, check_finite=False) / std
        bias = y_mean - mean @ weights
        predicted = val_features @ weights + bias
        scores[float(alpha)] = pearson_spearman(predicted, val_targets)[0]  # NaN rows left out
        solutions[float(alpha)] = (weights, bias)
    best_alpha = max(scores, key=lambda a: -np.inf if not np.isfinite(scores[a]) else scores[a])
    weights, bias = solutions[best_alpha]
    model.get_layer("ridge").set_weights([weights[:, None].astype(np.float32), np.array([bias], np.float32)])
    logger.info("k-mer ridge: %d features, alpha %g, val Pearson %.4f", len(weights), best_alpha, scores[best_alpha])
    return model, {"alpha": best_alpha, "val_pearson_by_alpha": scores, "features": int(len(weights)), "n_train": n}


def fit_kmer_ridge_run(setup) -> dict:
    """The driver's entry point for ``architecture: kmer_ridge``: fit, save ``RUN/model.keras``, log metrics."""
    from seq2exp.data.datasets import make_dataset
    from seq2exp.inference import runs as inference
    from seq2exp.training.callbacks import save_model_atomically, write_json_atomically

    batch = min(setup.batch_size, 256)  # feature maps are [batch, length, 4**k]: keep them small
    train = make_dataset(setup.train_cache, setup.encoder, batch_size=batch, indices=setup.train_indices,
                         shuffle=False, target="regression")
    val = make_dataset(setup.val_cache, setup.encoder, batch_size=batch, indices=setup.val_indices,
                       shuffle=False, target="regression")
    _, _, measured = setup.validation_data()
    model, details = fit_kmer_ridge(setup.model_config, train, val, measured)
    save_model_atomically(model, setup.out / inference.MODEL_FILE)
    rows = [{"epoch": 0, "alpha": alpha, "val_pearson": r} for alpha, r in details["val_pearson_by_alpha"].items()]
    write_json_atomically(setup.out / inference.METRICS_JSON, {"monitor": "val_pearson", "epochs": rows})
    return {"optimizer_steps": 0, "epochs_run": 1, "best_epoch": 0, "replicas": 1,
            "params": int(model.count_params()), "ridge": details, "early_stopped": False}
