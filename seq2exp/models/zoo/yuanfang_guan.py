"""Yuanfang Guan (rank 13): five parallel CNN -> BiLSTM -> multi-head-attention towers, averaged.

Source: team code (``cnn_sigmoid_1024.py::cnn1d``; training ``train_deeplearning.py``, prediction
``predict_deeplearning.py``); the report is a few lines. Faithful port; each of the 5 identical towers::

    BN -> Conv1D(16, 3, relu, valid) -> BN -> Conv1D(32, 3) -> BN -> Conv1D(64, 3) -> BN -> Conv1D(128, 3) -> BN
    -> Conv1D(256, 3)  (128 -> 118 positions) -> BiLSTM(128, seq) -> BiLSTM(64, seq)
    -> multi-head attention (5 heads, d_k = d_v = 64, no-bias q/k/v, logits / sqrt(300), output Dense(300),
       LayerNorm on the output, NO residual) -> GlobalAveragePooling -> Dense(60, relu) -> Dense(1, sigmoid)

Outputs: ``towers`` [B, 5] (the five sigmoid outputs the team trained, each with MSE and loss weight 0.2) and
``expression`` = their mean (the team's prediction). Input: the team kept 110-nt sequences, removed 10 nt at both
ends (-> 90 nt, cutting into the constant flanks) and zero-padded to 128; here ``length=90, trim="center"`` and an
in-model zero padding to 128. One-hot order A,C,T,G with other letters zero in the team's code: ACGT order here
(a fixed channel permutation) and N = 0. Targets: min-max scaled to [0, 1], rows with expression 0 or 17 dropped
(``training/configs/yuanfang_guan.yaml``). ``CuDNNLSTM`` keeps two bias vectors per gate; Keras ``LSTM`` one, so the
port has 8 x units fewer parameters per direction than the team's ~4.65 M estimate.
"""
from __future__ import annotations

import math

import keras
from keras import ops

from seq2exp.models.blocks.attention import BiasedMultiHeadAttention
from seq2exp.models.blocks.conv import KERAS_BN
from seq2exp.models.blocks.heads import n_tasks
from seq2exp.models.blocks.layers import FusedLayerNormalization
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    'Keras LSTM (one bias per gate, CuDNNLSTM had two); prediction = mean of the 5 sigmoid towers; the per-tower '
    'MSE (weights 0.2) becomes MSE on the mean in the default config.'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 90, "pad": "zero_right", "trim": "center", "n_value": 0.0},
    "padded_length": 128,
    "towers": 5,
    "conv_filters": [16, 32, 64, 128, 256],
    "conv_kernel": 3,
    "lstm_units": [128, 64],
    "attention_heads": 5,
    "attention_key_dim": 64,
    "attention_model_dim": 300,
    "dense_units": 60,
}

SMOKE_CONFIG: dict = {"input": {"length": 20}, "padded_length": 30, "towers": 2, "conv_filters": [4, 4, 8, 8, 8],
                      "lstm_units": [4, 4], "attention_heads": 2, "attention_key_dim": 4, "attention_model_dim": 8,
                      "dense_units": 4}


def apply_guan_tower(x, config: dict, *, name: str):
    """One tower: BN/conv stack -> 2 BiLSTMs -> residual-free MHA + LayerNorm -> pooled MLP -> sigmoid [B, 1]."""
    for index, filters in enumerate(config["conv_filters"]):
        x = keras.layers.BatchNormalization(**KERAS_BN, name=f"{name}_bn{index + 1}")(x)
        x = keras.layers.Conv1D(filters, config["conv_kernel"], activation="relu", name=f"{name}_conv{index + 1}")(x)
    for index, units in enumerate(config["lstm_units"]):
        x = apply_bidirectional_rnn(x, units, name=f"{name}_bilstm{index + 1}")
    model_dim = config["attention_model_dim"]
    x = BiasedMultiHeadAttention(config["attention_heads"], config["attention_key_dim"], output_dim=model_dim,
                                 use_bias=False, scale=1.0 / math.sqrt(model_dim), name=f"{name}_attention")(x)
    x = FusedLayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name=f"{name}_pool")(x)
    x = keras.layers.Dense(config["dense_units"], activation="relu", name=f"{name}_dense")(x)
    return keras.layers.Dense(n_tasks(), activation="sigmoid", name=f"{name}_output")(x)


def build_yuanfang_guan(config: dict) -> keras.Model:
    """Yuanfang Guan's 5-tower ensemble-in-one-model; ``expression`` is the towers' mean."""
    inputs = model_input(config)
    x = keras.layers.ZeroPadding1D((0, config["padded_length"] - inputs.shape[1]), name="zero_pad")(inputs)
    towers = [apply_guan_tower(x, config, name=f"tower{index + 1}") for index in range(config["towers"])]
    if n_tasks() > 1:  # [B, T, towers]
        stacked = keras.layers.Activation("linear", name="towers")(ops.stack(towers, axis=-1))
    else:
        stacked = keras.layers.Concatenate(axis=-1, name="towers")(towers) if len(towers) > 1 else towers[0]
    expression = keras.layers.Activation("linear", dtype="float32", name="expression")(ops.mean(stacked, axis=-1))
    return keras.Model(inputs, {"expression": expression, "towers": stacked}, name="yuanfang_guan")


register(Architecture(
    name="yuanfang_guan", builder=build_yuanfang_guan, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="Yuanfang Guan", rank=13,
    source="team code cnn_sigmoid_1024.py::cnn1d (report: a few lines)", fidelity="faithful",
    description="5 parallel towers: BN/Conv1D x5 -> 2 BiLSTM -> 5-head attention -> sigmoid; mean of the towers",
))
