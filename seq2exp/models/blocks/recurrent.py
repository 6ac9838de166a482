"""Recurrent blocks (channels last), as ``apply_*(x, ..., name=)`` functions on symbolic tensors."""
from __future__ import annotations

import keras

RNN_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def apply_bidirectional_rnn(
    x, units: int, *, name: str, cell: str = "lstm", return_sequences: bool = True,
    kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
    dropout: float = 0.0,
):
    """Bidirectional LSTM/GRU with ``units`` per direction; outputs are concatenated (``2 * units`` channels).

    Zero initial states, as the teams' PyTorch (``nn.LSTM``) and Keras models. Keras keeps one bias vector per
    LSTM gate where PyTorch keeps two, so a Keras BiLSTM has ``8 * units`` fewer parameters.
    """
    if cell not in RNN_CELLS:
        raise ValueError(f"{name}: cell must be one of {sorted(RNN_CELLS)}, got {cell!r}")
    layer = RNN_CELLS[cell](units, return_sequences=return_sequences, kernel_initializer=kernel_initializer,
                            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                            dropout=dropout, name=f"{name}_{cell}")
    return keras.layers.Bidirectional(layer, merge_mode="concat", name=name)(x)
