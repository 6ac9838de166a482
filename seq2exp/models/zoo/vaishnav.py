"""The challenge's reference model: the Vaishnav et al. (2022) transformer, retrained on the DREAM data.

Source: ``../shared/reference/teams/vaishnav/`` (repository ``1edv/evolution``, MIT): ``rr_aux.py``
(``fitness_function_model``, ``rc_Conv1D``, ``seq2feature``) and ``train_model_code_cells.py`` (``model_params``).

I/O: input ``"inputs"`` = one-hot ``[B, 110, 4]`` (A, C, G, T), sequences cut to their LAST 110 bp and left-padded
with N (``seq2feature``); output ``"expression"`` ``[B]`` (regression, MSE; the team min-max-scaled the target).

Graph (default ``model_params``): rc_Conv1D(256, width 30, no bias, he_normal; forward and reverse-complement scans)
-> BN + ReLU per strand -> "cooperativity" layer: the two strands stacked as a 2 × L image -> ZeroPadding (14, 15)
-> Conv2D(128, (2, 30), valid, no bias) -> BN -> ReLU -> 2 × [Conv1D(128, 30, same, no bias) -> BN -> ReLU] ->
2 × [MHA(8 heads; q/k/v/o 128 × 128 with bias) -> Dropout(0.2) -> residual -> LayerNorm -> FeedForward(units 8:
Dense(8, ReLU) -> Dense(128)) -> Dropout(0.2) -> residual -> LayerNorm] -> BiLSTM(8 per direction, return
sequences, input dropout 0.2) -> Dropout(0.2) -> Flatten -> Dense(128) -> ReLU -> Dropout -> Dense(128) -> ReLU ->
Dropout -> Dense(1). L2(1e-4) on every kernel (the L1 weight is 0). Training: RMSProp(1e-3), batch 1024, MSE,
early stopping on validation r² (patience 10) -> the training config.

Keras 3 equivalents: the 2 × 30 cooperativity Conv2D over the stacked strands is exactly a Conv1D(128, 30, valid)
over the forward ‖ reverse channels after the same (14, 15) zero padding; the two per-strand BatchNorms are one
BatchNorm over the 512 concatenated channels (per-channel statistics either way); ``keras-multi-head``'s
``MultiHeadAttention(head_num=8)`` on 128 features is ``keras.layers.MultiHeadAttention(8, key_dim=16)`` (same
projections and parameter count).

Assumptions where the description is incomplete (what the organisers changed for DREAM is not published):
- Input length 110 and padding/trimming as in ``seq2feature`` (keep the last 110 bp, N on the left). N is encoded
  as all four channels set (``n_value=1.0``): ``seq2feature_fill`` (the function marked "Final one used") indexes
  the one-hot row with ``None`` for N, which sets every channel; the older ``old_seq2feature`` used zeros.
- ``keras-layer-normalization``'s epsilon is taken as 1e-6 (its default is ``K.epsilon() ** 2``-like small value);
  the LSTM's recurrent initializer and the attention's initializers are Keras defaults (``he_normal`` only where
  the code sets it). No attention dropout inside the softmax (the original has none either).
- The LSTM's input dropout (``dropout=0.2``: one mask per sequence, constant over time) is a Dropout layer constant
  over the length axis before the BiLSTM, shared by both directions (Keras 3's in-LSTM dropout is not exportable).
"""
from __future__ import annotations

import keras
from keras import layers

from seq2exp.errors import ConfigError
from seq2exp.models.blocks.attention import MatMulMultiHeadAttention, ReverseComplementConv1D
from seq2exp.models.blocks.heads import expression_output, n_tasks
from seq2exp.models.blocks.layers import FusedDropout, FusedLayerNormalization
from seq2exp.models.blocks.recurrent import FusedBidirectional
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

DEFAULT_CONFIG = {
    "input": {"kind": "onehot", "length": 110, "region": "full", "pad": "n_left", "trim": "left", "n_value": 1.0},
    "motif_conv_hidden": 256,
    "conv_hidden": 128,
    "n_hidden": 128,
    "n_heads": 8,
    "conv_width_motif": 30,
    "dropout_rate": 0.2,
    "attention_dropout_rate": 0.2,
    "add_cooperativity_layer": True,
    "n_aux_layers": 2,
    "n_attention_layers": 2,
    "l2_weight": 1e-4,
    "layer_norm_epsilon": 1e-6,
}
SMOKE_CONFIG = {"motif_conv_hidden": 8, "conv_hidden": 8, "n_hidden": 8, "n_heads": 2, "conv_width_motif": 6,
                "n_aux_layers": 0, "n_attention_layers": 1}


def build_vaishnav(config: dict) -> keras.Model:
    """The Vaishnav et al. 2022 reference transformer (see the module docstring)."""
    width = config["conv_width_motif"]
    hidden = config["conv_hidden"]
    if not config["add_cooperativity_layer"]:
        raise ConfigError("vaishnav: add_cooperativity_layer must be true (the published model; the strand-sum "
                          "variant is not implemented)")
    if hidden % config["n_heads"]:
        raise ValueError(f"vaishnav: conv_hidden {hidden} must be divisible by n_heads {config['n_heads']}")
    regularizer = lambda: keras.regularizers.L2(config["l2_weight"]) if config["l2_weight"] else None  # noqa: E731

    inputs = model_input(config)
    x = ReverseComplementConv1D(config["motif_conv_hidden"], width, padding="same", use_bias=False,
                                kernel_initializer="he_normal", kernel_regularizer=regularizer(),
                                name="motif_conv")(inputs)
    x = layers.BatchNormalization(name="motif_bn")(x)
    x = layers.Activation("relu", name="motif_relu")(x)
    x = layers.ZeroPadding1D((width // 2 - 1, width // 2), name="cooperativity_pad")(x)
    x = layers.Conv1D(hidden, width, padding="valid", use_bias=False, kernel_initializer="he_normal",
                      kernel_regularizer=regularizer(), name="cooperativity_conv")(x)
    x = layers.BatchNormalization(name="cooperativity_bn")(x)
    x = layers.Activation("relu", name="cooperativity_relu")(x)

    for index in range(config["n_aux_layers"]):
        x = layers.Conv1D(hidden, width, padding="same", use_bias=False, kernel_initializer="he_normal",
                          kernel_regularizer=regularizer(), name=f"conv{index}")(x)
        x = layers.BatchNormalization(name=f"conv{index}_bn")(x)
        x = layers.Activation("relu", name=f"conv{index}_relu")(x)

    epsilon = config["layer_norm_epsilon"]
    for index in range(config["n_attention_layers"]):
        name = f"attention{index}"
        attended = MatMulMultiHeadAttention(config["n_heads"], hidden // config["n_heads"],
                                            kernel_regularizer=regularizer(), name=name)(x, x)
        attended = FusedDropout(config["attention_dropout_rate"], name=f"{name}_dropout")(attended)
        x = FusedLayerNormalization(epsilon=epsilon, name=f"{name}_norm")(
            layers.Add(name=f"{name}_residual")([x, attended]))
        ff = layers.Dense(config["n_heads"], activation="relu", kernel_regularizer=regularizer(),
                          name=f"{name}_ff_hidden")(x)
        ff = layers.Dense(hidden, kernel_regularizer=regularizer(), name=f"{name}_ff_output")(ff)
        ff = FusedDropout(config["attention_dropout_rate"], name=f"{name}_ff_dropout")(ff)
        x = FusedLayerNormalization(epsilon=epsilon, name=f"{name}_ff_norm")(
            layers.Add(name=f"{name}_ff_residual")([x, ff]))

    # LSTM(dropout=rate) = one input-dropout mask per sequence, constant over time. Keras 3's LSTM(dropout > 0)
    # inside Bidirectional captures an untracked seed generator and cannot be exported (tf.saved_model.save), so
    # the same mask is drawn by a Dropout constant over the length axis, shared by the two directions.
    x = FusedDropout(config["dropout_rate"], noise_shape=(None, 1, hidden), name="bilstm_input_dropout")(x)
    x = FusedBidirectional(layers.LSTM(config["n_heads"], return_sequences=True, kernel_initializer="he_normal",
                                       kernel_regularizer=regularizer()), name="bilstm")(x)
    x = FusedDropout(config["dropout_rate"], name="bilstm_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    for index in range(2):
        x = layers.Dense(config["n_hidden"], activation="relu", kernel_initializer="he_normal",
                         kernel_regularizer=regularizer(), name=f"dense{index}")(x)
        x = FusedDropout(config["dropout_rate"], name=f"dense{index}_dropout")(x)
    x = layers.Dense(n_tasks(), kernel_initializer="he_normal", kernel_regularizer=regularizer(), name="output")(x)
    return keras.Model(inputs, {"expression": expression_output(x)}, name="vaishnav")


register(Architecture(
    name="vaishnav", builder=build_vaishnav, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=3_369_937,
    paper_params_source=("hand count from teams/vaishnav/rr_aux.py:fitness_function_model "
                         "(tests/models/test_vaishnav.py; not in the paper)"),
    head="regression", team="Reference model (Vaishnav et al. 2022)",
    source="teams/vaishnav/rr_aux.py:fitness_function_model, train_model_code_cells.py", fidelity="reconstructed",
    rank=0, description="RC conv + cooperativity conv + 2 convs + 2 MHA layers + BiLSTM + MLP (challenge reference)",
))
