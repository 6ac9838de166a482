"""BioNML (rank 8): motif + k-mer scanning, an Inception bottleneck and a 12-block cross-attention ViT with SwiGLU.

Source: ``../shared/reference/teams/bionml/code/architecture/new_BioNML_CrossAtt_v3.py`` (``build``),
``configs/config39v3.yaml`` (the hyper-parameters used), ``utils/layers.py`` (``Swish``, ``SwiGlu``, ``Token``,
``AddPositionEmbs``, ``MultiHeadCrossAttention``, ``TransformerCrossAttBlock_swiglu``,
``InceptionBlock_type1_swish``, ``ConvNonlinearBlock_swish``, ``DenseResidualBlock_swish``), ``utils/utils.py``
(``motif.load_kmers``, ``motif_to_kernel``); paper Table 1 (78.7M parameters). The original is TF/Keras functional.

I/O: input ``"inputs"`` = one-hot ``[B, 110, 4]`` (A, C, G, T; N all-zero). The team padded a short variable region
with N split left/right between the constant flanks and kept the centre 80 bp of a long one; the closest encoding
spec is ``region="full", pad="n_both", trim="center"`` (it pads/trims the whole sequence, not only its variable
part: identical for the usual 110-bp sequences). Output ``"expression"`` ``[B]`` (the team standardised the target).

Graph: motif scan Conv1D(2048, k10, same, no bias, He normal) shared by the forward and the reverse-complement input
-> one learnable Swish (shared) -> concat (4096) ‖ k-mer scan Conv1D(5120, k6, same, no bias) whose kernels are
exact-match detectors of all 1024 5-mers and 4096 6-mers (frozen, ``kmer_scanning_trainable``) -> Swish -> concat
(9216) -> BN -> Swish -> Dropout(0.2) -> Inception (Dense(512)-BN-Swish ‖ [Conv1D(256, 1)-BN-Swish-Conv1D(256, 20)-
BN-Swish] ‖ [same with 128]) = 896 features -> CLS token (zeros) + learned position embedding (N(0, 0.06)) ->
12 cross-attention blocks: keys/values always from the embedded sequence, queries from the previous block (shared
LayerNorm on both; MHA 16 heads with a softsign query projection; SwiGLU feed-forward of the model width with a
learnable swish) -> LayerNorm -> CLS token -> DenseResidual (BN-Swish-Dense(256)-BN-Swish-Dense(896), + x) ->
Dense(512, L2 2e-4) -> Dense(1).

``flanks`` (a construct name, e.g. ``"dream_yeast"``; default none): the input is the variable region only
(``input.region: "variable"``, 80 bp N-padded on both sides / cut to its centre) and the model puts the construct's
constant 17 / 13-bp flanks around it: the team's ``seq_to_one_hot(trim_pad_unique_oligo=True)`` (N padding inside
the flanks), used by ``seq2exp import bionml``.

The k-mer detector kernel follows ``motif.load_kmers``: a one-hot k-mer matrix floored at 0.001, log2(p / 0.25),
divided by the sum of the row maxima (2k), centred in the 6-wide kernel; a window scores 1 exactly when it matches.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

import keras
from keras import layers

from seq2exp.models.blocks.attention import (
    AddPositionEmbedding,
    BiasedMultiHeadAttention,
    LearnableSwish,
    PrependTokens,
    apply_swiglu_feedforward,
)
from seq2exp.models.blocks.conv import KERAS_BN
from seq2exp.models.blocks.heads import expression_output, n_tasks
from seq2exp.models.blocks.layers import FusedDropout, FusedLayerNormalization
from seq2exp.models.prixfixe import model_input, reverse_complement
from seq2exp.models.registry import Architecture, register

DEFAULT_CONFIG = {
    "input": {"kind": "onehot", "length": 110, "region": "full", "pad": "n_both", "trim": "center", "n_value": 0.0},
    "motif_size": 2048,
    "motif_length_max": 10,
    "kmer_lengths": [5, 6],
    "kmer_length_max": 6,
    "kmer_scanning_trainable": False,
    "latent_dim": 512,
    "inception_kernel_lengths": [1, 20],
    "encoder_layer_number": 12,
    "num_heads": 16,
    "dropout": 0.2,
    "dropout_transformer": 0.1,
    "query_dense_activation": "softsign",
    "representation_dim": 512,
    "pred_repr_kernel_l2": 2e-4,
    "flanks": None,
}
SMOKE_CONFIG = {"motif_size": 8, "kmer_lengths": [2], "kmer_length_max": 2, "latent_dim": 16,
                "inception_kernel_lengths": [1, 3], "encoder_layer_number": 1, "num_heads": 2,
                "representation_dim": 16}


def kmer_detector_kernel(kmer_lengths=(5, 6), width: int = 6) -> np.ndarray:
    """``[width, 4, sum(4**k)]`` kernel of exact-match detectors for every k-mer (ACGT order, lexicographic)."""
    filters = []
    for k in kmer_lengths:
        if k > width:
            raise ValueError(f"a {k}-mer does not fit a kernel of width {width}")
        match, mismatch = math.log2(1.0 / 0.25), math.log2(0.001 / 0.25)
        start = width // 2 - k // 2
        for kmer in itertools.product(range(4), repeat=k):
            kernel = np.zeros((width, 4), dtype=np.float32)
            kernel[start : start + k] = mismatch
            kernel[np.arange(start, start + k), list(kmer)] = match
            filters.append(kernel / (match * k))
    return np.stack(filters, axis=-1)


@keras.saving.register_keras_serializable(package="seq2exp")
class KmerDetectorInitializer(keras.initializers.Initializer):
    """Initializer giving :func:`kmer_detector_kernel` (checks the requested shape)."""

    def __init__(self, kmer_lengths=(5, 6)):
        self.kmer_lengths = [int(k) for k in kmer_lengths]

    def __call__(self, shape, dtype=None):
        kernel = kmer_detector_kernel(self.kmer_lengths, int(shape[0]))
        if tuple(kernel.shape) != tuple(shape):
            raise ValueError(f"k-mer detector kernel has shape {kernel.shape}, the layer needs {tuple(shape)}")
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {"kmer_lengths": self.kmer_lengths}


@keras.saving.register_keras_serializable(package="seq2exp")
class ConstantFlanks(layers.Layer):
    """``[B, L, 4]`` one-hot (A, C, G, T) -> ``[B, len(left) + L + len(right), 4]`` with the constant one-hot
    ``left`` / ``right`` sequences around every row (N: all zeros)."""

    def __init__(self, left: str = "", right: str = "", **kwargs):
        super().__init__(**kwargs)
        self.left, self.right = str(left).upper(), str(right).upper()

    @staticmethod
    def _onehot(sequence: str) -> np.ndarray:
        table = np.zeros((len(sequence), 4), np.float32)
        for position, letter in enumerate(sequence):
            if letter in "ACGT":
                table[position, "ACGT".index(letter)] = 1.0
        return table

    def call(self, x):
        batch = keras.ops.shape(x)[0]
        parts = []
        for sequence, inside in ((self.left, None), ("", x), (self.right, None)):
            if inside is not None:
                parts.append(inside)
            elif sequence:
                constant = keras.ops.convert_to_tensor(self._onehot(sequence)[None], dtype=x.dtype)
                parts.append(keras.ops.broadcast_to(constant, (batch, len(sequence), 4)))
        return keras.ops.concatenate(parts, axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + len(self.left) + len(self.right)
        return (input_shape[0], length, input_shape[2])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(left=self.left, right=self.right)
        return config


def apply_bn_swish(x, *, name: str):
    """BatchNorm -> learnable Swish (the team's ``activation`` is linear everywhere in config39v3)."""
    x = layers.BatchNormalization(**KERAS_BN, name=f"{name}_bn")(x)
    return LearnableSwish(name=f"{name}_swish")(x)


def apply_inception(x, latent_dim: int, kernel_lengths, *, name: str):
    """``InceptionBlock_type1_swish`` (kernel first, concat): Dense(latent) ‖ conv side branches latent/2, latent/4."""
    branches = [apply_bn_swish(layers.Dense(latent_dim, name=f"{name}_dense")(x), name=f"{name}_dense")]
    for index, width in enumerate([latent_dim // 2, latent_dim // 4]):
        prefix = f"{name}_branch{index}"
        y = layers.Conv1D(width, kernel_lengths[0], padding="same", name=f"{prefix}_conv1")(x)
        y = apply_bn_swish(y, name=f"{prefix}_1")
        y = layers.Conv1D(width, kernel_lengths[1], padding="same", name=f"{prefix}_conv2")(y)
        branches.append(apply_bn_swish(y, name=f"{prefix}_2"))
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(branches)


def apply_cross_attention_block(query, key_value, config: dict, *, name: str):
    """``TransformerCrossAttBlock_swiglu``: shared LN on both streams -> MHA(q from ``query``) -> + query ->
    LN -> SwiGLU (model width) -> Dropout -> Dense -> Dropout -> + x."""
    width = int(query.shape[-1])
    rate = config["dropout_transformer"]
    norm = FusedLayerNormalization(epsilon=1e-6, name=f"{name}_norm0")
    attended = BiasedMultiHeadAttention(config["num_heads"], width // config["num_heads"],
                                        query_activation=config["query_dense_activation"],
                                        name=f"{name}_attention")(norm(query), norm(key_value))
    attended = FusedDropout(rate, name=f"{name}_attention_dropout")(attended)
    x = layers.Add(name=f"{name}_attention_residual")([attended, query])
    y = FusedLayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(x)
    y = apply_swiglu_feedforward(y, 2 * width, width, use_bias=True, dropout=rate, output_dropout=rate,
                                 learnable_beta=True, name=f"{name}_mlp")
    return layers.Add(name=f"{name}_mlp_residual")([x, y])


def build_bionml(config: dict) -> keras.Model:
    """BioNML's scanning + Inception + cross-attention ViT regressor (see the module docstring)."""
    width = config["latent_dim"] + config["latent_dim"] // 2 + config["latent_dim"] // 4
    if width % config["num_heads"]:
        raise ValueError(f"bionml: model width {width} must be divisible by num_heads {config['num_heads']}")
    inputs = x = model_input(config)
    if config.get("flanks"):
        from seq2exp.data.construct import resolve_construct
        from seq2exp.data.encoding import BASES, EncodingSpec

        spec = EncodingSpec.from_dict(config["input"])
        if spec.region != "variable" or spec.kind != "onehot" or spec.onehot_letters != BASES:
            raise ValueError("bionml: flanks need a one-hot ACGT input of the variable region (input.region: "
                             f"variable), got region {spec.region!r}, kind {spec.kind!r}")
        construct = resolve_construct(config["flanks"])
        x = ConstantFlanks(construct.flank5, construct.flank3, name="construct_flanks")(inputs)
    reverse = reverse_complement(config)(x)
    motif_conv = layers.Conv1D(config["motif_size"], config["motif_length_max"], padding="same", use_bias=False,
                               kernel_initializer="he_normal", name="motif_scan")
    motif_swish = LearnableSwish(name="motif_swish")
    motifs = layers.Concatenate(axis=-1, name="motif_fwd_rc")([motif_swish(motif_conv(x)),
                                                               motif_swish(motif_conv(reverse))])
    n_kmers = sum(4**k for k in config["kmer_lengths"])
    kmers = layers.Conv1D(n_kmers, config["kmer_length_max"], padding="same", use_bias=False,
                          kernel_initializer=KmerDetectorInitializer(config["kmer_lengths"]),
                          trainable=bool(config["kmer_scanning_trainable"]), name="kmer_scan")(x)
    kmers = LearnableSwish(name="kmer_swish")(kmers)
    y = layers.Concatenate(axis=-1, name="scan_concat")([motifs, kmers])
    y = apply_bn_swish(y, name="embedding")
    y = FusedDropout(config["dropout"], name="embedding_dropout")(y)
    y = apply_inception(y, config["latent_dim"], config["inception_kernel_lengths"], name="inception")

    y = PrependTokens(1, distinct=True, initializer="zeros", name="cls_token")(y)
    y = AddPositionEmbedding(initializer=keras.initializers.RandomNormal(stddev=0.06), name="position_embedding")(y)
    query = y
    for index in range(config["encoder_layer_number"]):
        query = apply_cross_attention_block(query, y, config, name=f"encoder{index}")
    x = FusedLayerNormalization(epsilon=1e-6, name="encoder_norm")(query)
    x = layers.Cropping1D((0, int(x.shape[1]) - 1), name="cls_output")(x)
    x = layers.Flatten(name="cls_flatten")(x)

    residual = apply_bn_swish(x, name="repr_residual1")
    residual = layers.Dense(config["representation_dim"] // 2, name="repr_residual_dense1")(residual)
    residual = apply_bn_swish(residual, name="repr_residual2")
    residual = layers.Dense(width, name="repr_residual_dense2")(residual)
    x = layers.Add(name="repr_residual")([x, residual])
    x = layers.Dense(config["representation_dim"], kernel_regularizer=keras.regularizers.L2(
        config["pred_repr_kernel_l2"]) if config["pred_repr_kernel_l2"] else None, name="prediction_repr")(x)
    x = layers.Dense(n_tasks(), name="prediction_head")(x)
    return keras.Model(inputs, {"expression": expression_output(x)}, name="bionml")


register(Architecture(
    name="bionml", builder=build_bionml, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=78_700_000, head="regression", team="BioNML",
    paper_params_source="paper Table 1 (78.7M)",
    source="teams/bionml/code/architecture/new_BioNML_CrossAtt_v3.py, configs/config39v3.yaml, utils/layers.py; "
           "paper Table 1",
    fidelity="faithful", rank=8,
    description="motif + frozen k-mer scanning, Inception bottleneck, 12-block cross-attention ViT with SwiGLU",
))
