"""MadLab (rank 22): multi-resolution convolutions, two Enformer-style relative-attention blocks and a tiny BiLSTM.

Source: team report + notebook (``Train_test_code.py`` cell 33 hyper-parameters, cell 34 ``create_model``; the
attention is Enformer's Sonnet ``MultiheadAttention`` copied into the notebook). Faithful port::

    one-hot (110, 4), left-padded with N -> 4 parallel branches (kernel 15, 20, 25, 30):
        Conv1D(192, k, same, he_normal) -> BN -> swish -> Conv1D(96, 1) -> BN -> swish;   branches summed
    -> 2 x pre-LN block: LN -> relative MHA (1 head, key = value = 96; exponential / central-mask / gamma
       distance features; no dropout) -> Add -> LN -> Linear(192) -> swish -> Linear(96) -> Add
    -> Bidirectional(LSTM(4, activation swish)) -> Dense(1)       (L2 1e-3 on the conv and output kernels)

Input: the team kept the last 110 nt and left-padded shorter ones with N = [0, 0, 0, 0] (Vaishnav convention); the
data filter (drop each integer-valued training row with probability 0.5) is in ``training/configs/madlab.yaml``.
The attention layer (``attention.RelativeMultiHeadAttention``) has Enformer's projections (no q/k/v bias, output
bias) and 96 relative-position features as the team's; the fixed TPU batch shape is not kept.
Estimated parameters (ARCHITECTURES_MORE.md): ~0.32 M.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.heads import n_tasks, regression_outputs
from seq2exp.models.blocks.transformer import apply_pre_norm_relative_transformer_block
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    "Port of the team's notebook; the Sonnet relative attention as seq2exp's shared layer (same projections, 96 "
    'features).'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 110, "pad": "n_left", "trim": "left", "n_value": 0.0},
    "conv_kernels": [15, 20, 25, 30],
    "hidden": 96,  # "reduce_hidden": branch output width; the first convolutions have 2x
    "activation": "swish",
    "l2": 1e-3,
    "transformer_blocks": 2,
    "num_heads": 1,
    "lstm_units": 4,
    "layer_norm_epsilon": 1e-3,  # Keras LayerNormalization default
}

SMOKE_CONFIG: dict = {"conv_kernels": [3, 5], "hidden": 12, "transformer_blocks": 1, "lstm_units": 2}


def build_madlab(config: dict) -> keras.Model:
    """MadLab's conv -> relative-attention transformer -> BiLSTM regression model."""
    regularizer = lambda: keras.regularizers.L2(config["l2"]) if config["l2"] else None  # noqa: E731
    hidden, activation = config["hidden"], config["activation"]
    inputs = model_input(config)
    branches = []
    for kernel in config["conv_kernels"]:
        x = inputs
        for width, size in ((2 * hidden, kernel), (hidden, 1)):
            prefix = f"branch{kernel}_k{size}"
            x = keras.layers.Conv1D(width, size, padding="same", kernel_initializer="he_normal",
                                    kernel_regularizer=regularizer(), name=f"{prefix}_conv")(x)
            x = keras.layers.BatchNormalization(name=f"{prefix}_bn")(x)
            x = keras.layers.Activation(activation, name=f"{prefix}_act")(x)
        branches.append(x)
    x = keras.layers.Add(name="branches_sum")(branches) if len(branches) > 1 else branches[0]
    for index in range(config["transformer_blocks"]):
        x = apply_pre_norm_relative_transformer_block(
            x, num_heads=config["num_heads"], ff_dim=2 * hidden, ff_activation=activation,
            epsilon=config["layer_norm_epsilon"], name=f"transformer{index + 1}")
    lstm = keras.layers.LSTM(config["lstm_units"], activation=activation, kernel_initializer="he_normal",
                             name="bilstm_lstm")
    x = keras.layers.Bidirectional(lstm, name="bilstm")(x)
    x = keras.layers.Dense(n_tasks(), kernel_regularizer=regularizer(), name="output")(x)
    return keras.Model(inputs, regression_outputs(x), name="madlab")


register(Architecture(
    name="madlab", builder=build_madlab, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="MadLab", rank=22,
    source="report + team notebook Train_test_code.ipynb (create_model)", fidelity="faithful",
    description="4 summed multi-kernel conv branches -> 2 Enformer relative-attention blocks -> BiLSTM(4, swish)",
))
