"""High Schoolers Are All You Need (rank 7): RC parameter-sharing conv, dilated residual CNN with attention
pooling, one relative-position transformer layer and an MLP.

Source: ``../shared/reference/teams/high_schoolers/code/Training Code/ModelTraining.py`` (``RevCompConv1D``,
``residual_block``, ``AttentionPooling``, ``MultiHeadAttention2`` and the functional model at the end),
``DataProcessing.py``; paper Table 1 (4.7M parameters). The original is TF/Keras functional code.

I/O: input ``"inputs"`` = one-hot ``[B, 111, 4]`` (A, C, G, T; N and padding all-zero), sequences right-padded
(``EncodingSpec(kind="onehot", length=111, pad="n_right", n_value=0.0)``); output ``"expression"`` ``[B]`` (MSE on
the raw expression; quantile post-processing belongs to the training config).

Graph: RC-conv(192 filters, k19, fwd ‖ RC = 384 ch) -> BN -> exponential -> dilated residual block (4 layers,
dilations 1/2/4/8) -> Dropout(0.2) -> attention pooling(4) [111 -> 27] -> Conv1D(256, k9, ReLU) -> BN -> ReLU ->
residual block (2 layers) -> attention pooling(4) [27 -> 6] -> Dropout(0.3) -> Conv1D(192, k7, linear) -> BN -> ReLU ->
residual block (2 layers) -> attention pooling(2) [6 -> 3] -> Dropout(0.1) -> relative MHA (8 heads, d 192,
Enformer distance features) -> Dropout(0.1) -> add -> LayerNorm -> FFN Conv1x1(1024) -> Dropout -> ReLU ->
Conv1x1(192) -> Dropout -> add -> LayerNorm -> Flatten -> 2 × [Dense(256) -> BN -> ReLU -> Dropout(0.4)] -> Dense(1).
The team's nested ``ProfileModel`` wrappers (whose RC-augmenting ``train_step`` is never used by the outer plain
``keras.Model``) are flattened into one graph.
"""
from __future__ import annotations

import keras
from keras import layers

from seq2exp.models.blocks.attention import AttentionPooling1D, RelativeMultiHeadAttention, ReverseComplementConv1D
from seq2exp.models.blocks.conv import KERAS_BN
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.blocks.layers import FusedDropout, FusedLayerNormalization
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

DEFAULT_CONFIG = {
    "input": {"kind": "onehot", "length": 111, "region": "full", "pad": "n_right", "trim": "right", "n_value": 0.0},
    "rc_filters": 192,
    "rc_kernel_size": 19,
    "stages": [  # after the RC conv: (conv filters, kernel size) or None, residual layers, pool, dropout
        {"filters": None, "kernel_size": None, "residual_layers": 4, "pool": 4, "dropout_before_pool": 0.2,
         "dropout_after_pool": 0.0},
        {"filters": 256, "kernel_size": 9, "residual_layers": 2, "pool": 4, "dropout_before_pool": 0.0,
         "dropout_after_pool": 0.3, "conv_activation": "relu"},
        # ModelTraining.py line 404: Conv1D(filters=192, kernel_size=7, padding='same') has no activation
        {"filters": 192, "kernel_size": 7, "residual_layers": 2, "pool": 2, "dropout_before_pool": 0.0,
         "dropout_after_pool": 0.1, "conv_activation": None},
    ],
    "residual_dropout": 0.1,
    "attention_heads": 8,
    "ffn_units": 1024,
    "transformer_dropout": 0.1,
    "mlp_units": [256, 256],
    "mlp_dropout": 0.4,
}
SMOKE_CONFIG = {
    "rc_filters": 6,
    "stages": [
        {"filters": None, "kernel_size": None, "residual_layers": 1, "pool": 4, "dropout_before_pool": 0.2,
         "dropout_after_pool": 0.0},
        {"filters": 12, "kernel_size": 5, "residual_layers": 2, "pool": 4, "dropout_before_pool": 0.0,
         "dropout_after_pool": 0.1},
    ],
    "attention_heads": 2,
    "ffn_units": 16,
    "mlp_units": [8],
}


def apply_dilated_residual_block(x, num_layers: int, *, name: str, kernel_size: int = 3, dropout: float = 0.1):
    """Conv(k, no bias) -> BN, then (ReLU -> Dropout -> Conv(k, dilation 2^i) -> BN) for i = 1..n-1; + x; ReLU."""
    filters = int(x.shape[-1])
    y = layers.Conv1D(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_conv0")(x)
    y = layers.BatchNormalization(**KERAS_BN, name=f"{name}_bn0")(y)
    for index in range(1, num_layers):
        y = layers.Activation("relu", name=f"{name}_relu{index}")(y)
        y = FusedDropout(dropout, name=f"{name}_dropout{index}")(y)
        y = layers.Conv1D(filters, kernel_size, padding="same", dilation_rate=2**index, name=f"{name}_conv{index}")(y)
        y = layers.BatchNormalization(**KERAS_BN, name=f"{name}_bn{index}")(y)
    y = layers.Add(name=f"{name}_residual")([x, y])
    return layers.Activation("relu", name=f"{name}_relu")(y)


def build_high_schoolers(config: dict) -> keras.Model:
    """High Schoolers' RC-conv / dilated-residual / attention-pooling / relative-attention model."""
    inputs = model_input(config)
    x = ReverseComplementConv1D(config["rc_filters"], config["rc_kernel_size"], padding="same", use_bias=True,
                                name="rc_conv")(inputs)
    x = layers.BatchNormalization(**KERAS_BN, name="rc_bn")(x)
    x = layers.Activation("exponential", name="rc_exp")(x)
    for index, stage in enumerate(config["stages"]):
        name = f"stage{index}"
        if stage["filters"]:
            x = layers.Conv1D(stage["filters"], stage["kernel_size"], padding="same",
                              activation=stage.get("conv_activation", "relu"),
                              name=f"{name}_conv")(x)
            x = layers.BatchNormalization(**KERAS_BN, name=f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_relu")(x)
        x = apply_dilated_residual_block(x, stage["residual_layers"], dropout=config["residual_dropout"],
                                         name=f"{name}_residual")
        if stage["dropout_before_pool"]:
            x = FusedDropout(stage["dropout_before_pool"], name=f"{name}_dropout")(x)
        x = AttentionPooling1D(stage["pool"], name=f"{name}_pool")(x)
        if stage["dropout_after_pool"]:
            x = FusedDropout(stage["dropout_after_pool"], name=f"{name}_pool_dropout")(x)

    rate = config["transformer_dropout"]
    attended = RelativeMultiHeadAttention(config["attention_heads"], int(x.shape[-1]), position_dropout=rate,
                                          name="attention")(x)
    attended = FusedDropout(rate, name="attention_dropout")(attended)
    x = FusedLayerNormalization(name="attention_norm")(layers.Add(name="attention_residual")([x, attended]))
    ffn = layers.Conv1D(config["ffn_units"], 1, name="ffn_expand")(x)
    ffn = FusedDropout(rate, name="ffn_dropout")(ffn)
    ffn = layers.Activation("relu", name="ffn_relu")(ffn)
    ffn = layers.Conv1D(int(x.shape[-1]), 1, name="ffn_project")(ffn)
    ffn = FusedDropout(rate, name="ffn_output_dropout")(ffn)
    x = FusedLayerNormalization(name="ffn_norm")(layers.Add(name="ffn_residual")([x, ffn]))
    outputs = apply_mlp_regression_head(x, config["mlp_units"], activation="relu", dropout=config["mlp_dropout"],
                                        batch_norm=True, bn=KERAS_BN, name="head")
    return keras.Model(inputs, outputs, name="high_schoolers")


register(Architecture(
    name="high_schoolers", builder=build_high_schoolers, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=4_700_000, head="regression", team="High Schoolers Are All You Need",
    paper_params_source="paper Table 1 (4.7M)",
    source="teams/high_schoolers/code/Training Code/ModelTraining.py; paper Table 1", fidelity="faithful", rank=7,
    description="RC conv + dilated residual CNN + attention pooling + relative-position MHA + MLP",
))
