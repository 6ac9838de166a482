"""Expression targets as bin distributions (autosome's soft classification) and back.

Both functions take numpy arrays (numpy maths, no TensorFlow import) or TensorFlow tensors (TensorFlow ops, usable in
``tf.data`` maps and inside models), and return the same kind.

autosome turns a measured expression ``y`` on the 0-17 bin scale into the probabilities of 18 bins under a normal
distribution with mean ``y + shift`` and standard deviation ``scale``, integrated over the bin edges
``(-inf, 1, 2, ..., 17, +inf)``; its model predicts ``sum_i p_i * i``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

N_BINS = 18


def _is_tensor(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("tensorflow") or module.startswith("keras")


def soft_bin_targets(y: Any, n_bins: int = N_BINS, shift: float = 0.5, scale: float = 0.5) -> Any:
    """Bin probabilities ``[..., n_bins]`` (float32, rows sum to 1) of expressions ``y`` (any shape)."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    inner_edges = np.arange(1, n_bins, dtype=np.float64)  # 1 .. n_bins-1
    if _is_tensor(y):
        import tensorflow as tf

        y = tf.cast(y, tf.float32)
        z = (tf.constant(inner_edges, tf.float32) - (y[..., None] + shift)) / (scale * math.sqrt(2.0))
        cdf = 0.5 * (1.0 + tf.math.erf(z))
        lower = tf.concat([tf.zeros_like(cdf[..., :1]), cdf], axis=-1)
        upper = tf.concat([cdf, tf.ones_like(cdf[..., :1])], axis=-1)
        return tf.maximum(upper - lower, 0.0)
    from scipy.special import ndtr

    y = np.asarray(y, dtype=np.float64)
    cdf = ndtr((inner_edges - (y[..., None] + shift)) / scale)
    lower = np.concatenate([np.zeros_like(cdf[..., :1]), cdf], axis=-1)
    upper = np.concatenate([cdf, np.ones_like(cdf[..., :1])], axis=-1)
    return np.maximum(upper - lower, 0.0).astype(np.float32)


def expected_bin(probs: Any) -> Any:
    """The expected bin ``sum_i probs[..., i] * i`` (the expression a bin model predicts)."""
    if _is_tensor(probs):
        import tensorflow as tf

        probs = tf.cast(probs, tf.float32)
        bins = tf.range(tf.shape(probs)[-1], dtype=tf.float32)
        return tf.reduce_sum(probs * bins, axis=-1)
    probs = np.asarray(probs, dtype=np.float64)
    return (probs * np.arange(probs.shape[-1])).sum(axis=-1).astype(np.float32)
