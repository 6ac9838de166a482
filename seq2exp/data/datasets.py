"""``tf.data`` input pipelines over a :class:`~seq2exp.data.cache.TrainingCache`.

Per epoch the row indices are permuted (a full shuffle from a stateless seed: no shuffle buffer, same order for the
same seed), batched, the batch's rows are gathered from the memory-mapped cache, then encoded in TensorFlow by the
model's :class:`~seq2exp.data.encoding.Encoder` - with random reverse complement and shifts when asked - and
prefetched. Elements are ``(inputs, targets)`` or ``(inputs, targets, sample_weight)`` where ``targets`` is a dict
keyed by the model output the loss applies to (Keras matches dict targets to dict outputs by name).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from seq2exp.data.cache import TrainingCache
from seq2exp.data.encoding import Encoder
from seq2exp.data.targets import N_BINS, soft_bin_targets

TARGET_KINDS = ("regression", "bins", "none")


def make_dataset(
    cache: TrainingCache,
    encoder: Encoder,
    *,
    batch_size: int,
    indices: np.ndarray | None = None,
    shuffle: bool = True,
    seed: int = 0,
    rc_augment: bool = False,
    shift_augment: int = 0,
    target: str | Callable[[tf.Tensor], Any] = "regression",
    targets: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
    bins: dict | None = None,
    input_context: tf.distribute.InputContext | None = None,
    skip_batches: int = 0,
) -> tf.data.Dataset:
    """A dataset of encoded batches from ``cache`` for ``model.fit`` / ``predict``.

    Args:
        batch_size: the global batch size (divided per replica when ``input_context`` is given).
        indices: rows to use (default all), e.g. one side of ``cache.split(...)``.
        shuffle: permute the rows every epoch (seeded by ``seed`` and the epoch number).
        rc_augment: reverse complement each row with probability 1/2 (sets the ``is_reverse`` channel).
        shift_augment: shift each row by a uniform random ``-k..k`` bp (BHI), filling from the real vector.
        target: ``"regression"`` -> ``{"expression": y [B]}``; ``"bins"`` -> ``{"bins": [B, 18]}`` soft bins
            (autosome; ``bins`` = ``{"shift", "scale"}``); ``"none"`` -> inputs only; or a callable mapping the
            float32 ``y [B]`` batch to the targets structure.
        targets: per-row values to use instead of ``cache.targets`` (e.g. transformed targets), aligned with the cache.
        sample_weight: per-row weights aligned with the cache; adds a third element.
        repeat: cycle forever (a new permutation each epoch); otherwise one epoch.
        drop_remainder: drop the last partial batch (static batch shapes, e.g. for TPUs).
        input_context: from ``strategy.distribute_datasets_from_function``; shards rows by input pipeline.
        skip_batches: start at this batch of the stream (a resumed run): the same batches, with the same
            augmentation seeds, as batch ``skip_batches`` onwards of the full stream, found by arithmetic on the
            row index (epoch, offset) - nothing before it is read or encoded, so a restart at step N costs O(1).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if isinstance(target, str) and target not in TARGET_KINDS:
        raise ValueError(f"target must be one of {TARGET_KINDS} or a callable, got {target!r}")
    if shift_augment < 0:
        raise ValueError(f"shift_augment must be >= 0, got {shift_augment}")
    rows = np.arange(cache.n, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= cache.n):
        raise ValueError(f"indices must be in [0, {cache.n}), got [{rows.min()}, {rows.max()}]")
    values = np.asarray(cache.targets if targets is None else targets, dtype=np.float32)
    if values.shape[:1] != (cache.n,) or values.ndim > 2:  # [n], or [n, T] for several tasks
        raise ValueError(f"targets must have shape ({cache.n},) or ({cache.n}, T), got {values.shape}")
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
    if weights is not None and weights.shape != (cache.n,):
        raise ValueError(f"sample_weight must have shape ({cache.n},), got {weights.shape}")
    pipeline_id, n_pipelines = 0, 1
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        pipeline_id, n_pipelines = input_context.input_pipeline_id, input_context.num_input_pipelines
        rows = rows[pipeline_id::n_pipelines]

    width = cache.width
    needs_singleton = encoder.spec.singleton_channel
    oriented = cache.reverse is not None and encoder.spec.kind == "onehot" and encoder.spec.rc_channel

    def load(batch_rows: np.ndarray):
        codes = cache.read_codes(batch_rows)  # positional reads: the codes file stays out of the process's RSS
        out = [codes, np.asarray(cache.lengths[batch_rows], np.int32), values[batch_rows],
               np.asarray(cache.singleton[batch_rows], np.float32)]
        out.append(weights[batch_rows] if weights is not None else np.ones(batch_rows.size, np.float32))
        out.append(cache.orientation(batch_rows))
        return out

    def gather(step: tf.Tensor, batch_rows: tf.Tensor):
        codes, lengths, y, singleton, weight, orientation = tf.numpy_function(
            load, [batch_rows], [tf.uint8, tf.int32, tf.float32, tf.float32, tf.float32, tf.bool], stateful=False)
        codes.set_shape([None, width])
        for tensor in (lengths, singleton, weight, orientation):
            tensor.set_shape([None])
        y.set_shape([None, *values.shape[1:]])
        return step, codes, lengths, y, singleton, weight, orientation

    soft_bins = dict(bins or {})

    def encode(step, codes, lengths, y, singleton, weight, orientation):
        batch = tf.shape(lengths)[0]
        step_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64) * n_pipelines + pipeline_id])
        reverse = False
        if rc_augment:
            reverse = tf.random.stateless_uniform([batch], seed=step_seed, dtype=tf.float32) < 0.5
        shift = None
        if shift_augment:
            shift = tf.random.stateless_uniform([batch], seed=step_seed + [0, 1 << 40], minval=-shift_augment,
                                                maxval=shift_augment + 1, dtype=tf.int32)
        inputs = encoder.tf_encode(codes, lengths, reverse=reverse, shift=shift,
                                   singleton=singleton if needs_singleton else None,
                                   seed=step_seed + [0, 1 << 41], orientation=orientation if oriented else None)
        if callable(target):
            labels = target(y)
        elif target == "bins":
            labels = {"bins": soft_bin_targets(y, n_bins=soft_bins.get("n_bins", N_BINS),
                                               shift=soft_bins.get("shift", 0.5), scale=soft_bins.get("scale", 0.5))}
        elif target == "regression":
            labels = {"expression": y}
        else:
            return inputs
        if weights is not None:
            return inputs, labels, weight
        return inputs, labels

    if skip_batches < 0:
        raise ValueError(f"skip_batches must be >= 0, got {skip_batches}")
    if drop_remainder and skip_batches:
        raise ValueError("skip_batches needs drop_remainder=False (batches then run across epoch boundaries)")
    n_rows = max(int(rows.size), 1)
    first_row = int(skip_batches) * int(batch_size)  # batches run across epoch boundaries of the row stream
    first_epoch, offset = divmod(first_row, n_rows)
    if not repeat and first_epoch > 0:
        first_epoch, offset = 0, n_rows
    rows_tensor = tf.constant(rows)

    def epoch_rows(epoch: tf.Tensor) -> tf.data.Dataset:
        order = rows_tensor
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(rows_tensor, seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        start = tf.where(tf.equal(epoch, first_epoch), tf.constant(offset, tf.int64), tf.constant(0, tf.int64))
        return tf.data.Dataset.from_tensor_slices(order[start:])

    epochs = tf.data.Dataset.range(first_epoch, 2**62 if repeat else 1)
    dataset = epochs.flat_map(epoch_rows)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).enumerate(start=int(skip_batches))
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if input_context is not None:  # already sharded by hand above
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        dataset = dataset.with_options(options)
    return dataset.prefetch(tf.data.AUTOTUNE)
