"""The one-hot codec of the ``onehot`` signature: numpy codes -> one-hot, and TensorFlow one-hot -> codes.

Convention (shared by the exporter, the server, the clients and interpretation): ``[B, L, 4]`` float32 over
A, C, G, T; N = 0.25 in each channel; rows of zeros past a sequence's end (padding).
"""
from __future__ import annotations

import numpy as np

ONEHOT_CHANNELS = 4  # A, C, G, T


def codes_to_onehot(codes: np.ndarray, lengths: np.ndarray, length: int) -> np.ndarray:
    """numpy one-hot ``[B, length, 4]`` in the ``onehot`` signature's convention (N = 0.25 x 4, zeros = padding)."""
    codes = np.asarray(codes)
    table = np.zeros([6, ONEHOT_CHANNELS], np.float32)
    table[np.arange(4), np.arange(4)] = 1.0
    table[4] = 0.25
    onehot = np.zeros([len(codes), length, ONEHOT_CHANNELS], np.float32)
    width = min(codes.shape[1], length) if codes.ndim == 2 else 0
    onehot[:, :width] = table[np.minimum(codes[:, :width], 5)]
    onehot[np.arange(length)[np.newaxis, :] >= np.asarray(lengths)[:, np.newaxis]] = 0.0
    return onehot


def tf_onehot_to_codes(onehot):
    """float32 one-hot ``[B, L, 4]`` -> (uint8 codes ``[B, L]``, int32 lengths ``[B]``) in TensorFlow.

    A position is a letter when its largest channel is > 0.5, N when it has another non-zero value (e.g. 0.25 x 4),
    and padding when it is all zeros after the last non-zero position. Values outside [0, 1], NaN, and all-zero rows
    (empty sequences) fail with ``InvalidArgumentError``.
    """
    import tensorflow as tf

    from seq2exp.data.alphabet import N_CODE, PAD_CODE

    onehot = tf.convert_to_tensor(onehot, tf.float32)
    checks = [
        tf.debugging.assert_all_finite(onehot, "onehot input has NaN or infinite values"),
        tf.debugging.assert_greater_equal(onehot, 0.0, message="onehot input has negative values"),
        tf.debugging.assert_less_equal(onehot, 1.0, message="onehot input has values above 1"),
    ]
    with tf.control_dependencies(checks):
        present = tf.reduce_sum(onehot, axis=-1) > 0.0  # [B, L]
    positions = tf.range(1, tf.shape(onehot)[1] + 1)[tf.newaxis, :]
    lengths = tf.reduce_max(tf.where(present, positions, tf.zeros_like(positions)), axis=1)
    empty_rows = tf.reshape(tf.where(tf.equal(lengths, 0)), [-1])
    with tf.control_dependencies([tf.debugging.Assert(
            tf.equal(tf.size(empty_rows), 0),
            ["onehot input has empty (all-zero) sequences; rows:", empty_rows], summarize=10)]):
        letters = tf.cast(tf.argmax(onehot, axis=-1), tf.int32)
    letters = tf.where(tf.reduce_max(onehot, axis=-1) > 0.5, letters, N_CODE)
    inside = positions - 1 < lengths[:, tf.newaxis]
    codes = tf.where(inside, letters, PAD_CODE)
    return tf.cast(codes, tf.uint8), tf.cast(lengths, tf.int32)
