"""Wen Group (rank 12): a 1-D U-Net with squeeze-and-excitation blocks around eight transformer blocks.

Source: team report + code (``model.py::Trans_UNet`` with ``EncoderSeBlock``, ``DecoderSeBlock``,
``SqueezeExcitation1DLayer``, ``TransformerBlock``, ``PositionEmbedding``; training ``dream_competition_2022.py``).
Faithful port::

    one-hot (112, 5: N channel first) -> 4 encoder SE blocks (kernel 11; 64, 128, 256, 256 filters):
        Conv1D(relu, he_normal) -> SE(2) -> BN -> Conv1D -> SE(2) -> BN* -> Dropout(0.1) [-> Conv1D(stride 2, relu)]
        (blocks 1-3 condense 112 -> 56 -> 28 -> 14; the skip is the pre-condensing output)
    -> features x sin(linspace(0, 200, 14))   (the team's multiplicative "PositionEmbedding", no weights)
    -> 8 x post-LN transformer block (MHA 8 heads, key_dim 256, FFN 128 relu, dropout 0.1, LN eps 1e-6) with extra
       residuals: x = T1(x); x1 = T2(x); x = T3(x1) + x1; x2 = T4(x); x = T5(x2) + x2; x3 = T6(x); x = T7(x3) + x3;
       x = T8(x)
    -> 3 decoder SE blocks (128 filters): Conv1DTranspose(stride 2) -> concat skip -> Conv -> SE -> BN -> Conv -> SE
       -> BN   (14 -> 28 -> 56 -> 112)
    -> 3 x [Conv1D(128 / 64 / 32, 11, relu, he_normal) -> SE(8)] -> Flatten (112 x 32)
    -> Dense 256 / 128 / 64 / 32 with LeakyReLU(0.1) and Dropout 0.2 / 0.2 / 0.1 / 0.1 -> Dense(1)

``BN*``: the second BatchNorm of every encoder block is called with ``training=False`` in the team's code, i.e. it
always normalises with its (never updated) moving statistics - probably a bug, but part of the submitted model;
``frozen_encoder_bn: true`` (default) keeps it (:class:`InferenceModeBatchNormalization`), ``false`` makes it an
ordinary BatchNorm.
Input: the team post-padded/truncated to 112 with N and one-hot encoded with Keras ``StringLookup`` (A, C, G, T
vocabulary), whose out-of-vocabulary (N) column comes FIRST; here ``n_value=0`` one-hot + an explicit N channel in
front (identical tensor). Estimated parameters (ARCHITECTURES_MORE.md): ~25.3 M.
"""
from __future__ import annotations

import keras
from keras import ops

from seq2exp.models.blocks.conv import apply_squeeze_excitation
from seq2exp.models.blocks.heads import n_tasks, regression_outputs
from seq2exp.models.blocks.layers import FusedDropout, append_n_channel
from seq2exp.models.blocks.transformer import apply_post_norm_transformer_block
from seq2exp.models.prixfixe import model_input, require_acgt_channels
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    "Port of the team's Keras code; the always-inference BatchNorm (training=False bug) kept as a layer; N channel "
    "first as StringLookup's OOV column."
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 112, "pad": "n_right", "trim": "right", "n_value": 0.0},
    "kernel_size": 11,
    "encoder_filters": [64, 128, 256, 256],
    "encoder_condense": [True, True, True, False],
    "encoder_dropout": 0.1,
    "se_ratio": 2,
    "frozen_encoder_bn": True,
    "transformer_heads": 8,
    "transformer_key_dim": 256,
    "transformer_ff_dim": 128,
    "transformer_dropout": 0.1,
    "transformer_blocks": 8,
    "decoder_filters": 128,
    "head_conv_filters": [128, 64, 32],
    "head_se_ratio": 8,
    "dense_units": [256, 128, 64, 32],
    "dense_dropout": [0.2, 0.2, 0.1, 0.1],
    "leaky_slope": 0.1,
}

SMOKE_CONFIG: dict = {  # one condensing encoder block + the bottleneck block, so one decoder block
    "kernel_size": 3, "encoder_filters": [4, 8], "encoder_condense": [True, False], "transformer_heads": 2,
    "transformer_key_dim": 4, "transformer_ff_dim": 8, "transformer_blocks": 3, "decoder_filters": 8,
    "head_conv_filters": [8], "dense_units": [8], "dense_dropout": [0.1],
}


@keras.saving.register_keras_serializable(package="seq2exp")
class SinePositionScale(keras.layers.Layer):
    """Multiply ``x [B, L, C]`` by ``sin(p * 200 / L)`` for positions ``p = 0..L-1`` (Wen Group's
    ``PositionEmbedding``: ``tf.range(0, 200, 200 / L)`` -> sin -> multiply). No weights."""

    def call(self, x):
        length = x.shape[1]
        positions = ops.arange(length, dtype="float32") * (200.0 / length)
        return x * ops.cast(ops.sin(positions), x.dtype)[None, :, None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="seq2exp")
class InferenceModeBatchNormalization(keras.layers.BatchNormalization):
    """A BatchNorm that always runs in inference mode: it normalises with its moving statistics, which therefore
    never change (Wen Group's ``BatchNormalization()(x, training=False)``: gamma and beta still train). Keras 3
    lets an outer ``training=True`` override an argument fixed in the functional graph, hence a layer."""

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)


def _conv(x, filters: int, kernel_size: int, *, name: str, strides: int = 1):
    return keras.layers.Conv1D(filters, kernel_size, strides=strides, padding="same", activation="relu",
                               kernel_initializer="he_normal", name=name)(x)


def apply_se_conv_pair(x, filters: int, config: dict, *, name: str, frozen_last_bn: bool = False):
    """[Conv1D(relu) -> SE -> BN] x 2; ``frozen_last_bn`` calls the second BN with ``training=False`` (encoder)."""
    for index in (1, 2):
        x = _conv(x, filters, config["kernel_size"], name=f"{name}_conv{index}")
        x = apply_squeeze_excitation(x, ratio=config["se_ratio"], name=f"{name}_se{index}")
        frozen = index == 2 and frozen_last_bn
        layer = InferenceModeBatchNormalization if frozen else keras.layers.BatchNormalization
        x = layer(name=f"{name}_bn{index}")(x)
    return x


def build_wen_group(config: dict) -> keras.Model:
    """Wen Group's Trans-UNet regression model."""
    require_acgt_channels(config, "wen_group")
    inputs = model_input(config)
    x = append_n_channel(inputs, first=True, name="n_channel")
    skips = []
    for index, (filters, condense) in enumerate(zip(config["encoder_filters"], config["encoder_condense"])):
        name = f"encoder{index + 1}"
        x = apply_se_conv_pair(x, filters, config, name=name, frozen_last_bn=config["frozen_encoder_bn"])
        x = FusedDropout(config["encoder_dropout"], name=f"{name}_dropout")(x)
        skips.append(x)
        if condense:
            x = _conv(x, filters, config["kernel_size"], strides=2, name=f"{name}_condense")
    x = SinePositionScale(name="position_scale")(x)
    for index in range(1, config["transformer_blocks"] + 1):
        y = apply_post_norm_transformer_block(
            x, num_heads=config["transformer_heads"], key_dim=config["transformer_key_dim"],
            ff_dim=config["transformer_ff_dim"], dropout=config["transformer_dropout"], name=f"transformer{index}")
        # the team's extra residuals: odd blocks 3, 5, 7 add the output of the block before them
        x = keras.layers.Add(name=f"transformer{index}_skip")([y, x]) if index % 2 == 1 and 1 < index < 8 else y
    for index, skip in enumerate(reversed(skips[:-1])):
        name = f"decoder{index + 1}"
        x = keras.layers.Conv1DTranspose(config["decoder_filters"], config["kernel_size"], strides=2, padding="same",
                                         name=f"{name}_upsample")(x)
        x = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([x, skip])
        x = apply_se_conv_pair(x, config["decoder_filters"], config, name=name)
    for index, filters in enumerate(config["head_conv_filters"]):
        x = _conv(x, filters, config["kernel_size"], name=f"head_conv{index + 1}")
        x = apply_squeeze_excitation(x, ratio=config["head_se_ratio"], name=f"head_se{index + 1}")
    x = keras.layers.Flatten(name="flatten")(x)
    for index, (units, rate) in enumerate(zip(config["dense_units"], config["dense_dropout"])):
        x = keras.layers.Dense(units, name=f"dense{index + 1}")(x)
        x = keras.layers.LeakyReLU(negative_slope=config["leaky_slope"], name=f"dense{index + 1}_act")(x)
        x = FusedDropout(rate, name=f"dense{index + 1}_dropout")(x)
    x = keras.layers.Dense(n_tasks(), name="output")(x)
    return keras.Model(inputs, regression_outputs(x), name="wen_group")


register(Architecture(
    name="wen_group", builder=build_wen_group, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="Wen Group", rank=12,
    source="report + team code model.py::Trans_UNet", fidelity="faithful",
    description="U-Net with SE blocks around 8 transformer blocks (key_dim 256), conv/SE head + 4-layer MLP",
))
