"""unlock_dna (rank 3): the team's TF 2.6 Keras ``Regressor`` checkpoint -> seq2exp ``unlock_dna``.

The team's code (``teams/unlock_dna/code/mode_training.py``, a notebook): cell 52 ``Regressor`` (subclassed
``keras.Model``) defines the variables, cell 59 ``ModelCheckpoint(filepath=".../tf_ckpts/", save_weights_only=True)``
saves them as a TensorFlow object-based checkpoint (published as ``tf_ckpts.tar``), cells 68-79 predict:

- encoding: the 17-bp 5' and 13-bp 3' flanks cut off (cell 68), the rest (at most 100 bp, asserted) N-padded on both
  sides to 100 (``str.pad(side="both")``), followed by its reverse complement (cell 71); tokens A0 C1 G2 T3 N4.
- the model's expression output as it is (trained on the standardised expression; no transform, no TTA beyond the
  forward ‖ reverse-complement tokens the model reads together).

Layouts: the k-mer patches (``tf.image.extract_patches``, ``k x input_dim`` features, position-major) into a
``Conv1D(k)`` kernel (the mask token's channel, never present at prediction, dropped); the projector tokens (a Dense
layer applied to zeros: its bias) into ``PrependTokens``; the position embedding of the sequence tokens after zero
rows for the projector tokens (the team adds no position to them); the nucleotide logits' mask-token column dropped.
``num_projectors`` is not in the checkpoint: the team's ``ARGS`` value (32) unless ``config`` says otherwise.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

TOKENS = 5  # A C G T N: the seq2exp model's one-hot depth (the team's 6th, M, only appears in training masks)


def _blocks(source: TensorSource) -> int:
    count = 0
    while f"blocks/layer_with_weights-{count}/attn/_query_dense/kernel" in source:
        count += 1
    if not count:
        raise CheckpointError(f"{source.describe}: missing tensor 'blocks/layer_with_weights-0/attn/_query_dense/"
                              "kernel'")
    return count


def config_from(source: TensorSource) -> dict:
    """The ``unlock_dna`` config a ``Regressor`` checkpoint describes (``num_projectors``: the team's 32)."""
    features, width = source.shape("kmer_dense/kernel")
    input_dim = source.shape("nucleotide_dense/kernel")[1]
    if input_dim not in (5, 6) or features % input_dim:
        raise CheckpointError(f"{source.describe}: tensor 'kmer_dense/kernel' {(features, width)} and "
                              f"'nucleotide_dense/kernel' (.., {input_dim}) do not describe k-mers of ACGTN(M)")
    positions = source.shape("pos_embedding/embeddings")[0]
    block = "blocks/layer_with_weights-0"
    _, heads, key_dim = source.shape(f"{block}/attn/_query_dense/kernel")
    return {
        "input": {"kind": "tokens", "length": positions // 2, "region": "variable", "pad": "n_both",
                  "trim": "center", "token_order": "ACGTN"},
        "embedding_dim": width, "kmer": features // input_dim, "n_blocks": _blocks(source), "num_heads": heads,
        "key_dim": key_dim, "ff_mult": source.shape(f"{block}/ff1/net/layer_with_weights-1/kernel")[1] // width,
        "kernel_size": source.shape(f"{block}/conv/layer_with_weights-1/depthwise_kernel")[0],
        "num_projectors": 32,
    }


def _kmer_layout(input_dim: int):
    def layout(keras_shape):
        k, channels, width = keras_shape
        return (k * input_dim, width), lambda a: a.reshape(k, input_dim, width)[:, :channels, :]
    return layout


def _projector_layout(keras_shape):
    return (keras_shape[1],), lambda a: a.reshape(1, -1)


def _position_layout(projectors: int):
    def layout(keras_shape):
        rows, width = keras_shape
        return (rows - projectors, width), lambda a: np.concatenate([np.zeros((projectors, width), a.dtype), a])
    return layout


def _columns(count: int):
    def layout(keras_shape):
        team = (*keras_shape[:-1], keras_shape[-1] + count)
        return team, lambda a: a[..., : keras_shape[-1]]
    return layout


def mapping(source: TensorSource, config: dict) -> list:
    """Every ``Regressor`` variable -> its seq2exp weight (see the module docstring for the layouts)."""
    input_dim = source.shape("nucleotide_dense/kernel")[1]
    extra = input_dim - TOKENS
    source.take("expression_embedding/kernel", (1, config["embedding_dim"]))  # multiplied by zeros in the team's call
    pairs = [("kmer_embedding/kernel", "kmer_dense/kernel", _kmer_layout(input_dim)),
             ("kmer_embedding/bias", "kmer_dense/bias", "copy"),
             ("strand_embedding/embeddings", "strand_embedding/embeddings", "copy"),
             ("projector_tokens/tokens", "expression_embedding/bias", _projector_layout),
             ("core_position_embedding/embeddings", "pos_embedding/embeddings",
              _position_layout(config["num_projectors"])),
             ("expression_dense/kernel", "expression_dense/kernel", "copy"),
             ("expression_dense/bias", "expression_dense/bias", "copy"),
             ("nucleotide_dense/kernel", "nucleotide_dense/kernel", _columns(extra) if extra else "copy"),
             ("nucleotide_dense/bias", "nucleotide_dense/bias", _columns(extra) if extra else "copy")]
    for index in range(config["n_blocks"]):
        team, ours = f"blocks/layer_with_weights-{index}", f"core_block{index}"
        for ff in ("ff1", "ff2"):
            pairs += [(f"{ours}_{ff}_norm/gamma", f"{team}/{ff}/net/layer_with_weights-0/gamma", "copy"),
                      (f"{ours}_{ff}_norm/beta", f"{team}/{ff}/net/layer_with_weights-0/beta", "copy"),
                      (f"{ours}_{ff}_expand/kernel", f"{team}/{ff}/net/layer_with_weights-1/kernel", "copy"),
                      (f"{ours}_{ff}_project/kernel", f"{team}/{ff}/net/layer_with_weights-2/kernel", "copy")]
        pairs += [(f"{ours}_conv_norm/gamma", f"{team}/conv/layer_with_weights-0/gamma", "copy"),
                  (f"{ours}_conv_norm/beta", f"{team}/conv/layer_with_weights-0/beta", "copy")]
        pairs += [(f"{ours}_conv/{name}", f"{team}/conv/layer_with_weights-1/{name}", "copy")
                  for name in ("depthwise_kernel", "pointwise_kernel", "bias")]
        pairs += [(f"{ours}_attention_norm/gamma", f"{team}/layernorm/gamma", "copy"),
                  (f"{ours}_attention_norm/beta", f"{team}/layernorm/beta", "copy")]
        for part in ("query", "key", "value"):
            pairs += [(f"{ours}_attention/{part}/{name}", f"{team}/attn/_{part}_dense/{name}", "copy")
                      for name in ("kernel", "bias")]
        pairs += [(f"{ours}_attention/attention_output/{name}", f"{team}/attn/_output_dense/{name}", "copy")
                  for name in ("kernel", "bias")]
    return pairs


def recipe(config: dict) -> dict:
    """Cells 68-79: the model's expression on the variable region N-padded to 100 (+ its reverse complement)."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "mode_training.py cells 68-79: flanks cut (17 + 13 bp), the variable region (<= 100 bp) N-padded "
                     "on both sides to 100 and followed by its reverse complement, tokens ACGTN; the expression "
                     "output as it is (the standardised scale the team trained on)"}


IMPORTER = register_importer(Importer(
    architecture="unlock_dna", format="tf_checkpoint", team="Unlock_DNA",
    source="teams/unlock_dna/code/mode_training.py: Regressor (cell 52), saved by ModelCheckpoint("
           "save_weights_only=True) (cell 59), predicted by cells 68-79",
    signature="pos_embedding/embeddings", config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "Unlock_DNA", "model": "Conformer/Macaron transformer regressor (Regressor)",
          "citation": dream_citation("Unlock_DNA"),
          "code": "https://github.com/gongx030/dream_PGE"},
))
