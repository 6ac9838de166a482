"""mt — mt's model: 2 x BiGRU(256) -> 3 x Conv1D/MaxPool -> MLP, sigmoid output (BCE on a [0, 1] target).

Spec: ``../shared/reference/teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py: build_model`` (Keras),
ARCHITECTURES.md section 10. Input as the team's ``get_input(..., random_select=1)``: each row right-padded to 142
with the letter ``P`` (``pad_sequence``; 142 = the longest training row), one-hot over ``vocab = ["A", "G", "C",
"T", "N", "P"]`` (6 channels, N and padding each their own channel), then the complement strand (``to_complement``:
A<->T, G<->C, N and P kept; not reversed) one-hot the same way, concatenated forward first: 12 channels. Here the
encoder makes the 6 forward channels (``input: onehot_letters: AGCTNP, n_value: 0, pad: zero_right``) and the model
adds the complement's 6 inside (``strands: complement_channels``, a ``ReverseComplement(reverse_length=False,
letters="AGCTNP")`` layer), so served strings and one-hot requests get the same 12 channels.
LeakyReLU slope 0.3 (Keras 2's ``LeakyReLU`` layer default, which the string 'LeakyReLU' meant there).
Parameters: 3,148,929 with the BatchNorm statistics (the team's Keras total), 3,147,841 trainable.

Deviations (input handling only; the team's code has no rule for these cases):

- rows longer than 142 bp are trimmed to their first 142 bp (the team's ``pad_sequence`` leaves them long and the
  fixed-length model input would reject the batch);
- lower-case letters and surrounding whitespace are accepted (the team's ``mapping`` has only upper-case keys);
- the reverse-complement-first input (``random_select`` 0 / ``'yes'``, an experiment the final submission did not
  use) is not offered.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.conv import KERAS_BN, activation_layer
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.prixfixe import compose, register_block
from seq2exp.models.registry import Architecture, register

FIRST_DEFAULTS = {"gru_units": 256, "layers": 2}
CORE_DEFAULTS = {"filters": [256, 128, 64], "kernel_sizes": [6, 3, 3], "pool_sizes": [3, 2, 1]}
FINAL_DEFAULTS = {"hidden_units": [512, 32]}

DEFAULT_CONFIG = {
    "name": "mt",
    "input": {"kind": "onehot", "length": 142, "region": "full", "pad": "zero_right", "trim": "right",
              "n_value": 0.0, "onehot_letters": "AGCTNP"},
    "strands": "complement_channels",
    "first": {"block": "mt", **FIRST_DEFAULTS},
    "core": {"block": "mt", **CORE_DEFAULTS},
    "final": {"block": "mt", **FINAL_DEFAULTS},
}
ASSUMPTIONS = ("The team's 12-channel input (one-hot A,G,C,T,N,P right-padded with P to 142, + the complement "
               "strand); rows over 142 bp trimmed to 142 and lower case accepted (the team's code has no rule for "
               "either).")
SMOKE_CONFIG = {"first": {"gru_units": 8}, "core": {"filters": [8, 8, 8]}, "final": {"hidden_units": [8, 8]}}


@register_block("first", "mt", defaults=FIRST_DEFAULTS)
def mt_first(x, config: dict, name: str):
    """``layers`` x BiGRU(units, full sequence; orthogonal kernel and bias init, as mt's ``gru_layer``)."""
    for index in range(config["layers"]):
        x = apply_bidirectional_rnn(x, config["gru_units"], cell="gru", kernel_initializer="orthogonal",
                                    bias_initializer="orthogonal", name=f"{name}_bigru{index}")
    return x


@register_block("core", "mt", defaults=CORE_DEFAULTS)
def mt_core(x, config: dict, name: str):
    """[Conv1D(valid) -> LeakyReLU -> (MaxPool)] per layer."""
    for index, (filters, kernel, pool) in enumerate(zip(config["filters"], config["kernel_sizes"],
                                                       config["pool_sizes"])):
        x = keras.layers.Conv1D(filters, kernel, padding="valid", name=f"{name}_conv{index}")(x)
        x = activation_layer("leaky_relu", f"{name}_act{index}")(x)
        if pool > 1:
            x = keras.layers.MaxPooling1D(pool, name=f"{name}_pool{index}")(x)
    return x


@register_block("final", "mt", defaults=FINAL_DEFAULTS)
def mt_final(x, config: dict, name: str) -> dict:
    """Flatten -> [Dense -> BN -> LeakyReLU] per hidden layer -> Dense(1) -> sigmoid."""
    return apply_mlp_regression_head(x, config["hidden_units"], activation="leaky_relu", batch_norm=True,
                                     bn=KERAS_BN, output_activation="sigmoid", name=name)


def build_mt(config: dict) -> keras.Model:
    """mt's BiGRU + CNN from ``config`` (see ``DEFAULT_CONFIG``)."""
    return compose(config=config)


register(Architecture(
    name="mt", builder=build_mt, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=3_148_929, head="regression", team="mt", rank=10, fidelity="faithful",
    paper_params_source=("hand count from teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py:build_model "
                         "(tests/models/test_mt.py; Keras total with BatchNorm statistics, 3,147,841 trainable; "
                         "paper Table 1: 3.1M)"),
    source="teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py:build_model (paper Table 1: 3.1M)",
    description=("2 x BiGRU(256) -> 3 x Conv/MaxPool -> MLP 512-32, sigmoid output; one-hot A,G,C,T,N,P + its "
                 "complement strand as 12 channels"),
))
