"""Auth (rank 23): one wide convolution, a BiLSTM and two dense layers on the 80-nt variable region.

Source: team report + code (``train.py``, preprocessing ``edited.py``). Faithful port::

    one-hot (80, 4) -> Conv1D(1000, 30, relu, valid) -> MaxPool(3, 3) -> Dropout(0.2)
    -> BiLSTM(320, return_sequences, he_normal) -> Dropout(0.2) -> Flatten (17 x 640)
    -> Dense(64, relu) -> Dense(64, relu) -> Dense(1, linear)

The code's extra ``Activation('relu')`` after the second ReLU dense layer is an identity and is left out. The
report says the output is ReLU; the code's final Dense is linear: the code is followed. Input: the 80-nt random
region (constant 17/13-nt flanks stripped, as the team's ``edited.py``); the team trained only on 110-nt rows without
N, which is a data filter, not part of the model. Estimated parameters (ARCHITECTURES_MORE.md): ~4.2 M.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.blocks.layers import FusedDropout
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    'Exact port (the redundant second ReLU is an identity and dropped).'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 80, "region": "variable", "pad": "n_right", "trim": "right",
              "n_value": 0.0},
    "conv_filters": 1000,
    "conv_kernel": 30,
    "pool": 3,
    "dropout": 0.2,
    "lstm_units": 320,
    "dense_units": [64, 64],
}

SMOKE_CONFIG: dict = {"conv_filters": 16, "lstm_units": 8, "dense_units": [8, 8]}


def build_auth(config: dict) -> keras.Model:
    """Auth's Conv -> BiLSTM -> 2 x Dense regression model."""
    inputs = model_input(config)
    x = keras.layers.Conv1D(config["conv_filters"], config["conv_kernel"], activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling1D(config["pool"], strides=config["pool"], name="pool")(x)
    x = FusedDropout(config["dropout"], name="conv_dropout")(x)
    x = apply_bidirectional_rnn(x, config["lstm_units"], name="bilstm", kernel_initializer="he_normal")
    x = FusedDropout(config["dropout"], name="lstm_dropout")(x)
    outputs = apply_mlp_regression_head(x, config["dense_units"], name="head")
    return keras.Model(inputs, outputs, name="auth")


register(Architecture(
    name="auth", builder=build_auth, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="Auth", rank=23,
    source="report + team code train.py", fidelity="faithful",
    description="Conv1D(1000, 30) -> BiLSTM(320) -> 2 x Dense(64) on the 80-nt variable region",
))
