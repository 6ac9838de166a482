"""NAD (rank 5=): the team's PyTorch ``Model`` ``state_dict`` + its GloVe k-mer vectors -> seq2exp ``nad``.

The team's code (``teams/nad/code``): ``Util/SimpleViTModel.py`` defines ``Model`` (a ResNet CNN + FPN over the
GloVe vectors, four x-transformers 0.28.4 ``Encoder`` s, one ``Linear`` head per level), ``main.py`` saves the best
epoch (``torch.save(model.state_dict().copy(), './best.pth')``), ``Step1.sh`` makes the embedding file
(``glove/demo.sh``: GloVe, 128 dimensions, written as ``data/vectors.txt``) and ``test_predict.py`` predicts:

- encoding (``Util/Utils.py:transform_data_embed``): for each of the 80 bases ``seq[17:-13]`` the 5-mer centred on it
  (``seq[15 + j : 20 + j]``, so the edge 5-mers read 2 bp of the real flanks), each replaced by its GloVe vector
  (``[80, 128]``). The team's code reads only rows of exactly 110 bp: its ``create_block_aa`` blocks hard-code 20, 40
  and 80 positions, so any other length fails in the model, and a 5-mer that is not in ``vectors.txt`` (one with
  ``N``) is a ``KeyError``. seq2exp encodes the same 80 5-mer ids of a 110-bp row (its variable region between the
  DREAM flanks, the flanks' bases as the edge context); other rows are N-padded / cut on the right to 80 bp and an
  unknown 5-mer (with ``N``, or missing from the file) is the zero vector.
- the GloVe file: ``word v1 .. vD`` per line, as GloVe writes it; the team's reader (``pd.read_table(sep=' ')``)
  drops the LAST line, which is GloVe's ``<unk>`` vector. Here the last line must be ``<unk>`` (else the file is
  taken for truncated) and is dropped the same way; every other word must be a 5-mer of A, C, G, T.
- output: the model's value, the mean of its four level heads, in the team's target units (``(y - 5) / 12`` after
  squeezing ``y <= 8`` into 5..8: ``target_transform: nad``, whose inverse gives expression units); no test-time
  augmentation; ``autocast`` is a no-op on the CPU (float32). Then ``test_predict.py`` replaces every prediction by
  its **rank over the whole file** / N (``np.argsort(x).argsort() / N``): the batch step ``rank``, which
  ``seq2exp predict`` applies to a whole input file; the served model returns the per-sequence values before it
  (the rank of one sequence needs all the others).

Layouts: Conv1d ``[out, in, k]`` -> Conv1D ``[k, in, out]``; ConvTranspose1d ``[in, out, k]`` -> Conv1DTranspose
``[k, out, in]`` (same kernel order, the PyTorch padding is the Cropping1D); the ``create_block_aa`` depthwise Conv1d
``[P, 1, 3]`` -> DepthwiseConv1D ``[3, P, 1]``; Linear transposed (q/k/v/out without bias, heads as
``'b n (h d)'``); one T5 relative-position table ``[buckets, heads]`` per encoder (``t*.transformer.rel_pos``),
shared by its layers. The team's FPN names count from the top (``l1`` reads ``c5``, ``u2`` makes the 20-position
level, ``d2`` is the aa block on it); seq2exp's count the level (``l5``, ``u4``, ``aa4``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import ExtraFile, Importer, dream_citation, register_importer

logger = logging.getLogger(__name__)

K = 5  # transform_data_embed: seq[(17 + i):(-13 + i)] for i in -2..2
EMBEDDING = "<GloVe vectors>"  # the name the --embedding file's table goes by among the checkpoint's tensors
UNKNOWN = "<unk>"  # GloVe writes it last; the team's reader drops the last line
_BN = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))
_STRIDES = [1, 1, 2, 2, 2]  # Model: create_block_conv(..., stride) for c1..c5 (not in the file)


def read_glove_vectors(path: Path) -> dict[str, np.ndarray]:
    """A GloVe ``vectors.txt`` (``word v1 .. vD`` per line, ``<unk>`` last) as the model's k-mer table ``[4**5 + 1,
    D]`` float32 (row = the k-mer's base-4 id in A, C, G, T order; the last row, unknown k-mers, zero), read as the
    team's ``DataGen`` reads it (the last line dropped). k-mers missing from the file get the zero vector (the
    team's code raises ``KeyError`` on them) and are logged."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file (the GloVe vectors, --embedding)")
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not a GloVe vectors text file (binary content); give the vectors.txt that "
                              "GloVe writes (not vectors.bin)") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise CheckpointError(f"{path}: an empty file, not GloVe vectors")
    if lines[-1].split(" ", 1)[0] != UNKNOWN:
        raise CheckpointError(f"{path}: the last line is not GloVe's {UNKNOWN!r} vector (a truncated file?); the "
                              "team's reader drops the last line, which GloVe writes as <unk>")
    letters = {letter: index for index, letter in enumerate("ACGT")}
    dim = None
    table, seen = None, {}
    for number, line in enumerate(lines[:-1], start=1):
        word, *values = line.split()
        if len(word) != K or any(letter not in letters for letter in word):
            raise CheckpointError(f"{path}: line {number}: word {word[:20]!r} is not a {K}-mer of A, C, G, T (NAD's "
                                  f"GloVe vocabulary)")
        if dim is None:
            dim = len(values)
            if dim == 0:
                raise CheckpointError(f"{path}: line {number}: no vector after {word!r}")
            table = np.zeros((4**K + 1, dim), np.float32)
        if len(values) != dim:
            raise CheckpointError(f"{path}: line {number}: {len(values)} values for {word!r}, line 1 has {dim}")
        if word in seen:
            raise CheckpointError(f"{path}: line {number}: k-mer {word!r} again (first on line {seen[word]})")
        try:
            vector = np.asarray([float(value) for value in values], np.float64)
        except ValueError:
            raise CheckpointError(f"{path}: line {number}: a value of {word!r} is not a number") from None
        index = 0
        for letter in word:
            index = index * 4 + letters[letter]
        table[index] = vector.astype(np.float32)
        seen[word] = number
    if table is None:
        raise CheckpointError(f"{path}: no k-mer vectors before the {UNKNOWN!r} line")
    if len(seen) < 4**K:
        logger.warning("%s: %d of the %d %d-mers have no vector: they get the zero vector (the team's code would "
                       "fail on a sequence holding one)", path, 4**K - len(seen), 4**K, K)
    return {EMBEDDING: table}


def _count(source: TensorSource, pattern: str) -> int:
    count = 0
    while pattern.format(count) in source:
        count += 1
    return count


def _transformer_layers(source: TensorSource, level: int) -> int:
    return _count(source, f"t{level}.transformer.layers.{{}}.0.0.weight")


def config_from(source: TensorSource) -> dict:
    """The ``nad`` config a ``Model`` state_dict describes (widths, blocks, depths, heads off the tensors' shapes);
    the GloVe vectors' dimension checked against the first convolution."""
    for name in [f"c{i}.0.weight" for i in range(1, 6)] + ["l1.weight", "d4.0.weight"]:
        source.shape(name)  # a missing tensor is named
    widths = [source.shape(f"c{i}.0.weight")[0] for i in range(1, 6)]
    in_channels = source.shape("c1.0.weight")[1]
    vectors = source.shape(EMBEDDING)
    if vectors[1] != in_channels:
        raise CheckpointError(f"{source.files.get('embedding', 'the GloVe file')}: GloVe vectors of {vectors[1]} "
                              f"dimensions, but the checkpoint's first convolution 'c1.0.weight' reads {in_channels} "
                              "(give the vectors file this model was trained with)")
    depths = []
    for level in range(1, 5):
        layers = _transformer_layers(source, level)
        if layers % 2:
            raise CheckpointError(f"{source.describe}: t{level} has {layers} x-transformers layers; an Encoder "
                                  "alternates attention and feed-forward (an even number)")
        depths.append(layers // 2)
    buckets, heads = source.shape("t1.transformer.rel_pos.relative_attention_bias.weight")
    deepest = next((level for level, depth in enumerate(depths, start=1) if depth), None)
    if deepest is None:
        raise CheckpointError(f"{source.describe}: missing tensor 't1.transformer.layers.0.1.to_q.weight'")
    inner = source.shape(f"t{deepest}.transformer.layers.0.1.to_q.weight")[0]
    fpn_width = source.shape("l1.weight")[0]
    expand = source.shape(f"t{deepest}.transformer.layers.1.1.net.0.0.weight")[0]
    if inner % heads or expand % fpn_width:
        raise CheckpointError(f"{source.describe}: tensor 't{deepest}.transformer.layers.0.1.to_q.weight' has "
                              f"{inner} outputs for {heads} heads (rel_pos table) or the feed-forward {expand} for "
                              f"width {fpn_width}: not an x-transformers Encoder")
    length = source.shape("d4.0.weight")[0]  # create_block_aa(80): one channel per position of the longest level
    return {
        "input": {"kind": "kmer", "k": K, "length": length, "region": "variable", "pad": "n_right", "trim": "right"},
        "embedding_dim": in_channels, "embedding_trainable": False, "kmer_embeddings_path": None,
        "conv_widths": widths, "conv_strides": list(_STRIDES),
        "residual_blocks": _count_residual(source),
        "fpn_width": fpn_width, "transformer_depths": depths, "heads": heads, "dim_head": inner // heads,
        "ff_mult": expand // fpn_width, "rel_pos_buckets": buckets,
    }


def _count_residual(source: TensorSource) -> int:
    """``create_block_conv``'s residual blocks: ``c1.3``, ``c1.4``, ... (after Conv, BN, ELU)."""
    count = 0
    while f"c1.{3 + count}.conv1.weight" in source:
        count += 1
    return count


def _batchnorm(keras_layer: str, team_prefix: str) -> list:
    return [(f"{keras_layer}/{k}", f"{team_prefix}.{t}", "copy") for k, t in _BN]


def _conv_transpose(keras_shape):  # torch ConvTranspose1d [in, out, k] -> Keras Conv1DTranspose [k, out, in]
    return tuple(reversed(keras_shape)), lambda a: np.transpose(a, (2, 1, 0))


def _depthwise(keras_shape):  # torch depthwise Conv1d [C, 1, k] -> Keras DepthwiseConv1D [k, C, 1]
    return (keras_shape[1], 1, keras_shape[0]), lambda a: np.transpose(a, (2, 0, 1))


def mapping(source: TensorSource, config: dict) -> list:
    """Every ``Model`` tensor (and the GloVe table) -> its seq2exp weight."""
    source.skip(lambda name: name.endswith(".num_batches_tracked"))
    pairs = [("kmer_embedding/embeddings", EMBEDDING, "copy")]
    for stage in range(1, 6):
        team = f"c{stage}"
        pairs += [(f"{team}_conv/kernel", f"{team}.0.weight", "conv"), *_batchnorm(f"{team}_bn", f"{team}.1")]
        for block in range(config["residual_blocks"]):
            ours, theirs = f"{team}_res{block}", f"{team}.{3 + block}"
            pairs += [(f"{ours}_a_conv/kernel", f"{theirs}.conv1.weight", "conv"),
                      *_batchnorm(f"{ours}_a_bn", f"{theirs}.bn1"),
                      (f"{ours}_b_conv/kernel", f"{theirs}.conv2.weight", "conv"),
                      *_batchnorm(f"{ours}_b_bn", f"{theirs}.bn2")]
    for team_index, level in enumerate((5, 4, 3, 2), start=1):  # l1 reads c5 ... l4 reads c2
        pairs += [(f"l{level}/kernel", f"l{team_index}.weight", "conv"),
                  (f"l{level}/bias", f"l{team_index}.bias", "copy")]
    for team_index, level in ((2, 4), (3, 3), (4, 2)):  # u2 makes d4, ...; d2 is the aa block on d4, ...
        pairs += [(f"u{level}_convt/kernel", f"u{team_index}.weight", _conv_transpose),
                  (f"u{level}_convt/bias", f"u{team_index}.bias", "copy"),
                  (f"aa{level}_conv/kernel", f"d{team_index}.0.weight", _depthwise),
                  (f"aa{level}_conv/bias", f"d{team_index}.0.bias", "copy"),
                  *_batchnorm(f"aa{level}_bn", f"d{team_index}.1")]
    for level, depth in enumerate(config["transformer_depths"], start=1):
        ours, theirs = f"t{level}", f"t{level}.transformer"
        if depth:
            pairs.append((f"{ours}_rel_pos/embeddings", f"{theirs}.rel_pos.relative_attention_bias.weight", "copy"))
        for index in range(depth):
            layer = f"{ours}_layer{index}"
            attention, feed_forward = f"{theirs}.layers.{2 * index}", f"{theirs}.layers.{2 * index + 1}"
            pairs += [(f"{layer}_attention_norm/gamma", f"{attention}.0.0.weight", "copy"),
                      (f"{layer}_attention_norm/beta", f"{attention}.0.0.bias", "copy"),
                      (f"{layer}_attention/query/kernel", f"{attention}.1.to_q.weight", "dense"),
                      (f"{layer}_attention/key/kernel", f"{attention}.1.to_k.weight", "dense"),
                      (f"{layer}_attention/value/kernel", f"{attention}.1.to_v.weight", "dense"),
                      (f"{layer}_attention/output/kernel", f"{attention}.1.to_out.weight", "dense"),
                      (f"{layer}_attention_post_norm/gamma", f"{attention}.0.1.weight", "copy"),
                      (f"{layer}_attention_post_norm/beta", f"{attention}.0.1.bias", "copy"),
                      (f"{layer}_ff_norm/gamma", f"{feed_forward}.0.0.weight", "copy"),
                      (f"{layer}_ff_norm/beta", f"{feed_forward}.0.0.bias", "copy"),
                      (f"{layer}_ff_expand/kernel", f"{feed_forward}.1.net.0.0.weight", "dense"),
                      (f"{layer}_ff_expand/bias", f"{feed_forward}.1.net.0.0.bias", "copy"),
                      (f"{layer}_ff_project/kernel", f"{feed_forward}.1.net.3.weight", "dense"),
                      (f"{layer}_ff_project/bias", f"{feed_forward}.1.net.3.bias", "copy"),
                      (f"{layer}_ff_post_norm/gamma", f"{feed_forward}.0.1.weight", "copy"),
                      (f"{layer}_ff_post_norm/beta", f"{feed_forward}.0.1.bias", "copy")]
        pairs += [(f"{ours}_norm/gamma", f"t{level}.norm.weight", "copy"),
                  (f"{ours}_norm/beta", f"t{level}.norm.bias", "copy"),
                  (f"r{level}/kernel", f"r{level}.0.weight", "dense"), (f"r{level}/bias", f"r{level}.0.bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``test_predict.py``: the model's value on the 80 GloVe 5-mer vectors, then rank / N over the file."""
    return {"tta": {}, "target_transform": {"name": "nad"}, "postprocess": [{"name": "rank"}],
            "notes": "test_predict.py + Util/Utils.py transform_data_embed: the 5-mers centred on seq[17:-13] "
                     "(seq[15+j:20+j], j < 80) -> their GloVe vectors (vectors.txt, last line <unk> dropped); the "
                     "model's value (mean of the 4 level heads) in the team's (y - 5) / 12 units (y <= 8 squeezed to "
                     "5..8; the nad transform's inverse gives expression units); no test-time augmentation; then "
                     "each prediction's rank over the whole file / N (batch step 'rank': seq2exp predict on a file; "
                     "a served model returns the values before it). The team's code reads only 110-bp rows without N "
                     "(other lengths fail in its model, N 5-mers are KeyErrors); seq2exp N-pads / cuts them on the "
                     "right to 80 bp and gives unknown 5-mers the zero vector"}


IMPORTER = register_importer(Importer(
    architecture="nad", format="pytorch_state_dict", team="NAD",
    source="teams/nad/code/Util/SimpleViTModel.py:Model (main.py: torch.save(model.state_dict().copy(), "
           "'./best.pth')) + the GloVe data/vectors.txt of Step1.sh; predicted by test_predict.py",
    signature="t1.transformer.rel_pos.relative_attention_bias.weight", config_from=config_from, mapping=mapping,
    recipe=recipe,
    card={"team": "NAD", "model": "GloVe 5-mer CNN + FPN + transformers (Model)",
          "citation": dream_citation("NAD")},
    extra_files=(ExtraFile("embedding", "the GloVe k-mer vectors file it was built with (data/vectors.txt of the "
                                        "team's Step1.sh)", read_glove_vectors),),
))
