"""Attention blocks (``seq2exp.models.blocks.attention``) and in-model objectives (``...blocks.objectives``)
against small numpy references: the maths, not just the shapes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras import layers

from seq2exp.models.blocks import attention, objectives


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def reference_attention(q, k, v, bias, scale):
    """numpy multi-head attention on [B, T, H, D] inputs (test reference only)."""
    logits = np.einsum("bthd,bshd->bhts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    return np.einsum("bhts,bshd->bthd", softmax(logits), v)


def test_biased_attention_matches_a_numpy_reference_with_a_bias_and_a_query_activation():
    rng = np.random.default_rng(0)
    query, value = rng.normal(size=(2, 5, 12)).astype("float32"), rng.normal(size=(2, 7, 12)).astype("float32")
    bias = rng.normal(size=(1, 3, 5, 7)).astype("float32")
    layer = attention.BiasedMultiHeadAttention(3, 4, query_activation="softsign", name="mha")
    out = np.asarray(layer(query, value, attention_bias=bias))
    wq, bq = [np.asarray(w) for w in layer.query_dense.weights]
    wk, bk = [np.asarray(w) for w in layer.key_dense.weights]
    wv, bv = [np.asarray(w) for w in layer.value_dense.weights]
    wo, bo = [np.asarray(w) for w in layer.output_dense.weights]
    q = query @ wq + bq
    q = (q / (1 + np.abs(q))).reshape(2, 5, 3, 4)
    k = (value @ wk + bk).reshape(2, 7, 3, 4)
    v = (value @ wv + bv).reshape(2, 7, 3, 4)
    expected = reference_attention(q, k, v, bias, 1 / math.sqrt(4)).reshape(2, 5, 12) @ wo + bo
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_alibi_slopes_and_clipped_symmetric_bias():
    np.testing.assert_allclose(attention.alibi_slopes(8), [2.0 ** -(i + 1) for i in range(8)], rtol=1e-6)
    assert len(attention.alibi_slopes(12)) == 12
    bias = np.asarray(attention.ALiBiBias(4, max_distance=3)(np.zeros((1, 6, 2), "float32")))
    assert bias.shape == (1, 4, 6, 6)
    slopes = attention.alibi_slopes(4)
    distance = np.minimum(np.abs(np.arange(6)[None] - np.arange(6)[:, None]), 3)
    np.testing.assert_allclose(bias[0], -slopes[:, None, None] * distance[None], rtol=1e-6)


def test_relative_position_buckets_follow_t5():
    buckets = attention.relative_position_buckets(40, num_buckets=32, max_distance=128)
    assert buckets[5, 5] == 0
    assert buckets[5, 4] == 1 and buckets[5, 3] == 2          # key before query: small exact buckets
    assert buckets[4, 5] == 16 + 1 and buckets[3, 5] == 16 + 2  # key after query: the other half
    assert buckets.max() < 32
    far = attention.relative_position_buckets(200, 32, 128)
    assert far[199, 0] == 15 and far[0, 199] == 31  # beyond max_distance: the last bucket of each half


def enformer_relative_shift(x):
    """The team's ``relative_shift`` (numpy transcription of the padding/reshape trick, test reference)."""
    b, h, t1, t2 = x.shape
    x = np.concatenate([np.zeros_like(x[..., :1]), x], -1).reshape(b, h, t2 + 1, t1)[:, :, 1:]
    return x.reshape(b, h, t1, t2)[..., : (t2 + 1) // 2]


def test_relative_attention_position_term_matches_the_relative_shift_formulation():
    rng = np.random.default_rng(1)
    length, heads, model_dim = 4, 2, 12
    x = rng.normal(size=(2, length, model_dim)).astype("float32")
    layer = attention.RelativeMultiHeadAttention(heads, model_dim, position_dropout=0.0, name="rel")
    out = np.asarray(layer(x))
    depth = model_dim // heads
    split = lambda t: t.reshape(2, length, heads, depth)  # noqa: E731
    q = split(x @ np.asarray(layer.query_dense.kernel)) / math.sqrt(depth)
    k, v = split(x @ np.asarray(layer.key_dense.kernel)), split(x @ np.asarray(layer.value_dense.kernel))
    features = attention.relative_distance_features(length, model_dim // 6)
    r = (features @ np.asarray(layer.position_dense.kernel)).reshape(2 * length - 1, heads, depth)
    r_w, r_r = np.asarray(layer.content_bias), np.asarray(layer.position_bias)
    content = np.einsum("bihd,bjhd->bhij", q + r_w[None, None], k)
    # the team's way: logits over relative positions -(L-1)..(L-1), then relative_shift (picks position j - i)
    relative = enformer_relative_shift(np.einsum("bihd,phd->bhip", q + r_r[None, None], r))
    probs = softmax(content + relative)
    expected = np.einsum("bhij,bjhd->bihd", probs, v).reshape(2, length, model_dim)
    expected = expected @ np.asarray(layer.output_dense.kernel) + np.asarray(layer.output_dense.bias)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_relative_distance_features_shape_and_symmetry():
    features = attention.relative_distance_features(5, 4)
    assert features.shape == (9, 24)
    exponential, signed = features[:, :4], features[:, 4:8]
    np.testing.assert_allclose(exponential, exponential[::-1])
    np.testing.assert_allclose(signed, -signed[::-1])
    assert np.isclose(features[:, 16:20].max(), 1.0) and np.isfinite(features).all()


def test_reverse_complement_conv_scans_both_strands_with_one_kernel():
    rng = np.random.default_rng(2)
    onehot = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(3, 20))]
    layer = attention.ReverseComplementConv1D(5, 7, use_bias=True)
    layer.build(onehot.shape)
    layer.bias.assign(rng.normal(size=5).astype("float32"))
    out = np.asarray(layer(onehot))
    reverse = onehot[:, ::-1, ::-1]
    out_reverse = np.asarray(layer(reverse))
    assert out.shape == (3, 20, 10)
    # the RC half on x is the forward half on RC(x), read backwards (odd kernel: exact)
    np.testing.assert_allclose(out[:, :, 5:], out_reverse[:, ::-1, :5], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("order", ["ACGTN", "ATGCN"])
def test_reverse_complement_tokens(order):
    sequences = ["ACGTNAAC", "GGTTACNN"]
    complement = str.maketrans("ACGTN", "TGCAN")
    tokens = np.array([[order.index(c) for c in s] for s in sequences] + [[5] * 8], dtype="int32")
    out = np.asarray(attention.ReverseComplementTokens(order)(tokens))
    for row, sequence in enumerate(sequences):
        assert "".join(order[i] for i in out[row]) == sequence.translate(complement)[::-1]
    assert (out[2] == 5).all()  # padding stays padding


def test_attention_pooling_with_zero_logits_is_window_mean_and_swiglu_values():
    x = np.arange(2 * 9 * 3, dtype="float32").reshape(2, 9, 3)
    pool = attention.AttentionPooling1D(4)
    pool.build(x.shape)
    pool.logits_dense.kernel.assign(np.zeros((3, 3), "float32"))
    np.testing.assert_allclose(np.asarray(pool(x)), x[:, :8].reshape(2, 2, 4, 3).mean(axis=2), rtol=1e-6)
    value, gate = np.array([[1.0, -2.0]]), np.array([[0.5, 3.0]])
    out = np.asarray(attention.SwiGLU()(np.concatenate([value, gate], -1).astype("float32")))
    np.testing.assert_allclose(out, value * gate / (1 + np.exp(-gate)), rtol=1e-5)


def test_prepend_tokens_and_segment_embeddings():
    x = np.zeros((2, 4, 3), "float32")
    shared = attention.PrependTokens(3, distinct=False, initializer="ones")
    assert np.asarray(shared(x)).shape == (2, 7, 3) and shared.tokens.shape == (1, 3)
    strands = attention.AddPositionEmbedding(num_segments=2)
    out = np.asarray(strands(x))
    np.testing.assert_allclose(out[:, 0], out[:, 1])
    np.testing.assert_allclose(out[:, 2], out[:, 3])
    assert not np.allclose(out[:, 0], out[:, 2])


# ------------------------------------------------------------------------------------------------ objectives
def test_token_masking_only_in_training_and_only_on_bases():
    tokens = np.tile(np.array([0, 1, 2, 3, 4], "int32"), (64, 20))  # [64, 100]
    layer = objectives.RandomTokenMasking(0.2, mask_token=5, maskable_below=4, seed=3)
    same, mask = layer(tokens, training=False)
    np.testing.assert_array_equal(np.asarray(same), tokens)
    assert float(np.asarray(mask).sum()) == 0.0
    masked, mask = [np.asarray(t) for t in layer(tokens, training=True)]
    assert (masked[mask == 1] == 5).all() and (masked[mask == 0] == tokens[mask == 0]).all()
    assert (mask[tokens == 4] == 0).all()
    assert 0.15 < mask[tokens < 4].mean() < 0.25


def test_pair_with_mutated_changes_only_the_marked_bases_of_the_second_copy():
    tokens = np.tile(np.array([0, 1, 2, 3, 4, 5], "int32"), (32, 10))
    layer = objectives.PairWithMutated(0.3, n_letters=4, seed=4)
    inference, mask = layer(tokens, training=False)
    np.testing.assert_array_equal(np.asarray(inference), tokens)
    paired, mask = [np.asarray(t) for t in layer(tokens, training=True)]
    assert paired.shape == (64, 60)
    np.testing.assert_array_equal(paired[:32], tokens)
    mutated = paired[32:]
    assert ((mutated != tokens) == (mask == 1)).all()  # every marked base changed, nothing else
    assert (mask[tokens >= 4] == 0).all() and (mutated[mask == 1] < 4).all()
    clean, second = objectives.SplitPairedBatch()(paired, training=True)
    assert clean.shape[0] == second.shape[0] == 32


def test_masked_token_loss_value_and_training_only():
    targets = np.array([[0, 1, 2]], "int32")
    logits = np.log(np.array([[[0.7, 0.1, 0.1, 0.05, 0.05]] * 3], "float32"))
    mask = np.array([[1.0, 0.0, 1.0]], "float32")
    inputs = keras.Input((3,), dtype="int32"), keras.Input((3, 5)), keras.Input((3,))
    out = objectives.MaskedTokenLoss(2.0)(list(inputs))
    model = keras.Model(list(inputs), out)
    model([targets, logits, mask], training=False)
    assert not model.losses
    model([targets, logits, mask], training=True)
    expected = 2.0 * (-np.log(0.7) - np.log(0.1)) / (2 + 1)
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)


def test_mutation_detection_loss_is_mean_binary_cross_entropy():
    logits = np.array([[2.0, -1.0]], "float32")
    mask = np.array([[1.0, 0.0]], "float32")
    layer = objectives.MutationDetectionLoss(1.0)
    inputs = keras.Input((2,)), keras.Input((2,))
    model = keras.Model(list(inputs), layer(list(inputs)))
    model([logits, mask], training=True)
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0))])
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)


def test_custom_layers_round_trip_through_their_config():
    for layer in (attention.BiasedMultiHeadAttention(2, 4, query_activation="softsign", scale=0.3),
                  attention.ALiBiBias(4, 40), attention.RelativePositionBucketBias(2, 16, 64, 8.0),
                  attention.RelativeMultiHeadAttention(2, 12), attention.SwiGLU(learnable_beta=True),
                  attention.PrependTokens(2, False), attention.AddPositionEmbedding(2),
                  attention.ReverseComplementConv1D(3, 5, kernel_regularizer=keras.regularizers.L2(1e-4)),
                  attention.AttentionPooling1D(2), attention.ReverseComplementTokens("ATGCN"),
                  objectives.RandomTokenMasking(0.05, 5), objectives.PairWithMutated(0.15),
                  objectives.MaskedTokenLoss(0.5), objectives.MutationDetectionLoss(2.0)):
        clone = layers.deserialize(layers.serialize(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def _attention_gradients(layer, query, value, **kwargs):
    query, value = tf.constant(query), tf.constant(value)
    with tf.GradientTape() as tape:
        tape.watch([query, value])
        outputs = layer(query, value, **kwargs)
        loss = tf.reduce_sum(outputs * tf.sin(outputs))
    return [np.asarray(t) for t in [outputs, *tape.gradient(loss, [query, value, *layer.trainable_weights])]]


@pytest.mark.parametrize("kwargs", [
    {"num_heads": 4, "key_dim": 16},
    {"num_heads": 2, "key_dim": 24, "value_dim": 8, "output_shape": 64},
    {"num_heads": 3, "key_dim": 8, "use_bias": False, "dropout": 0.5},  # dropout only in training
])
def test_matmul_attention_matches_keras_multi_head_attention_with_the_same_weights(kwargs):
    """Outputs and every gradient (inputs and the eight weights) equal Keras's einsum layer's, cross-attention of
    40 queries over 33 keys of another width."""
    rng = np.random.default_rng(0)
    query, value = rng.normal(size=(3, 40, 128)).astype("float32"), rng.normal(size=(3, 33, 96)).astype("float32")
    fused, reference = attention.MatMulMultiHeadAttention(**kwargs), layers.MultiHeadAttention(**kwargs)
    fused(query, value)
    reference(query, value)
    weights = [rng.normal(size=w.shape).astype("float32") * 0.2 for w in reference.get_weights()]
    fused.set_weights(weights)
    reference.set_weights(weights)
    assert fused._plain(tf.constant(query), tf.constant(value), tf.constant(value), (None,) * 4 + (False, False))
    got, want = _attention_gradients(fused, query, value), _attention_gradients(reference, query, value)
    largest = max(float(np.abs(b).max()) for b in want)
    for index, (a, b) in enumerate(zip(got, want)):
        # the key bias (index 6) adds a constant to each query's logits, which softmax ignores: its gradient is
        # rounding noise on both sides, compared on the scale of the largest gradient
        scale = largest if index == 6 else float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * scale, err_msg=str(index))


def test_matmul_attention_runs_keras_code_for_masks_and_attention_scores():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 10, 16)).astype("float32")
    mask = rng.uniform(size=(2, 10, 10)) > 0.3
    fused, reference = attention.MatMulMultiHeadAttention(2, 8), layers.MultiHeadAttention(2, 8)
    fused(x, x)
    reference(x, x)
    fused.set_weights(reference.get_weights())
    np.testing.assert_allclose(np.asarray(fused(x, x, attention_mask=mask)),
                               np.asarray(reference(x, x, attention_mask=mask)), atol=1e-6)
    out, scores = fused(x, x, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(scores), np.asarray(reference(x, x, return_attention_scores=True)[1]),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(fused(x, x, use_causal_mask=True)),
                               np.asarray(reference(x, x, use_causal_mask=True)), atol=1e-6)


def test_swiglu_training_kernel_matches_numpy_values_and_gradient():
    """The fused training path (one XLA kernel each way) against numpy: ``a * b * sigmoid(b)`` and its derivative
    ``d/da = b s``, ``d/db = a s (1 + b (1 - s))``; inference (plain ops) gives the same values."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 40, 256)).astype("float32") * 2
    probe = rng.normal(size=(3, 40, 128)).astype("float32")
    layer = attention.SwiGLU()
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = layer(inputs, training=True)
        loss = tf.reduce_sum(out * probe)
    grad = np.asarray(tape.gradient(loss, inputs))
    a, b = x[..., :128].astype(np.float64), x[..., 128:].astype(np.float64)
    s = 1 / (1 + np.exp(-b))
    np.testing.assert_allclose(np.asarray(out), a * b * s, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), a * b * s, rtol=1e-5, atol=1e-5)
    expected = np.concatenate([probe * b * s, probe * a * s * (1 + b * (1 - s))], -1)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)
