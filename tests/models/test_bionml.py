"""BioNML: the frozen k-mer detector scan, shared motif scan, cross-attention stack."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras

from seq2exp import models
from seq2exp.models.zoo.bionml import kmer_detector_kernel


def test_kmer_detectors_score_one_exactly_on_their_kmer():
    kernel = kmer_detector_kernel((5, 6), 6)
    assert kernel.shape == (6, 4, 1024 + 4096)
    rng = np.random.default_rng(0)
    for _ in range(5):
        window = rng.integers(0, 4, size=6)
        scores = np.einsum("wc,wcf->f", np.eye(4)[window], kernel)
        six = 1024 + int("".join(map(str, window)), 4)
        five = int("".join(map(str, window[1:])), 4)  # a 5-mer sits at offsets 1..5 of the 6-wide kernel
        assert np.isclose(scores[six], 1.0) and np.isclose(scores[five], 1.0)
        others = np.delete(scores, [five, six])
        assert (others < 0.9).all()


def test_kmer_scan_is_frozen_and_motif_scan_shared():
    model = models.build("bionml", smoke=True)
    scan = model.get_layer("kmer_scan")
    assert not scan.trainable and all(w is not scan.kernel for w in model.trainable_weights)
    np.testing.assert_allclose(np.asarray(scan.kernel), kmer_detector_kernel((2,), 2))
    assert len(model.get_layer("motif_scan").weights) == 1
    unfrozen = models.build("bionml", {"kmer_scanning_trainable": True}, smoke=True)
    assert unfrozen.get_layer("kmer_scan").trainable


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("bionml")
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("bionml").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("bionml").head, inputs, expression, steps=4)
