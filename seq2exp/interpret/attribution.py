"""Gradient attribution of each base: saliency, gradient x input, integrated gradients, expected integrated gradients.

All methods return an :class:`Attribution`: ``scores [n, L, 4]`` (the attribution of each channel; for one-hot
input only the observed base is non-zero with a zero baseline), ``hypothetical [n, L, 4]`` (the gradient, averaged
along the path for IG, mean-normalised per position: what TF-MoDISco takes as ``hypothetical_contribs``) and
``contributions [n, L]`` (scores summed over the 4 channels). They need the model in-process
(:class:`~seq2exp.interpret.predictors.RunPredictor`); a server cannot give gradients.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.interpret.predictors import Predictor, require_gradients
from seq2exp.interpret.sequences import check_sequences, dinucleotide_shuffle, onehot

logger = logging.getLogger(__name__)

METHODS = ("saliency", "grad_x_input", "integrated_gradients", "expected_integrated_gradients")
BASELINES = ("zeros", "shuffle", "uniform")


@dataclass
class Attribution:
    """Attribution maps of ``n`` sequences of length ``L``."""

    method: str
    sequences: list[str]
    onehot: np.ndarray        # float32 [n, L, 4]
    scores: np.ndarray        # float32 [n, L, 4]
    hypothetical: np.ndarray  # float32 [n, L, 4], mean-normalised per position
    values: np.ndarray        # float32 [n]: f(x)
    baseline_values: np.ndarray | None = None  # float32 [n]: f(baseline), IG only (mean over baselines)
    info: dict = field(default_factory=dict)

    @property
    def contributions(self) -> np.ndarray:
        """float32 ``[n, L]``: each position's attribution (scores summed over channels)."""
        return self.scores.sum(axis=-1)

    def save(self, path) -> None:
        """An ``.npz`` with ``onehot``, ``scores``, ``hypothetical``, ``values`` (+ ``baseline_values``)."""
        from seq2exp.utils import atomic_write

        arrays = {"onehot": self.onehot, "scores": self.scores, "hypothetical": self.hypothetical,
                  "values": self.values, "sequences": np.array(self.sequences)}
        if self.baseline_values is not None:
            arrays["baseline_values"] = self.baseline_values
        with atomic_write(path, "wb", encoding=None) as handle:
            np.savez_compressed(handle, **arrays)


def mean_normalise(gradients: np.ndarray) -> np.ndarray:
    """Subtract each position's mean over the 4 bases (Majdandzic et al. 2023; TF-MoDISco's hypothetical scores)."""
    return gradients - gradients.mean(axis=-1, keepdims=True)


def baselines(sequences: Sequence[str], kind: str, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """float32 ``[n_seq, n, L, 4]`` baselines: ``zeros``, ``uniform`` (0.25 everywhere) or ``shuffle``
    (dinucleotide-shuffled copies of each sequence)."""
    if kind not in BASELINES:
        raise ConfigError(f"baseline {kind!r}: valid choices are {list(BASELINES)}")
    length = len(sequences[0])
    if kind == "zeros":
        return np.zeros([len(sequences), n, length, 4], np.float32)
    if kind == "uniform":
        return np.full([len(sequences), n, length, 4], 0.25, np.float32)
    return np.stack([onehot([dinucleotide_shuffle(s, rng) for _ in range(n)]) for s in sequences])


def attribute(predictor: Predictor, sequences: Sequence[str], method: str = "integrated_gradients", *,
              baseline: str = "zeros", steps: int = 50, n_baselines: int | None = None, seed: int = 0,
              max_rows: int = 4096) -> Attribution:
    """Attribution of ``sequences`` (equal length) by ``method`` (one of :data:`METHODS`).

    Args:
        baseline: IG's reference point (``zeros``, ``shuffle``, ``uniform``); expected IG always draws
            dinucleotide-shuffled baselines.
        steps: IG's path points (midpoint rule); expected IG's samples per sequence.
        n_baselines: IG with ``shuffle``: baselines averaged (default 4); expected IG: ignored (``steps`` samples,
            one random baseline and path point each).
        max_rows: gradient rows evaluated at once.
    """
    if method not in METHODS:
        raise ConfigError(f"attribution method {method!r}: valid choices are {list(METHODS)} (or 'ism')")
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    model = require_gradients(predictor, method)
    sequences = check_sequences(sequences)
    x = onehot(sequences, model.encoder.spec.n_value)
    rng = np.random.default_rng(seed)
    info = {"method": method}
    if method in ("saliency", "grad_x_input"):
        values, grads = model.value_and_gradient(sequences)
        scores = grads if method == "saliency" else grads * x
        return Attribution(method, sequences, x, scores.astype(np.float32), mean_normalise(grads), values, info=info)

    if method == "integrated_gradients":
        k = 1 if baseline != "shuffle" else int(n_baselines or 4)
        base = baselines(sequences, baseline, rng, k)                       # [n, k, L, 4]
        alphas = np.tile((np.arange(steps) + 0.5) / steps, k)               # midpoint rule, per baseline
        which = np.repeat(np.arange(k), steps)
        info.update(baseline=baseline, steps=steps, n_baselines=k)
    else:
        k = steps
        base = baselines(sequences, "shuffle", rng, k)
        alphas = rng.uniform(size=k)
        which = np.arange(k)
        info.update(baseline="shuffle", samples=k)
    per_seq = len(alphas)
    scores = np.zeros_like(x)
    mean_grads = np.zeros_like(x)
    chunk = max(1, max_rows // per_seq)
    for start in range(0, len(sequences), chunk):
        stop = min(start + chunk, len(sequences))
        xs, bs = x[start:stop], base[start:stop]                            # [m, L, 4], [m, k, L, 4]
        points = bs[:, which] + alphas[None, :, None, None] * (xs[:, None] - bs[:, which])  # [m, P, L, 4]
        repeated = [s for s in sequences[start:stop] for _ in range(per_seq)]
        _, grads = model.value_and_gradient(repeated, points.reshape(-1, *x.shape[1:]))
        grads = grads.reshape(stop - start, per_seq, *x.shape[1:])
        scores[start:stop] = ((xs[:, None] - bs[:, which]) * grads).mean(axis=1)
        mean_grads[start:stop] = grads.mean(axis=1)
    values, _ = model.value_and_gradient(sequences)
    flat_base = base.reshape(-1, *x.shape[1:])
    base_values, _ = model.value_and_gradient([s for s in sequences for _ in range(k)], flat_base)
    return Attribution(method, sequences, x, scores, mean_normalise(mean_grads), values,
                       base_values.reshape(len(sequences), k).mean(axis=1), info=info)
