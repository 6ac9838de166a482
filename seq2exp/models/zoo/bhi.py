"""bhi — BHI's DeepGXP: parallel convs -> BiLSTM -> parallel convs -> MLP, with post-hoc conjoined strands.

Spec: ``../shared/reference/teams/bhi/code/src/net.py: DeepGXP`` (defaults conv_out_dim 512, kernels [9, 15],
pool 1, LSTM 320, dropout 0.2 / 0.5), ``src/data.py`` (plasmid padding), ARCHITECTURES.md section 2,
Prix Fixe port ``prixfixe/bhi/``. Input: one-hot ACGT (N = 0), 110 bp, padded with the real vector flanks on a
random side. Post-hoc conjoined: the shared trunk runs on x and RC(x) inside the model and the outputs are averaged.
``strands: conjoined`` (the default here) trains the loss on the strand-averaged output; BHI averaged the two
strands' Huber losses instead, which ``training/configs/bhi.yaml`` reproduces (``strands: forward`` +
``augment.conjoined_rc`` + reverse-complement TTA).
Keras LSTMs keep one bias per gate (PyTorch two): 6,872,577 parameters vs the code's 6,875,137.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.conv import apply_parallel_convs
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.blocks.layers import FusedDropout
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.prixfixe import compose, register_block
from seq2exp.models.registry import Architecture, register

FIRST_DEFAULTS = {"filters": 512, "kernel_sizes": [9, 15], "pool_size": 1, "dropout": 0.2}
CORE_DEFAULTS = {"lstm_units": 320, "filters": 320, "kernel_sizes": [9, 15], "pool_size": 1, "dropout": 0.2,
                 "output_dropout": 0.5}
FINAL_DEFAULTS = {"hidden_units": [64, 64]}

DEFAULT_CONFIG = {
    "name": "bhi",
    "input": {"kind": "onehot", "length": 110, "region": "full", "pad": "plasmid_random", "trim": "right",
              "n_value": 0.0},
    "strands": "conjoined",
    "first": {"block": "bhi", **FIRST_DEFAULTS},
    "core": {"block": "bhi", **CORE_DEFAULTS},
    "final": {"block": "bhi", **FINAL_DEFAULTS},
}
SMOKE_CONFIG = {"first": {"filters": 16}, "core": {"lstm_units": 8, "filters": 8}, "final": {"hidden_units": [8, 8]}}


@register_block("first", "bhi", defaults=FIRST_DEFAULTS)
def bhi_first(x, config: dict, name: str):
    """Parallel Conv(k) -> ReLU -> MaxPool -> Dropout branches, concatenated (``filters`` in total)."""
    return apply_parallel_convs(x, config["filters"], config["kernel_sizes"], pool_size=config["pool_size"],
                                dropout=config["dropout"], name=name)


@register_block("core", "bhi", defaults=CORE_DEFAULTS)
def bhi_core(x, config: dict, name: str):
    """BiLSTM (full sequence) -> parallel conv branches -> Dropout."""
    x = apply_bidirectional_rnn(x, config["lstm_units"], cell="lstm", name=f"{name}_bilstm")
    x = apply_parallel_convs(x, config["filters"], config["kernel_sizes"], pool_size=config["pool_size"],
                             dropout=config["dropout"], name=f"{name}_convs")
    if config["output_dropout"]:
        x = FusedDropout(config["output_dropout"], name=f"{name}_dropout")(x)
    return x


@register_block("final", "bhi", defaults=FINAL_DEFAULTS)
def bhi_final(x, config: dict, name: str) -> dict:
    """Flatten -> Dense(64) -> ReLU -> Dense(64) -> ReLU -> Dense(1)."""
    return apply_mlp_regression_head(x, config["hidden_units"], activation="relu", name=name)


def build_bhi(config: dict) -> keras.Model:
    """DeepGXP from ``config`` (see ``DEFAULT_CONFIG``)."""
    return compose(config=config)


register(Architecture(
    name="bhi", builder=build_bhi, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=6_875_137, head="regression", team="BHI", rank=2, fidelity="faithful",
    paper_params_source="hand count from teams/bhi/code/src/net.py:DeepGXP (ARCHITECTURES.md; paper Table 1: 6.8M)",
    source="teams/bhi/code/src/net.py:DeepGXP (paper Table 1: 6.8M; code 6,875,137)",
    description="CNN -> BiLSTM -> CNN -> MLP, plasmid padding, post-hoc conjoined forward/RC",
))
