"""Convolutional blocks (channels last, ``[B, L, C]``), as ``apply_*(x, ..., name=)`` functions on symbolic tensors.

Every layer gets a name derived from ``name`` so that weights can be found, ported and inspected. PyTorch-derived
teams use PyTorch's BatchNorm settings (``momentum=0.1`` there = ``0.9`` here, ``eps=1e-5``): ``TORCH_BN``.
"""
from __future__ import annotations

import math
from typing import Sequence

import keras

from seq2exp.models.blocks.layers import (
    HALVED_KERNEL_TAPS,
    CPBilinear,
    FusedBatchNorm,
    FusedDropout,
    GatedPointwiseConv1D,
    GroupedConv1D,
    LongKernelConv1D,
    SigmoidGELU,
)

TORCH_BN = {"momentum": 0.9, "epsilon": 1e-5}
KERAS_BN = {"momentum": 0.99, "epsilon": 1e-3}
# BatchNorm -> SiLU as one layer (FusedBatchNorm(activation="silu")) and LegNet's SE scale -> pointwise convolution
# as one layer (GatedPointwiseConv1D): same weights (names, shapes) and maths, a third less training memory for
# LegNet. False builds the separate layers of files saved before (tests use it).
FUSED_LAYERS = True


def activation_layer(kind: str | None, name: str) -> keras.layers.Layer:
    """A named activation layer: ``relu``, ``silu``, ``leaky_relu`` (slope 0.3, Keras 2's ``LeakyReLU``),
    ``gelu_sigmoid`` (``x·σ(1.702x)``), ``sigmoid``, ``elu``, ``gelu`` or ``linear``/``None``."""
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.3, name=name)
    if kind == "gelu_sigmoid":
        return SigmoidGELU(name=name)
    return keras.layers.Activation(kind or "linear", name=name)


def torch_conv_init(kernel_size: int, filters: int) -> keras.initializers.Initializer:
    """LegNet's convolution init ``N(0, sqrt(2 / (kernel_size * out_channels)))``."""
    return keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / (kernel_size * filters)))


def apply_conv_bn_act(
    x, filters: int, kernel_size: int, *, name: str, activation: str | None = "relu", use_bias: bool = True,
    batch_norm: bool = True, dilation_rate: int = 1, padding: str = "same", bn: dict | None = None,
    kernel_initializer="glorot_uniform",
):
    """Conv1D -> (BatchNorm) -> activation; a 14-21-tap kernel is a ``LongKernelConv1D`` (Conv1D's weights and
    maths, faster on oneDNN's AVX-512 kernels)."""
    conv = LongKernelConv1D if kernel_size in HALVED_KERNEL_TAPS else keras.layers.Conv1D
    x = conv(filters, kernel_size, padding=padding, dilation_rate=dilation_rate, use_bias=use_bias,
             kernel_initializer=kernel_initializer, name=f"{name}_conv")(x)
    if batch_norm:
        return apply_batchnorm_act(x, activation, bn=bn or TORCH_BN, name=name)
    if activation:
        x = activation_layer(activation, f"{name}_act")(x)
    return x


def apply_batchnorm_act(x, activation: str | None, *, name: str, bn: dict | None = None):
    """BatchNorm (``{name}_bn``) -> activation (``{name}_act``); BatchNorm -> SiLU is the one layer
    ``FusedBatchNorm(activation="silu")`` named ``{name}_bn`` (see ``FUSED_LAYERS``)."""
    if activation == "silu" and FUSED_LAYERS:
        return FusedBatchNorm(**(bn or TORCH_BN), activation="silu", name=f"{name}_bn")(x)
    x = FusedBatchNorm(**(bn or TORCH_BN), name=f"{name}_bn")(x)
    if activation:
        x = activation_layer(activation, f"{name}_act")(x)
    return x


def apply_parallel_convs(
    x, filters: int, kernel_sizes: Sequence[int], *, name: str, activation: str = "relu", batch_norm: bool = False,
    dilation_rates: Sequence[int] | None = None, pool_size: int = 1, dropout: float = 0.0, bn: dict | None = None,
):
    """Parallel ``same`` convolutions (one per kernel size / dilation) concatenated on channels.

    ``filters`` is the total; each branch gets ``filters / n_branches``. Each branch is
    Conv -> (BN) -> activation -> (MaxPool) -> (Dropout), as BHI's ``ConvBlock`` and wztr's ``HybridConv``.
    """
    n_branches = len(dilation_rates) if dilation_rates else len(kernel_sizes)
    if filters % n_branches:
        raise ValueError(f"{name}: filters ({filters}) must be divisible by the number of branches ({n_branches})")
    kernels = list(kernel_sizes) if len(kernel_sizes) == n_branches else list(kernel_sizes) * n_branches
    dilations = list(dilation_rates) if dilation_rates else [1] * n_branches
    branches = []
    for index, (kernel_size, dilation) in enumerate(zip(kernels, dilations)):
        branch_name = f"{name}_branch{index}"
        branch = apply_conv_bn_act(x, filters // n_branches, kernel_size, name=branch_name, activation=activation,
                                   batch_norm=batch_norm, dilation_rate=dilation, bn=bn)
        if pool_size > 1:
            branch = keras.layers.MaxPooling1D(pool_size, name=f"{branch_name}_pool")(branch)
        if dropout:
            branch = FusedDropout(dropout, name=f"{branch_name}_dropout")(branch)
        branches.append(branch)
    if len(branches) == 1:
        return branches[0]
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(branches)


# ------------------------------------------------------------------------------------------------ LegNet (autosome)
def apply_legnet_se(x, input_channels: int, *, name: str, reduction: int = 4, bilinear: bool = True,
                    activation: str = "silu", return_gates: bool = False):
    """LegNet's squeeze-and-excitation: mean over length -> Linear(C -> r) -> SiLU -> Linear(r -> r) ->
    concat[x, CPBilinear(r -> r/2)] -> SiLU -> Linear -> sigmoid -> channel-wise scale (r = input_channels/reduction).

    ``bilinear=False`` gives Prix Fixe's ``SELayerSimple``: Linear(C -> r) -> SiLU -> Linear(r -> C) -> sigmoid.
    ``return_gates=True`` returns the ``[B, 1, C]`` gates instead of the scaled ``x`` (for ``GatedPointwiseConv1D``).
    """
    channels = int(x.shape[-1])
    hidden = int(input_channels // reduction)
    dense_init = keras.initializers.RandomNormal(stddev=0.001)
    squeezed = keras.layers.GlobalAveragePooling1D(name=f"{name}_pool")(x)
    squeezed = keras.layers.Dense(hidden, kernel_initializer=dense_init, name=f"{name}_fc1")(squeezed)
    squeezed = activation_layer(activation, f"{name}_act1")(squeezed)
    if bilinear:
        squeezed = keras.layers.Dense(hidden, kernel_initializer=dense_init, name=f"{name}_fc2")(squeezed)
        interactions = CPBilinear(max(1, int(input_channels // reduction // 2)), rank_fraction=0.5, init_std=0.00075,
                                  name=f"{name}_bilinear")(squeezed)
        squeezed = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([squeezed, interactions])
        squeezed = activation_layer(activation, f"{name}_act2")(squeezed)
    squeezed = keras.layers.Dense(channels, kernel_initializer=dense_init, name=f"{name}_fc3")(squeezed)
    gates = activation_layer("sigmoid", f"{name}_gate")(squeezed)
    gates = keras.layers.Reshape((1, channels), name=f"{name}_gate_reshape")(gates)
    if return_gates:
        return gates
    return keras.layers.Multiply(name=f"{name}_scale")([x, gates])


def apply_legnet_stage(
    x, out_channels: int, *, name: str, kernel_size: int = 7, resize_factor: int = 4, filters_per_group: int = 2,
    se_reduction: int = 4, bilinear: bool = True, activation: str = "silu",
):
    """One LegNet stage: ``x = concat([x, inverted_residual(x)])`` then the resize convolution to ``out_channels``.

    The inverted residual is Conv1x1(C -> 4·out) -> BN -> SiLU -> grouped Conv(k, 2 filters per group) -> BN ->
    SiLU -> SE -> Conv1x1(-> C) -> BN -> SiLU; the resize is Conv(k, 2C -> out) -> BN -> SiLU. No biases.
    """
    channels = int(x.shape[-1])
    expanded = out_channels * resize_factor
    y = apply_conv_bn_act(x, expanded, 1, name=f"{name}_expand", activation=activation, use_bias=False,
                          kernel_initializer=torch_conv_init(1, expanded))
    y = GroupedConv1D(expanded, kernel_size, groups=expanded // filters_per_group, padding="same", use_bias=False,
                      kernel_initializer=torch_conv_init(kernel_size, expanded), name=f"{name}_grouped_conv")(y)
    y = apply_batchnorm_act(y, activation, bn=TORCH_BN, name=f"{name}_grouped")
    se = apply_legnet_se(y, channels, reduction=se_reduction, bilinear=bilinear, activation=activation,
                         name=f"{name}_se", return_gates=FUSED_LAYERS)
    if FUSED_LAYERS:  # SE scale and the pointwise projection as one layer named as the projection's Conv1D
        y = GatedPointwiseConv1D(channels, use_bias=False, kernel_initializer=torch_conv_init(1, channels),
                                 name=f"{name}_project_conv")([y, se])
        y = apply_batchnorm_act(y, activation, bn=TORCH_BN, name=f"{name}_project")
    else:
        y = apply_conv_bn_act(se, channels, 1, name=f"{name}_project", activation=activation, use_bias=False,
                              kernel_initializer=torch_conv_init(1, channels))
    x = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])
    return apply_conv_bn_act(x, out_channels, kernel_size, name=f"{name}_resize", activation=activation,
                             use_bias=False, kernel_initializer=torch_conv_init(kernel_size, out_channels))


# ------------------------------------------------------------------------------------------------ camformers, wztr
def apply_conv_pool_dropout(x, filters: int, kernel_size: int, *, name: str, pool_size: int = 1,
                            pool_stride: int | None = None, dropout: float = 0.0, activation: str = "relu"):
    """Camformers' conv block: Conv(k, same, bias) -> BN -> ReLU -> (MaxPool(pool, stride)) -> Dropout."""
    x = apply_conv_bn_act(x, filters, kernel_size, name=name, activation=activation)
    if pool_size > 1:
        x = keras.layers.MaxPooling1D(pool_size, strides=pool_stride or pool_size, name=f"{name}_pool")(x)
    if dropout:
        x = FusedDropout(dropout, name=f"{name}_dropout")(x)
    return x


def apply_hybrid_residual(x, *, name: str, kernel_size: int = 3, dilation_rates: Sequence[int] = (1, 2, 4, 6)):
    """wztr's ``Residual(HybridConv)``: parallel dilated Conv->BN->ReLU branches (same total width) + input."""
    y = apply_parallel_convs(x, int(x.shape[-1]), [kernel_size], dilation_rates=dilation_rates, batch_norm=True,
                             name=f"{name}_hybrid")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def apply_squeeze_excitation(x, *, ratio: float, name: str):
    """Squeeze-and-excitation (Hu et al.): mean over length -> Dense(C / ratio, relu) -> Dense(C, sigmoid) ->
    channel-wise scale of ``x``. (LegNet's variant with an extra layer is ``conv.apply_legnet_se``.)"""
    channels = int(x.shape[-1])
    gates = keras.layers.GlobalAveragePooling1D(name=f"{name}_squeeze")(x)
    gates = keras.layers.Dense(int(channels / ratio), activation="relu", name=f"{name}_reduce")(gates)
    gates = keras.layers.Dense(channels, activation="sigmoid", name=f"{name}_expand")(gates)
    gates = keras.layers.Reshape((1, channels), name=f"{name}_gates")(gates)
    return keras.layers.Multiply(name=f"{name}_scale")([x, gates])
