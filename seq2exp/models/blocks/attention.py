"""Attention blocks and layers shared by the transformer-style architectures.

Everything here runs attention through Keras's fused ops: ``keras.layers.MultiHeadAttention`` where the plain
layer fits, otherwise ``keras.ops.dot_product_attention`` with an additive ``bias`` for ALiBi, T5-style relative
position buckets and Transformer-XL/Enformer relative positions. No hand-written softmax loops.

Layers (all ``@keras.saving.register_keras_serializable(package="seq2exp")`` with ``get_config``):

- :class:`MatMulMultiHeadAttention`: ``keras.layers.MultiHeadAttention`` (same weights) run as 2-D and batched matrix
  products instead of einsums on TensorFlow (the zoo's ``MultiHeadAttention``).
- :class:`BiasedMultiHeadAttention`: q/k/v/out projections + ``dot_product_attention`` with an optional additive
  bias, an optional query activation (BioNML's softsign) and separate query / key-value streams (cross-attention).
- :class:`ALiBiBias`: symmetric ALiBi bias ``-slope_h * min(|i - j|, max_distance)`` (BUGF).
- :class:`RelativePositionBucketBias`: T5 / x-transformers learned bias per relative-position bucket (NAD).
- :class:`RelativeMultiHeadAttention`: Enformer-style relative attention with exponential / central-mask / gamma
  distance features and learned ``r_w`` / ``r_r`` biases (High Schoolers).
- :class:`AttentionPooling1D`: softmax-weighted pooling over windows (High Schoolers, Enformer).
- :class:`SwiGLU`: ``a * swish(b)`` of the two halves of the last axis; :class:`LearnableSwish` (trainable beta).
- :class:`PrependTokens`: learned tokens (CLS / Unlock_DNA's projector tokens) prepended along the sequence.
- :class:`AddPositionEmbedding`: a learned embedding per position or per equal segment (strand) added to ``x``.
- :class:`ReverseComplementConv1D`: RC parameter-sharing first convolution (Vaishnav et al., High Schoolers).
- :class:`OneHotTokens`, :class:`ReverseComplementTokens`: integer-token plumbing (one-hot, reverse complement).
- :class:`ContextAttentionPooling`: attention pooling with a learned context vector (Yang et al. 2016).

Block functions (``apply_*``, every layer named from ``name``):
:func:`apply_swiglu_feedforward`, :func:`apply_conformer_swiglu_block` (Unlock_DNA / DREAM-Attn core).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

import keras
from keras import layers, ops

from seq2exp.models.blocks.layers import (
    FusedDropout, FusedLayerNormalization, FusedSeparableConv1D, fusable_on_tensorflow,
)

PACKAGE = "seq2exp"


# --------------------------------------------------------------------------------------------- attention layers
@keras.saving.register_keras_serializable(package=PACKAGE)
class MatMulMultiHeadAttention(layers.MultiHeadAttention):
    """``keras.layers.MultiHeadAttention`` (same arguments, weights and maths) whose plain attention on TensorFlow
    runs as matrix products: each projection one 2-D product on ``[B*T, D]`` with its kernel viewed as ``[D,
    heads*dim]``, and the attention two batched products on ``[B, heads, T, dim]``.

    Keras's einsums run the projections as batched products against a broadcast kernel and the attention with
    transposes inside each einsum, forward and backward: DREAM-Attn's training step on CPU is 5-10% faster this way.
    Masks, ``return_attention_scores``, causal masks, gates, sliding windows, other attention axes and quantised
    projections run Keras's own ``call``.
    """

    def _plain(self, query, value, key, masks) -> bool:
        denses = (self._query_dense, self._key_dense, self._value_dense, self._output_dense)
        return (keras.backend.backend() == "tensorflow" and all(m is None or m is False for m in masks)
                and all(t is not None and len(t.shape) == 3 and getattr(t, "_keras_mask", None) is None
                        for t in (query, value, key))
                and not self._use_gate and getattr(self, "_sliding_window", None) is None
                and tuple(self._attention_axes or (1,)) == (1,) and len(self._output_dense.kernel.shape) == 3
                and all(getattr(dense, "quantization_mode", None) is None for dense in denses))

    def _project(self, inputs, dense, dim: int):
        """``[B, T, D] -> [B, heads, T, dim]`` with ``dense``'s kernel ``[D, heads, dim]`` (and bias)."""
        import tensorflow as tf

        features = inputs.shape[-1]
        projected = tf.matmul(tf.reshape(inputs, (-1, features)),
                              tf.reshape(ops.cast(dense.kernel, inputs.dtype), (features, self._num_heads * dim)))
        if dense.bias is not None:
            projected = projected + tf.reshape(ops.cast(dense.bias, inputs.dtype), (-1,))
        shape = tf.shape(inputs)
        return tf.transpose(tf.reshape(projected, (shape[0], shape[1], self._num_heads, dim)), (0, 2, 1, 3))

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        masks = (query_mask, value_mask, key_mask, attention_mask, return_attention_scores, use_causal_mask)
        if not self._plain(query, value, key, masks):
            return super().call(query, value, key=key, query_mask=query_mask, value_mask=value_mask,
                                key_mask=key_mask, attention_mask=attention_mask,
                                return_attention_scores=return_attention_scores, training=training,
                                use_causal_mask=use_causal_mask)
        import tensorflow as tf

        queries = self._project(query, self._query_dense, self._key_dim)
        queries = queries * ops.cast(self._inverse_sqrt_key_dim, queries.dtype)
        keys = self._project(key, self._key_dense, self._key_dim)
        values = self._project(value, self._value_dense, self._value_dim)
        scores = self._masked_softmax(tf.matmul(queries, keys, transpose_b=True), None)  # [B, heads, T, S]
        scores = self._dropout_layer(scores, training=training)
        attended = tf.transpose(tf.matmul(scores, values), (0, 2, 1, 3))  # [B, T, heads, value_dim]
        width = self._num_heads * self._value_dim
        output_kernel = ops.cast(self._output_dense.kernel, attended.dtype)
        outputs = tf.matmul(tf.reshape(attended, (-1, width)), tf.reshape(output_kernel, (width, -1)))
        if self._output_dense.bias is not None:
            outputs = outputs + ops.cast(self._output_dense.bias, outputs.dtype)
        shape = tf.shape(query)
        return tf.reshape(outputs, (shape[0], shape[1], output_kernel.shape[-1]))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BiasedMultiHeadAttention(layers.Layer):
    """Multi-head attention through ``keras.ops.dot_product_attention``, with an optional additive bias.

    ``call(query, value=None, attention_bias=None)``: ``value`` (keys and values) defaults to ``query``;
    ``attention_bias`` broadcasts to ``[B, heads, T, S]`` and is added to the scaled logits.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's query/key (and value, unless ``value_dim``).
        value_dim: size of each head's value (default ``key_dim``).
        output_dim: output features (default: the query's last dimension).
        use_bias: biases on the q/k/v projections.
        output_bias: bias on the output projection.
        query_activation: activation applied to the projected query (BioNML: ``"softsign"``).
        scale: logit scale (default ``1 / sqrt(key_dim)``).
        kernel_initializer: initializer of the four projections.
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        output_dim: int | None = None,
        use_bias: bool = True,
        output_bias: bool = True,
        query_activation: str | None = None,
        scale: float | None = None,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim or key_dim)
        self.output_dim = output_dim
        self.use_bias = bool(use_bias)
        self.output_bias = bool(output_bias)
        self.query_activation = query_activation
        self.scale = scale
        self.kernel_initializer = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
        inner_qk, inner_v = self.num_heads * self.key_dim, self.num_heads * self.value_dim
        self.query_dense = layers.Dense(inner_qk, use_bias=self.use_bias, activation=query_activation,
                                        kernel_initializer=self._initializer(), name="query")
        self.key_dense = layers.Dense(inner_qk, use_bias=self.use_bias, kernel_initializer=self._initializer(),
                                      name="key")
        self.value_dense = layers.Dense(inner_v, use_bias=self.use_bias, kernel_initializer=self._initializer(),
                                        name="value")
        self.output_dense = None  # built once the query width is known

    def build(self, query_shape, value_shape=None, attention_bias_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        output_dim = int(self.output_dim or query_shape[-1])
        self.output_dense = layers.Dense(output_dim, use_bias=self.output_bias, name="output",
                                         kernel_initializer=self._initializer())
        self.output_dense.build((*query_shape[:-1], self.num_heads * self.value_dim))
        self.built = True

    def _initializer(self):
        """A fresh initializer instance (each projection gets its own)."""
        return keras.initializers.get(self.kernel_initializer)

    def _heads(self, x, dim: int):
        return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.num_heads, dim))

    def call(self, query, value=None, attention_bias=None):
        value = query if value is None else value
        q = self._heads(self.query_dense(query), self.key_dim)
        k = self._heads(self.key_dense(value), self.key_dim)
        v = self._heads(self.value_dense(value), self.value_dim)
        scale = self.scale if self.scale is not None else 1.0 / math.sqrt(self.key_dim)
        attended = ops.dot_product_attention(q, k, v, bias=attention_bias, scale=scale)
        attended = ops.reshape(attended, (ops.shape(query)[0], ops.shape(query)[1], self.num_heads * self.value_dim))
        return self.output_dense(attended)

    def compute_output_shape(self, query_shape, value_shape=None, attention_bias_shape=None):
        return (*query_shape[:-1], int(self.output_dim or query_shape[-1]))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            num_heads=self.num_heads, key_dim=self.key_dim, value_dim=self.value_dim, output_dim=self.output_dim,
            use_bias=self.use_bias, output_bias=self.output_bias, query_activation=self.query_activation,
            scale=self.scale, kernel_initializer=self.kernel_initializer,
        )
        return config


def alibi_slopes(num_heads: int) -> np.ndarray:
    """The standard ALiBi head slopes (geometric, interleaved for a non-power-of-two head count)."""

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(num_heads).is_integer():
        return np.asarray(power_of_two(num_heads), dtype=np.float32)
    closest = 2 ** math.floor(math.log2(num_heads))
    extra = power_of_two(2 * closest)[0::2][: num_heads - closest]
    return np.asarray(power_of_two(closest) + extra, dtype=np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ALiBiBias(layers.Layer):
    """Symmetric ALiBi attention bias ``[1, heads, L, L] = -slope_h * min(|i - j|, max_distance)`` for ``x [B, L, D]``.

    No weights; the bias depends only on the (static or dynamic) length of ``x``.
    """

    def __init__(self, num_heads: int, max_distance: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.max_distance = max_distance

    def call(self, x):
        length = ops.shape(x)[1]
        positions = ops.arange(length, dtype="float32")
        distance = ops.abs(positions[None, :] - positions[:, None])
        if self.max_distance is not None:
            distance = ops.minimum(distance, float(self.max_distance))
        slopes = ops.convert_to_tensor(alibi_slopes(self.num_heads))
        return -slopes[None, :, None, None] * distance[None, None, :, :]

    def compute_output_shape(self, input_shape):
        return (1, self.num_heads, input_shape[1], input_shape[1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, max_distance=self.max_distance)
        return config


def relative_position_buckets(length: int, num_buckets: int = 32, max_distance: int = 128,
                              bidirectional: bool = True) -> np.ndarray:
    """T5 relative-position bucket of every (query i, key j) pair, ``[L, L]`` int32 (x-transformers' bucketing)."""
    positions = np.arange(length)
    relative = positions[None, :] - positions[:, None]  # key - query
    n = -relative
    buckets = np.zeros_like(n)
    if bidirectional:
        num_buckets //= 2
        buckets += (n < 0).astype(n.dtype) * num_buckets
        n = np.abs(n)
    else:
        n = np.maximum(n, 0)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        large = max_exact + (
            np.log(np.maximum(n, 1) / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
        ).astype(n.dtype)
    large = np.minimum(large, num_buckets - 1)
    buckets += np.where(n < max_exact, n, large)
    return buckets.astype(np.int32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativePositionBucketBias(layers.Layer):
    """Learned T5-style relative position bias ``[1, heads, L, L]`` for ``x [B, L, D]`` (static ``L``).

    ``scale`` multiplies the learned values (x-transformers uses ``dim_head ** 0.5``).
    """

    def __init__(self, num_heads: int, num_buckets: int = 32, max_distance: int = 128, scale: float = 1.0,
                 bidirectional: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.num_buckets = int(num_buckets)
        self.max_distance = int(max_distance)
        self.scale = float(scale)
        self.bidirectional = bool(bidirectional)

    def build(self, input_shape):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.num_buckets, self.num_heads),
                                          initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.built = True

    def call(self, x):
        length = x.shape[1]
        if length is None:
            raise ValueError(f"{self.name}: relative position buckets need a static sequence length")
        buckets = relative_position_buckets(length, self.num_buckets, self.max_distance, self.bidirectional)
        values = ops.take(self.embeddings, ops.convert_to_tensor(buckets), axis=0)  # [L, L, H]
        return ops.transpose(values, (2, 0, 1))[None] * self.scale

    def compute_output_shape(self, input_shape):
        return (1, self.num_heads, input_shape[1], input_shape[1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, num_buckets=self.num_buckets, max_distance=self.max_distance,
                      scale=self.scale, bidirectional=self.bidirectional)
        return config


def relative_distance_features(length: int, feature_size: int, min_half_life: float = 3.0) -> np.ndarray:
    """Enformer distance features for relative positions ``-(L-1) .. L-1``: ``[2L-1, 6 * feature_size]``.

    Exponential decay, central mask and gamma-pdf bases of ``|d|``, each also multiplied by ``sign(d)``.
    """
    positions = np.arange(-length + 1, length, dtype=np.float64)
    distance = np.abs(positions)[:, None]
    seq_length = float(length)
    half_life = 2.0 ** np.linspace(min_half_life, math.log2(seq_length), feature_size)
    exponential = np.exp(-math.log(2.0) / half_life[None, :] * distance)
    widths = 2.0 ** np.arange(1, feature_size + 1) - 1
    central = (widths[None, :] > distance).astype(np.float64)
    stddev = seq_length / (2 * feature_size)
    mean = np.linspace(seq_length / feature_size, seq_length, feature_size)
    concentration, rate = (mean / stddev) ** 2, mean / stddev**2
    lgamma = np.vectorize(math.lgamma)(concentration)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.where(distance > 0, np.log(np.maximum(distance, 1e-300)), -np.inf)
        log_pdf = np.where(distance > 0, (concentration - 1) * log_x, np.where(concentration == 1, 0.0, -np.inf))
    log_pdf = log_pdf - rate * distance - (lgamma - concentration * np.log(rate))
    gamma = np.exp(log_pdf)
    gamma = gamma / gamma.max()
    sign = np.sign(positions)[:, None]
    features = [exponential, exponential * sign, central, central * sign, gamma, gamma * sign]
    return np.concatenate(features, axis=-1).astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativeMultiHeadAttention(layers.Layer):
    """Transformer-XL / Enformer relative multi-head self-attention (High Schoolers' ``MultiHeadAttention2``).

    logits = (q/sqrt(d) + r_w) k^T + (q/sqrt(d) + r_r) R_{j-i}^T, where R are projected distance features
    (:func:`relative_distance_features`, dropout ``position_dropout``). The content term and the softmax run in
    ``keras.ops.dot_product_attention``; the relative term is its additive bias. Static sequence length.
    """

    def __init__(self, num_heads: int, model_dim: int, position_dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if model_dim % num_heads or model_dim % 6:
            raise ValueError(f"model_dim {model_dim} must be divisible by num_heads {num_heads} and by 6")
        self.num_heads = int(num_heads)
        self.model_dim = int(model_dim)
        self.position_dropout = float(position_dropout)
        self.depth = self.model_dim // self.num_heads
        self.query_dense = layers.Dense(model_dim, use_bias=False, name="query")
        self.key_dense = layers.Dense(model_dim, use_bias=False, name="key")
        self.value_dense = layers.Dense(model_dim, use_bias=False, name="value")
        self.position_dense = layers.Dense(model_dim, use_bias=False, name="relative_position")
        self.output_dense = layers.Dense(model_dim, name="output")
        self.feature_dropout = FusedDropout(self.position_dropout, name="position_dropout")

    def build(self, input_shape):
        for dense in (self.query_dense, self.key_dense, self.value_dense):
            dense.build(input_shape)
        self.position_dense.build((None, self.model_dim))
        self.output_dense.build((*input_shape[:-1], self.model_dim))
        init = keras.initializers.RandomNormal(stddev=0.5)
        self.content_bias = self.add_weight(name="r_w", shape=(self.num_heads, self.depth), initializer=init)
        self.position_bias = self.add_weight(name="r_r", shape=(self.num_heads, self.depth), initializer=init)
        self.built = True

    def call(self, x, training=None):
        length = x.shape[1]
        if length is None:
            raise ValueError(f"{self.name}: relative attention needs a static sequence length")
        batch = ops.shape(x)[0]
        split = lambda t: ops.reshape(t, (batch, length, self.num_heads, self.depth))  # noqa: E731
        q = split(self.query_dense(x)) / math.sqrt(self.depth)
        k, v = split(self.key_dense(x)), split(self.value_dense(x))
        features = ops.convert_to_tensor(relative_distance_features(length, self.model_dim // 6))
        relative = self.position_dense(self.feature_dropout(features, training=training))  # [2L-1, D]
        relative = ops.reshape(relative, (2 * length - 1, self.num_heads, self.depth))
        index = np.arange(length)[None, :] - np.arange(length)[:, None] + length - 1  # (i, j) -> j - i
        relative = ops.take(relative, ops.convert_to_tensor(index.astype(np.int32)), axis=0)  # [L, L, H, d]
        relative_logits = ops.einsum("bihd,ijhd->bhij", q + self.position_bias, relative)
        attended = ops.dot_product_attention(q + self.content_bias, k, v, bias=relative_logits, scale=1.0)
        return self.output_dense(ops.reshape(attended, (batch, length, self.model_dim)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.model_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_heads=self.num_heads, model_dim=self.model_dim, position_dropout=self.position_dropout)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionPooling1D(layers.Layer):
    """Attention pooling over windows of ``pool_size`` positions (Enformer / High Schoolers' ``AttentionPooling``).

    ``x [B, L, F]`` is cropped to a multiple of ``pool_size``, windows ``[B, L/p, p, F]`` get per-feature weights
    ``softmax_p(x W)`` (``W`` = F × F, no bias) and are summed -> ``[B, L // p, F]``.
    """

    def __init__(self, pool_size: int, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def build(self, input_shape):
        self.logits_dense = layers.Dense(input_shape[-1], use_bias=False, name="logits")
        self.logits_dense.build((None, input_shape[-1]))
        self.built = True

    def call(self, x):
        length, features = x.shape[1], x.shape[2]
        if length is None:
            raise ValueError(f"{self.name}: attention pooling needs a static sequence length")
        windows = length // self.pool_size
        x = ops.reshape(x[:, : windows * self.pool_size], (-1, windows, self.pool_size, features))
        weights = ops.softmax(self.logits_dense(x), axis=-2)
        return ops.sum(x * weights, axis=-2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // self.pool_size, input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pool_size=self.pool_size)
        return config


# --------------------------------------------------------------------------------------------- small layers
@keras.saving.register_keras_serializable(package=PACKAGE)
class LearnableSwish(layers.Layer):
    """``x * sigmoid(beta * x)`` with a trainable scalar ``beta`` (BioNML's ``Swish``; init ``beta``)."""

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_beta = float(beta)

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(self.initial_beta))
        self.built = True

    def call(self, x):
        return x * ops.sigmoid(ops.cast(self.beta, x.dtype) * x)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(beta=self.initial_beta)
        return config


@functools.lru_cache(maxsize=None)
def _swiglu_kernels():
    """The forward and backward XLA kernels of :class:`SwiGLU` (fixed beta)."""
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def forward(x):
        value, gate = tf.split(x, 2, axis=-1)
        return value * gate * tf.sigmoid(gate)

    @tf.function(jit_compile=True, autograph=False)
    def backward(x, d_outputs):
        value, gate = tf.split(x, 2, axis=-1)
        sigmoid = tf.sigmoid(gate)
        d_value = d_outputs * gate * sigmoid
        d_gate = d_outputs * value * sigmoid * (1.0 + gate * (1.0 - sigmoid))
        return tf.concat([d_value, d_gate], axis=-1)

    return forward, backward


def _swiglu_training(x):
    """``a * swish(b)`` of the halves of ``x``, whose gradient keeps only ``x``."""
    import tensorflow as tf

    forward_kernel, backward_kernel = _swiglu_kernels()

    @tf.custom_gradient
    def forward(x):
        return forward_kernel(x), lambda d_outputs: backward_kernel(x, d_outputs)

    return forward(x)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwiGLU(layers.Layer):
    """Gated linear unit with swish: the last axis is split in halves ``(a, b)`` and ``a * swish(b)`` returned.

    ``learnable_beta=True`` uses ``swish_beta(b) = b * sigmoid(beta * b)`` with a trainable ``beta`` (BioNML).
    Training on TensorFlow (fixed beta) runs the split, the swish and the product as one XLA-compiled kernel and
    the gradient as another, which keeps only the input; prediction and export run the plain ops.
    """

    def __init__(self, learnable_beta: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.learnable_beta = bool(learnable_beta)

    def build(self, input_shape):
        if input_shape[-1] % 2:
            raise ValueError(f"{self.name}: the last axis ({input_shape[-1]}) must be even")
        if self.learnable_beta:
            self.beta = self.add_weight(name="beta", shape=(), initializer="ones")
        self.built = True

    def call(self, x, training=None):
        if training and not self.learnable_beta and fusable_on_tensorflow(x):
            return _swiglu_training(x)
        value, gate = ops.split(x, 2, axis=-1)
        if self.learnable_beta:
            return value * gate * ops.sigmoid(ops.cast(self.beta, gate.dtype) * gate)
        return value * ops.silu(gate)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(learnable_beta=self.learnable_beta)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class PrependTokens(layers.Layer):
    """Prepend ``num_tokens`` learned tokens to ``x [B, L, D]`` -> ``[B, num_tokens + L, D]``.

    ``distinct=False`` learns ONE vector repeated ``num_tokens`` times (Unlock_DNA's projector tokens are a Dense
    layer applied to zeros, i.e. copies of its bias); ``distinct=True`` learns one vector per token (CLS tokens).
    """

    def __init__(self, num_tokens: int = 1, distinct: bool = True, initializer: Any = "zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = int(num_tokens)
        self.distinct = bool(distinct)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        rows = self.num_tokens if self.distinct else 1
        self.tokens = self.add_weight(name="tokens", shape=(rows, input_shape[-1]), initializer=self.initializer)
        self.built = True

    def call(self, x):
        tokens = self.tokens if self.distinct else ops.repeat(self.tokens, self.num_tokens, axis=0)
        tokens = ops.broadcast_to(ops.cast(tokens, x.dtype)[None], (ops.shape(x)[0], self.num_tokens, x.shape[-1]))
        return ops.concatenate([tokens, x], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + self.num_tokens
        return (input_shape[0], length, input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_tokens=self.num_tokens, distinct=self.distinct,
                      initializer=keras.initializers.serialize(self.initializer))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddPositionEmbedding(layers.Layer):
    """Add a learned embedding per position (``num_segments=None``) or per equal segment (e.g. 2 strands)."""

    def __init__(self, num_segments: int | None = None, initializer: Any = "uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_segments = num_segments
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        length = input_shape[1]
        if length is None:
            raise ValueError(f"{self.name}: a learned position embedding needs a static sequence length")
        if self.num_segments and length % self.num_segments:
            raise ValueError(f"{self.name}: length {length} does not split into {self.num_segments} segments")
        rows = self.num_segments or length
        self.embeddings = self.add_weight(name="embeddings", shape=(rows, input_shape[-1]),
                                          initializer=self.initializer)
        self.built = True

    def call(self, x):
        table = self.embeddings
        if self.num_segments:
            table = ops.repeat(table, x.shape[1] // self.num_segments, axis=0)
        return x + ops.cast(table, x.dtype)[None]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_segments=self.num_segments, initializer=keras.initializers.serialize(self.initializer))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class OneHotTokens(layers.Layer):
    """Integer tokens ``[B, L]`` -> one-hot ``[B, L, depth]`` float32; ids outside ``0..depth-1`` give zeros."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, tokens):
        return ops.one_hot(ops.cast(tokens, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(depth=self.depth)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReverseComplementTokens(layers.Layer):
    """Reverse complement of integer tokens ``[B, L]`` whose ids follow ``token_order`` (e.g. ``"ACGTN"``).

    Letters map to their complement's id (N to itself); ids past the alphabet (padding) are kept as they are.
    """

    COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}

    def __init__(self, token_order: str = "ACGTN", **kwargs):
        super().__init__(**kwargs)
        if sorted(token_order) != sorted("ACGTN"):
            raise ValueError(f"token_order must be a permutation of ACGTN, got {token_order!r}")
        self.token_order = token_order

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        table = [self.token_order.index(self.COMPLEMENT[letter]) for letter in self.token_order]
        n = len(table)
        lookup = ops.convert_to_tensor(np.asarray(table, dtype=np.int32))
        complement = ops.where(tokens < n, ops.take(lookup, ops.minimum(tokens, n - 1)), tokens)
        return ops.flip(complement, axis=1)

    def compute_output_spec(self, tokens):
        return keras.KerasTensor(tokens.shape, dtype="int32")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(token_order=self.token_order)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReverseComplementConv1D(layers.Layer):
    """Reverse-complement parameter sharing (Shrikumar et al. 2017) for a one-hot ``[B, L, 4]`` (ACGT) input.

    One convolution with the kernel ``W`` concatenated with its reverse complement ``W[::-1, ::-1, :]`` (flipped
    along width and bases): output ``[B, L', 2 * filters]`` = forward scan ‖ reverse-complement scan (Vaishnav et
    al.'s ``rc_Conv1D``; High Schoolers' ``RevCompConv1D``, whose extra filter-order flip is a channel permutation).
    The bias (if any) is shared by both halves.
    """

    def __init__(self, filters: int, kernel_size: int, padding: str = "same", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", kernel_regularizer: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        if input_shape[-1] != 4:
            raise ValueError(f"{self.name}: expects a 4-channel (A, C, G, T) one-hot input, got {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, 4, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        self.built = True

    def call(self, x):
        kernel = ops.concatenate([self.kernel, ops.flip(ops.flip(self.kernel, axis=0), axis=1)], axis=-1)
        outputs = ops.conv(x, ops.cast(kernel, x.dtype), strides=1, padding=self.padding)
        if self.use_bias:
            outputs = outputs + ops.cast(ops.concatenate([self.bias, self.bias]), outputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if self.padding == "valid" and length is not None:
            length = length - self.kernel_size + 1
        return (input_shape[0], length, 2 * self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, padding=self.padding, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer))
        return config


# --------------------------------------------------------------------------------------------- blocks
def apply_swiglu_feedforward(
    x,
    hidden_dim: int,
    output_dim: int | None = None,
    *,
    use_bias: bool = True,
    dropout: float = 0.0,
    output_dropout: float = 0.0,
    norm_epsilon: float | None = None,
    output_initializer: Any = "glorot_uniform",
    learnable_beta: bool = False,
    name: str,
):
    """[LayerNorm ->] Dense(hidden_dim) -> SwiGLU -> [Dropout ->] Dense(output_dim) [-> Dropout].

    ``hidden_dim`` is the width of the first Dense (the SwiGLU halves it): Unlock_DNA's ``Dense(4D) -> SwiGLU``
    has ``hidden_dim = 4D``; BUGF's ``Linear(D, 8D) -> SwiGLU`` has ``hidden_dim = 8D``.
    """
    output_dim = int(output_dim or x.shape[-1])
    if norm_epsilon is not None:
        x = FusedLayerNormalization(epsilon=norm_epsilon, name=f"{name}_norm")(x)
    x = layers.Dense(hidden_dim, use_bias=use_bias, name=f"{name}_expand")(x)
    x = SwiGLU(learnable_beta=learnable_beta, name=f"{name}_swiglu")(x)
    if dropout:
        x = FusedDropout(dropout, name=f"{name}_dropout")(x)
    x = layers.Dense(output_dim, use_bias=use_bias, kernel_initializer=output_initializer, name=f"{name}_project")(x)
    if output_dropout:
        x = FusedDropout(output_dropout, name=f"{name}_output_dropout")(x)
    return x


def apply_conformer_swiglu_block(
    x,
    *,
    num_heads: int = 8,
    key_dim: int | None = None,
    ff_mult: int = 4,
    kernel_size: int = 15,
    dropout: float = 0.1,
    use_bias: bool = False,
    norm_epsilon: float = 1e-6,
    conv_adds_norm: bool = False,
    name: str,
):
    """Unlock_DNA's Macaron/Conformer layer (``ConformerSASwiGLULayer``) on ``x [B, L, D]``.

    ``x + 0.5 FF1(x)`` -> ``x + Conv(x)`` (LN -> SeparableConv1D(D, k, relu) -> Dropout) -> LayerNorm (not
    residual) -> ``x + MHA(x, x)`` (``keras.layers.MultiHeadAttention``, ``key_dim`` default = D per head as in
    the original) -> ``x + 0.5 FF2(x)``; FF = LN -> Dense(ff_mult D) -> SwiGLU -> Dropout -> Dense(D) -> Dropout.
    ``conv_adds_norm``: the Prix Fixe PyTorch port's convolution residual ``x + (LN(x) + Conv(LN(x)))``
    (``prixfixe/unlockdna/add_blocks.py``: ``x1 = layernorm1(x); x1 = x1 + conv(x1); x = x + x1``).
    """
    width = int(x.shape[-1])
    half = lambda t, n: layers.Rescaling(0.5, name=n)(t)  # noqa: E731

    ff = apply_swiglu_feedforward(x, ff_mult * width, width, use_bias=use_bias, dropout=dropout,
                                  output_dropout=dropout, norm_epsilon=norm_epsilon, name=f"{name}_ff1")
    x = layers.Add(name=f"{name}_ff1_residual")([x, half(ff, f"{name}_ff1_half")])
    normed = FusedLayerNormalization(epsilon=norm_epsilon, name=f"{name}_conv_norm")(x)
    conv = FusedSeparableConv1D(width, kernel_size, padding="same", activation="relu", name=f"{name}_conv")(normed)
    conv = FusedDropout(dropout, name=f"{name}_conv_dropout")(conv)
    if conv_adds_norm:
        conv = layers.Add(name=f"{name}_conv_norm_residual")([normed, conv])
    x = layers.Add(name=f"{name}_conv_residual")([x, conv])
    x = FusedLayerNormalization(epsilon=norm_epsilon, name=f"{name}_attention_norm")(x)
    attention = MatMulMultiHeadAttention(num_heads=num_heads, key_dim=int(key_dim or width),
                                         name=f"{name}_attention")(x, x)
    x = layers.Add(name=f"{name}_attention_residual")([x, attention])
    ff = apply_swiglu_feedforward(x, ff_mult * width, width, use_bias=use_bias, dropout=dropout,
                                  output_dropout=dropout, norm_epsilon=norm_epsilon, name=f"{name}_ff2")
    return layers.Add(name=f"{name}_ff2_residual")([x, half(ff, f"{name}_ff2_half")])


@keras.saving.register_keras_serializable(package="seq2exp")
class ContextAttentionPooling(keras.layers.Layer):
    """Attention pooling with a learned context vector (Yang et al. 2016, "AttentionWithContext").

    ``u_t = tanh(x_t W + b)``, ``a = softmax_t(u_t . u)``, output ``sum_t a_t x_t``: ``[B, L, D] -> [B, D]``.
    Weights: ``W [D, D]`` (glorot), ``b [D]`` (zeros), ``u [D]`` (glorot).
    """

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(dim, dim), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(dim,), initializer="zeros")
        self.context = self.add_weight(name="context", shape=(dim,), initializer="glorot_uniform")
        self.built = True

    def call(self, x):
        hidden = ops.tanh(ops.matmul(x, self.kernel) + self.bias)
        weights = ops.softmax(ops.sum(hidden * self.context, axis=-1), axis=1)
        return ops.sum(x * weights[..., None], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
