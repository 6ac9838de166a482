"""Transformer encoder blocks shared by the attention architectures, as ``apply_*(x, ..., name=)`` functions.

- :class:`SinusoidalPositionEncoding` (Vaswani et al.), :func:`apply_feedforward`.
- :func:`apply_post_norm_transformer_block` (BERT / PyTorch ``nn.TransformerEncoderLayer`` / Keras-tutorial block)
  and :func:`apply_post_norm_transformer_stack` (PyTorch ``nn.TransformerEncoder``).
- :func:`apply_bert_encoder` + :func:`apply_bert_pooler_head` (= :func:`apply_bert_regressor`) +
  :class:`TokenAttentionMask`: BERT on integer tokens.
- :func:`apply_pre_norm_relative_transformer_block`: Enformer's block on ``attention.RelativeMultiHeadAttention``.
"""
from __future__ import annotations

import keras
from keras import ops

from seq2exp.models.blocks.attention import (
    AddPositionEmbedding,
    MatMulMultiHeadAttention,
    PrependTokens,
    RelativeMultiHeadAttention,
)
from seq2exp.models.blocks.heads import n_tasks
from seq2exp.models.blocks.layers import FusedDropout, FusedLayerNormalization


@keras.saving.register_keras_serializable(package="seq2exp")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Add the fixed sine/cosine position encoding of Vaswani et al. to ``x [B, L, D]`` (no weights).

    ``PE[p, 2i] = sin(p / 10000^(2i/D))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/D))``. ``input_scale`` multiplies ``x``
    first (d2l-style ``embedding * sqrt(D)``).
    """

    def __init__(self, input_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.input_scale = float(input_scale)

    def call(self, x):
        length, dim = x.shape[1], x.shape[2]
        positions = ops.arange(length, dtype="float32")[:, None]
        exponents = ops.arange(0, dim, 2, dtype="float32") / float(dim)
        angles = positions / ops.power(10000.0, exponents)[None, :]  # [L, ceil(D/2)]
        table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, -1))[:, :dim]
        return x * self.input_scale + ops.cast(table, x.dtype)[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(input_scale=self.input_scale)
        return config


def apply_feedforward(x, hidden_units: int, *, name: str, activation: str = "relu", output_dim: int | None = None,
                      kernel_initializer="glorot_uniform"):
    """Position-wise feed-forward ``Dense(hidden, activation) -> Dense(output_dim or D)``."""
    x_dim = int(x.shape[-1])
    x = keras.layers.Dense(hidden_units, activation=activation, kernel_initializer=kernel_initializer,
                           name=f"{name}_dense1")(x)
    return keras.layers.Dense(output_dim or x_dim, kernel_initializer=kernel_initializer, name=f"{name}_dense2")(x)


def apply_post_norm_transformer_block(
    x, *, num_heads: int, key_dim: int, ff_dim: int, name: str, dropout: float = 0.0,
    attention_dropout: float = 0.0, ff_activation: str = "relu", epsilon: float = 1e-6, norm_axis=-1,
    attention_mask=None, kernel_initializer="glorot_uniform",
):
    """The original (post-LN) transformer encoder block, as BERT, PyTorch ``nn.TransformerEncoderLayer`` and most
    Keras-tutorial blocks: ``x = LN(x + Drop(MHA(x)))``, ``x = LN(x + Drop(FFN(x)))``.

    Args:
        num_heads / key_dim: ``keras.layers.MultiHeadAttention`` heads and per-head query/key/value size.
        ff_dim: hidden units of the feed-forward network (``ff_activation``).
        norm_axis: LayerNormalization axis; ``[1, 2]`` normalises over positions and features (PyTorch
            ``LayerNorm([L, D])``, Zeta).
        attention_mask: optional boolean ``[B, T, S]`` (or broadcastable ``[B, 1, S]``) mask, True = attend.
    """
    attended = MatMulMultiHeadAttention(num_heads, key_dim, dropout=attention_dropout,
                                        kernel_initializer=kernel_initializer, name=f"{name}_attention")(
        x, x, attention_mask=attention_mask)
    attended = FusedDropout(dropout, name=f"{name}_attention_dropout")(attended)
    x = keras.layers.Add(name=f"{name}_attention_add")([x, attended])
    x = FusedLayerNormalization(axis=norm_axis, epsilon=epsilon, name=f"{name}_attention_norm")(x)
    fed = apply_feedforward(x, ff_dim, name=f"{name}_ffn", activation=ff_activation,
                            kernel_initializer=kernel_initializer)
    fed = FusedDropout(dropout, name=f"{name}_ffn_dropout")(fed)
    x = keras.layers.Add(name=f"{name}_ffn_add")([x, fed])
    return FusedLayerNormalization(axis=norm_axis, epsilon=epsilon, name=f"{name}_ffn_norm")(x)


def apply_post_norm_transformer_stack(
    x, *, num_layers: int, num_heads: int, ff_dim: int, dropout: float, name: str, epsilon: float = 1e-5,
    norm_axis=-1,
):
    """PyTorch ``nn.TransformerEncoder`` of ``num_layers`` default ``nn.TransformerEncoderLayer`` blocks: post-LN
    :func:`apply_post_norm_transformer_block` of ``num_heads`` heads of ``D // num_heads``, ReLU FFN ``ff_dim``,
    ``dropout`` on attention weights and residual branches, LayerNorm ``epsilon`` 1e-5. Blocks are named
    ``{name}0, {name}1, ...``."""
    dim = int(x.shape[-1])
    for index in range(num_layers):
        x = apply_post_norm_transformer_block(
            x, num_heads=num_heads, key_dim=dim // num_heads, ff_dim=ff_dim, dropout=dropout,
            attention_dropout=dropout, epsilon=epsilon, norm_axis=norm_axis, name=f"{name}{index}")
    return x


def apply_bert_encoder(tokens, *, vocab_size: int, hidden_size: int, num_layers: int, num_heads: int,
                       intermediate_size: int, name: str, dropout: float = 0.1, pad_token: int | None = None):
    """A BERT encoder on integer tokens ``[B, L]``: token embedding + a prepended learned [CLS] token + learned
    absolute positions -> LayerNorm -> Dropout -> ``num_layers`` post-LN GELU blocks (LN eps 1e-12, init
    N(0, 0.02), attention and hidden dropout ``dropout``). Returns ``[B, 1 + L, hidden]`` (position 0 = [CLS]).

    ``pad_token`` (if given) is masked out of attention, as BERT's ``attention_mask``. BERT's token-type embedding
    is left out (one segment only: it would be a constant vector added everywhere).
    """
    init = keras.initializers.TruncatedNormal(stddev=0.02)
    x = keras.layers.Embedding(vocab_size, hidden_size, embeddings_initializer=init, name=f"{name}_token_embedding")(
        tokens)
    x = PrependTokens(1, initializer=init, name=f"{name}_cls")(x)
    x = AddPositionEmbedding(initializer=init, name=f"{name}_position_embedding")(x)
    x = FusedLayerNormalization(epsilon=1e-12, name=f"{name}_embedding_norm")(x)
    x = FusedDropout(dropout, name=f"{name}_embedding_dropout")(x)
    mask = None
    if pad_token is not None:
        mask = TokenAttentionMask(pad_token, prepended=1, name=f"{name}_attention_mask")(tokens)
    for index in range(num_layers):
        x = apply_post_norm_transformer_block(
            x, num_heads=num_heads, key_dim=hidden_size // num_heads, ff_dim=intermediate_size,
            name=f"{name}_layer{index}", dropout=dropout, attention_dropout=dropout, ff_activation="gelu",
            epsilon=1e-12, attention_mask=mask, kernel_initializer=init)
    return x


def apply_bert_pooler_head(sequence, *, name: str, dropout: float = 0.1) -> dict:
    """``BertForSequenceClassification(num_labels=1)``: [CLS] -> Dense(hidden, tanh) -> Dropout -> Dense(1)."""
    init = keras.initializers.TruncatedNormal(stddev=0.02)
    cls = keras.layers.Cropping1D((0, sequence.shape[1] - 1), name=f"{name}_cls_token")(sequence)
    cls = keras.layers.Flatten(name=f"{name}_cls_flatten")(cls)
    pooled = keras.layers.Dense(sequence.shape[-1], activation="tanh", kernel_initializer=init,
                                name=f"{name}_pooler")(cls)
    pooled = FusedDropout(dropout, name=f"{name}_dropout")(pooled)
    return keras.layers.Dense(n_tasks(), kernel_initializer=init, name=f"{name}_output")(pooled)


def apply_bert_regressor(tokens, config: dict, *, pad_token: int | None = None, name: str = "bert"):
    """:func:`apply_bert_encoder` + :func:`apply_bert_pooler_head` with the sizes of a model config
    (``vocab_size``, ``hidden_size``, ``num_layers``, ``num_heads``, ``intermediate_size``, ``dropout``): ``[B, 1]``."""
    sequence = apply_bert_encoder(tokens, vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                                  num_layers=config["num_layers"], num_heads=config["num_heads"],
                                  intermediate_size=config["intermediate_size"], dropout=config["dropout"],
                                  pad_token=pad_token, name=name)
    return apply_bert_pooler_head(sequence, name=f"{name}_head", dropout=config["dropout"])


@keras.saving.register_keras_serializable(package="seq2exp")
class TokenAttentionMask(keras.layers.Layer):
    """``tokens [B, L]`` -> boolean attention mask ``[B, 1, prepended + L]``: False on ``pad_token`` keys, True on
    the ``prepended`` (e.g. [CLS]) positions in front."""

    def __init__(self, pad_token: int, prepended: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.pad_token = int(pad_token)
        self.prepended = int(prepended)

    def call(self, tokens):
        keep = ops.not_equal(tokens, self.pad_token)
        if self.prepended:
            keep = ops.concatenate([ops.ones((ops.shape(tokens)[0], self.prepended), dtype="bool"), keep], axis=1)
        return keep[:, None, :]

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + self.prepended
        return (input_shape[0], 1, length)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pad_token=self.pad_token, prepended=self.prepended)
        return config


def apply_pre_norm_relative_transformer_block(
    x, *, num_heads: int, ff_dim: int, name: str, ff_activation: str = "relu", dropout: float = 0.0,
    position_dropout: float = 0.0, epsilon: float = 1e-5,
):
    """Enformer's transformer block (pre-LN, relative positions), as Peppa's and MadLab's:
    ``x += Drop(RelMHA(LN(x)))``; ``x += Drop(Dense(D)(act(Drop(Dense(ff_dim)(LN(x))))))``.

    The attention is ``attention.RelativeMultiHeadAttention`` (exponential / central-mask / gamma distance features,
    learned ``r_w``/``r_r``) with key = value size ``D / num_heads``.
    """
    dim = int(x.shape[-1])
    y = FusedLayerNormalization(epsilon=epsilon, name=f"{name}_attention_norm")(x)
    y = RelativeMultiHeadAttention(num_heads, dim, position_dropout=position_dropout, name=f"{name}_attention")(y)
    y = FusedDropout(dropout, name=f"{name}_attention_dropout")(y)
    x = keras.layers.Add(name=f"{name}_attention_add")([x, y])
    y = FusedLayerNormalization(epsilon=epsilon, name=f"{name}_ffn_norm")(x)
    y = keras.layers.Dense(ff_dim, name=f"{name}_ffn_dense1")(y)
    y = FusedDropout(dropout, name=f"{name}_ffn_dropout1")(y)
    y = keras.layers.Activation(ff_activation, name=f"{name}_ffn_act")(y)
    y = keras.layers.Dense(dim, name=f"{name}_ffn_dense2")(y)
    y = FusedDropout(dropout, name=f"{name}_ffn_dropout2")(y)
    return keras.layers.Add(name=f"{name}_ffn_add")([x, y])
