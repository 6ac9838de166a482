"""Inference-only graph rewrites: fold BatchNormalization into the convolution before it (prediction and export).

At inference a BatchNorm after a convolution is an affine map per output channel,
``y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta``, so it can be folded into the convolution's kernel and
bias: ``W' = W * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``. :func:`fold_batchnorm`
returns a copy of a functional Keras model in which every such (convolution -> BatchNorm) pair is one convolution
with a bias and the BatchNorm a pass-through layer (or its fused activation alone); everything else (layer names,
other weights, outputs) is unchanged, and the outputs equal the original's in inference mode within float rounding.
Training-mode behaviour is not kept (the folded model has no batch statistics): use it for prediction and export
only.

Folded: ``keras.layers.Conv1D`` / ``Conv2D`` (``groups == 1``, linear activation) and
:class:`seq2exp.models.blocks.layers.GroupedConv1D` and ``GatedPointwiseConv1D`` (kernel ``[1, C, f]``), each
followed by a ``BatchNormalization`` over the last axis that is its only consumer. Nothing is folded in a model
that is not functional, or whose BatchNorms do not follow a convolution; such models are returned as they are.
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
    class FoldedBatchNorm(keras.layers.Layer):
        """Where a BatchNorm was folded into the convolution before it: passes its input through, or applies the
        activation of a ``FusedBatchNorm(activation=...)``."""

        def __init__(self, activation: str | None = None, **kwargs):
            super().__init__(**kwargs)
            self.activation = activation

        def call(self, inputs, training=None, mask=None):  # noqa: ARG002 - the BatchNorm's call signature
            return keras.activations.get(self.activation or "linear")(inputs)

        def get_config(self):
            return {**super().get_config(), "activation": self.activation}

        def compute_output_shape(self, input_shape):
            return input_shape

    return FoldedBatchNorm


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


def find_conv_bn_pairs(model) -> list[tuple[str, str]]:
    """``(convolution name, BatchNorm name)`` pairs that :func:`fold_batchnorm` folds, in layer order."""
    import keras

    producers = _producers(model)
    consumers: dict[str, int] = {}
    for layer in model.layers:
        for producer in producers[layer.name]:
            consumers[producer.name] = consumers.get(producer.name, 0) + 1
    output_layers = {getattr(t, "_keras_history", None).operation.name for t in model.outputs
                     if getattr(t, "_keras_history", None) is not None}
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
    convolution (see the module docstring); ``model`` itself is not changed. Returns ``model`` when nothing folds.
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

    pairs = find_conv_bn_pairs(model)
    if not pairs or not isinstance(model, keras.Model) or not hasattr(model, "_inbound_nodes"):
        return model
    folded_class = _folded_layer_class()
    conv_names = {conv for conv, _ in pairs}
    bn_names = {bn for _, bn in pairs}

    def clone(layer):
        config = layer.get_config()
        if layer.name in conv_names:
            config["use_bias"] = True
            return layer.__class__.from_config(config)
        if layer.name in bn_names:
            return folded_class(name=layer.name, dtype=layer.dtype_policy,
                                activation=getattr(layer, "activation", None))
        return layer.__class__.from_config(config)

    try:
        folded = keras.models.clone_model(model, clone_function=clone)
    except Exception as error:  # noqa: BLE001 - an unusual model: predict with the original graph
        logger.warning("fold_batchnorm: cannot rebuild %s (%s); using it unchanged", model.name, error)
        return model
    for layer in model.layers:  # every other layer keeps its weights; the folded pairs get theirs below
        if layer.weights and layer.name not in bn_names and layer.name not in conv_names:
            folded.get_layer(layer.name).set_weights(layer.get_weights())
    for conv_name, bn_name in pairs:
        kernel, bias = _folded_weights(model.get_layer(conv_name), model.get_layer(bn_name))
        folded.get_layer(conv_name).set_weights([kernel, bias])
    info = getattr(model, "seq2exp_build", None)
    if info is not None:  # the copy says what built it too (its task names name the export's outputs)
        from seq2exp.models.registry import stamp

        stamp(folded, info["architecture"], info["config"])
    logger.debug("fold_batchnorm: folded %d BatchNorm layers of %s", len(pairs), model.name)
    return folded
