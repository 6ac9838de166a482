"""NAD (rank 5=): GloVe 5-mer embeddings -> ResNet CNN + FPN -> 4 small transformers, one regression head per level.

Source: ``../shared/reference/teams/nad/code/Util/SimpleViTModel.py`` (``Model``, ``SimpleViT``, ``ResidualBlock``,
``create_block_conv``, ``create_block_aa``), ``glove_embedding.py`` + ``glove/demo.sh`` (the GloVe corpus and
settings), ``main.py``; paper Table 1 (15.5M parameters).

I/O: input ``"inputs"`` = int32 ``[B, 80]`` k-mer ids: for each of the 80 variable positions the 5-mer centred on
it, with 2 bp of the real flanks at the edges (``EncodingSpec(kind="kmer", k=5, length=80, region="variable")``;
id ``4**5`` = a k-mer containing N or padding). Outputs: ``"expression"`` ``[B]`` = mean of the four level heads and
``"levels"`` ``[B, 4]`` (the team trains every level head on the same label: put the loss on ``levels``).

Embedding: a frozen ``[4**k + 1, 128]`` lookup (layer ``kmer_embedding``; the last row, unknown k-mers, is zero).
The team trained GloVe on the training sequences; :func:`fit_kmer_embeddings` does the same here (GloVe's weighted
least squares on the k-mer co-occurrence counts, numpy), :func:`load_kmer_embeddings` puts a table into a built
model, and ``config["kmer_embeddings_path"]`` (a ``.npy`` file) loads one at build time.

Graph (channels last): 5 conv stages [Conv(k3, stride s, no bias) -> BN -> ELU -> 2 × ResidualBlock(conv3-BN-ELU-
conv3-BN, + x, ELU)] with widths 128/160/192/224/256 and strides 1/1/2/2/2 (lengths 80/80/40/20/10) -> FPN top-down:
d5 = Conv1x1(c5), d4 = ConvT(k3, s2)(d5) + Conv1x1(c4), d3 = ..., d2 = ... (256 ch) -> d4/d3/d2 each through NAD's
"aa" block (a depthwise conv along the FEATURE axis with one kernel per sequence position -> BN -> ELU) -> four
transformers (x-transformers ``Encoder(dim 256, heads 8, rel_pos_bias, sandwich_norm)``; depths 3/3/2/2 on
d5/d4/d3/d2) -> LayerNorm -> mean over tokens -> Dense(1) each.

Assumptions (x-transformers 0.28.4 defaults, not in the team's files): 64 dims per head, q/k/v and the output
projection without bias (0.28.4's ``Model().state_dict()`` has no ``to_out.bias``), T5 relative position bias (32
buckets, max distance 128, scaled by sqrt(64), shared by the layers of one encoder), pre-norm + sandwich
(post-branch) LayerNorms, feed-forward ×4 with GELU. This gives ~14.2M trainable parameters (+131k frozen
embedding), 9% under Table 1's 15.5M.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

import keras
from keras import layers, ops

from seq2exp.errors import ConfigError
from seq2exp.models.blocks.attention import BiasedMultiHeadAttention, RelativePositionBucketBias
from seq2exp.models.blocks.conv import TORCH_BN, apply_conv_bn_act
from seq2exp.models.blocks.heads import expression_output, n_tasks
from seq2exp.models.blocks.layers import FusedLayerNormalization
from seq2exp.models.prixfixe import model_input
from seq2exp.models.registry import Architecture, register

logger = logging.getLogger(__name__)

EMBEDDING_LAYER = "kmer_embedding"

DEFAULT_CONFIG = {
    "input": {"kind": "kmer", "k": 5, "length": 80, "region": "variable", "pad": "n_right", "trim": "right"},
    "embedding_dim": 128,
    "embedding_trainable": False,
    "kmer_embeddings_path": None,
    "conv_widths": [128, 160, 192, 224, 256],
    "conv_strides": [1, 1, 2, 2, 2],
    "residual_blocks": 2,
    "fpn_width": 256,
    "transformer_depths": [3, 3, 2, 2],   # on d5, d4, d3, d2
    "heads": 8,
    "dim_head": 64,
    "ff_mult": 4,
    "rel_pos_buckets": 32,
    "rel_pos_max_distance": 128,
}
SMOKE_CONFIG = {"embedding_dim": 8, "conv_widths": [8, 8, 8, 8, 16], "residual_blocks": 0, "fpn_width": 16,
                "transformer_depths": [1, 0, 0, 1], "heads": 2, "dim_head": 8, "ff_mult": 2}


# --------------------------------------------------------------------------------------------- GloVe embeddings
def kmer_ids(sequences: Sequence[str], k: int = 5, spec: dict | None = None, construct=None) -> np.ndarray:
    """k-mer ids ``[N, n]`` of ``sequences`` exactly as the model input encodes them (``seq2exp.data.encoding``;
    the edge k-mers' context from ``construct``'s flanks, default ``dream_yeast``)."""
    from seq2exp.data.encoding import Encoder

    spec = dict(spec or DEFAULT_CONFIG["input"])
    spec.update(kind="kmer", k=k)
    return np.asarray(Encoder(spec, construct=construct).encode(list(sequences)), dtype=np.int64)


def cooccurrence_counts(ids: np.ndarray, vocabulary: int, window: int = 10, symmetric: bool = False,
                        chunk_rows: int = 65536) -> np.ndarray:
    """GloVe co-occurrence matrix ``X[centre, context]`` (weight 1/distance) of a k-mer id corpus ``[N, n]``.

    Each row is a sentence. ``symmetric=False`` counts left contexts only (GloVe's ``-symmetric 0``, NAD's setting);
    ids ``>= vocabulary`` (unknown k-mers) are skipped.
    """
    counts = np.zeros(vocabulary * vocabulary, dtype=np.float64)
    for start in range(0, len(ids), chunk_rows):
        chunk = ids[start : start + chunk_rows]
        for distance in range(1, min(window, chunk.shape[1] - 1) + 1):
            centre, context = chunk[:, distance:], chunk[:, :-distance]
            valid = (centre < vocabulary) & (context < vocabulary)
            pairs = [(centre[valid], context[valid])]
            if symmetric:
                pairs.append((context[valid], centre[valid]))
            for rows, columns in pairs:
                counts += np.bincount(rows * vocabulary + columns, minlength=vocabulary * vocabulary) / distance
    return counts.reshape(vocabulary, vocabulary)


def fit_kmer_embeddings(
    sequences: Sequence[str] | None = None,
    dim: int = 128,
    *,
    k: int = 5,
    ids: np.ndarray | None = None,
    window: int = 10,
    symmetric: bool = False,
    x_max: float = 10.0,
    alpha: float = 0.75,
    iterations: int = 200,
    learning_rate: float = 0.05,
    min_count: int = 5,
    max_sequences: int | None = None,
    seed: int = 1,
    return_history: bool = False,
    construct=None,
):
    """Fit GloVe k-mer vectors on training sequences; returns the model's embedding table ``[4**k + 1, dim]``.

    GloVe (Pennington et al. 2014) as NAD ran it (``glove/demo.sh``: window 10, left context only, x_max 10,
    vector size 128, min count 5, seed 1): minimise ``Σ f(X_ij) (w_i·w̃_j + b_i + b̃_j - log X_ij)²`` over the
    non-zero co-occurrences, ``f(x) = min(1, (x / x_max)^alpha)``, with AdaGrad. The vocabulary is small (``4**k``),
    so the matrix is dense and every iteration is a full-batch AdaGrad step (two matrix products). The vectors are
    ``w + w̃`` (GloVe's default output); k-mers seen fewer than ``min_count`` times and the unknown id (last row)
    get zero vectors.

    Args:
        sequences: training sequences (encoded with the model's input spec, i.e. the 80 centred 5-mers of the
            variable region). Or pass ``ids`` (``[N, n]`` k-mer ids) directly.
        max_sequences: use a random subset of this many sequences (counting is O(N · n · window)).
        return_history: also return the per-iteration weighted loss.
        construct: the training rows' construct (whose flanks give the edge k-mers' context; default dream_yeast).
    """
    rng = np.random.default_rng(seed)
    vocabulary = 4**k
    if ids is None:
        if sequences is None:
            raise ValueError("fit_kmer_embeddings needs sequences or ids")
        sequences = list(sequences)
        if max_sequences is not None and len(sequences) > max_sequences:
            sequences = [sequences[i] for i in np.sort(rng.choice(len(sequences), max_sequences, replace=False))]
        ids = kmer_ids(sequences, k, construct=construct)
    elif max_sequences is not None and len(ids) > max_sequences:
        ids = ids[np.sort(rng.choice(len(ids), max_sequences, replace=False))]
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2 or ids.size == 0:
        raise ValueError(f"k-mer ids must be a non-empty [N, n] array, got shape {ids.shape}")

    frequency = np.bincount(ids[ids < vocabulary], minlength=vocabulary)
    kept = frequency >= min_count
    counts = cooccurrence_counts(ids, vocabulary, window, symmetric)
    counts[~kept, :] = 0.0
    counts[:, ~kept] = 0.0
    observed = counts > 0
    if not observed.any():
        raise ValueError("no k-mer co-occurrences to fit (too few or too short sequences)")
    log_counts = np.where(observed, np.log(np.where(observed, counts, 1.0)), 0.0).astype(np.float32)
    weights = np.where(observed, np.minimum(1.0, (counts / x_max) ** alpha), 0.0).astype(np.float32)

    init = lambda *shape: ((rng.random(shape) - 0.5) / dim).astype(np.float32)  # noqa: E731  (GloVe's init)
    params = {"w": init(vocabulary, dim), "c": init(vocabulary, dim), "bw": init(vocabulary), "bc": init(vocabulary)}
    accumulated = {name: np.ones_like(value) for name, value in params.items()}  # GloVe starts AdaGrad sums at 1
    history = []
    for _ in range(iterations):
        w, c = params["w"], params["c"]
        error = w @ c.T + params["bw"][:, None] + params["bc"][None, :] - log_counts
        weighted = weights * error
        history.append(float(0.5 * np.sum(weighted * error) / observed.sum()))
        gradients = {"w": weighted @ c, "c": weighted.T @ w, "bw": weighted.sum(axis=1), "bc": weighted.sum(axis=0)}
        for name, gradient in gradients.items():
            accumulated[name] += gradient * gradient
            params[name] -= learning_rate * gradient / np.sqrt(accumulated[name])

    table = np.zeros((vocabulary + 1, dim), dtype=np.float32)
    table[:vocabulary] = params["w"] + params["c"]
    table[:vocabulary][~kept] = 0.0
    logger.info("GloVe k-mer embeddings: %d sequences, %d/%d k-mers kept, loss %.4f -> %.4f",
                len(ids), int(kept.sum()), vocabulary, history[0], history[-1])
    return (table, history) if return_history else table


def load_kmer_embeddings(model: keras.Model, table: np.ndarray | str | Path) -> None:
    """Put a k-mer table (array or ``.npy`` path) into ``model``'s ``kmer_embedding`` layer (shape-checked)."""
    if isinstance(table, (str, Path)):
        table = np.load(table)
    layer = model.get_layer(EMBEDDING_LAYER)
    expected = tuple(layer.embeddings.shape)
    table = np.asarray(table, dtype=np.float32)
    if table.shape != expected:
        raise ConfigError(f"k-mer embedding table has shape {table.shape}, the model's {EMBEDDING_LAYER} needs "
                          f"{expected} (4**k + 1 rows × embedding_dim)")
    layer.embeddings.assign(table)


# --------------------------------------------------------------------------------------------- the network
def apply_residual_block(x, *, name: str):
    """NAD's ``ResidualBlock``: conv3-BN-ELU-conv3-BN, + x, ELU."""
    filters = int(x.shape[-1])
    y = apply_conv_bn_act(x, filters, 3, use_bias=False, activation="elu", bn=TORCH_BN, name=f"{name}_a")
    y = apply_conv_bn_act(y, filters, 3, use_bias=False, activation=None, bn=TORCH_BN, name=f"{name}_b")
    return layers.Activation("elu", name=f"{name}_act")(layers.Add(name=f"{name}_add")([x, y]))


def apply_conv_stage(x, filters: int, stride: int, residual_blocks: int, *, name: str):
    """``create_block_conv``: Conv(k3, stride, PyTorch padding 1, no bias) -> BN -> ELU -> residual blocks."""
    if stride == 1:
        x = apply_conv_bn_act(x, filters, 3, use_bias=False, activation="elu", bn=TORCH_BN, name=name)
    else:  # PyTorch pads 1 on both sides; Keras "same" would pad (0, 1) for stride 2
        x = layers.ZeroPadding1D(1, name=f"{name}_pad")(x)
        x = layers.Conv1D(filters, 3, strides=stride, padding="valid", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(**TORCH_BN, name=f"{name}_bn")(x)
        x = layers.Activation("elu", name=f"{name}_act")(x)
    for index in range(residual_blocks):
        x = apply_residual_block(x, name=f"{name}_res{index}")
    return x


def apply_upsample(x, filters: int, *, name: str):
    """PyTorch ``ConvTranspose1d(k3, stride 2, padding 1, output_padding 1)`` (length × 2), exactly aligned."""
    x = layers.Conv1DTranspose(filters, 3, strides=2, padding="valid", name=f"{name}_convt")(x)  # 2L + 1
    return layers.Cropping1D((1, 0), name=f"{name}_crop")(x)


def apply_position_mixing(x, *, name: str):
    """NAD's ``create_block_aa``: per sequence position, a depthwise conv (k3) ALONG THE FEATURE AXIS -> BN -> ELU."""
    x = layers.Permute((2, 1), name=f"{name}_to_features")(x)  # [B, D, L]: positions become channels
    x = layers.DepthwiseConv1D(3, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(**TORCH_BN, name=f"{name}_bn")(x)
    x = layers.Activation("elu", name=f"{name}_act")(x)
    return layers.Permute((2, 1), name=f"{name}_to_tokens")(x)


def apply_x_transformer_encoder(x, depth: int, config: dict, *, name: str):
    """x-transformers ``Encoder(rel_pos_bias=True, sandwich_norm=True)`` + LayerNorm + mean over tokens."""
    heads, dim_head = config["heads"], config["dim_head"]
    width = int(x.shape[-1])
    relative = RelativePositionBucketBias(heads, config["rel_pos_buckets"], config["rel_pos_max_distance"],
                                          scale=dim_head**0.5, name=f"{name}_rel_pos")
    for index in range(depth):
        prefix = f"{name}_layer{index}"
        h = FusedLayerNormalization(epsilon=1e-5, name=f"{prefix}_attention_norm")(x)
        h = BiasedMultiHeadAttention(heads, dim_head, use_bias=False, output_bias=False, output_dim=width,
                                     name=f"{prefix}_attention")(h, attention_bias=relative(h))
        h = FusedLayerNormalization(epsilon=1e-5, name=f"{prefix}_attention_post_norm")(h)
        x = layers.Add(name=f"{prefix}_attention_residual")([x, h])
        h = FusedLayerNormalization(epsilon=1e-5, name=f"{prefix}_ff_norm")(x)
        h = layers.Dense(config["ff_mult"] * width, activation="gelu", name=f"{prefix}_ff_expand")(h)
        h = layers.Dense(width, name=f"{prefix}_ff_project")(h)
        h = FusedLayerNormalization(epsilon=1e-5, name=f"{prefix}_ff_post_norm")(h)
        x = layers.Add(name=f"{prefix}_ff_residual")([x, h])
    x = FusedLayerNormalization(epsilon=1e-5, name=f"{name}_norm")(x)
    return layers.GlobalAveragePooling1D(name=f"{name}_mean")(x)


def build_nad(config: dict) -> keras.Model:
    """NAD's GloVe-embedding CNN + FPN + multi-level transformer regressor (see the module docstring)."""
    spec = config["input"]
    if spec.get("kind") != "kmer":
        raise ConfigError(f"nad: input.kind must be 'kmer', got {spec.get('kind')!r}")
    widths, strides = config["conv_widths"], config["conv_strides"]
    if len(widths) != 5 or len(strides) != 5 or len(config["transformer_depths"]) != 4:
        raise ConfigError("nad: conv_widths and conv_strides need 5 entries, transformer_depths 4")
    reduction = int(np.prod(strides))
    if spec["length"] % reduction:
        raise ConfigError(f"nad: input.length {spec['length']} must be divisible by {reduction} (the FPN strides)")
    vocabulary = 4 ** int(spec["k"]) + 1

    inputs = model_input(config)
    x = layers.Embedding(vocabulary, config["embedding_dim"], trainable=bool(config["embedding_trainable"]),
                         name=EMBEDDING_LAYER)(inputs)
    stages = []
    for index, (filters, stride) in enumerate(zip(widths, strides)):
        x = apply_conv_stage(x, filters, stride, config["residual_blocks"], name=f"c{index + 1}")
        stages.append(x)
    c1, c2, c3, c4, c5 = stages
    width = config["fpn_width"]
    lateral = lambda t, n: layers.Conv1D(width, 1, name=n)(t)  # noqa: E731
    d5 = lateral(c5, "l5")
    d4 = layers.Add(name="d4")([apply_upsample(d5, width, name="u4"), lateral(c4, "l4")])
    d3 = layers.Add(name="d3")([apply_upsample(d4, width, name="u3"), lateral(c3, "l3")])
    d2 = layers.Add(name="d2")([apply_upsample(d3, width, name="u2"), lateral(c2, "l2")])

    levels = [d5, apply_position_mixing(d4, name="aa4"), apply_position_mixing(d3, name="aa3"),
              apply_position_mixing(d2, name="aa2")]
    heads = []
    for index, (level, depth) in enumerate(zip(levels, config["transformer_depths"])):
        pooled = apply_x_transformer_encoder(level, depth, config, name=f"t{index + 1}")
        heads.append(layers.Dense(n_tasks(), name=f"r{index + 1}")(pooled))
    if n_tasks() == 1:
        level_outputs = layers.Concatenate(name="levels", dtype="float32")(heads)
    else:  # [B, T, 4]: each task's four level heads (a loss on "levels" compares each with the task's target)
        level_outputs = layers.Activation("linear", dtype="float32", name="levels")(ops.stack(heads, axis=-1))
    expression = expression_output(layers.Average(name="level_mean")(heads))
    model = keras.Model(inputs, {"expression": expression, "levels": level_outputs}, name="nad")
    if config.get("kmer_embeddings_path"):
        load_kmer_embeddings(model, config["kmer_embeddings_path"])
    return model


register(Architecture(
    name="nad", builder=build_nad, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=15_500_000, head="regression", team="NAD",
    paper_params_source="paper Table 1 (15.5M)",
    source="teams/nad/code/Util/SimpleViTModel.py, glove_embedding.py, glove/demo.sh; paper Table 1",
    fidelity="reconstructed", rank=5,
    description="GloVe 5-mer embedding + ResNet CNN + FPN + 4 relative-position transformers, 4 level heads",
))
