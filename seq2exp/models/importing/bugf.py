"""BUGF (rank 9): the team's PyTorch ``TransformerNet`` ``state_dict`` -> seq2exp ``bugf``.

The team's code (``teams/bugf/code``): ``nndef_exp_alibi.py`` defines ``TransformerNet(width, depth, heads)`` (ONE
``SeqEncoderLayer`` object put ``depth`` times in a ``ModuleList``: the weights are tied), ``pytorch_xla_train.py``
saves it (``xm.save(network.state_dict(), 'exp_model.pt')``, renamed ``FINAL_exp_model.pt``) and
``pytorch_challenge.py`` predicts:

- encoding: the variable region ``seq[17:-13]`` as tokens A0 T1 G2 C3 N4, right-padded with token 5 to 112 (a longer
  region cut on the right, as ``F.pad`` with a negative width does). seq2exp strips the flanks where the row has
  them (the team cuts 17 + 13 bp from every row).
- output: the expected bin ``softmax(logits) . [0..17]``; no test-time augmentation, no transform.

The ``state_dict`` lists the tied layer once per depth (``seqencoder.0.*`` ... ``seqencoder.{depth-1}.*``, the same
tensors): the import takes ``seqencoder.0`` and checks that every other copy is equal (a file whose layers differ is
not BUGF's weight-tied model). The number of heads is not in the file (ALiBi's slopes are a non-persistent buffer):
the team's 16 (``TransformerNet(512, 16, 16)``), or ``config={"heads": ...}``.

Layouts: Linear ``[out, in]`` -> Dense ``[in, out]`` (q/k/v without bias, heads as ``view(B, L, H, d)``: the same
order as seq2exp's attention); the PEG's depthwise Conv1d ``[D, 1, 7]`` -> DepthwiseConv1D ``[7, D, 1]``.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

HEADS = 16  # pytorch_challenge.py / pytorch_xla_train.py: TransformerNet(512, 16, 16)
_LAYER = "shared_encoder_layer"
_LAYER_PAIRS = (  # (seq2exp weight, team tensor under seqencoder.N, layout)
    (f"{_LAYER}_attention_norm/gamma", "norm1.weight", "copy"),
    (f"{_LAYER}_attention_norm/beta", "norm1.bias", "copy"),
    (f"{_LAYER}_gate/kernel", "gate.weight", "dense"),
    (f"{_LAYER}_gate/bias", "gate.bias", "copy"),
    (f"{_LAYER}_attention/query/kernel", "attn.to_query.weight", "dense"),
    (f"{_LAYER}_attention/key/kernel", "attn.to_key.weight", "dense"),
    (f"{_LAYER}_attention/value/kernel", "attn.to_value.weight", "dense"),
    (f"{_LAYER}_attention/output/kernel", "attn.to_out.weight", "dense"),
    (f"{_LAYER}_attention/output/bias", "attn.to_out.bias", "copy"),
    (f"{_LAYER}_ff_norm/gamma", "norm2.weight", "copy"),
    (f"{_LAYER}_ff_norm/beta", "norm2.bias", "copy"),
    (f"{_LAYER}_ff_expand/kernel", "ff.0.weight", "dense"),
    (f"{_LAYER}_ff_expand/bias", "ff.0.bias", "copy"),
    (f"{_LAYER}_ff_project/kernel", "ff.3.weight", "dense"),
    (f"{_LAYER}_ff_project/bias", "ff.3.bias", "copy"),
)


def _depth(source: TensorSource) -> int:
    depth = 0
    while f"seqencoder.{depth}.norm1.weight" in source:
        depth += 1
    if not depth:
        raise CheckpointError(f"{source.describe}: missing tensor 'seqencoder.0.norm1.weight'")
    return depth


def config_from(source: TensorSource) -> dict:
    """The ``bugf`` config a ``TransformerNet`` state_dict describes (heads: the team's 16)."""
    vocabulary, width = source.shape("embed.weight")
    expand = source.shape("seqencoder.0.ff.0.weight")[0]
    if expand % width:
        raise CheckpointError(f"{source.describe}: tensor 'seqencoder.0.ff.0.weight' has {expand} outputs, not a "
                              f"multiple of the width {width}")
    return {"vocabulary_size": vocabulary, "width": width, "depth": _depth(source), "heads": HEADS,
            "ff_mult": expand // width, "peg_kernel_size": source.shape("peg.conv.weight")[-1],
            "n_bins": source.shape("to_exp.weight")[0]}


def _depthwise(keras_shape):  # torch depthwise Conv1d [D, 1, k] -> Keras DepthwiseConv1D [k, D, 1]
    return (keras_shape[1], 1, keras_shape[0]), lambda a: np.transpose(a, (2, 0, 1))


def _tied_copies(source: TensorSource, depth: int) -> None:
    """Every ``seqencoder.N`` (N >= 1) equal to ``seqencoder.0`` (the team's one shared layer), marked as used."""
    for index in range(1, depth):
        for _, name, _ in _LAYER_PAIRS:
            first = source.peek(f"seqencoder.0.{name}")
            copy = source.take(f"seqencoder.{index}.{name}", first.shape)
            if not np.array_equal(first, copy):
                raise CheckpointError(f"{source.describe}: tensor 'seqencoder.{index}.{name}' differs from "
                                      f"'seqencoder.0.{name}': BUGF's encoder layers are one shared (tied) layer")


def mapping(source: TensorSource, config: dict) -> list:
    """Embedding, PEG, the shared encoder layer (from ``seqencoder.0``; the other copies checked equal), heads."""
    _tied_copies(source, config["depth"])
    pairs = [("embedding/embeddings", "embed.weight", "copy"),
             ("peg_conv/kernel", "peg.conv.weight", _depthwise),
             ("peg_conv/bias", "peg.conv.bias", "copy")]
    pairs += [(ours, f"seqencoder.0.{team}", layout) for ours, team, layout in _LAYER_PAIRS]
    pairs += [("to_bins/kernel", "to_exp.weight", "dense"), ("to_bins/bias", "to_exp.bias", "copy"),
              ("to_mutations/kernel", "to_mut.weight", "dense"), ("to_mutations/bias", "to_mut.bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``pytorch_challenge.py``: the expected bin of the forward strand."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "pytorch_challenge.py: tokens A0 T1 G2 C3 N4 of seq[17:-13], right-padded with 5 (cut on the "
                     "right) to 112; softmax(to_exp(mean over the 112 positions)) . [0..17], no test-time "
                     "augmentation (the script prints 3 decimals)"}


IMPORTER = register_importer(Importer(
    architecture="bugf", format="pytorch_state_dict", team="BUGF",
    source="teams/bugf/code/nndef_exp_alibi.py:TransformerNet (xm.save(network.state_dict(), 'exp_model.pt') in "
           "pytorch_xla_train.py, renamed FINAL_exp_model.pt); predicted by pytorch_challenge.py",
    signature="seqencoder.0.attn.to_query.weight", config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "BUGF", "model": "weight-tied ALiBi + PEG transformer (TransformerNet)",
          "citation": dream_citation("BUGF")},
))
