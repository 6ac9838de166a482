"""tf.data pipelines over a training cache."""
from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf

from seq2exp.data.cache import TrainingCache  # noqa: E402
from seq2exp.data.encoding import Encoder  # noqa: E402
from seq2exp.data.datasets import make_dataset  # noqa: E402
from seq2exp.data.targets import soft_bin_targets  # noqa: E402

SPEC = {"length": 120, "pad": "plasmid_left", "trim": "left", "rc_channel": True, "singleton_channel": True}


@pytest.fixture(scope="module")
def cache(demo_train):
    from seq2exp.data.formats import read_dream

    table = read_dream(demo_train)
    return TrainingCache.from_sequences(table.sequences[:700], table.expression[:700])


def _collect(dataset):
    inputs, targets = [], []
    for x, y in dataset:
        inputs.append(x.numpy())
        targets.append(y["expression"].numpy() if "expression" in y else y["bins"].numpy())
    return np.concatenate(inputs), np.concatenate(targets)


def test_unshuffled_epoch_equals_direct_encoding(cache):
    encoder = Encoder(SPEC)
    rows = np.arange(10, 300)
    x, y = _collect(make_dataset(cache, encoder, batch_size=64, indices=rows, shuffle=False))
    expected = encoder.encode(cache.sequences(rows), singleton=cache.singleton[rows].astype(np.float32))
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, cache.targets[rows])


def test_shuffled_epochs_cover_every_row_once_and_are_seeded(cache):
    encoder = Encoder({"kind": "tokens", "length": 8})
    values = np.arange(cache.n, dtype=np.float32)  # row id as the target: tells which rows came out
    def epochs(seed):
        dataset = make_dataset(cache, encoder, batch_size=100, targets=values, seed=seed, repeat=True)
        ids = np.concatenate([y["expression"].numpy() for _, y in dataset.take(21)])  # 3 epochs of 7 batches
        return ids.reshape(3, cache.n)
    first, again, other = epochs(1), epochs(1), epochs(2)
    for epoch in first:
        np.testing.assert_array_equal(np.sort(epoch), values)
    assert not np.array_equal(first[0], first[1])  # a new order each epoch
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_rc_augment_flips_about_half_and_sets_the_channel(cache):
    encoder = Encoder(SPEC)
    x, _ = _collect(make_dataset(cache, encoder, batch_size=128, rc_augment=True, shuffle=False))
    flipped = x[:, 0, 4] == 1.0
    assert 0.4 < flipped.mean() < 0.6
    forward = encoder.encode(cache.sequences(np.arange(cache.n)), singleton=cache.singleton.astype(np.float32))
    reverse = encoder.encode(cache.sequences(np.arange(cache.n)), reverse=True,
                             singleton=cache.singleton.astype(np.float32))
    np.testing.assert_array_equal(x[flipped], reverse[flipped])
    np.testing.assert_array_equal(x[~flipped], forward[~flipped])


def test_shift_augment_and_bins_target(cache):
    encoder = Encoder({"length": 110})
    dataset = make_dataset(cache, encoder, batch_size=256, shift_augment=2, target="bins", shuffle=False)
    x, bins = _collect(dataset)
    np.testing.assert_allclose(bins, soft_bin_targets(cache.targets), atol=2e-6)
    plain = encoder.encode(cache.sequences(np.arange(cache.n)))
    changed = (x != plain).any(axis=(1, 2)).mean()
    assert 0.6 < changed < 0.95  # shift 0 leaves a row unchanged 1 time in 5


def test_sample_weights_callable_target_and_drop_remainder(cache):
    encoder = Encoder({"kind": "tokens", "length": 110})
    weights = np.linspace(0, 1, cache.n).astype(np.float32)
    dataset = make_dataset(cache, encoder, batch_size=300, shuffle=False, sample_weight=weights,
                           target=lambda y: {"expression": y * 2}, drop_remainder=True)
    batches = list(dataset)
    assert len(batches) == 2 and all(len(b) == 3 for b in batches)
    np.testing.assert_array_equal(batches[1][2].numpy(), weights[300:600])
    np.testing.assert_array_equal(batches[0][1]["expression"].numpy(), cache.targets[:300] * 2)
    inputs_only = make_dataset(cache, encoder, batch_size=500, shuffle=False, target="none")
    assert [x.shape[0] for x in inputs_only] == [500, 200]


def test_input_context_shards_rows_and_splits_the_batch(cache):
    encoder = Encoder({"kind": "tokens", "length": 8})
    values = np.arange(cache.n, dtype=np.float32)
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        dataset = make_dataset(cache, encoder, batch_size=100, targets=values, input_context=context)
        batches = [y["expression"].numpy() for _, y in dataset]
        assert max(len(b) for b in batches) == 50
        seen.append(np.concatenate(batches))
    assert np.intersect1d(seen[0], seen[1]).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), values)


def test_bad_arguments(cache):
    encoder = Encoder()
    with pytest.raises(ValueError, match="indices"):
        make_dataset(cache, encoder, batch_size=8, indices=np.array([cache.n]))
    with pytest.raises(ValueError, match="target"):
        make_dataset(cache, encoder, batch_size=8, target="classes")
    with pytest.raises(ValueError, match="targets must have shape"):
        make_dataset(cache, encoder, batch_size=8, targets=np.zeros(3))
