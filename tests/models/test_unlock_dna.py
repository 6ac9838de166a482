"""Unlock_DNA: the masked-nucleotide auxiliary objective, the Prix Fixe core block and DREAM-Attn."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras
import tensorflow as tf

from seq2exp import models
from seq2exp.models import prixfixe


@pytest.fixture(scope="module")
def smoke_model():
    return harness.seeded_smoke_model("unlock_dna")


@pytest.fixture(scope="module")
def tokens(demo_train):
    return harness.demo_inputs(demo_train, "unlock_dna", 8, seed=1)


def test_masked_token_output_covers_both_strands(smoke_model, tokens):
    outputs = smoke_model(tokens, training=False)
    assert tuple(outputs["masked_tokens"].shape) == (len(tokens), 2 * tokens.shape[1], 5)
    assert not smoke_model.losses  # no masking, no auxiliary loss at inference
    again = smoke_model(tokens, training=False)
    np.testing.assert_array_equal(np.asarray(outputs["expression"]), np.asarray(again["expression"]))


def test_masked_nucleotide_loss_trains_the_trunk(smoke_model, tokens):
    trunk_kernel = smoke_model.get_layer("kmer_embedding").kernel
    with tf.GradientTape() as tape:
        smoke_model(tokens, training=True)
        assert len(smoke_model.losses) == 1
        auxiliary = tf.add_n(smoke_model.losses)
    gradient = tape.gradient(auxiliary, trunk_kernel)
    assert float(auxiliary) > 0.0 and gradient is not None
    assert np.isfinite(gradient.numpy()).all() and np.abs(gradient.numpy()).sum() > 0.0


def test_mask_loss_weight_zero_adds_no_loss(tokens):
    model = models.build("unlock_dna", {"mask_loss_weight": 0.0}, smoke=True)
    model(tokens, training=True)
    assert not model.losses


def test_projector_tokens_are_one_learned_vector_and_real_size_key_dim():
    model = models.build("unlock_dna", smoke=True)
    assert tuple(model.get_layer("projector_tokens").tokens.shape) == (1, 16)
    assert models.get("unlock_dna").default_config["key_dim"] == 512  # 8 heads × 512, the original's projections


def test_prix_fixe_core_block_and_dream_attn_hybrid():
    block = prixfixe.get_block("core", "unlock_dna")
    inputs = keras.Input((30, 16))
    outputs = block.apply(inputs, prixfixe.block_config(block, {"n_blocks": 1, "num_heads": 4}), "core")
    assert tuple(outputs.shape) == (None, 30, 16)
    attention = [layer for layer in keras.Model(inputs, outputs).layers
                 if isinstance(layer, keras.layers.MultiHeadAttention)]
    assert len(attention) == 1 and attention[0]._key_dim == 4  # the port's nn.MultiheadAttention: width / heads
    assert models.get("dream_attn").head == "bins"


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("unlock_dna", {"mask_ratio": 0.0, "mask_loss_weight": 0.0})  # no random masking
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("unlock_dna").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("unlock_dna").head, inputs, expression, steps=4)
