"""Inference-only graph rewrites: fold BatchNormalization into the convolution before it (prediction and export).

At inference a BatchNorm after a convolution is an affine map per output channel,
``y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta``, so it can be folded into the convolution's kernel and
bias: ``W' = W * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``. :func:`fold_batchnorm`
returns a copy of a functional Keras model in which every such (convolution -> BatchNorm) pair is one convolution
with a bias and the BatchNorm a pass-through layer (or its fused activation alone); everything else (layer names,
other weights, outputs) is unchanged, and the outputs equal the original's in inference mode within float rounding.
On TensorFlow a folded 1-D convolution becomes a ``FoldedConv1D`` that also applies the BatchNorm's activation, in
the ``Conv2D -> BiasAdd -> activation`` form TensorFlow's graph remapper fuses into one convolution kernel (the
bias and, with oneDNN, the SiLU as post-ops instead of separate passes over the activations; LegNet inference at
batch 1024 about 10% faster, in-process and on TF Serving's session path alike).
Training-mode behaviour is not kept (the folded model has no batch statistics): use it for prediction and export
only.

Folded: ``keras.layers.Conv1D`` / ``Conv2D`` (``groups == 1``, linear activation) and
:class:`seq2exp.models.blocks.layers.GroupedConv1D` and ``GatedPointwiseConv1D`` (kernel ``[1, C, f]``), each
followed by a ``BatchNormalization`` over the last axis that is its only consumer. On TensorFlow a linear ``Dense``
whose only consumer is a fixed-beta :class:`seq2exp.models.blocks.attention.SwiGLU` also becomes one
``SwiGLUDense`` that computes the value and gate halves as two matrix products (the SwiGLU's split copies both
halves; DREAM-Attn's feed-forward blocks about 20% faster). Nothing is folded in a model that is not functional, or
that has neither pattern; such models are returned as they are.
"""
from __future__ import annotations

import hashlib
import logging
import weakref

import numpy as np

logger = logging.getLogger(__name__)

# model -> (weights fingerprint, folded copy): repeated prediction graphs of an unchanged model reuse one fold
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _folded_layer_class():
    import keras

    @keras.saving.register_keras_serializable(package="seq2exp")
    class FoldedLayer(keras.layers.Layer):
        """Where a layer was folded into the one before it (a BatchNorm into its convolution, a SwiGLU into its
        Dense): passes its input through, or applies the activation of a ``FusedBatchNorm(activation=...)``."""

        def __init__(self, activation: str | None = None, **kwargs):
            super().__init__(**kwargs)
            self.activation = activation

        def call(self, inputs, training=None, mask=None):  # noqa: ARG002 - the folded layer's call signature
            return keras.activations.get(self.activation or "linear")(inputs)

        def get_config(self):
            return {**super().get_config(), "activation": self.activation}

        def compute_output_shape(self, input_shape):
            return input_shape

    return FoldedLayer


def _folded_conv_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="seq2exp")
    class FoldedConv1D(keras.layers.Layer):
        """A 1-D convolution with the BatchNorm after it folded in (``kernel``, ``bias``) and that BatchNorm's
        activation, run as TensorFlow's ``Conv2D -> BiasAdd -> activation`` on ``[B, 1, L, C]`` (inference only).

        That is the pattern TensorFlow's graph remapper fuses into one convolution with the bias and the activation
        as post-ops (``_FusedConv2D``, one oneDNN primitive): a Keras ``Conv1D`` runs ExpandDims -> Conv2D ->
        Squeeze and adds its bias after the Squeeze, which hides it, so the bias and the BatchNorm's SiLU each make
        a separate pass over the activations. ``kernel`` is ``[k, in_channels / groups, filters]``. ``gated``: the
        inputs are ``[x, gates]`` and the convolution reads ``x * gates`` (``GatedPointwiseConv1D``).
        ``fuse_activation=False`` applies the activation after the Squeeze instead (oneDNN's grouped convolution
        runs a SiLU post-op slower than a separate pass)."""

        def __init__(self, filters: int, kernel_size: int, groups: int = 1, strides: int = 1,
                     dilation_rate: int = 1, padding: str = "valid", activation: str | None = None,
                     gated: bool = False, fuse_activation: bool = True, **kwargs):
            super().__init__(**kwargs)
            if padding not in ("valid", "same"):
                raise ValueError(f"FoldedConv1D: padding must be 'valid' or 'same', not {padding!r}")
            self.filters, self.kernel_size, self.groups = int(filters), int(kernel_size), int(groups)
            self.strides, self.dilation_rate, self.padding = int(strides), int(dilation_rate), padding
            self.activation = None if activation in (None, "linear") else activation
            self.gated, self.fuse_activation = bool(gated), bool(fuse_activation)

        def build(self, input_shape):
            channels = int((input_shape[0] if self.gated else input_shape)[-1])
            self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, channels // self.groups,
                                                                self.filters), initializer="zeros")
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

        def _activate(self, outputs):
            if self.activation == "silu":  # the Sigmoid -> Mul form the remapper recognises (tf.nn.silu hides it)
                return outputs * ops.sigmoid(outputs)
            return keras.activations.get(self.activation or "linear")(outputs)

        def call(self, inputs):
            import tensorflow as tf

            from seq2exp.models.blocks.layers import (
                convolve_grouped_in_chunks,
                convolve_in_halves,
                convolve_kernel_in_halves,
            )

            x = inputs
            if self.gated:
                x, gates = inputs
                x = x * ops.cast(gates, x.dtype)

            def convolve_valid(x, kernel):
                return tf.nn.conv2d(x, tf.expand_dims(kernel, 0), strides=[1, 1, 1, 1], padding="VALID")

            def convolve(x, kernel, bias):  # [B, 1, L, C] -> [B, 1, L', filters]
                if convolve_kernel_in_halves(x.shape[-1], self.kernel_size, strides=self.strides,
                                             dilation_rate=self.dilation_rate, groups=self.groups):
                    return tf.nn.bias_add(convolve_in_halves(convolve_valid, x, kernel, self.padding, axis=2), bias)
                outputs = tf.nn.conv2d(x, tf.expand_dims(kernel, 0), strides=[1, 1, self.strides, 1],
                                       padding=self.padding.upper(), dilations=[1, 1, self.dilation_rate, 1])
                return tf.nn.bias_add(outputs, bias)

            kernel, bias = ops.cast(self.kernel, x.dtype), ops.cast(self.bias, x.dtype)
            # one call unless a grouped convolution has to run in chunks (groups == 1 never does)
            outputs = convolve_grouped_in_chunks(convolve, tf.expand_dims(x, 1), kernel, self.groups, bias)
            if self.fuse_activation:
                return tf.squeeze(self._activate(outputs), 1)
            return self._activate(tf.squeeze(outputs, 1))

        def compute_output_shape(self, input_shape):
            batch, length = (input_shape[0] if self.gated else input_shape)[:2]
            if length is not None:
                span = self.dilation_rate * (self.kernel_size - 1) + 1
                length = (-(-length // self.strides) if self.padding == "same"
                          else -(-(length - span + 1) // self.strides))
            return (batch, length, self.filters)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                    "groups": self.groups, "strides": self.strides, "dilation_rate": self.dilation_rate,
                    "padding": self.padding, "activation": self.activation, "gated": self.gated,
                    "fuse_activation": self.fuse_activation}

    return FoldedConv1D


def _swiglu_dense_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="seq2exp")
    class SwiGLUDense(keras.layers.Layer):
        """A ``Dense(2 * units)`` and the ``SwiGLU`` after it as one layer (inference only): the value and gate
        halves are two matrix products with the halves of the Dense's kernel (``value_kernel``, ``gate_kernel``,
        ``[in, units]``) and bias, and ``value * gate * sigmoid(gate)`` is returned. ``Dense -> SwiGLU`` splits
        the Dense's output in two, which copies both halves (a pass over twice the activations)."""

        def __init__(self, units: int, use_bias: bool = True, **kwargs):
            super().__init__(**kwargs)
            self.units, self.use_bias = int(units), bool(use_bias)

        def build(self, input_shape):
            features = int(input_shape[-1])
            self.value_kernel = self.add_weight(name="value_kernel", shape=(features, self.units),
                                                initializer="zeros")
            self.gate_kernel = self.add_weight(name="gate_kernel", shape=(features, self.units), initializer="zeros")
            if self.use_bias:
                self.value_bias = self.add_weight(name="value_bias", shape=(self.units,), initializer="zeros")
                self.gate_bias = self.add_weight(name="gate_bias", shape=(self.units,), initializer="zeros")

        def call(self, inputs):
            import tensorflow as tf

            flat = tf.reshape(inputs, (-1, inputs.shape[-1]))
            value = tf.matmul(flat, ops.cast(self.value_kernel, flat.dtype))
            gate = tf.matmul(flat, ops.cast(self.gate_kernel, flat.dtype))
            if self.use_bias:
                value = value + ops.cast(self.value_bias, value.dtype)
                gate = gate + ops.cast(self.gate_bias, gate.dtype)
            outputs = value * (gate * tf.sigmoid(gate))
            return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [self.units]], 0))

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.units)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}

    return SwiGLUDense


def _fused_conv_config(conv) -> dict | None:
    """``FoldedConv1D``'s arguments for a folded 1-D convolution, or None where it keeps its own layer (another
    backend, rank or padding, channels first, or a grouped convolution without TensorFlow's native kernel)."""
    import keras

    from seq2exp.models.blocks.layers import GatedPointwiseConv1D, GroupedConv1D, native_grouped_convolution

    if keras.backend.backend() != "tensorflow":
        return None
    if isinstance(conv, GatedPointwiseConv1D):
        return {"filters": conv.filters, "kernel_size": 1, "gated": True}
    if isinstance(conv, GroupedConv1D):
        if conv.padding not in ("valid", "same") or not native_grouped_convolution():
            return None
        return {"filters": conv.filters, "kernel_size": conv.kernel_size, "groups": conv.groups,
                "padding": conv.padding, "fuse_activation": False}
    if (isinstance(conv, keras.layers.Conv1D) and conv.padding in ("valid", "same")
            and conv.data_format == "channels_last"):
        return {"filters": conv.filters, "kernel_size": conv.kernel_size[0], "strides": conv.strides[0],
                "dilation_rate": conv.dilation_rate[0], "padding": conv.padding}
    return None


def _producers(model) -> dict[str, list]:
    """``{layer name: [layers whose output it consumes]}`` over the model's own graph."""
    producers: dict[str, list] = {}
    for layer in model.layers:
        found = []
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.input_tensors:
                history = getattr(tensor, "_keras_history", None)
                if history is not None:
                    found.append(history.operation)
        producers[layer.name] = found
    return producers


def _foldable_conv(layer) -> bool:
    import keras

    from seq2exp.models.blocks.layers import GatedPointwiseConv1D, GroupedConv1D

    if isinstance(layer, (GroupedConv1D, GatedPointwiseConv1D)):
        return True
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)) and not isinstance(
            layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv1D,
                    keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        return layer.groups == 1 and layer.activation is keras.activations.linear
    return False


def _graph_facts(model) -> tuple[dict[str, list], dict[str, int], set[str]]:
    """The model's producers (:func:`_producers`), how many layers consume each layer, and its output layers."""
    producers = _producers(model)
    consumers: dict[str, int] = {}
    for layer in model.layers:
        for producer in producers[layer.name]:
            consumers[producer.name] = consumers.get(producer.name, 0) + 1
    output_layers = {getattr(t, "_keras_history", None).operation.name for t in model.outputs
                     if getattr(t, "_keras_history", None) is not None}
    return producers, consumers, output_layers


def find_dense_swiglu_pairs(model) -> list[tuple[str, str]]:
    """``(Dense name, SwiGLU name)`` pairs that :func:`fold_batchnorm` runs as one ``SwiGLUDense`` on TensorFlow:
    a linear ``Dense`` whose only consumer is a fixed-beta ``SwiGLU``, each called once, in layer order."""
    import keras

    from seq2exp.models.blocks.attention import SwiGLU

    if keras.backend.backend() != "tensorflow":
        return []
    producers, consumers, output_layers = _graph_facts(model)
    pairs = []
    for layer in model.layers:
        if (not isinstance(layer, SwiGLU) or layer.learnable_beta or len(layer._inbound_nodes) != 1
                or len(producers[layer.name]) != 1):
            continue
        dense = producers[layer.name][0]
        if (type(dense) is keras.layers.Dense and dense.activation is keras.activations.linear
                and not getattr(dense, "lora_enabled", False) and getattr(dense, "quantization_mode", None) is None
                and len(dense._inbound_nodes) == 1 and consumers.get(dense.name) == 1
                and dense.name not in output_layers):
            pairs.append((dense.name, layer.name))
    return pairs


def find_conv_bn_pairs(model) -> list[tuple[str, str]]:
    """``(convolution name, BatchNorm name)`` pairs that :func:`fold_batchnorm` folds, in layer order."""
    import keras

    producers, consumers, output_layers = _graph_facts(model)
    pairs = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
        if axis is None or len(layer._inbound_nodes) != 1 or len(producers[layer.name]) != 1:
            continue
        conv = producers[layer.name][0]
        rank = len(conv.output.shape) if hasattr(conv, "output") else None
        if rank is None or axis not in (-1, rank - 1):
            continue
        if (_foldable_conv(conv) and len(conv._inbound_nodes) == 1 and consumers.get(conv.name) == 1
                and conv.name not in output_layers):
            pairs.append((conv.name, layer.name))
    return pairs


def _folded_weights(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``bn(conv(x))`` at inference, in ``conv``'s kernel layout (float64 maths, float32 out)."""
    from seq2exp.models.blocks.layers import GroupedConv1D

    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    filters = conv.filters
    bias = (np.asarray(conv.bias.numpy(), np.float64) if getattr(conv, "bias", None) is not None
            else np.zeros(filters))
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else np.ones(filters)
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else np.zeros(filters)
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    variance = np.asarray(bn.moving_variance.numpy(), np.float64)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    if isinstance(conv, GroupedConv1D):  # kernel [k, C_in, o]; output channel g*o + j
        k, channels, per_group = kernel.shape
        grouped = kernel.reshape(k, conv.groups, channels // conv.groups, per_group)
        kernel = (grouped * scale.reshape(conv.groups, 1, per_group)).reshape(kernel.shape)
    else:  # kernel [..., C_in, filters]
        kernel = kernel * scale
    return kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def _fingerprint(model) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def fold_batchnorm(model):
    """An inference-equivalent copy of ``model`` with each (convolution -> BatchNorm) pair folded into one
    convolution and each (Dense -> SwiGLU) pair run as one layer (see the module docstring); ``model`` itself is not
    changed. Returns ``model`` when nothing folds.
    The copy is cached per model and rebuilt when the model's weights change."""
    try:
        fingerprint = _fingerprint(model)
        cached = _CACHE.get(model)
    except TypeError:  # not weak-referenceable
        fingerprint, cached = None, None
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    folded = _fold(model)
    if fingerprint is not None:
        _CACHE[model] = (fingerprint, folded)
    return folded


def _fold(model):
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "_inbound_nodes"):
        return model
    pairs, glu_pairs = find_conv_bn_pairs(model), find_dense_swiglu_pairs(model)
    if not pairs and not glu_pairs:
        return model
    folded_class, fused_class, swiglu_class = _folded_layer_class(), _folded_conv_class(), _swiglu_dense_class()
    bn_after = dict(pairs)  # convolution name -> its BatchNorm's name
    conv_before = {bn: conv for conv, bn in pairs}
    fused = {conv: config for conv in bn_after if (config := _fused_conv_config(model.get_layer(conv))) is not None}
    swiglu_after = dict(glu_pairs)  # Dense name -> its SwiGLU's name
    dense_before = {glu: dense for dense, glu in glu_pairs}

    def clone(layer):
        config = layer.get_config()
        if layer.name in swiglu_after:  # the Dense computes the SwiGLU; the SwiGLU passes through
            return swiglu_class(units=layer.units // 2, use_bias=layer.use_bias, name=layer.name,
                                dtype=layer.dtype_policy)
        if layer.name in dense_before:
            return folded_class(name=layer.name, dtype=layer.dtype_policy)
        if layer.name in fused:  # the convolution takes the BatchNorm's activation; the BatchNorm passes through
            activation = getattr(model.get_layer(bn_after[layer.name]), "activation", None)
            return fused_class(name=layer.name, dtype=layer.dtype_policy, activation=activation,
                               **fused[layer.name])
        if layer.name in bn_after:
            config["use_bias"] = True
            return layer.__class__.from_config(config)
        if layer.name in conv_before:
            activation = None if conv_before[layer.name] in fused else getattr(layer, "activation", None)
            return folded_class(name=layer.name, dtype=layer.dtype_policy, activation=activation)
        return layer.__class__.from_config(config)

    # clone_model compiles a compiled model's copy from its compile config, which fails for a loss that is not
    # registered (e.g. seq2exp's multi-task loss, a closure): clone an uncompiled view of it
    source = keras.Model(model.input, model.output, name=model.name) if getattr(model, "compiled", False) else model
    try:
        folded = keras.models.clone_model(source, clone_function=clone)
    except Exception as error:  # noqa: BLE001 - an unusual model: predict with the original graph
        logger.warning("fold_batchnorm: cannot rebuild %s (%s); using it unchanged", model.name, error)
        return model
    rewritten = set(conv_before) | set(bn_after) | set(swiglu_after)
    for layer in model.layers:  # every other layer keeps its weights; the rewritten ones get theirs below
        if layer.weights and layer.name not in rewritten:
            folded.get_layer(layer.name).set_weights(layer.get_weights())
    for dense_name in swiglu_after:
        dense = model.get_layer(dense_name)
        kernel, units = dense.kernel.numpy(), dense.units // 2
        weights = [kernel[:, :units], kernel[:, units:]]
        if dense.use_bias:
            bias = dense.bias.numpy()
            weights += [bias[:units], bias[units:]]
        folded.get_layer(dense_name).set_weights(weights)
    for conv_name, bn_name in pairs:
        conv = model.get_layer(conv_name)
        kernel, bias = _folded_weights(conv, model.get_layer(bn_name))
        if conv_name in fused and fused[conv_name].get("groups", 1) > 1:  # the native grouped layout
            kernel = np.asarray(conv.grouped_kernel(kernel))
        folded.get_layer(conv_name).set_weights([kernel, bias])
    info = getattr(model, "seq2exp_build", None)
    if info is not None:  # the copy says what built it too (its task names name the export's outputs)
        from seq2exp.models.registry import stamp

        stamp(folded, info["architecture"], info["config"])
    logger.debug("fold_batchnorm: folded %d BatchNorm layers and %d Dense -> SwiGLU pairs of %s", len(pairs),
                 len(glu_pairs), model.name)
    return folded
