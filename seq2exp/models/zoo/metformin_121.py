"""Metformin-121 (rank 14): eight stacked bidirectional GRUs and context-vector attention pooling.

Source: team report + notebook (``Metformin-121.py`` cell 24 ``MetforNet121``, cell 22 ``AttentionWithContext``)::

    one-hot (142, 4), right-aligned -> 8 x Bidirectional(GRU(64, return_sequences))
    -> AttentionWithContext (u_t = tanh(W x_t + b), a = softmax(u_t . u), sum_t a_t x_t)
    -> BatchNorm -> LeakyReLU(0.3) -> Dropout(0.2) -> Dense(1, sigmoid)

Keras ``GRU(reset_after=True)`` is the cuDNN GRU the team used (two bias vectors). Deviations / assumptions:
- The team one-hot encoded T,C,G,A with N = [1, 1, 1, 1] and zero left-padding to 142. Here the channel order is
  ACGT (a fixed permutation that a first layer absorbs) and N is all-zero like the padding (``n_value=0``).
- The sigmoid output needs targets in [0, 1]: the team divided by 2 x median(y) (values above 1 unreachable); the
  training config uses a min-max transform instead (documented there).
Estimated parameters (ARCHITECTURES_MORE.md): ~0.57 M.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.attention import ContextAttentionPooling
from seq2exp.models.blocks.heads import n_tasks, regression_outputs
from seq2exp.models.blocks.layers import FusedDropout
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    'ACGT channel order with N = 0 (team: TCGA, N = [1,1,1,1]); min-max target instead of y / (2 x median).'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 142, "pad": "n_left", "trim": "left", "n_value": 0.0},
    "gru_units": 64,
    "gru_layers": 8,
    "leaky_slope": 0.3,
    "dropout": 0.2,
    "output_activation": "sigmoid",
}

SMOKE_CONFIG: dict = {"input": {"length": 64}, "gru_units": 4, "gru_layers": 2}


def build_metformin_121(config: dict) -> keras.Model:
    """Metformin-121's BiGRU stack with attention pooling."""
    inputs = model_input(config)
    x = inputs
    for index in range(config["gru_layers"]):
        x = apply_bidirectional_rnn(x, config["gru_units"], name=f"bigru{index + 1}", cell="gru")
    x = ContextAttentionPooling(name="attention")(x)
    x = keras.layers.BatchNormalization(name="attention_bn")(x)
    x = keras.layers.LeakyReLU(negative_slope=config["leaky_slope"], name="leaky_relu")(x)
    x = FusedDropout(config["dropout"], name="dropout")(x)
    x = keras.layers.Dense(n_tasks(), activation=config["output_activation"], name="output")(x)
    return keras.Model(inputs, regression_outputs(x), name="metformin_121")


register(Architecture(
    name="metformin_121", builder=build_metformin_121, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="Metformin-121", rank=14,
    source="report + team notebook Metformin-121.ipynb (MetforNet121)", fidelity="faithful",
    description="8 x BiGRU(64) -> context attention pooling -> BN/LeakyReLU -> sigmoid output",
))
