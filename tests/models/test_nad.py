"""NAD: GloVe k-mer embeddings fitted by the package, loaded into the frozen embedding, level heads."""
from __future__ import annotations

import numpy as np
import pytest

from tests.models import harness  # noqa: I001
import keras

from seq2exp import models
from seq2exp.errors import ConfigError
from seq2exp.models.zoo import nad


@pytest.fixture(scope="module")
def demo_sequences(demo_train):
    sequences, _ = harness.demo_examples(demo_train, 400, seed=3)
    return sequences


@pytest.fixture(scope="module")
def demo_fit(demo_sequences):
    """GloVe on real demo sequences, at the smoke model's embedding width (8)."""
    return nad.fit_kmer_embeddings(demo_sequences, dim=8, iterations=40, return_history=True)


def test_glove_on_demo_sequences_fits_and_is_reproducible(demo_sequences, demo_fit):
    table, history = demo_fit
    assert table.shape == (4**5 + 1, 8) and table.dtype == np.float32
    assert not table[-1].any()  # unknown / N-containing k-mers
    assert history[-1] < 0.6 * history[0] and history[-1] == min(history)
    ids = nad.kmer_ids(demo_sequences[:100])
    np.testing.assert_array_equal(nad.fit_kmer_embeddings(ids=ids, dim=8, iterations=3),
                                  nad.fit_kmer_embeddings(ids=ids, dim=8, iterations=3))


def test_glove_puts_kmers_with_the_same_contexts_together():
    rng = np.random.default_rng(0)
    group_a, group_b = [0, 1, 2, 3, 4, 5, 6], list(range(8, 16))
    sentences = np.concatenate([rng.choice(group_a, size=(300, 30)), rng.choice(group_b, size=(300, 30))])
    swapped = np.where(sentences == 3, 7, sentences)[:300]  # 7 appears exactly where 3 did, in a copy
    table = nad.fit_kmer_embeddings(ids=np.concatenate([sentences, swapped]), k=2, dim=8, iterations=150,
                                    min_count=1)
    vectors = table[:16] - table[:16].mean(axis=0)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    assert similarity[3, 7] > 0.8
    assert similarity[3, 7] > max(similarity[3, j] for j in group_b)
    assert np.mean([similarity[a, b] for a in group_a for b in group_b]) < 0.0


def test_cooccurrence_counts_left_context_weighted_by_distance():
    counts = nad.cooccurrence_counts(np.array([[0, 1, 2, 16]]), vocabulary=16, window=2)
    assert counts[1, 0] == 1.0 and counts[2, 1] == 1.0 and counts[2, 0] == 0.5
    assert counts[0, 1] == 0.0 and counts.sum() == 2.5  # id 16 (unknown) is skipped


def test_embedding_is_frozen_and_loadable(demo_sequences, demo_fit, tmp_path):
    keras.utils.set_random_seed(0)
    model = models.build("nad", smoke=True)
    layer = model.get_layer(nad.EMBEDDING_LAYER)
    assert not layer.trainable and all(w is not layer.embeddings for w in model.trainable_weights)
    inputs = harness.encode(models.get("nad").config(smoke=True), demo_sequences[:4])
    assert inputs.shape == (4, 80) and inputs.max() <= 4**5
    before = np.asarray(model(inputs, training=False)["expression"])
    table = demo_fit[0]
    nad.load_kmer_embeddings(model, table)
    np.testing.assert_array_equal(np.asarray(layer.embeddings), table)
    outputs = model(inputs, training=False)
    assert not np.allclose(np.asarray(outputs["expression"]), before)
    np.testing.assert_allclose(np.asarray(outputs["expression"]), np.asarray(outputs["levels"]).mean(axis=1),
                               rtol=1e-5, atol=1e-6)
    path = tmp_path / "kmers.npy"
    np.save(path, table)
    from_path = models.build("nad", {"kmer_embeddings_path": str(path)}, smoke=True)
    np.testing.assert_array_equal(np.asarray(from_path.get_layer(nad.EMBEDDING_LAYER).embeddings), table)
    with pytest.raises(ConfigError, match="shape"):
        nad.load_kmer_embeddings(model, table[:, :4])


@pytest.mark.slow
def test_real_size_training_steps_lower_the_loss(demo_train):
    keras.utils.set_random_seed(0)
    model = models.build("nad")
    sequences, expression = harness.demo_examples(demo_train, 8, seed=5)
    inputs = harness.encode(models.get("nad").config(), sequences)
    harness.assert_train_steps_lower_loss(model, models.get("nad").head, inputs, expression, steps=4)


def test_every_weight_of_the_teams_model_has_its_place(tmp_path):
    """The team's own ``Model()`` (Util/SimpleViTModel.py under x-transformers 0.28.4, its requirements' pin) holds as
    many numbers as the seq2exp model without its frozen GloVe table (the input the team embeds outside the model):
    no output-projection bias in the attention, the rest shape for shape."""
    pytest.importorskip("torch")
    pytest.importorskip("x_transformers")
    from tests.models.team_code import import_team_module

    team = import_team_module("nad", "Util.SimpleViTModel").Model().state_dict()
    team_count = sum(v.numel() for k, v in team.items() if not k.endswith("num_batches_tracked"))
    model = models.build("nad")
    ours = sum(int(np.prod(w.shape)) for w in model.weights if not w.path.startswith(nad.EMBEDDING_LAYER))
    assert ours == team_count
    assert not any(k.endswith("to_out.bias") for k in team)
    assert sum(1 for w in model.weights if w.path.endswith("attention/output/bias")) == 0
