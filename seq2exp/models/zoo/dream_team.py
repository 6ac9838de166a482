"""The Dream Team (rank 19): reverse-complement-shared convolution, per-strand attention + BiLSTM, a cooperativity
convolution over both strands, another attention + BiLSTM block and an MLP (a variant of the Vaishnav et al. model).

Source: team report + code (``default_variables.py::build_model``; hyper-parameters ``training_and_testing_official
.py`` cell 7: motif_conv_hidden 256, conv_width_motif 30, conv_hidden 64, n_heads 8, n_hidden 64, dropout 0.1)::

    one-hot (110, 4) -> rc_Conv1D(256, 30, same, no bias): forward scan and reverse-complement scan
    -> per strand (separate weights): BN -> ReLU -> [MHA(8 heads, d 256) -> Dropout -> Add -> LN
       -> FeedForward(8 hidden, relu) -> Dropout -> Add -> LN] -> BiLSTM(8, seq, input dropout 0.1) -> Dropout
    -> strands stacked (2, 110, 16) -> ZeroPadding (31, 32) -> Conv2D(64, (2, 64), valid, no bias) -> BN -> ReLU
    -> Conv1D(64, 64, same, no bias) -> BN -> ReLU -> [MHA(8, d 64) ... FeedForward(8) ... LN] -> BiLSTM(8) -> Dropout
    -> Flatten (110 x 16) -> Dense(64, relu) -> Dropout -> Dense(64, relu) -> Dropout -> Dense(1)

Keras 3 equivalents (as for ``vaishnav``): the shared rc convolution is ``ReverseComplementConv1D`` (forward ‖ rc
channels, split back into the two strands); Conv2D(64, (2, 64)) over the stacked strands is exactly
Conv1D(64, 64, valid) over the concatenated strand channels; ``keras-multi-head``'s 8-head attention on d features
is ``MultiHeadAttention(8, key_dim=d/8)`` (same projections and parameter count). LayerNorm epsilon 1e-6 (as the
``vaishnav`` port). The LSTMs' input dropout (``LSTM(dropout=0.1)``) is a ``Dropout`` layer in front of them
(Keras's in-cell RNN dropout does not export to a SavedModel). The team's training-target jitter (integer targets replaced once by draws from N(i, 0.3)) and its Nadam
optimiser are NOT reproduced (``training/configs/dream_team.yaml`` trains raw targets with Adam): a recipe
deviation, hence ``reconstructed``. Estimated parameters (ARCHITECTURES_MORE.md): ~1.14 M.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.attention import ReverseComplementConv1D
from seq2exp.models.blocks.conv import KERAS_BN, apply_conv_bn_act
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.blocks.layers import FusedDropout
from seq2exp.models.blocks.recurrent import apply_bidirectional_rnn
from seq2exp.models.blocks.transformer import apply_post_norm_transformer_block
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = (  # one line for docs/models.md; details in the docstring above
    "Port of the team's Keras code (Vaishnav-style layers as Keras 3 equivalents, LN eps 1e-6); Adam instead of "
    'Nadam and no N(i, 0.3) target jitter in the default config.'
)

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 110, "pad": "n_left", "trim": "left", "n_value": 0.0},
    "motif_conv_hidden": 256,
    "conv_width_motif": 30,
    "conv_hidden": 64,
    "n_heads": 8,  # also the feed-forward hidden units and the LSTM units, as in the team's code
    "n_hidden": 64,
    "dropout_rate": 0.1,
    "attention_dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6,
}

SMOKE_CONFIG: dict = {"motif_conv_hidden": 8, "conv_width_motif": 6, "conv_hidden": 8, "n_heads": 2, "n_hidden": 8}


def apply_attention_lstm_block(x, config: dict, *, name: str):
    """MHA + bottleneck feed-forward (post-LN) -> BiLSTM(n_heads) -> Dropout, the team's repeated unit."""
    heads = config["n_heads"]
    x = apply_post_norm_transformer_block(
        x, num_heads=heads, key_dim=int(x.shape[-1]) // heads, ff_dim=heads, dropout=config["attention_dropout_rate"],
        epsilon=config["layer_norm_epsilon"], name=f"{name}_transformer")
    # the LSTM's input dropout as a Dropout layer in front: Keras's in-cell RNN dropout creates a seed generator
    # that tf.saved_model cannot track (export fails); per-step instead of per-sequence masks, same rate
    x = FusedDropout(config["dropout_rate"], name=f"{name}_bilstm_input_dropout")(x)
    x = apply_bidirectional_rnn(x, heads, name=f"{name}_bilstm", kernel_initializer="he_normal")
    return FusedDropout(config["dropout_rate"], name=f"{name}_dropout")(x)


def build_dream_team(config: dict) -> keras.Model:
    """The Dream Team's two-strand conv / attention / LSTM model."""
    inputs = model_input(config)
    filters, width, hidden = config["motif_conv_hidden"], config["conv_width_motif"], config["conv_hidden"]
    scans = ReverseComplementConv1D(filters, width, padding="same", use_bias=False, kernel_initializer="he_normal",
                                    name="rc_conv")(inputs)
    strands = []
    for index, strand in enumerate(("forward", "reverse")):
        x = scans[..., index * filters:(index + 1) * filters]
        x = keras.layers.BatchNormalization(**KERAS_BN, name=f"{strand}_bn")(x)
        x = keras.layers.Activation("relu", name=f"{strand}_relu")(x)
        strands.append(apply_attention_lstm_block(x, config, name=strand))
    x = keras.layers.Concatenate(axis=-1, name="strands")(strands)
    x = keras.layers.ZeroPadding1D((hidden // 2 - 1, hidden // 2), name="cooperativity_pad")(x)
    x = apply_conv_bn_act(x, hidden, hidden, name="cooperativity", padding="valid", use_bias=False,
                          bn=KERAS_BN, kernel_initializer="he_normal")
    x = apply_conv_bn_act(x, hidden, hidden, name="conv", use_bias=False, bn=KERAS_BN,
                          kernel_initializer="he_normal")
    x = apply_attention_lstm_block(x, config, name="merged")
    outputs = apply_mlp_regression_head(x, [config["n_hidden"]] * 2, name="head", dropout=config["dropout_rate"])
    return keras.Model(inputs, outputs, name="dream_team")


register(Architecture(
    name="dream_team", builder=build_dream_team, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="The Dream Team", rank=19,
    source="report + team code default_variables.py::build_model", fidelity="reconstructed",
    description="RC-shared conv -> per-strand MHA + BiLSTM -> cooperativity conv -> MHA + BiLSTM -> MLP",
))
