"""bionml (rank 8): the team's Keras 2 weights file (``fine_tune_v7_best_weights.h5``) -> seq2exp ``bionml``.

The team's code (``teams/bionml/code``): ``architecture/new_BioNML_CrossAtt_v3.py:build`` with
``configs/config39v3.yaml`` defines the model (layers in ``utils/layers.py``), ``run_config_v1.py`` saves it with
``ModelCheckpoint("model/<model>/<config>/fine_tune_v7_best_weights.h5", save_weights_only=True)`` (Keras 2 HDF5
weights) and predicts (``--predict_only``):

- encoding (``utils/utils.py:PredictDataGen`` -> ``seq_to_one_hot`` with config39v3's ``preprocessing``: 110,
  ``trim_pad_unique_oligo``, no random padding, ``centering``): the first 17 and last 13 bases kept, the variable
  region between them N-padded on both sides to 80 (``(80 - n) // 2`` on the left) or cut to its centre 80
  (offset ``(n - 80) // 2``); one-hot A, C, G, T (``OneHotEncoder(handle_unknown="ignore")``: N all zeros). seq2exp:
  ``input: {region: variable, length: 80, pad: n_both, trim: center}`` and the model's ``flanks: dream_yeast`` (the
  construct's flanks put back around the region), identical for rows that carry the construct's flanks.
- output: ``model.predict`` on the standardised scale, then ``y * y_sd + y_mean`` with the mean and standard
  deviation of the training file's expression. Those two numbers are not in the weights file, so the imported run
  predicts the team's standardised value (as ``model.predict`` returns it); a user who knows them can rescale.

Keras 2 names the learnable ``Swish`` layers' scalar by session counters (``swish_3/Variable``), so the scalars are
found by their place (the only scalar of a layer, or the first / second of a side branch), not by that name. The
SwiGLU's two Dense layers ``V_c`` (value) and ``W_c`` (gate) become seq2exp's one ``[D, 2D]`` expand kernel
``[V | W]``. ``num_heads`` and the query activation are not in the file: config39v3's 16 and softsign unless
``config`` says otherwise.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

INCEPTION = "Scan_to_latent/latent/latent_inception"
RESIDUAL = "Prediction_repr_residual_expansion"
VARIABLE_LENGTH = 80  # seq_to_one_hot's unique_oligo_size
FLANKS = 30  # its 17 + 13 constant bases


def _find(source: TensorSource, prefix: str, ending: str = "", *, contains: str = "", scalar: bool | None = None,
          index: int = 0) -> str:
    """The ``index``-th tensor (in the file's order) under ``prefix`` whose name holds ``contains`` and ends with
    ``ending`` (``scalar``: only 0-d tensors)."""
    found = [name for name in source.tensors if name.startswith(prefix) and name.endswith(ending)
             and contains in name[len(prefix):] and (scalar is None or (source.tensors[name].ndim == 0) == scalar)]
    if len(found) <= index:
        what = "scalar " if scalar else ""
        raise CheckpointError(f"{source.describe}: missing {what}tensor {prefix}...{contains}...{ending}"
                              + (f" (number {index + 1})" if index else ""))
    return found[index]


def _blocks(source: TensorSource) -> int:
    count = 0
    while any(name.startswith(f"Transformer/encoder_block_{count}/") for name in source.tensors):
        count += 1
    if not count:
        raise CheckpointError(f"{source.describe}: missing tensor 'Transformer/encoder_block_0/...'")
    return count


def _kmer_lengths(filters: int, width: int, describe: str) -> list[int]:
    """The k-mer lengths whose detectors make ``filters`` (a sum of distinct powers of 4: 5120 = 4**5 + 4**6)."""
    lengths, rest, k = [], filters, 0
    while rest:
        if rest % 4 > 1:
            break
        if rest % 4:
            lengths.append(k)
        rest, k = rest // 4, k + 1
    if rest or not lengths or lengths[0] < 1 or lengths[-1] > width:
        raise CheckpointError(f"{describe}: tensor 'Scanning/kmer/kernel' has {filters} filters, not the detectors "
                              f"of k-mers of distinct lengths <= {width} (config39v3: 5- and 6-mers, 5120)")
    return lengths


def is_bionml(tensors) -> bool:
    """A BioNML file: its motif scanner and its cross-attention blocks."""
    return "Scanning/motif/kernel" in tensors and any(name.startswith("Transformer/encoder_block_0/")
                                                      for name in tensors)


def config_from(source: TensorSource) -> dict:
    """The ``bionml`` config a weights file describes (num_heads: config39v3's 16)."""
    motif_length, _, motif_size = source.shape("Scanning/motif/kernel")
    kmer_width, _, kmers = source.shape("Scanning/kmer/kernel")
    latent = source.shape(_find(source, f"{INCEPTION}/", "dense/dense/kernel"))[1]
    kernel_lengths = [source.shape(_find(source, f"{INCEPTION}/", f"conv{i}/kernel",
                                         contains="conv_side_branch_0/"))[0] for i in (1, 2)]
    positions = source.shape("Add_pos_embedding/pos_embedding")[1]
    if positions - 1 != VARIABLE_LENGTH + FLANKS:
        raise CheckpointError(f"{source.describe}: tensor 'Add_pos_embedding/pos_embedding' has {positions} "
                              f"positions; the team's encoding makes {VARIABLE_LENGTH + FLANKS} + 1 (token)")
    return {
        "input": {"kind": "onehot", "length": VARIABLE_LENGTH, "region": "variable", "pad": "n_both",
                  "trim": "center", "n_value": 0.0},
        "flanks": "dream_yeast",
        "motif_size": motif_size, "motif_length_max": motif_length,
        "kmer_lengths": _kmer_lengths(kmers, kmer_width, source.describe), "kmer_length_max": kmer_width,
        "latent_dim": latent, "inception_kernel_lengths": kernel_lengths,
        "encoder_layer_number": _blocks(source), "num_heads": 16, "query_dense_activation": "softsign",
        "representation_dim": source.shape("Prediction_repr/kernel")[1],
    }


def _bn(source: TensorSource, keras_name: str, prefix: str, stem: str) -> list:
    return [(f"{keras_name}/{name}", _find(source, prefix, f"{stem}/{name}"), "copy")
            for name in ("gamma", "beta", "moving_mean", "moving_variance")]


def _swiglu_expand(source: TensorSource, gate: str):
    """``[V | W]``: the value Dense's tensor (given) next to the gate Dense's (``gate``, taken here)."""
    def layout(keras_shape):
        half = (*keras_shape[:-1], keras_shape[-1] // 2)
        return half, lambda value: np.concatenate([value, source.take(gate, half)], axis=-1)
    return layout


def mapping(source: TensorSource, config: dict) -> list:
    """Every weight of the team's ``build`` -> its seq2exp weight (see the module docstring)."""
    pairs = [("motif_scan/kernel", "Scanning/motif/kernel", "copy"),
             ("motif_swish/beta", _find(source, "Scanning/motif_swish_activation/", scalar=True), "copy"),
             ("kmer_scan/kernel", "Scanning/kmer/kernel", "copy"),
             ("kmer_swish/beta", _find(source, "Scanning/kmer_swish_activation/", scalar=True), "copy"),
             ("embedding_swish/beta", _find(source, "Scan_to_latent/embedding/swish_activation/", scalar=True),
              "copy")]
    pairs += _bn(source, "embedding_bn", "Scan_to_latent/embedding/", "batch_norm")
    pairs += [("inception_dense/kernel", _find(source, f"{INCEPTION}/", "dense/dense/kernel"), "copy"),
              ("inception_dense/bias", _find(source, f"{INCEPTION}/", "dense/dense/bias"), "copy"),
              ("inception_dense_swish/beta", _find(source, f"{INCEPTION}/swish", scalar=True), "copy")]
    pairs += _bn(source, "inception_dense_bn", f"{INCEPTION}/", "dense/bn")
    for index in range(2):
        team, ours = f"conv_side_branch_{index}/", f"inception_branch{index}"
        for step in (1, 2):
            pairs += [(f"{ours}_conv{step}/{name}",
                       _find(source, f"{INCEPTION}/", f"conv{step}/{name}", contains=team), "copy")
                      for name in ("kernel", "bias")]
            pairs += [(f"{ours}_{step}_swish/beta",
                       _find(source, f"{INCEPTION}/", contains=team, scalar=True, index=step - 1), "copy")]
            pairs += _bn(source, f"{ours}_{step}_bn", f"{INCEPTION}/", f"{team}bn{step}")
    pairs += [("cls_token/tokens", "Add_representation_token/repr", lambda shape: ((1, *shape), lambda a: a[0])),
              ("position_embedding/embeddings", "Add_pos_embedding/pos_embedding",
               lambda shape: ((1, *shape), lambda a: a[0]))]
    for index in range(config["encoder_layer_number"]):
        team, ours = f"Transformer/encoder_block_{index}/", f"encoder{index}"
        attention = f"{team}MultiHeadDotProductAttention_1/"
        for part, keras_part in (("query", "query"), ("key", "key"), ("value", "value"), ("out", "output")):
            pairs += [(f"{ours}_attention/{keras_part}/{name}", _find(source, attention, f"{part}/{name}"), "copy")
                      for name in ("kernel", "bias")]
        for norm, keras_norm in (("LayerNorm_0", "norm0"), ("LayerNorm_2", "norm2")):
            pairs += [(f"{ours}_{keras_norm}/{name}", _find(source, team, f"{norm}/{name}"), "copy")
                      for name in ("gamma", "beta")]
        pairs += [(f"{ours}_mlp_expand/{name}", _find(source, team, f"V_c/{name}"),
                   _swiglu_expand(source, _find(source, team, f"W_c/{name}"))) for name in ("kernel", "bias")]
        pairs += [(f"{ours}_mlp_swiglu/beta", _find(source, f"{team}swiglu/", scalar=True), "copy"),
                  (f"{ours}_mlp_project/kernel", _find(source, team, "Dense_1/kernel"), "copy"),
                  (f"{ours}_mlp_project/bias", _find(source, team, "Dense_1/bias"), "copy")]
    pairs += [("encoder_norm/gamma", "Transformer/encoder_norm/gamma", "copy"),
              ("encoder_norm/beta", "Transformer/encoder_norm/beta", "copy")]
    for step in (1, 2):
        pairs += [(f"repr_residual{step}_swish/beta", _find(source, f"{RESIDUAL}/", scalar=True, index=step - 1),
                   "copy"),
                  (f"repr_residual_dense{step}/kernel", _find(source, f"{RESIDUAL}/", f"dense{step}/kernel"), "copy"),
                  (f"repr_residual_dense{step}/bias", _find(source, f"{RESIDUAL}/", f"dense{step}/bias"), "copy")]
        pairs += _bn(source, f"repr_residual{step}_bn", f"{RESIDUAL}/", f"bn{step}")
    pairs += [("prediction_repr/kernel", "Prediction_repr/kernel", "copy"),
              ("prediction_repr/bias", "Prediction_repr/bias", "copy"),
              ("prediction_head/kernel", "Prediction_head/kernel", "copy"),
              ("prediction_head/bias", "Prediction_head/bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``run_config_v1.py --predict_only``: ``model.predict`` on ``PredictDataGen`` rows (no TTA)."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "run_config_v1.py --predict_only: PredictDataGen/seq_to_one_hot (config39v3 preprocessing): "
                     "17 + 13 flank bases kept, the variable region N-padded on both sides to 80 or cut to its "
                     "centre, one-hot ACGT (N zeros); model.predict as it is, on the standardised scale (the team "
                     "then rescales by the training file's expression sd and mean, which the weights file does not "
                     "hold). The model's own reverse-complement branch is its only strand handling (no TTA)"}


IMPORTER = register_importer(Importer(
    architecture="bionml", format="keras_h5", team="BioNML",
    source="teams/bionml/code/architecture/new_BioNML_CrossAtt_v3.py:build (configs/config39v3.yaml), saved by "
           "run_config_v1.py's ModelCheckpoint('.../fine_tune_v7_best_weights.h5', save_weights_only=True), "
           "predicted by run_config_v1.py --predict_only",
    signature=is_bionml, config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "BioNML", "model": "motif/k-mer scanning + Inception + cross-attention ViT "
                                     "(new_BioNML_CrossAtt_v3, config39v3)",
          "citation": dream_citation("BioNML")},
))
