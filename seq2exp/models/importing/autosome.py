"""autosome (LegNet, the DREAM 2022 winner): the team's PyTorch ``SeqNN`` ``state_dict`` -> seq2exp ``autosome``.

The team's code (``teams/autosome/code``): ``model.py:SeqNN`` defines the tensors, ``train.py`` saves them
(``torch.save(model.state_dict(), model_dir / f"model_{epoch}.pth")``), ``test.py`` + ``test.sh`` predict:

- encoding: the 17-bp 5' adapter is cut off and the 150 bp of the plasmid upstream of the insert put in front, the
  last 150 bp kept (``preprocess_data``): the row in its real vector context, left-padded, longer rows cut on the
  left; one-hot in the team's channel order **A, G, C, T** (``CODES``), then the constant
  ``is_reverse`` and ``is_singleton`` channels (``--use_single_channel``; a 5-channel model has no singleton channel).
  ``is_singleton`` is 0 for prediction (the team's report: "final predictions ... is_singleton=0").
  ``N`` is **all zeros**: ``Seq2Tensor`` writes 0.25 into the integer tensor ``F.one_hot`` returns, which stores 0
  (``code[code[:, 4] == 1] = 0.25`` on an int64 tensor), so the team's model was trained and tested with N = 0.
- test-time augmentation: the mean of the forward and the reverse-complemented window (``is_reverse`` = 1).
- output: the expected bin ``Σ softmax(logits)·[0..17]`` (``SeqNN.forward``'s score), no further transform.

Everything else (block widths, kernel size, expansion, filters per group, SE reduction, bins, input channels) is
read off the tensors' shapes, so a ``SeqNN`` of any size the team's code builds imports.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource, grouped_layout
from seq2exp.models.importing.core import Importer, register_importer
from seq2exp.models.prixfixe import AUTOSOME_INPUT

_BN = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))


def _batchnorm(keras_layer: str, team_prefix: str) -> list:
    return [(f"{keras_layer}/{k}", f"{team_prefix}.{t}", "copy") for k, t in _BN]


def config_from(source: TensorSource) -> dict:
    """The ``autosome`` config a ``SeqNN`` state_dict describes (shapes of the stem, each stage and the head)."""
    stem = source.shape("seqextractor.blc0.0.weight")
    if len(stem) != 3:
        raise CheckpointError(f"{source.describe}: tensor 'seqextractor.blc0.0.weight' has shape {stem}, "
                              "expected a Conv1d weight [out, in, k]")
    filters, in_channels, kernel_size = stem
    if in_channels not in (5, 6):
        raise CheckpointError(f"{source.describe}: tensor 'seqextractor.blc0.0.weight' reads {in_channels} input "
                              "channels; SeqNN reads 6 (ACGT + is_reverse + is_singleton) or 5")
    blocks = []
    while f"seqextractor.resize_blc{len(blocks)}.0.weight" in source:
        blocks.append(source.shape(f"seqextractor.resize_blc{len(blocks)}.0.weight")[0])
    if not blocks:
        raise CheckpointError(f"{source.describe}: missing tensor 'seqextractor.resize_blc0.0.weight'")
    expanded = source.shape("seqextractor.inv_res_blc0.0.weight")[0]
    hidden = source.shape("seqextractor.inv_res_blc0.6.fc.0.weight")[0]
    reduction = filters // hidden if filters % hidden == 0 else filters / hidden
    n_bins = source.shape("mapper.0.weight")[0]
    return {
        "input": {**AUTOSOME_INPUT, "onehot_letters": "AGCT", "n_value": 0.0, "singleton_channel": in_channels == 6},
        "first": {"filters": filters, "kernel_size": kernel_size},
        "core": {"block_sizes": blocks, "kernel_size": kernel_size, "resize_factor": expanded // blocks[0],
                 "filters_per_group": source.shape("seqextractor.inv_res_blc0.3.weight")[1],
                 "se_reduction": reduction, "bilinear": True},
        "final": {"n_bins": n_bins, "activation": "silu"},
    }


def mapping(source: TensorSource, config: dict) -> list:
    """Every ``SeqNN`` tensor -> its seq2exp weight (Conv1d [out, in, k] -> [k, in, out], Linear transposed, the
    grouped convolution into ``GroupedConv1D``'s depthwise layout, BatchNorm statistics, the tltorch CP factors)."""
    n_bins = config["final"]["n_bins"]
    bins = source.take("bins", (n_bins,))
    if not np.array_equal(bins, np.arange(n_bins)):
        raise CheckpointError(f"{source.describe}: tensor 'bins' is not 0..{n_bins - 1}; the expected bin would differ")
    source.skip(lambda name: name.endswith(".num_batches_tracked"))
    pairs = [("first_conv/kernel", "seqextractor.blc0.0.weight", "conv"),
             *_batchnorm("first_bn", "seqextractor.blc0.1")]
    core = config["core"]
    for index, size in enumerate(core["block_sizes"]):
        stage, team = f"core_stage{index}", f"seqextractor.inv_res_blc{index}"
        expanded = size * core["resize_factor"]
        se, trl = f"{stage}_se", f"{team}.6.fc.3.mod.trl"
        pairs += [
            (f"{stage}_expand_conv/kernel", f"{team}.0.weight", "conv"), *_batchnorm(f"{stage}_expand_bn", f"{team}.1"),
            (f"{stage}_grouped_conv/kernel", f"{team}.3.weight",
             grouped_layout(expanded // core["filters_per_group"])),
            *_batchnorm(f"{stage}_grouped_bn", f"{team}.4"),
            (f"{se}_fc1/kernel", f"{team}.6.fc.0.weight", "dense"), (f"{se}_fc1/bias", f"{team}.6.fc.0.bias", "copy"),
            (f"{se}_fc2/kernel", f"{team}.6.fc.2.weight", "dense"), (f"{se}_fc2/bias", f"{team}.6.fc.2.bias", "copy"),
            (f"{se}_bilinear/cp_weights", f"{trl}.weight.weights", "copy"),
            (f"{se}_bilinear/left_factor", f"{trl}.weight.factors.factor_0", "copy"),
            (f"{se}_bilinear/right_factor", f"{trl}.weight.factors.factor_1", "copy"),
            (f"{se}_bilinear/output_factor", f"{trl}.weight.factors.factor_2", "copy"),
            (f"{se}_bilinear/bias", f"{trl}.bias", "copy"),
            (f"{se}_fc3/kernel", f"{team}.6.fc.5.weight", "dense"), (f"{se}_fc3/bias", f"{team}.6.fc.5.bias", "copy"),
            (f"{stage}_project_conv/kernel", f"{team}.7.weight", "conv"),
            *_batchnorm(f"{stage}_project_bn", f"{team}.8"),
            (f"{stage}_resize_conv/kernel", f"seqextractor.resize_blc{index}.0.weight", "conv"),
            *_batchnorm(f"{stage}_resize_bn", f"seqextractor.resize_blc{index}.1"),
        ]
    pairs += [("final_conv/kernel", "mapper.0.weight", "conv"), ("final_conv/bias", "mapper.0.bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``test.py``'s inference: forward + reverse-complement mean of the expected bin, no transform."""
    return {"tta": {"reverse_complement": True}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "test.py: plasmid left padding to 150 bp (adapter replaced by the vector upstream of the insert), "
                     "one-hot A,G,C,T (N = 0: Seq2Tensor's 0.25 lands in an integer tensor) + is_reverse + "
                     "is_singleton (0, as the report says the submission used); mean of the forward and "
                     "reverse-complement expected bins (softmax . [0..17])"}


IMPORTER = register_importer(Importer(
    architecture="autosome", format="pytorch_state_dict", team="Autosome.org",
    source="teams/autosome/code/model.py:SeqNN (saved by train.py: torch.save(model.state_dict()); predicted by "
           "test.py + test.sh)",
    signature="seqextractor.blc0.0.weight", config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "Autosome.org", "model": "LegNet (SeqNN)",
          "citation": "Penzar D, et al. LegNet: a best-in-class deep learning model for short DNA regulatory "
                      "regions. Bioinformatics 39(8):btad457 (2023). doi:10.1093/bioinformatics/btad457",
          "code": "https://github.com/autosome-ru/LegNet"},
))
