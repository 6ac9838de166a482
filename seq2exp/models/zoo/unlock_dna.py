"""Unlock_DNA (rank 3): a Conformer/Macaron transformer with a masked-nucleotide reconstruction objective.

Source: ``../shared/reference/teams/unlock_dna/code/mode_training.py`` (``ARGS`` cell 12, ``ConformerSASwiGLULayer``
cell 36, ``SequenceMaskLayer`` cell 39, ``Regressor`` cell 52) and the report; paper Table 1 (47.4M parameters).
The original is a subclassed TF 2.6 Keras model with a custom ``train_step``; this is the functional equivalent.

I/O: input ``"inputs"`` = int32 tokens ``[B, 100]`` (A0 C1 G2 T3 N4) of the 80-bp variable region, N-padded on
both sides (``EncodingSpec(kind="tokens", length=100, region="variable", pad="n_both")``). Outputs:
``"expression"`` ``[B]`` (regression; the team standardised the target) and ``"masked_tokens"`` ``[B, 200, 5]``
nucleotide logits of the forward ‖ reverse-complement positions.

Graph: tokens ‖ reverse-complement tokens (200) -> masking of 5% of the non-N positions with token 5 (training
only; the expression is predicted from the masked input, as in the original) -> one-hot(5) -> k-mer "patches"
(10 bp, stride 1, SAME; equal to a Conv1D(512, 10, same)) -> + learned position and strand embeddings -> 32
projector tokens prepended (one learned vector repeated: the original applies a Dense layer to zeros) -> 4 ×
Conformer-SwiGLU blocks (MHA 8 heads × key_dim 512) -> expression = mean over the 32 projector tokens of
Dense(1)(Dropout(0.1)); nucleotide logits = Dense(5) on the 200 sequence tokens. The masked-nucleotide loss
``sum(mask * CE) / (sum(mask) + 1)`` is added with ``add_loss`` (weight ``mask_loss_weight``, 1 in the original).

The core (position embedding + Conformer blocks) is also the Prix Fixe core block ``"unlock_dna"``, used by the
paper's DREAM-Attn hybrid (``dream_attn``: autosome first block + this core + autosome final block).
"""
from __future__ import annotations

import keras
from keras import layers

from seq2exp.models.blocks.attention import (
    AddPositionEmbedding,
    OneHotTokens,
    PrependTokens,
    ReverseComplementTokens,
    apply_conformer_swiglu_block,
)
from seq2exp.models.blocks.heads import expression_output, n_tasks
from seq2exp.models.blocks.layers import FusedDropout
from seq2exp.models.blocks.objectives import MaskedTokenLoss, RandomTokenMasking
from seq2exp.models.prixfixe import AUTOSOME_INPUT, compose, model_input, register_block
from seq2exp.models.registry import Architecture, register

MASK_TOKEN = 5  # "M" in the team's alphabet; one-hot of depth 5 turns it into an all-zero row
N_TOKEN = 4

DEFAULT_CONFIG = {
    "input": {"kind": "tokens", "length": 100, "region": "variable", "pad": "n_both", "trim": "center",
              "token_order": "ACGTN"},
    "embedding_dim": 512,
    "kmer": 10,
    "n_blocks": 4,
    "num_heads": 8,
    "key_dim": 512,          # keras MultiHeadAttention(key_dim=embedding_dim) in the original: 512 per head
    "ff_mult": 4,
    "kernel_size": 15,
    "dropout": 0.1,
    "num_projectors": 32,
    "mask_ratio": 0.05,
    "mask_loss_weight": 1.0,
    "seed": None,
}
SMOKE_CONFIG = {"embedding_dim": 16, "n_blocks": 1, "num_heads": 2, "key_dim": 8, "num_projectors": 4,
                "mask_ratio": 0.15}


def apply_unlock_dna_trunk(x, config: dict, *, name: str):
    """Learned position embedding -> ``n_blocks`` Conformer-SwiGLU blocks on ``x [B, L, D]``."""
    x = AddPositionEmbedding(name=f"{name}_position_embedding")(x)
    for index in range(config["n_blocks"]):
        x = apply_conformer_swiglu_block(
            x, num_heads=config["num_heads"], key_dim=config.get("key_dim"), ff_mult=config["ff_mult"],
            kernel_size=config["kernel_size"], dropout=config["dropout"],
            conv_adds_norm=bool(config.get("conv_adds_norm", False)), name=f"{name}_block{index}")
    return x


def build_unlock_dna(config: dict) -> keras.Model:
    """Unlock_DNA's regressor with its masked-nucleotide auxiliary output (see the module docstring)."""
    width = config["embedding_dim"]
    inputs = model_input(config)
    tokens = layers.Concatenate(axis=1, name="strands")(
        [inputs, ReverseComplementTokens(config["input"].get("token_order", "ACGTN"), name="reverse_complement")(inputs)])
    masked, mask = RandomTokenMasking(config["mask_ratio"], MASK_TOKEN, maskable_below=N_TOKEN, seed=config["seed"],
                                      name="masking")(tokens)
    x = OneHotTokens(MASK_TOKEN, name="one_hot")(masked)
    x = layers.Conv1D(width, config["kmer"], padding="same", name="kmer_embedding")(x)
    x = AddPositionEmbedding(num_segments=2, name="strand_embedding")(x)
    n_positions = x.shape[1]
    x = PrependTokens(config["num_projectors"], distinct=False, name="projector_tokens")(x)
    x = apply_unlock_dna_trunk(x, config, name="core")

    projectors = layers.Cropping1D((0, n_positions), name="projector_outputs")(x)
    projectors = FusedDropout(config["dropout"], name="expression_dropout")(projectors)
    projectors = layers.Dense(n_tasks(), name="expression_dense")(projectors)
    expression = expression_output(layers.GlobalAveragePooling1D(name="expression_mean")(projectors))

    positions = layers.Cropping1D((config["num_projectors"], 0), name="sequence_outputs")(x)
    logits = layers.Dense(MASK_TOKEN, dtype="float32", name="nucleotide_dense")(positions)
    logits = MaskedTokenLoss(config["mask_loss_weight"], dtype="float32", name="masked_tokens")([tokens, logits, mask])
    return keras.Model(inputs, {"expression": expression, "masked_tokens": logits}, name="unlock_dna")


@register_block("core", "unlock_dna", defaults={"n_blocks": 4, "num_heads": 8, "key_dim": None, "ff_mult": 4,
                                               "kernel_size": 15, "dropout": 0.1, "conv_adds_norm": False})
def unlock_dna_core(x, config: dict, name: str):
    """Unlock_DNA core (Prix Fixe ``UnlockDNACoreBlock``): position embedding + Conformer-SwiGLU blocks.

    ``key_dim=None`` is the Prix Fixe port's ``nn.MultiheadAttention`` (``width / num_heads`` per head);
    ``conv_adds_norm=True`` its convolution residual ``x + LN(x) + Conv(LN(x))`` (see
    :func:`~seq2exp.models.blocks.attention.apply_conformer_swiglu_block`).
    """
    config = dict(config)
    if config.get("key_dim") is None:
        config["key_dim"] = max(1, int(x.shape[-1]) // config["num_heads"])
    return apply_unlock_dna_trunk(x, config, name=name)


DREAM_ATTN = {
    "input": AUTOSOME_INPUT,
    "first": {"block": "autosome", "filters": 256},
    # prixfixe/unlockdna/add_blocks.py: nn.MultiheadAttention(num_heads=4) whatever num_heads the notebook passes
    # (8), and the convolution residual x + LN(x) + Conv(LN(x))
    "core": {"block": "unlock_dna", "n_blocks": 4, "kernel_size": 15, "dropout": 0.1, "num_heads": 4,
             "conv_adds_norm": True},
    "final": {"block": "autosome", "activation": None},
}


def build_dream_attn(config: dict) -> keras.Model:
    """DREAM-Attn: autosome first block (256) + Unlock_DNA core + autosome soft-bin final block."""
    return compose(config=config, name="dream_attn")


register(Architecture(
    name="unlock_dna", builder=build_unlock_dna, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=47_400_000, head="regression", team="Unlock_DNA",
    paper_params_source="paper Table 1 (47.4M; report: around 47 million)",
    source="teams/unlock_dna/code/mode_training.py; paper Table 1", fidelity="faithful", rank=3,
    description="Conformer/Macaron transformer on fwd+RC k-mer patches, masked-nucleotide auxiliary loss",
))
register(Architecture(
    name="dream_attn", builder=build_dream_attn, default_config=DREAM_ATTN,
    # 32 filters x 150 positions: wide enough for the fused layer norm and dropout (training) to run
    smoke_config={"first": {"filters": 32}, "core": {"n_blocks": 1, "num_heads": 2}},
    head="bins", team="Prix Fixe DREAM-Attn", source="prixfixe/notebooks/DREAMNets_BuildModel_Train_and_Predict.py",
    fidelity="faithful", rank=None, description="Prix Fixe hybrid: autosome first + Unlock_DNA core + autosome final",
))
