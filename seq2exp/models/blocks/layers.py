"""Custom Keras layers shared by the architectures (all registered for ``.keras`` serialisation).

- ``GroupedConv1D``: a grouped 1-D convolution. Weights are stored in the depthwise layout ``[k, in_channels,
  filters/groups]``; on TensorFlow with oneDNN it runs TF's native grouped convolution on a reordered view of that
  kernel (Keras's ``Conv1D(groups>1)`` goes through XLA on CPU and is unusably slow, see
  ``../shared/KNOWN_ISSUES.md``), elsewhere a depthwise convolution plus per-group channel sums. Same parameters
  and the same maths either way.
- ``FusedBatchNorm``: ``BatchNormalization`` (same weights and maths) on TensorFlow's fused kernel, optionally with
  the SiLU after it (its gradient recomputes instead of keeping the normalised values).
- ``FusedLayerNormalization`` / ``FusedDropout``: ``LayerNormalization`` and ``Dropout`` (same weights, maths and
  distribution) whose training passes run as XLA-compiled kernels on TensorFlow (the dropout mask redrawn from its
  seed in the backward pass instead of kept).
- ``FusedSeparableConv1D``: ``SeparableConv1D`` (same weights and maths) whose training pass on oneDNN computes a
  long depthwise kernel's gradient as a forward convolution.
- ``LongKernelConv1D``: ``Conv1D`` (same weights and maths) that runs a 14-21-tap kernel as its two halves on
  oneDNN's AVX-512 kernels, which run such kernels slower whole.
- ``GatedPointwiseConv1D``: an SE scale and the pointwise convolution after it, ``Conv1D(f, 1)(x * gates)``,
  whose gradient recomputes the product instead of keeping it.
- ``CPBilinear``: low-rank (CP-factorised) bilinear map ``y = W(x ⊗ x) + b`` with ``W = Σ_r w_r a_r ∘ b_r ∘ c_r``;
  the parameters and maths of tensorly-torch ``TRL((n, n), out, rank=0.5, factorization="cp")`` used by LegNet's SE
  block, computed without materialising the ``n × n × out`` tensor.
- ``ReverseComplement``: reverse-complement (or complement only) of one-hot letter channels (ACGT, or e.g. mt's
  AGCTNP), extra channels kept.
- ``ExpectedBin``: ``Σ_i p_i · i`` over the bins (the expected bin of a softmax).
- ``SqueezeLast``: ``[B, 1] -> [B]``.  ``SigmoidGELU``: ``x · σ(1.702 x)`` (wztr's GELU).
- ``NChannel`` / :func:`append_n_channel`: an explicit N channel for ``n_value=0`` one-hot inputs.
"""
from __future__ import annotations

import functools
import math

import keras
from keras import ops

from seq2exp.utils import cpu_flags, onednn_isa_below_avx512

PACKAGE = "seq2exp"


@functools.lru_cache(maxsize=None)
def native_grouped_convolution() -> bool:
    """Whether TensorFlow's own grouped convolution can train here: its CPU gradients exist only in the oneDNN
    kernels (Eigen's ``Conv2DBackpropInput`` raises "Gradients for grouped convolutions are not supported on CPU").
    TensorFlow turns oneDNN on by default only on some x86 CPUs (e.g. not on AMD EPYC with AVX2 only), or where
    ``TF_ENABLE_ONEDNN_OPTS=1``; everywhere else :class:`GroupedConv1D` takes the depthwise + group-sum form."""
    return onednn_enabled()


@functools.lru_cache(maxsize=None)
def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels here (False where this private probe is missing)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


# what oneDNN's AVX-512 kernels (avx512_core) need, as /proc/cpuinfo names the flags
AVX512_CORE_FLAGS = frozenset({"avx512f", "avx512bw", "avx512vl", "avx512dq"})


@functools.lru_cache(maxsize=None)
def onednn_avx512() -> bool:
    """Whether oneDNN runs its AVX-512 kernels here: the CPU has AVX-512 F/BW/VL/DQ and ``ONEDNN_MAX_CPU_ISA`` (or
    the older ``DNNL_MAX_CPU_ISA``) does not keep oneDNN to a narrower ISA such as ``AVX2``."""
    return not onednn_isa_below_avx512() and AVX512_CORE_FLAGS <= cpu_flags()


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU (there the layers below keep TensorFlow's and Keras's own GPU kernels)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def onednn_avx512_kernels_run() -> bool:
    """Whether TensorFlow's convolutions here run on oneDNN's AVX-512 kernels: oneDNN on, AVX-512 not capped
    (:func:`onednn_avx512`), no GPU. The grouped-convolution chunks and the long-kernel halves below are for those
    kernels only."""
    return onednn_enabled() and onednn_avx512() and not gpu_visible()


# oneDNN's AVX-512 channels-last grouped convolution slows 3-4x when one position's input channels span a multiple of
# 2 KiB (512 or 1024 float32 channels; 496, 528 and 768 run at full speed), as strided reads of one address set would:
# LegNet's 512-wide grouped convolutions ([1024, 150, 512], k=7, 2 filters per group) took 350 ms where 528 channels
# take 120 ms (AMD EPYC, 2 cores). Chunks of 128 channels, each its own convolution, avoid it. Its AVX2 kernels do
# not slow down there, and chunks would cost them a quarter more (forward 164-171 -> 223-227 ms), so they run whole.
ALIASED_ROW_BYTES = 2048
GROUPED_CHUNK_CHANNELS = 128


def grouped_convolution_chunks(channels: int, groups: int, itemsize: int) -> int:
    """Into how many chunks of whole groups :func:`convolve_grouped_in_chunks` splits a grouped convolution of
    ``channels`` inputs of ``itemsize`` bytes: ``channels / 128`` where a position's channels span a multiple of
    ``ALIASED_ROW_BYTES`` and the chunks hold whole groups, else 1."""
    if channels <= 0 or (channels * itemsize) % ALIASED_ROW_BYTES or channels % GROUPED_CHUNK_CHANNELS:
        return 1
    chunks = channels // GROUPED_CHUNK_CHANNELS
    return chunks if groups % chunks == 0 else 1


def convolve_grouped_in_chunks(convolve, inputs, kernel, groups: int, *per_filter):
    """``convolve(inputs, kernel, *per_filter)`` for a native grouped convolution (``kernel``'s and ``per_filter``'s
    last axis the filters, group-major), split with oneDNN's AVX-512 kernels and no GPU into chunks of whole groups
    (:func:`grouped_convolution_chunks`), each convolved on its own and concatenated: the same numbers."""
    import tensorflow as tf

    channels, chunks = inputs.shape[-1], 1
    if channels is not None and onednn_avx512_kernels_run():
        chunks = grouped_convolution_chunks(int(channels), groups, tf.as_dtype(inputs.dtype).size)
    if chunks == 1:
        return convolve(inputs, kernel, *per_filter)
    pieces = zip(tf.split(inputs, chunks, axis=-1), tf.split(kernel, chunks, axis=-1),
                 *(tf.split(values, chunks, axis=-1) for values in per_filter))
    return tf.concat([convolve(*piece) for piece in pieces], axis=-1)


# oneDNN's AVX-512 convolutions run a kernel of 14 to 21 taps 15-25% slower than its two halves convolved apart and
# summed (the same FLOPs; forward, input and weight gradients alike): [32, 230, 640] -> 160 filters, k=15, forward
# 135-138 ms whole, 111-113 ms in halves; 13 taps run at full speed (AMD EPYC Zen 4, 2 cores). DREAM-RNN's and BHI's
# 15-tap convolutions are such. Measured no gain: 5 input channels, 64 taps (slower split), and the AVX2 kernels
# (DREAM-RNN's training step slower in halves).
HALVED_KERNEL_TAPS = range(14, 22)
MIN_HALVED_KERNEL_CHANNELS = 64


def convolve_kernel_in_halves(channels: int | None, taps: int, *, strides: int = 1, dilation_rate: int = 1,
                              groups: int = 1) -> bool:
    """Whether :func:`convolve_in_halves` should run this 1-D convolution (``channels`` inputs, a ``taps``-wide
    kernel): oneDNN's AVX-512 kernels, no GPU, stride and dilation 1, no groups, see ``HALVED_KERNEL_TAPS``."""
    return (taps in HALVED_KERNEL_TAPS and channels is not None and channels >= MIN_HALVED_KERNEL_CHANNELS
            and strides == 1 and dilation_rate == 1 and groups == 1 and onednn_avx512_kernels_run())


def convolve_in_halves(convolve_valid, inputs, kernel, padding: str, axis: int):
    """The ``padding`` (``"same"`` or ``"valid"``) convolution of ``inputs`` along ``axis`` by ``kernel`` (taps
    first) as the sum of its two halves' convolutions: taps ``[0, h)`` over the (padded) inputs less their last
    ``k - h`` positions, taps ``[h, k)`` over them less their first ``h``. ``convolve_valid(inputs, kernel)`` is a
    stride-1, undilated ``valid`` convolution; the same numbers up to the order of the sums."""
    import tensorflow as tf

    taps = int(kernel.shape[0])
    half = (taps + 1) // 2
    if padding == "same":
        pads = [[0, 0]] * len(inputs.shape)
        pads[axis] = [(taps - 1) // 2, taps - 1 - (taps - 1) // 2]
        inputs = tf.pad(inputs, pads)
    first = [slice(None)] * len(inputs.shape)
    second = list(first)
    first[axis], second[axis] = slice(0, -(taps - half)), slice(half, None)
    return (convolve_valid(inputs[tuple(first)], kernel[:half])
            + convolve_valid(inputs[tuple(second)], kernel[half:]))


@keras.saving.register_keras_serializable(package=PACKAGE)
class LongKernelConv1D(keras.layers.Conv1D):
    """``keras.layers.Conv1D`` (same arguments, weights, config and maths) that runs a kernel of 14 to 21 taps as its
    two halves where oneDNN's AVX-512 kernels would run it whole slower (:func:`convolve_kernel_in_halves`);
    anywhere else, and for other paddings, strides, dilations or groups, Keras's own convolution runs."""

    def call(self, inputs):
        channels = inputs.shape[-1]
        if (keras.backend.backend() != "tensorflow" or self.padding not in ("same", "valid")
                or self.data_format != "channels_last" or not convolve_kernel_in_halves(
                    channels, int(self.kernel_size[0]), strides=int(self.strides[0]),
                    dilation_rate=int(self.dilation_rate[0]), groups=self.groups)):
            return super().call(inputs)
        import tensorflow as tf

        kernel = ops.cast(self.kernel, inputs.dtype)
        outputs = convolve_in_halves(lambda x, k: tf.nn.conv1d(x, k, 1, "VALID"), inputs, kernel, self.padding,
                                     axis=1)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupedConv1D(keras.layers.Layer):
    """Grouped 1-D convolution (channels last), weights in the depthwise layout ``[k, in_channels, o]``.

    With ``g`` groups, ``i = in_channels / g`` inputs and ``o = filters / g`` outputs per group, the depthwise
    kernel ``[k, in_channels, o]`` convolves every input channel with the ``o`` filters of its group; summing the
    ``i`` input channels of each group gives exactly ``Conv1D(filters, k, groups=g)``. On TensorFlow with oneDNN
    the same kernel, reordered to ``[k, i, filters]`` (:meth:`grouped_kernel`), feeds TF's native grouped
    convolution (see :func:`native_grouped_convolution`); elsewhere the depthwise form runs.

    Args:
        filters: output channels (divisible by ``groups``).
        kernel_size: convolution width.
        groups: number of groups (input channels must be divisible by it).
        padding: ``"same"`` or ``"valid"``.
        use_bias: add a bias per output channel.
        kernel_initializer / bias_initializer: Keras initialisers.
    """

    def __init__(self, filters: int, kernel_size: int, groups: int, padding: str = "same", use_bias: bool = False,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if filters % groups:
            raise ValueError(f"filters ({filters}) must be divisible by groups ({groups})")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.groups = int(groups)
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ValueError(f"input channels ({channels}) must be divisible by groups ({self.groups})")
        self.in_per_group = channels // self.groups
        self.out_per_group = self.filters // self.groups
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, channels, self.out_per_group),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
                     if self.use_bias else None)

    def call(self, inputs):
        if keras.backend.backend() == "tensorflow" and native_grouped_convolution():
            outputs = self._grouped_tf(inputs)
        else:
            outputs = self._depthwise_sum(inputs)
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs

    def grouped_kernel(self, kernel=None):
        """The kernel in the layout of a native grouped convolution, ``[k, in_channels/groups, filters]``
        (output channel ``g·o + j`` reads input channels ``g·i .. g·i + i - 1``); same numbers, reordered."""
        kernel = self.kernel if kernel is None else kernel
        per_group = ops.reshape(kernel, (self.kernel_size, self.groups, self.in_per_group, self.out_per_group))
        return ops.reshape(ops.transpose(per_group, (0, 2, 1, 3)),
                           (self.kernel_size, self.in_per_group, self.filters))

    def _grouped_tf(self, inputs):
        # TensorFlow's own grouped convolution (``tf.nn.conv1d`` with ``in_channels/groups`` kernel inputs) runs on
        # CPU (oneDNN or Eigen) and GPU without XLA; it is about 3x faster than depthwise + group sum here. (Keras's
        # ``ops.conv`` would route every grouped convolution through XLA, which is the slow path on CPU.)
        import tensorflow as tf

        kernel = ops.cast(self.grouped_kernel(), inputs.dtype)
        return convolve_grouped_in_chunks(
            lambda x, w: tf.nn.conv1d(x, w, stride=1, padding=self.padding.upper()), inputs, kernel, self.groups)

    def _depthwise_sum(self, inputs):
        per_input = ops.depthwise_conv(inputs, self.kernel, strides=1, padding=self.padding)
        if self.in_per_group > 1:
            shape = ops.shape(per_input)
            per_input = ops.reshape(per_input, (shape[0], shape[1], self.groups, self.in_per_group,
                                                self.out_per_group))
            per_input = ops.sum(per_input, axis=3)
            per_input = ops.reshape(per_input, (shape[0], shape[1], self.filters))
        return per_input

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if self.padding == "valid" and length is not None:
            length = length - self.kernel_size + 1
        return (input_shape[0], length, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, groups=self.groups, padding=self.padding,
                      use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNorm(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same weights, names, config and maths) that runs TensorFlow's fused
    batch-norm kernel (one pass for the moments and the normalisation, one fused gradient) on ``[B, L, C]`` inputs.

    Keras's own layer computes the moments, the normalisation and their gradients as separate element-wise ops,
    which is a fifth of a LegNet training step on CPU. Anything else (another backend or rank, masks, renorm,
    synchronised BN, no scale/centre) takes the parent's path. The moving statistics are updated as Keras does
    (biased batch variance, ``moving = moving * momentum + batch * (1 - momentum)``).

    ``activation="silu"`` applies SiLU to the output in the same layer (``BatchNorm -> SiLU``, same maths). In
    training its gradient recomputes the normalised values from the input and the batch statistics (with the SiLU
    gradient, one XLA-compiled element-wise kernel) instead of keeping them: a separate SiLU layer keeps its input
    (the BatchNorm's output, as large as the activations) alive until the backward pass, which is a quarter of
    LegNet's training memory at batch 1024.
    """

    ACTIVATIONS = (None, "silu")

    def __init__(self, *args, activation: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        activation = None if activation in (None, "linear") else activation
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"FusedBatchNorm: activation must be one of {self.ACTIVATIONS}, not {activation!r}")
        self.activation = activation

    def get_config(self):
        config = super().get_config()
        if self.activation is not None:  # files without the key (BatchNorm only) stay what they were
            config["activation"] = self.activation
        return config

    def _activate(self, outputs):
        return ops.silu(outputs) if self.activation == "silu" else outputs

    def _fusable(self, inputs, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm
                and not self.synchronized and len(inputs.shape) == 3 and self.axis in (-1, 2)
                and self.scale and self.center)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return self._activate(super().call(inputs, training=training, mask=mask))
        import tensorflow as tf

        x = tf.expand_dims(ops.cast(inputs, "float32"), 2)  # NHWC with W = 1, float32 as Keras computes BN
        gamma, beta = ops.cast(self.gamma, "float32"), ops.cast(self.beta, "float32")
        if training and self.trainable:
            if self.activation == "silu":  # returns the biased variance (it needs it for the recompute)
                y, mean, variance = _batchnorm_silu_training(x, gamma, beta, epsilon=float(self.epsilon))
            else:
                y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
                    x=x, scale=gamma, offset=beta, mean=tf.constant([], tf.float32),
                    variance=tf.constant([], tf.float32), epsilon=self.epsilon, exponential_avg_factor=1.0,
                    data_format="NHWC", is_training=True)
                variance = _biased_variance(variance, x, gamma)  # the kernel returns the Bessel-corrected one
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, *_ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=ops.cast(self.moving_mean, "float32"),
                variance=ops.cast(self.moving_variance, "float32"), epsilon=self.epsilon, exponential_avg_factor=1.0,
                data_format="NHWC", is_training=False)
            y = self._activate(y)
        return ops.cast(tf.squeeze(y, 2), self.compute_dtype)


def _biased_variance(variance, x, gamma):
    """The batch variance as Keras keeps it (divided by n) from the Bessel-corrected one (n - 1) the kernel returns,
    n = the values per channel."""
    import tensorflow as tf

    count = tf.cast(tf.size(x) // tf.size(gamma), tf.float32)
    return variance * (count - 1.0) / count


@functools.lru_cache(maxsize=None)
def _silu_gradient_function():
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def silu_gradient(x, d_outputs, mean, variance, gamma, beta, epsilon):
        scale = gamma * tf.math.rsqrt(variance + epsilon)
        normalised = (x - mean) * scale + beta
        sigmoid = tf.sigmoid(normalised)
        return d_outputs * sigmoid * (1.0 + normalised * (1.0 - sigmoid))

    return silu_gradient


def _silu_gradient_of_batchnorm(x, d_outputs, mean, variance, gamma, beta, *, epsilon: float):
    """``d_outputs * SiLU'(normalised)`` with ``normalised = (x - mean) * gamma / sqrt(variance + epsilon) + beta``
    recomputed from ``x``: nine element-wise passes over the activations as separate TensorFlow kernels, compiled by
    XLA into one (2.5x faster on CPU; a tenth of a DREAM-CNN training step at batch 32)."""
    import tensorflow as tf

    return _silu_gradient_function()(x, d_outputs, mean, variance, gamma, beta, tf.constant(epsilon, x.dtype))


def _batchnorm_silu_training(x, gamma, beta, *, epsilon: float):
    """``SiLU(FusedBatchNormV3(x))`` in training mode, with the batch mean and the biased batch variance (as Keras
    keeps it), whose gradient keeps only ``x`` and the per-channel statistics: the normalised values are recomputed
    in the backward pass (one multiply-add per element), then TensorFlow's fused BatchNorm gradient takes over."""
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x, gamma, beta):
        y, mean, variance, reserve_1, reserve_2, reserve_3 = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.constant([], tf.float32), variance=tf.constant([], tf.float32),
            epsilon=epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        biased_variance = tf.stop_gradient(_biased_variance(variance, x, gamma))
        mean_kept = tf.stop_gradient(mean)

        def backward(d_outputs, d_mean=None, d_variance=None):  # noqa: ARG001 - the statistics only feed the averages
            # the recompute reads the incoming gradient, so it runs in the backward pass, not ahead of it (where the
            # executor would keep every layer's recomputed values until then)
            d_normalised = _silu_gradient_of_batchnorm(x, d_outputs, mean_kept, biased_variance, gamma, beta,
                                                        epsilon=epsilon)
            d_x, d_gamma, d_beta, *_ = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=d_normalised, x=x, scale=gamma, reserve_space_1=reserve_1, reserve_space_2=reserve_2,
                reserve_space_3=reserve_3, epsilon=epsilon, data_format="NHWC", is_training=True)
            return d_x, d_gamma, d_beta

        # y * sigmoid(y) is tf.nn.silu's value without its own custom-gradient wrapper (this one replaces it)
        return (y * tf.sigmoid(y), mean_kept, biased_variance), backward

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GatedPointwiseConv1D(keras.layers.Layer):
    """``Conv1D(filters, 1)(x * gates)`` on ``[x, gates]``: a squeeze-and-excitation scale (``x [B, L, C]``, gates
    ``[B, 1, C]``) and the pointwise convolution after it as one layer, with ``Conv1D``'s weights (``kernel [1, C,
    filters]``, optional ``bias``) and maths.

    On TensorFlow its gradient recomputes ``x * gates`` (ordered after the incoming gradient) instead of keeping it
    from the forward pass, as a ``Multiply`` layer followed by a ``Conv1D`` must (the convolution keeps its input);
    that is a tenth of LegNet's training memory. Elsewhere the plain ops run.
    """

    def __init__(self, filters: int, use_bias: bool = False, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        x_shape, gates_shape = input_shape
        channels = int(x_shape[-1])
        if len(x_shape) != 3 or tuple(gates_shape[1:]) != (1, channels):
            raise ValueError(f"{self.name}: expected x [B, L, C] and gates [B, 1, C], got {x_shape} and {gates_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(1, channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
                     if self.use_bias else None)

    def call(self, inputs, training=None):
        x, gates = inputs
        gates, kernel = ops.cast(gates, x.dtype), ops.cast(self.kernel[0], x.dtype)
        if keras.backend.backend() == "tensorflow" and training:
            outputs = _gated_pointwise_training(x, gates, kernel)
        else:
            outputs = ops.matmul(x * gates, kernel)
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:2], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config


def _matmul_last_axis(x, kernel):
    """``x [B, L, C] @ kernel [C, F] -> [B, L, F]`` on TensorFlow as one 2-D matrix product (a pointwise
    convolution)."""
    import tensorflow as tf

    shape = tf.shape(x)
    outputs = tf.matmul(tf.reshape(x, (-1, kernel.shape[0])), kernel)
    return tf.reshape(outputs, tf.concat([shape[:2], [kernel.shape[1]]], 0))


def _gated_pointwise_training(x, gates, kernel):
    """``(x * gates) @ kernel`` whose gradient keeps ``x``, ``gates`` and ``kernel`` but not the product."""
    import tensorflow as tf

    @tf.custom_gradient
    def forward(x, gates, kernel):
        shape = tf.shape(x)
        channels, filters = kernel.shape[0], kernel.shape[1]
        outputs = _matmul_last_axis(x * gates, kernel)

        def backward(d_outputs):
            d_flat = tf.reshape(d_outputs, [-1, filters])
            with tf.control_dependencies([d_outputs]):  # recompute in the backward pass, not ahead of it
                product = tf.reshape(tf.identity(x) * gates, [-1, channels])
            d_kernel = tf.matmul(product, d_flat, transpose_a=True)
            d_product = tf.reshape(tf.matmul(d_flat, kernel, transpose_b=True), shape)
            d_gates = tf.reduce_sum(d_product * x, axis=1, keepdims=True)
            return d_product * gates, d_gates, d_kernel

        return outputs, backward

    return forward(x, gates, kernel)


# Activations smaller than this (per example) take Keras's own kernels: compiling an XLA kernel for a shape costs
# about 0.1 s, more than the few passes it saves on a small tensor.
MIN_FUSED_ELEMENTS = 4096


def fusable_on_tensorflow(inputs) -> bool:
    """TensorFlow backend, a static per-example shape and at least :data:`MIN_FUSED_ELEMENTS` values per example."""
    per_example = inputs.shape[1:]
    return (keras.backend.backend() == "tensorflow" and None not in per_example
            and math.prod(per_example) >= MIN_FUSED_ELEMENTS)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedLayerNormalization(keras.layers.LayerNormalization):
    """``keras.layers.LayerNormalization`` (same arguments, weights and maths) with fewer passes over the
    activations on TensorFlow, for the usual case (normalised over the last axis, with scale and centre).

    Training runs the forward pass and the gradient each as one XLA-compiled kernel (``tf.function(jit_compile=
    True)``, one compile per shape) instead of Keras's separate TensorFlow ops (at ``[32, 249, 256]`` on 2 CPU
    cores: forward 4.4 -> 2.2 ms, forward and backward with a loss 13.5 -> 9.2 ms). Inference (prediction and the
    exported serving graph, which TensorFlow Serving runs without XLA) subtracts the mean once and scales by
    ``rsqrt(variance + epsilon)`` with plain TensorFlow ops, where Keras first builds ``gamma * rsqrt(...)`` and
    ``-mean * that`` as full-size tensors (forward 4.9 -> 3.6 ms). Other cases run Keras's own code.
    """

    def _fusable(self, inputs) -> bool:
        axes = list(self.axis) if isinstance(self.axis, (list, tuple)) else [self.axis]
        rank = len(inputs.shape)
        return (fusable_on_tensorflow(inputs) and len(axes) == 1 and axes[0] in (-1, rank - 1)
                and self.scale and self.center and not self.rms_scaling
                and keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16", "float32"))

    def call(self, inputs, training=None):
        if not self._fusable(inputs):
            return super().call(inputs)
        x = ops.cast(inputs, "float32")  # Keras computes layer norm in at least float32
        gamma, beta = ops.cast(self.gamma, "float32"), ops.cast(self.beta, "float32")
        if training:
            outputs = _layer_norm_training(x, gamma, beta, epsilon=float(self.epsilon))
        else:
            outputs, _, _ = _layer_norm_last_axis(x, gamma, beta, float(self.epsilon))
        return ops.cast(outputs, self.compute_dtype)


def _layer_norm_last_axis(x, gamma, beta, epsilon: float):
    """Layer norm over the last axis with TensorFlow ops: the outputs, the per-row mean and inverse deviation."""
    import tensorflow as tf

    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centred = x - mean
    inverse_std = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True) + epsilon)
    return centred * inverse_std * gamma + beta, mean, inverse_std


@functools.lru_cache(maxsize=None)
def _layer_norm_kernels(epsilon: float):
    """The forward and backward XLA kernels of :class:`FusedLayerNormalization` (last axis) for one epsilon."""
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def forward(x, gamma, beta):
        return _layer_norm_last_axis(x, gamma, beta, epsilon)

    @tf.function(jit_compile=True, autograph=False)
    def backward(x, mean, inverse_std, gamma, d_outputs):
        normalised = (x - mean) * inverse_std
        d_normalised = d_outputs * gamma
        d_x = inverse_std * (d_normalised - tf.reduce_mean(d_normalised, axis=-1, keepdims=True)
                             - normalised * tf.reduce_mean(d_normalised * normalised, axis=-1, keepdims=True))
        batch_axes = list(range(len(x.shape) - 1))
        return d_x, tf.reduce_sum(d_outputs * normalised, axis=batch_axes), tf.reduce_sum(d_outputs, axis=batch_axes)

    return forward, backward


def _layer_norm_training(x, gamma, beta, *, epsilon: float):
    """Layer norm over the last axis whose gradient keeps ``x`` and the per-row mean and inverse deviation."""
    import tensorflow as tf

    forward_kernel, backward_kernel = _layer_norm_kernels(epsilon)

    @tf.custom_gradient
    def forward(x, gamma, beta):
        outputs, mean, inverse_std = forward_kernel(x, gamma, beta)

        def backward(d_outputs):
            return backward_kernel(x, mean, inverse_std, gamma, d_outputs)

        return outputs, backward

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedDropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` (same arguments and distribution: each value kept with probability ``1 - rate``
    and scaled by ``1 / (1 - rate)``) whose training pass on TensorFlow is one XLA-compiled kernel.

    The keep mask is drawn (counter-based ThreeFry, seeded from the layer's seed generator as Keras seeds it) and
    applied in the same pass, and the gradient draws the same mask again from the same seed instead of keeping it.
    Keras's dropout is four kernels (uniform draw, compare, scale, select; forward 10.6 ms against 4.2 ms at
    ``[32, 249, 512]`` on 2 CPU cores) and keeps a boolean mask per value until the backward pass. ``noise_shape`` and small inputs run Keras's own dropout; the mask's random stream differs
    from Keras's (a different generator), not its distribution.
    """

    def call(self, inputs, training=False):
        if not (training and 0.0 < self.rate < 1.0 and self.noise_shape is None
                and fusable_on_tensorflow(inputs)):
            return super().call(inputs, training=training)
        import tensorflow as tf

        seed = self.seed_generator.next()
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)  # as Keras casts it for tf.random
        return _dropout_training(inputs, seed, float(self.rate))


@functools.lru_cache(maxsize=None)
def _dropout_kernel(rate: float):
    """``where(uniform(seed) >= rate, x / (1 - rate), 0)`` as one XLA kernel; the same seed gives the same mask."""
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def apply_mask(x, seed):
        keep = tf.random.stateless_uniform(tf.shape(x), seed, alg="threefry") >= rate
        return tf.where(keep, x * tf.cast(1.0 / (1.0 - rate), x.dtype), tf.zeros_like(x))

    return apply_mask


def _dropout_training(x, seed, rate: float):
    """Dropout of ``x`` with the mask of ``seed``, whose gradient applies the same mask (drawn again)."""
    import tensorflow as tf

    apply_mask = _dropout_kernel(rate)

    @tf.custom_gradient
    def forward(x):
        def backward(d_outputs):
            return apply_mask(d_outputs, seed)  # the same mask, drawn again

        return apply_mask(x, seed), backward

    return forward(x)


# From this kernel size on, oneDNN's depthwise kernel-gradient kernel (TensorFlow's
# _MklNativeDepthwiseConv2dNativeBackpropFilter) leaves its fast path: at [32, 249, 256] on 2 cores it takes 4.0 ms
# for k=13 and 17-18 ms for k=14, 15 or 31, on AVX-512 and with oneDNN held to AVX2 alike. Eigen's kernel (oneDNN
# off) stays fast.
DEPTHWISE_GRADIENT_AS_CONVOLUTION_FROM = 14


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedSeparableConv1D(keras.layers.SeparableConv1D):
    """``keras.layers.SeparableConv1D`` (same arguments, weights and maths) that trains faster on TensorFlow's oneDNN
    CPU kernels when the kernel is long (``kernel_size >= 14``, e.g. the Conformer convolutions of Unlock_DNA and
    DREAM-Attn, k=15).

    There, in training, the depthwise kernel's gradient is computed as a forward depthwise convolution over the
    batch and channel axes side by side (oneDNN's own kernel-gradient kernel is 4x slower at these sizes: 4.4 ms
    against 17 ms at ``[32, 249, 256]``, k=15), and the pointwise convolution runs as one matrix product. Prediction
    and export, other kernel sizes, strides, dilations, dtypes other than float32 and bfloat16, a visible GPU and
    TensorFlow without oneDNN run Keras's own code. Under ``mixed_bfloat16`` (oneDNN, long kernel) the depthwise
    part runs in float32 in training and prediction alike, the pointwise part in bfloat16: oneDNN's bfloat16
    depthwise convolution never returns there on 16 channels or fewer, and is no faster on more.
    """

    def _onednn_long_kernel(self, inputs) -> bool:
        return (keras.backend.backend() == "tensorflow" and onednn_enabled() and not gpu_visible()
                and self.kernel_size[0] >= DEPTHWISE_GRADIENT_AS_CONVOLUTION_FROM
                and self.data_format == "channels_last" and len(inputs.shape) == 3 and None not in inputs.shape[1:]
                and self.compute_dtype in ("float32", "bfloat16")
                and keras.backend.standardize_dtype(inputs.dtype) == self.compute_dtype)

    def _fast_training(self, inputs, training) -> bool:
        return (training is True and self._onednn_long_kernel(inputs)
                and tuple(self.strides) == (1,) and tuple(self.dilation_rate) == (1,))

    def call(self, inputs, training=None):
        # under mixed_bfloat16 the depthwise part runs in float32: oneDNN's bfloat16 depthwise convolution with a long
        # kernel never returns on 16 channels or fewer (k=15, 17 and 31 checked; 24 or more channels return)
        in_float32 = self._onednn_long_kernel(inputs) and self.compute_dtype == "bfloat16"
        fast = self._fast_training(inputs, training)
        if not (fast or in_float32):
            return super().call(inputs)

        dtype = self.compute_dtype
        x, kernel = ops.cast(inputs, "float32"), ops.cast(self.depthwise_kernel, "float32")
        if fast:
            depthwise = _depthwise_conv1d_training(x, kernel, self.padding)
        else:
            depthwise = ops.depthwise_conv(x, kernel, strides=self.strides, padding=self.padding,
                                           dilation_rate=self.dilation_rate, data_format=self.data_format)
        pointwise = ops.cast(self.pointwise_kernel, dtype)[0]  # [C * depth_multiplier, filters]
        outputs = _matmul_last_axis(ops.cast(depthwise, dtype), pointwise)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, dtype)
        return outputs if self.activation is None else self.activation(outputs)


def _depthwise_conv1d_training(x, kernel, padding: str):
    """Keras's depthwise convolution of ``x [B, L, C]`` with ``kernel [k, C, m]`` (stride 1, ``same`` or ``valid``),
    whose kernel gradient is itself a forward depthwise convolution (:func:`_depthwise_kernel_gradient`)."""
    import tensorflow as tf

    strides, tf_padding = (1, 1, 1, 1), padding.upper()

    @tf.custom_gradient
    def forward(x, kernel):
        outputs = tf.nn.depthwise_conv2d(x[:, None], kernel[None], strides, tf_padding)[:, 0]

        def backward(d_outputs):
            d_x = tf.compat.v1.nn.depthwise_conv2d_native_backprop_input(
                tf.shape(x[:, None]), kernel[None], d_outputs[:, None], strides, tf_padding)[:, 0]
            return d_x, _depthwise_kernel_gradient(x, d_outputs, kernel.shape, padding)

        return outputs, backward

    return forward(x, kernel)


def _depthwise_kernel_gradient(x, d_outputs, kernel_shape, padding: str):
    """``d_kernel[j, c, q] = sum over b, t of x_padded[b, t + j, c] * d_outputs[b, t, c * m + q]``.

    That is a depthwise convolution whose channels are the ``B * C`` (example, channel) pairs: the padded inputs,
    time-major ``[1, 1, L + k - 1, B * C]``, convolved (valid) with the incoming gradient as a ``[1, L_out, B * C, m]``
    kernel, give ``[1, 1, k, B * C * m]``; summing over the examples leaves ``[k, C, m]``."""
    import tensorflow as tf

    kernel_size, channels, multiplier = kernel_shape
    if padding == "same":  # TensorFlow's SAME: the odd padding position goes to the end
        before = (kernel_size - 1) // 2
        x = tf.pad(x, ((0, 0), (before, kernel_size - 1 - before), (0, 0)))
    length, out_length = x.shape[1], x.shape[1] - kernel_size + 1
    rows = tf.reshape(tf.transpose(x, (1, 0, 2)), (1, 1, length, -1))
    d_rows = tf.reshape(d_outputs, (-1, out_length, channels, multiplier))
    d_rows = tf.reshape(tf.transpose(d_rows, (1, 0, 2, 3)), (1, out_length, -1, multiplier))
    per_example = tf.nn.depthwise_conv2d(rows, d_rows, (1, 1, 1, 1), "VALID")
    return tf.reduce_sum(tf.reshape(per_example, (kernel_size, -1, channels, multiplier)), axis=1)


def cp_rank(in_features: int, out_features: int, rank_fraction: float) -> int:
    """tensorly's CP rank for a fraction of the full ``(n, n, out)`` tensor's parameters (rounded)."""
    shape = (in_features, in_features, out_features)
    return max(1, int(round(rank_fraction * math.prod(shape) / sum(shape))))


@keras.saving.register_keras_serializable(package=PACKAGE)
class CPBilinear(keras.layers.Layer):
    """CP-factorised bilinear layer: ``y_o = Σ_r w_r (x·a_r)(x·b_r) c_or + bias_o`` (= TRL on ``x xᵀ``).

    Args:
        units: output features.
        rank_fraction: CP rank as a fraction of the full tensor's parameter count (LegNet: 0.5).
        init_std: standard deviation of the reconstructed tensor at initialisation (LegNet: 0.00075); the
            factors get ``(init_std / sqrt(rank)) ** (1/3)`` and the weights ``w`` start at 1, as tensorly does.
        use_bias: a bias initialised uniform in [-1, 1] (tensorly-torch's default).
    """

    def __init__(self, units: int, rank_fraction: float = 0.5, init_std: float = 0.00075, use_bias: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.rank_fraction = float(rank_fraction)
        self.init_std = float(init_std)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        n = int(input_shape[-1])
        self.rank = cp_rank(n, self.units, self.rank_fraction)
        factor_std = (self.init_std / math.sqrt(self.rank)) ** (1.0 / 3.0)
        normal = keras.initializers.RandomNormal(stddev=factor_std)
        self.cp_weights = self.add_weight(name="cp_weights", shape=(self.rank,), initializer="ones")
        self.left_factor = self.add_weight(name="left_factor", shape=(n, self.rank), initializer=normal)
        self.right_factor = self.add_weight(name="right_factor", shape=(n, self.rank), initializer=normal)
        self.output_factor = self.add_weight(name="output_factor", shape=(self.units, self.rank), initializer=normal)
        self.bias = (self.add_weight(name="bias", shape=(self.units,),
                                     initializer=keras.initializers.RandomUniform(-1.0, 1.0))
                     if self.use_bias else None)

    def call(self, inputs):
        left = ops.matmul(inputs, self.left_factor)
        right = ops.matmul(inputs, self.right_factor)
        outputs = ops.matmul(left * right * self.cp_weights, ops.transpose(self.output_factor))
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, rank_fraction=self.rank_fraction, init_std=self.init_std,
                      use_bias=self.use_bias)
        return config


COMPLEMENT_LETTER = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", "P": "P"}


def complement_permutation(letters: str) -> list[int]:
    """Channel ``j`` of the complement strand is input channel ``permutation[j]`` (``letters``: one per channel;
    A<->T, C<->G, N and P (padding) map to themselves): ``[3, 2, 1, 0]`` for ``"ACGT"``, ``[3, 2, 1, 0, 4, 5]`` for
    mt's ``"AGCTNP"``."""
    if len(set(letters)) != len(letters) or not set(letters) <= set(COMPLEMENT_LETTER) or any(
            COMPLEMENT_LETTER[letter] not in letters for letter in letters):
        raise ValueError(f"letters must be distinct letters of ACGTNP closed under complement, got {letters!r}")
    return [letters.index(COMPLEMENT_LETTER[letter]) for letter in letters]


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReverseComplement(keras.layers.Layer):
    """Reverse complement of a channels-last one-hot batch whose first channels are one per letter of ``letters``.

    The letter channels are permuted to their complements (:func:`complement_permutation`); other channels
    (reverse/singleton flags) are kept. ``reverse_length=False`` gives the complement strand without reversing
    (mt's ``to_complement`` input).
    """

    def __init__(self, reverse_length: bool = True, letters: str = "ACGT", **kwargs):
        kwargs.pop("nucleotide_channels", None)  # .keras files saved before ``letters``: always 4 (ACGT)
        super().__init__(**kwargs)
        self.reverse_length = bool(reverse_length)
        self.letters = str(letters)
        self.permutation = complement_permutation(self.letters)

    def call(self, inputs):
        n = len(self.letters)
        nucleotides = ops.take(inputs[..., :n], self.permutation, axis=-1)
        outputs = ops.concatenate([nucleotides, inputs[..., n:]], axis=-1)
        return ops.flip(outputs, axis=1) if self.reverse_length else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(reverse_length=self.reverse_length, letters=self.letters)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExpectedBin(keras.layers.Layer):
    """``[B, n_bins]`` probabilities -> ``[B]`` expected bin ``Σ_i p_i · i`` (float32)."""

    def call(self, probabilities):
        n_bins = probabilities.shape[-1]
        bins = ops.arange(n_bins, dtype="float32")
        return ops.sum(ops.cast(probabilities, "float32") * bins, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SqueezeLast(keras.layers.Layer):
    """``[B, 1] -> [B]`` (float32, so mixed-precision models still output float32)."""

    def call(self, inputs):
        return ops.cast(ops.squeeze(inputs, axis=-1), "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SigmoidGELU(keras.layers.Layer):
    """GELU's sigmoid approximation ``x · σ(1.702 x)`` (wztr's ``GELU`` module)."""

    def call(self, inputs):
        return inputs * ops.sigmoid(1.702 * inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


def append_n_channel(onehot, *, first: bool = False, name: str = "n_channel"):
    """Add an explicit N channel (``1 - sum(ACGT)``) to a one-hot input encoded with ``n_value=0``.

    With ``n_value=0`` an N (and N padding) is an all-zero row, so the extra channel is exactly the 5-letter one-hot
    the teams built with a 5-symbol vocabulary. ``first=True`` puts it in front (Keras ``StringLookup`` OOV order).
    """
    n_channel = NChannel(name=f"{name}_value")(onehot)
    parts = [n_channel, onehot] if first else [onehot, n_channel]
    return keras.layers.Concatenate(axis=-1, name=name)(parts)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NChannel(keras.layers.Layer):
    """``1 - sum`` of the first four (A, C, G, T) channels: the N indicator of an ``n_value=0`` one-hot input."""

    def call(self, inputs):
        return 1.0 - ops.sum(inputs[..., :4], axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)
