"""Prix Fixe DREAM-CNN / -RNN / -Attn: the paper's ``PrixFixeNet`` ``state_dict`` -> ``dream_cnn`` / ``dream_rnn`` /
``dream_attn``.

The authors' code (``prixfixe/``, ``notebooks/DREAMNets_BuildModel_Train_and_Predict.py``): a ``PrixFixeNet`` of
``first`` (``BHIFirstLayersBlock``: parallel Conv1d branches ``first.conv_list.<i>.conv``), ``core``
(``AutosomeCoreBlock``: ``core.seqextractor.{inv_res,resize}_blc<i>`` for DREAM-CNN; ``BHICoreBlock``: ``core.lstm``
+ ``core.conv_list.<i>.conv`` for DREAM-RNN; DREAM-Attn: ``AutosomeFirstLayersBlock`` ``first.block`` +
``UnlockDNACoreBlock`` ``core.pos_embedding`` / ``core.blocks.<i>``) and ``final`` (``AutosomeFinalLayersBlock``: ``final.mapper.0`` and the
``final.bins`` buffer). ``Trainer`` saves ``torch.save(model.state_dict(), model_dir / f"model_{epoch}.pth")`` (and
``model_best.pth``); ``AutosomePredictor.predict`` is the prediction path:

- encoding: the 17-bp 5' adapter replaced by the 150 bp of the plasmid upstream of the insert, the last 150 bp kept
  (``_add_plasmid``); one-hot in ``n2id``'s order **A, G, C, T**; ``N`` all zeros (``Seq2Tensor`` drops the 5th
  class in training; the predictor writes 0.25 into an int64 tensor, which stores 0); then the ``is_reverse``
  channel and the ``is_singleton`` channel (0 for prediction).
- test-time augmentation: the mean of the forward window and its reverse complement (``is_reverse`` = 1).
- output: the expected bin ``Σ softmax(mean(mapper(x)))·bins`` (the final block has no SiLU: it is commented out).

Widths, kernel sizes, LSTM units, block sizes, SE reduction, bins and input channels are read off the tensors.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource, bilstm_pairs, grouped_layout
from seq2exp.models.importing.core import Importer, register_importer
from seq2exp.models.prixfixe import AUTOSOME_INPUT

_BN = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))

CARD = {"team": "Prix Fixe (DREAM Challenge consortium)",
        "citation": "Rafi AM, Nogina D, Penzar D, et al. A community effort to optimize sequence-based deep learning "
                    "models of gene regulation. Nature Biotechnology (2024). doi:10.1038/s41587-024-02414-w",
        "code": "https://github.com/de-Boer-Lab/random-promoter-dream-challenge-2022 (prixfixe/)"}


def _batchnorm(keras_layer: str, team_prefix: str) -> list:
    return [(f"{keras_layer}/{k}", f"{team_prefix}.{t}", "copy") for k, t in _BN]


def _branches(source: TensorSource, prefix: str) -> list[tuple[int, int, int]]:
    """``(out channels, in channels, kernel size)`` of each BHI ``ConvBlock`` under ``prefix``."""
    shapes = []
    while f"{prefix}.{len(shapes)}.conv.weight" in source:
        shape = source.shape(f"{prefix}.{len(shapes)}.conv.weight")
        if len(shape) != 3:
            raise CheckpointError(f"{source.describe}: tensor '{prefix}.{len(shapes)}.conv.weight' has shape "
                                  f"{shape}, expected a Conv1d weight [out, in, k]")
        shapes.append(shape)
    if not shapes:
        raise CheckpointError(f"{source.describe}: missing tensor '{prefix}.0.conv.weight'")
    if len({out for out, _, _ in shapes}) != 1:
        raise CheckpointError(f"{source.describe}: the {prefix} branches have different widths "
                              f"{[out for out, _, _ in shapes]}")
    return shapes


def _benchmark_tasks(source: TensorSource) -> list[str] | None:
    """The head of the generalisation benchmarks' ``AutosomeFinalLayersBlock`` (``prixfixe_benchmarks/``):
    ``None`` for the yeast soft-bin head (``final.mapper.0`` + ``final.bins``); ``[prefix]`` for the human one
    (``final.mapper`` + ``final.linear.0``); ``["final.mapper1", "final.mapper2"]`` for Drosophila's two tasks."""
    if "final.mapper.0.weight" in source:
        return None
    if "final.mapper.weight" in source:
        return [""]
    tasks = []
    while f"final.mapper{len(tasks) + 1}.weight" in source:
        tasks.append(str(len(tasks) + 1))
    if not tasks:
        raise CheckpointError(f"{source.describe}: missing tensor 'final.mapper.0.weight' (the autosome final block)")
    return tasks


# the benchmark notebooks' SEQ_SIZE (the length is not in the tensors of the convolutional/recurrent nets)
BENCHMARK_LENGTH = {1: 230, 2: 249}  # human lentiMPRA (one task), Drosophila STARR-seq (Dev, Hk)


def _encoding_and_final(source: TensorSource, in_channels: int, what: str) -> tuple[dict, dict, dict]:
    """``(input, final, extra)`` config sections; ``extra`` holds ``tasks`` for the two-task benchmark head."""
    tasks = _benchmark_tasks(source)
    if in_channels not in (5, 6):
        raise CheckpointError(f"{source.describe}: tensor {what!r} reads {in_channels} input channels; the Prix Fixe "
                              "DREAM nets read 6 (AGCT + is_reverse + is_singleton) or 5 (no is_singleton)")
    if tasks is None:
        encoding = {**AUTOSOME_INPUT, "onehot_letters": "AGCT", "n_value": 0.0, "singleton_channel": in_channels == 6}
        return encoding, {"n_bins": source.shape("final.mapper.0.weight")[0], "activation": None}, {}
    encoding = {"kind": "onehot", "length": BENCHMARK_LENGTH.get(len(tasks), 249), "region": "full",
                "pad": "n_right", "trim": "right", "n_value": 0.0, "rc_channel": True,
                "singleton_channel": in_channels == 6, "onehot_letters": "AGCT"}
    final = {"block": "autosome_regression", "activation": None,
             "channels": source.shape(f"final.mapper{tasks[0]}.weight")[0]}
    return encoding, final, ({"tasks": [f"y{t}" for t in tasks]} if len(tasks) > 1 else {})


def _first_and_final(source: TensorSource) -> tuple[dict, dict, dict, dict]:
    """``(input, first, final, extra)`` config sections: BHI first block + an autosome final block."""
    first = _branches(source, "first.conv_list")
    encoding, final, extra = _encoding_and_final(source, first[0][1], "first.conv_list.0.conv.weight")
    return (encoding, {"filters": sum(out for out, _, _ in first), "kernel_sizes": [k for _, _, k in first]},
            final, extra)


def _final_pairs(source: TensorSource, config: dict) -> list:
    tasks = _benchmark_tasks(source)
    if tasks is not None:  # per task: Conv1x1 mapper -> mean -> Linear(1)
        pairs = []
        for index, task in enumerate(tasks):
            suffix = "" if len(tasks) == 1 else f"_task{index}"
            pairs += [(f"final_mapper{suffix}/kernel", f"final.mapper{task}.weight", "conv"),
                      (f"final_mapper{suffix}/bias", f"final.mapper{task}.bias", "copy"),
                      (f"final_linear{suffix}/kernel", f"final.linear{task}.0.weight", "dense"),
                      (f"final_linear{suffix}/bias", f"final.linear{task}.0.bias", "copy")]
        return pairs
    n_bins = config["final"]["n_bins"]
    if not np.array_equal(source.take("final.bins", (n_bins,)), np.arange(n_bins)):
        raise CheckpointError(f"{source.describe}: tensor 'final.bins' is not 0..{n_bins - 1}; the expected bin "
                              "would differ")
    return [("final_conv/kernel", "final.mapper.0.weight", "conv"), ("final_conv/bias", "final.mapper.0.bias", "copy")]


def _first_final_pairs(source: TensorSource, config: dict) -> list:
    pairs = []
    for index in range(len(config["first"]["kernel_sizes"])):
        pairs += [(f"first_branch{index}_conv/kernel", f"first.conv_list.{index}.conv.weight", "conv"),
                  (f"first_branch{index}_conv/bias", f"first.conv_list.{index}.conv.bias", "copy")]
    return pairs + _final_pairs(source, config)


# ------------------------------------------------------------------------------------------------------ DREAM-CNN
def cnn_config_from(source: TensorSource) -> dict:
    """The ``dream_cnn`` config a ``PrixFixeNet(BHIFirst, AutosomeCore, AutosomeFinal)`` state_dict describes."""
    encoding, first, final, extra = _first_and_final(source)
    team = "core.seqextractor"
    blocks = []
    while f"{team}.resize_blc{len(blocks)}.0.weight" in source:
        blocks.append(source.shape(f"{team}.resize_blc{len(blocks)}.0.weight")[0])
    if not blocks:
        raise CheckpointError(f"{source.describe}: missing tensor '{team}.resize_blc0.0.weight'")
    expanded = source.shape(f"{team}.inv_res_blc0.0.weight")[0]
    hidden = source.shape(f"{team}.inv_res_blc0.6.fc.0.weight")[0]
    reduction = first["filters"] // hidden if first["filters"] % hidden == 0 else first["filters"] / hidden
    return {
        **extra, "input": encoding, "first": first, "final": final,
        "core": {"block_sizes": blocks, "kernel_size": source.shape(f"{team}.inv_res_blc0.3.weight")[2],
                 "resize_factor": expanded // blocks[0],
                 "filters_per_group": source.shape(f"{team}.inv_res_blc0.3.weight")[1],
                 "se_reduction": reduction, "bilinear": False},
    }


def cnn_mapping(source: TensorSource, config: dict) -> list:
    """Conv1d [out, in, k] -> [k, in, out]; the grouped conv into ``GroupedConv1D``'s layout; ``SELayerSimple``'s
    Linear layers transposed; BatchNorm weight/bias/running statistics (``num_batches_tracked`` unused)."""
    source.skip(lambda name: name.endswith(".num_batches_tracked"))
    pairs = _first_final_pairs(source, config)
    core = config["core"]
    for index, size in enumerate(core["block_sizes"]):
        stage, team = f"core_stage{index}", f"core.seqextractor.inv_res_blc{index}"
        expanded = size * core["resize_factor"]
        pairs += [
            (f"{stage}_expand_conv/kernel", f"{team}.0.weight", "conv"), *_batchnorm(f"{stage}_expand_bn", f"{team}.1"),
            (f"{stage}_grouped_conv/kernel", f"{team}.3.weight",
             grouped_layout(expanded // core["filters_per_group"])),
            *_batchnorm(f"{stage}_grouped_bn", f"{team}.4"),
            (f"{stage}_se_fc1/kernel", f"{team}.6.fc.0.weight", "dense"),
            (f"{stage}_se_fc1/bias", f"{team}.6.fc.0.bias", "copy"),
            (f"{stage}_se_fc3/kernel", f"{team}.6.fc.2.weight", "dense"),
            (f"{stage}_se_fc3/bias", f"{team}.6.fc.2.bias", "copy"),
            (f"{stage}_project_conv/kernel", f"{team}.7.weight", "conv"),
            *_batchnorm(f"{stage}_project_bn", f"{team}.8"),
            (f"{stage}_resize_conv/kernel", f"core.seqextractor.resize_blc{index}.0.weight", "conv"),
            *_batchnorm(f"{stage}_resize_bn", f"core.seqextractor.resize_blc{index}.1"),
        ]
    return pairs


# ------------------------------------------------------------------------------------------------------ DREAM-RNN
def rnn_config_from(source: TensorSource) -> dict:
    """The ``dream_rnn`` config a ``PrixFixeNet(BHIFirst, BHICore, AutosomeFinal)`` state_dict describes."""
    encoding, first, final, extra = _first_and_final(source)
    second = _branches(source, "core.conv_list")
    return {
        **extra, "input": encoding, "first": first, "final": final,
        "core": {"lstm_units": source.shape("core.lstm.weight_hh_l0")[1],
                 "filters": sum(out for out, _, _ in second), "kernel_sizes": [k for _, _, k in second]},
    }


def rnn_mapping(source: TensorSource, config: dict) -> list:
    """Conv1d transposed; LSTM weight_ih/hh [4H, in] -> kernel/recurrent_kernel [in, 4H] (gate order i, f, g, o in
    both), ``bias_ih + bias_hh`` -> Keras's one bias; ``_reverse`` -> the backward LSTM."""
    pairs = _first_final_pairs(source, config)
    pairs += bilstm_pairs("core_bilstm", "core.lstm")
    for index in range(len(config["core"]["kernel_sizes"])):
        pairs += [(f"core_convs_branch{index}_conv/kernel", f"core.conv_list.{index}.conv.weight", "conv"),
                  (f"core_convs_branch{index}_conv/bias", f"core.conv_list.{index}.conv.bias", "copy")]
    return pairs


# ----------------------------------------------------------------------------------------------------- DREAM-Attn
def attn_config_from(source: TensorSource) -> dict:
    """The ``dream_attn`` config a ``PrixFixeNet(AutosomeFirst, UnlockDNACore, AutosomeFinal)`` state_dict
    describes. The head count is not in the tensors: ``ConformerSASwiGLULayer`` builds ``nn.MultiheadAttention(...,
    num_heads=4)`` whatever ``num_heads`` the notebook passes, so it is 4."""
    stem = source.shape("first.block.0.weight")
    if len(stem) != 3:
        raise CheckpointError(f"{source.describe}: tensor 'first.block.0.weight' has shape {stem}, expected a Conv1d "
                              "weight [out, in, k]")
    encoding, final, extra = _encoding_and_final(source, stem[1], "first.block.0.weight")
    encoding["length"] = source.shape("core.pos_embedding.weight")[0]  # UnlockDNACoreBlock's seqsize
    n_blocks = 0
    while f"core.blocks.{n_blocks}.attn.in_proj_weight" in source:
        n_blocks += 1
    if not n_blocks:
        raise CheckpointError(f"{source.describe}: missing tensor 'core.blocks.0.attn.in_proj_weight'")
    width = stem[0]
    return {
        **extra, "input": encoding, "final": final,
        "first": {"filters": width, "kernel_size": stem[2]},
        "core": {"n_blocks": n_blocks, "kernel_size": source.shape("core.blocks.0.conv.0.weight")[2], "num_heads": 4,
                 "key_dim": None, "ff_mult": source.shape("core.blocks.0.ff1.linear1.weight")[0] // width,
                 "conv_adds_norm": True},
    }


def _in_projection(part: int, bias: bool):
    """``nn.MultiheadAttention``'s packed ``in_proj_weight [3D, D]`` / ``in_proj_bias [3D]`` (q, k, v) -> Keras
    ``MultiHeadAttention``'s query/key/value ``kernel [D, H, d]`` / ``bias [H, d]``."""
    def layout(keras_shape):
        size = keras_shape[-2] * keras_shape[-1]
        if bias:
            return (3 * size,), lambda a: a[part * size:(part + 1) * size].reshape(keras_shape)
        return (3 * size, keras_shape[0]), lambda a: a[part * size:(part + 1) * size].T.reshape(keras_shape)
    return layout


def _out_projection(keras_shape):  # out_proj.weight [D, H·d] -> Keras attention_output kernel [H, d, D]
    return (keras_shape[2], keras_shape[0] * keras_shape[1]), lambda a: a.T.reshape(keras_shape)


def _depthwise(keras_shape):  # torch depthwise Conv1d [D, 1, k] -> Keras SeparableConv1D depthwise [k, D, 1]
    return (keras_shape[1], 1, keras_shape[0]), lambda a: np.transpose(a, (2, 0, 1))


def attn_mapping(source: TensorSource, config: dict) -> list:
    """The autosome stem (conv + BatchNorm), the position embedding, per Conformer block: both SwiGLU feed-forwards
    (LayerNorm, Linear transposed, no biases), the depthwise + pointwise convolution, the packed attention
    projections split into query/key/value, and the autosome final block."""
    source.skip(lambda name: name.endswith(".num_batches_tracked"))
    pairs = [("first_conv/kernel", "first.block.0.weight", "conv"), *_batchnorm("first_bn", "first.block.1"),
             ("core_position_embedding/embeddings", "core.pos_embedding.weight", "copy")]
    for index in range(config["core"]["n_blocks"]):
        keras, team = f"core_block{index}", f"core.blocks.{index}"
        for ff in ("ff1", "ff2"):
            pairs += [(f"{keras}_{ff}_norm/gamma", f"{team}.{ff}.layernorm.weight", "copy"),
                      (f"{keras}_{ff}_norm/beta", f"{team}.{ff}.layernorm.bias", "copy"),
                      (f"{keras}_{ff}_expand/kernel", f"{team}.{ff}.linear1.weight", "dense"),
                      (f"{keras}_{ff}_project/kernel", f"{team}.{ff}.linear2.weight", "dense")]
        attention = f"{keras}_attention"
        pairs += [(f"{keras}_conv_norm/gamma", f"{team}.layernorm1.weight", "copy"),
                  (f"{keras}_conv_norm/beta", f"{team}.layernorm1.bias", "copy"),
                  (f"{keras}_conv/depthwise_kernel", f"{team}.conv.0.weight", _depthwise),
                  (f"{keras}_conv/pointwise_kernel", f"{team}.conv.1.weight", "conv"),
                  (f"{keras}_conv/bias", f"{team}.conv.1.bias", "copy"),
                  (f"{attention}_norm/gamma", f"{team}.layernorm2.weight", "copy"),
                  (f"{attention}_norm/beta", f"{team}.layernorm2.bias", "copy"),
                  (f"{attention}/attention_output/kernel", f"{team}.attn.out_proj.weight", _out_projection),
                  (f"{attention}/attention_output/bias", f"{team}.attn.out_proj.bias", "copy")]
        for part, name in enumerate(("query", "key", "value")):
            pairs += [(f"{attention}/{name}/kernel", f"{team}.attn.in_proj_weight", _in_projection(part, False)),
                      (f"{attention}/{name}/bias", f"{team}.attn.in_proj_bias", _in_projection(part, True))]
    return pairs + _final_pairs(source, config)


def recipe(config: dict) -> dict:
    """``AutosomePredictor.predict``: forward + reverse-complement mean of the expected bin, no transform; the
    benchmark nets: the benchmark notebooks' prediction cells (forward only, the raw per-task regression)."""
    if config["final"].get("block") == "autosome_regression":
        return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
                "notes": "prixfixe_benchmarks/<benchmark>/DREAMNets_buildModel_Train_Predict.ipynb prediction cells: "
                         "one-hot A,G,C,T (N = 0), is_reverse channel, no test-time augmentation, the per-task "
                         "outputs y1, y2 as they are. The notebook sets is_reverse = 1 for rows whose ID contains "
                         "'-_'; seq2exp's sequence input sets 0 (predict such rows from a table with "
                         "data.table.orientation, as the benchmark training configs do)"}
    return {"tta": {"reverse_complement": True}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "prixfixe/autosome/predictor.py (AutosomePredictor): plasmid left padding to 150 bp (adapter "
                     "replaced by the vector upstream of the insert, last 150 bp kept), one-hot A,G,C,T (N = 0) + "
                     "is_reverse + is_singleton (0); mean of the forward and reverse-complement expected bins "
                     "(softmax(mean(mapper(x))) . bins)"}


def _has(*prefixes: str):
    return lambda tensors: all(any(name.startswith(p) for name in tensors) for p in prefixes)


_SOURCE = ("prixfixe/prixfixe/prix_fixe_net.py:PrixFixeNet({first}, {core}, AutosomeFinalLayersBlock) as built in "
           "notebooks/DREAMNets_BuildModel_Train_and_Predict.py (saved by prixfixe/trainer.py: "
           "torch.save(model.state_dict()); predicted by prixfixe/autosome/predictor.py: AutosomePredictor)")

CNN_IMPORTER = register_importer(Importer(
    architecture="dream_cnn", format="pytorch_state_dict", team="Prix Fixe DREAM-CNN",
    source=_SOURCE.format(first="BHIFirstLayersBlock", core="AutosomeCoreBlock"),
    signature=_has("first.conv_list.", "core.seqextractor.", "final.mapper"), config_from=cnn_config_from,
    mapping=cnn_mapping, recipe=recipe, card={**CARD, "model": "DREAM-CNN (BHI first + autosome core + final)"},
))
ATTN_IMPORTER = register_importer(Importer(
    architecture="dream_attn", format="pytorch_state_dict", team="Prix Fixe DREAM-Attn",
    source=_SOURCE.format(first="AutosomeFirstLayersBlock", core="UnlockDNACoreBlock"),
    signature=_has("first.block.", "core.blocks.", "final.mapper"), config_from=attn_config_from,
    mapping=attn_mapping, recipe=recipe,
    card={**CARD, "model": "DREAM-Attn (autosome first + Unlock_DNA core + autosome final)"},
))
RNN_IMPORTER = register_importer(Importer(
    architecture="dream_rnn", format="pytorch_state_dict", team="Prix Fixe DREAM-RNN",
    source=_SOURCE.format(first="BHIFirstLayersBlock", core="BHICoreBlock"),
    signature=_has("first.conv_list.", "core.lstm.", "final.mapper"), config_from=rnn_config_from,
    mapping=rnn_mapping, recipe=recipe, card={**CARD, "model": "DREAM-RNN (BHI first + BHI core + autosome final)"},
))
