"""Recurrent blocks (channels last), as ``apply_*(x, ..., name=)`` functions on symbolic tensors, and the layer they
use:

- :class:`FusedBidirectional`: ``keras.layers.Bidirectional`` (same arguments, weights and maths) whose LSTM or GRU
  training pass on TensorFlow runs each direction as one time-major loop with a hand-written gradient.
"""
from __future__ import annotations

import keras
import numpy as np

from seq2exp.models.blocks.layers import PACKAGE, gpu_visible

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
    return FusedBidirectional(layer, merge_mode="concat", name=name)(x)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBidirectional(keras.layers.Bidirectional):
    """``keras.layers.Bidirectional`` (same arguments, weights and maths) that trains a plain LSTM or GRU faster on
    TensorFlow.

    Keras's LSTM and GRU on CPU step a ``while_loop`` over their cell: every step multiplies the input and the state
    by their kernels, and the loop's generated gradient makes four small products per step. Here, in training, each
    direction runs as one loop with a hand-written gradient (``tf.custom_gradient``): the input projection of all
    steps is one product before the loop, the state is kept as ``[units, batch]`` so the gates are row blocks
    (sliced without copies; an LSTM's kernel columns are reordered i, f, o, g so that its three sigmoid gates are one
    block), and the gradient's loop makes one product per step, the weight and input gradients one product each
    after it. The two directions are independent loops, which TensorFlow runs side by side. At DREAM-RNN's BiLSTM
    (``[32, 249, 320]``, 320 units per direction, 2 CPU cores) forward and backward take 0.41 s instead of 0.64 s
    (PyTorch's ``nn.LSTM``, which calls oneDNN's fused LSTM: 0.41 s); ``benchmarks/recurrent.py``.

    Where TensorFlow sees a GPU, Keras's cuDNN kernels run. Prediction and export run Keras's own loop (as fast as
    this one forward). So do masks, initial states,
    dropout, other activations, GRUs with ``reset_after=False``, ``return_state``, ``return_sequences=False``, other
    merge modes, dtypes other than float32 and inputs without a static length.
    """

    def _fusable(self, sequences, mask, initial_state, training) -> bool:
        forward, backward = self.forward_layer, self.backward_layer
        layers_ok = type(forward) in _TRAINING_LOOPS and all(
            type(layer) is type(forward) and layer.built and not layer.stateful and layer.return_sequences
            and not layer.return_state and layer.cell.use_bias and not layer.cell.dropout
            and not layer.cell.recurrent_dropout and layer.cell.activation is keras.activations.tanh
            and layer.cell.recurrent_activation is keras.activations.sigmoid
            and getattr(layer.cell, "reset_after", True) and layer.cell.units == forward.cell.units
            and layer.compute_dtype == "float32"
            for layer in (forward, backward))
        return (training is True and keras.backend.backend() == "tensorflow" and layers_ok and not gpu_visible()
                and not forward.go_backwards and backward.go_backwards and self.merge_mode == "concat"
                and mask is None and initial_state is None and getattr(sequences, "_keras_mask", None) is None
                and len(sequences.shape) == 3 and sequences.shape[1] is not None and sequences.shape[1] > 0
                and keras.backend.standardize_dtype(sequences.dtype) == "float32"
                and self.compute_dtype == "float32")

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if not self._fusable(sequences, mask, initial_state, training):
            return super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        import tensorflow as tf

        run = _TRAINING_LOOPS[type(self.forward_layer)]

        def weights(layer):
            cell = layer.cell
            return [tf.convert_to_tensor(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias)]

        time_major = tf.transpose(sequences, (1, 0, 2))
        forward = run(time_major, *weights(self.forward_layer))
        backward = tf.reverse(run(tf.reverse(time_major, [0]), *weights(self.backward_layer)), [0])
        return tf.transpose(tf.concat([forward, backward], -1), (1, 0, 2))


def _lstm_time_major_training(inputs, kernel, recurrent_kernel, bias):
    """One LSTM direction over time-major ``inputs [T, B, D]`` with Keras's weights (gate order i, f, g, o; zero
    initial state), returning every state ``[T, B, U]``; its gradient is written out (see
    :class:`FusedBidirectional`)."""
    import tensorflow as tf

    units = recurrent_kernel.shape[0]
    # gates reordered to i, f, o, g: the three sigmoid gates become one block of rows
    order = np.concatenate([np.arange(2 * units), np.arange(3 * units, 4 * units), np.arange(2 * units, 3 * units)])
    restore = np.argsort(order)

    @tf.custom_gradient
    def run(inputs, kernel, recurrent_kernel, bias):
        steps, batch, features = tf.shape(inputs)[0], tf.shape(inputs)[1], inputs.shape[-1]
        kernel_ifog = tf.gather(kernel, order, axis=1)
        recurrent_ifog = tf.gather(recurrent_kernel, order, axis=1)
        flat_inputs = tf.reshape(inputs, (-1, features))
        projected = tf.matmul(flat_inputs, kernel_ifog) + tf.gather(bias, order)
        projected = tf.transpose(tf.reshape(projected, (steps, batch, 4 * units)), (0, 2, 1))   # [T, 4U, B]
        recurrent_t = tf.transpose(recurrent_ifog)                                             # [4U, U]
        zeros = tf.zeros((units, batch), inputs.dtype)
        arrays = [tf.TensorArray(inputs.dtype, size=steps, element_shape=(rows, None))
                  for rows in (units, units, 3 * units, units)]

        def step(t, h, c, states, cells, sigmoid_gates, candidates):
            z = projected[t] + tf.matmul(recurrent_t, h)
            gates = tf.sigmoid(z[:3 * units])
            candidate = tf.tanh(z[3 * units:])
            input_gate, forget_gate, output_gate = tf.split(gates, 3, axis=0)
            c = forget_gate * c + input_gate * candidate
            h = output_gate * tf.tanh(c)
            return (t + 1, h, c, states.write(t, h), cells.write(t, c), sigmoid_gates.write(t, gates),
                    candidates.write(t, candidate))

        _, _, _, *arrays = tf.while_loop(lambda t, *_: t < steps, step, (0, zeros, zeros, *arrays))
        states, cells, sigmoid_gates, candidates = (array.stack() for array in arrays)   # [T, rows, B]

        def gradient(d_outputs):
            d_states = tf.transpose(d_outputs, (0, 2, 1))                                       # [T, U, B]
            previous_cells = _one_step_back(cells)
            d_preactivations = tf.TensorArray(inputs.dtype, size=steps, element_shape=(4 * units, None))

            def back_step(t, d_h, d_c, d_preactivations):
                gates, candidate = sigmoid_gates[t], candidates[t]
                input_gate, forget_gate, output_gate = tf.split(gates, 3, axis=0)
                d_h = d_h + d_states[t]
                tanh_c = tf.tanh(cells[t])
                d_c = d_c + d_h * output_gate * (1 - tanh_c * tanh_c)
                d_gates = tf.concat([d_c * candidate, d_c * previous_cells[t], d_h * tanh_c], 0) * gates * (1 - gates)
                d_z = tf.concat([d_gates, d_c * input_gate * (1 - candidate * candidate)], 0)        # [4U, B]
                return t - 1, tf.matmul(recurrent_ifog, d_z), d_c * forget_gate, d_preactivations.write(t, d_z)

            *_, d_preactivations = tf.while_loop(lambda t, *_: t >= 0, back_step,
                                                 (steps - 1, zeros, zeros, d_preactivations))
            d_z = _example_rows(d_preactivations.stack())                                      # [T*B, 4U]
            previous_states = _example_rows(_one_step_back(states))
            d_recurrent = tf.gather(tf.matmul(previous_states, d_z, transpose_a=True), restore, axis=1)
            d_kernel = tf.gather(tf.matmul(flat_inputs, d_z, transpose_a=True), restore, axis=1)
            d_bias = tf.gather(tf.reduce_sum(d_z, 0), restore)
            d_inputs = tf.reshape(tf.matmul(d_z, kernel_ifog, transpose_b=True), (steps, batch, features))
            return d_inputs, d_kernel, d_recurrent, d_bias

        return tf.transpose(states, (0, 2, 1)), gradient

    return run(inputs, kernel, recurrent_kernel, bias)


def _gru_time_major_training(inputs, kernel, recurrent_kernel, bias):
    """One GRU direction (Keras's ``reset_after=True``: gates z, r, h; input and recurrent biases ``bias [2, 3U]``;
    zero initial state) over time-major ``inputs [T, B, D]``, returning every state ``[T, B, U]``; its gradient is
    written out (see :class:`FusedBidirectional`)."""
    import tensorflow as tf

    units = recurrent_kernel.shape[0]

    @tf.custom_gradient
    def run(inputs, kernel, recurrent_kernel, bias):
        steps, batch, features = tf.shape(inputs)[0], tf.shape(inputs)[1], inputs.shape[-1]
        flat_inputs = tf.reshape(inputs, (-1, features))
        projected = tf.matmul(flat_inputs, kernel) + bias[0]
        projected = tf.transpose(tf.reshape(projected, (steps, batch, 3 * units)), (0, 2, 1))   # [T, 3U, B]
        recurrent_t, recurrent_bias = tf.transpose(recurrent_kernel), bias[1][:, None]           # [3U, U], [3U, 1]
        zeros = tf.zeros((units, batch), inputs.dtype)
        arrays = [tf.TensorArray(inputs.dtype, size=steps, element_shape=(rows, None))
                  for rows in (units, 2 * units, units, units)]

        def step(t, h, states, sigmoid_gates, candidates, recurrent_candidates):
            from_input = projected[t]                                   # [3U, B]: z, r, h rows
            from_state = tf.matmul(recurrent_t, h) + recurrent_bias
            gates = tf.sigmoid(from_input[:2 * units] + from_state[:2 * units])
            update_gate, reset_gate = tf.split(gates, 2, axis=0)
            recurrent_candidate = from_state[2 * units:]
            candidate = tf.tanh(from_input[2 * units:] + reset_gate * recurrent_candidate)
            h = candidate + update_gate * (h - candidate)
            return (t + 1, h, states.write(t, h), sigmoid_gates.write(t, gates), candidates.write(t, candidate),
                    recurrent_candidates.write(t, recurrent_candidate))

        _, _, *arrays = tf.while_loop(lambda t, *_: t < steps, step, (0, zeros, *arrays))
        states, sigmoid_gates, candidates, recurrent_candidates = (array.stack() for array in arrays)

        def gradient(d_outputs):
            d_states = tf.transpose(d_outputs, (0, 2, 1))                                       # [T, U, B]
            previous_states = _one_step_back(states)
            d_arrays = [tf.TensorArray(inputs.dtype, size=steps, element_shape=(3 * units, None)) for _ in range(2)]

            def back_step(t, d_h, d_inputs_side, d_recurrent_side):
                gates, candidate = sigmoid_gates[t], candidates[t]
                update_gate, reset_gate = tf.split(gates, 2, axis=0)
                d_h = d_h + d_states[t]
                d_candidate = d_h * (1 - update_gate) * (1 - candidate * candidate)
                d_gates = tf.concat([d_h * (previous_states[t] - candidate), d_candidate * recurrent_candidates[t]],
                                    0) * gates * (1 - gates)
                d_x = tf.concat([d_gates, d_candidate], 0)                                      # [3U, B]
                d_m = tf.concat([d_gates, d_candidate * reset_gate], 0)
                return (t - 1, tf.matmul(recurrent_kernel, d_m) + d_h * update_gate,
                        d_inputs_side.write(t, d_x), d_recurrent_side.write(t, d_m))

            *_, d_x_array, d_m_array = tf.while_loop(lambda t, *_: t >= 0, back_step, (steps - 1, zeros, *d_arrays))
            d_x, d_m = _example_rows(d_x_array.stack()), _example_rows(d_m_array.stack())     # [T*B, 3U]
            flat_previous = _example_rows(previous_states)
            d_recurrent = tf.matmul(flat_previous, d_m, transpose_a=True)
            d_kernel = tf.matmul(flat_inputs, d_x, transpose_a=True)
            d_bias = tf.stack([tf.reduce_sum(d_x, 0), tf.reduce_sum(d_m, 0)])
            d_inputs = tf.reshape(tf.matmul(d_x, kernel, transpose_b=True), (steps, batch, features))
            return d_inputs, d_kernel, d_recurrent, d_bias

        return tf.transpose(states, (0, 2, 1)), gradient

    return run(inputs, kernel, recurrent_kernel, bias)


def _one_step_back(values):
    """``values [T, R, B]`` moved one step later: step ``t`` holds step ``t - 1``'s values, zeros at step 0."""
    import tensorflow as tf

    return tf.concat([tf.zeros_like(values[:1]), values[:-1]], 0)


def _example_rows(values):
    """Time-major ``[T, R, B]`` as one row per step and example, ``[T * B, R]``."""
    import tensorflow as tf

    return tf.reshape(tf.transpose(values, (0, 2, 1)), (-1, values.shape[1]))


_TRAINING_LOOPS = {keras.layers.LSTM: _lstm_time_major_training, keras.layers.GRU: _gru_time_major_training}
