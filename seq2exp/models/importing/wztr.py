"""wztr (rank 5): the team's ``Hybrid_CNN`` weights -> seq2exp ``wztr``.

The team's code (``teams/wztr/code``, a package the team also named ``seq2exp``): ``seq2exp/models.py:Hybrid_CNN``
(a ``pytorch_lightning.LightningModule``) with ``scripts/train_model.py``'s arguments defines the tensors; they are
saved either by Lightning's ``ModelCheckpoint`` (the team's published ``best_checkpoint.ckpt``: a checkpoint dict
whose ``state_dict`` holds them) or by ``seq2exp/trainner.py``'s ``torch.save(model.state_dict(), path)``;
``train_model.py`` predicts with ``trainer.predict(ckpt_path="best", dataloaders=testloader)`` and
``tools.generate_submission_txt``:

- encoding (``data.load_data(test_mode=True)`` -> ``tools.DF2array``): one-hot A, C, G, T with ``N`` = 0.25 each,
  written into zeros of length 142 (right zero padding; a longer row does not fit the team's array);
- the model concatenates the input with its reverse complement along the length (``torch.flip(x, [1, 2])``: 284);
- output: the ReLU output as it is (no TTA, no transform).

Layouts: Conv1d ``[out, in, k]`` -> ``[k, in, out]``; each ``HybridConvBlockClass`` branch (one per dilation, in
``dilation_list`` order) -> one seq2exp branch; ``fc0`` reads PyTorch's channel-major flatten of ``[C, L]``, so its
columns are reordered to Keras's position-major ``[L, C]``. The dilations are not in the file: the team's
``--dilation_list "1 2 4 6"`` unless ``config`` says otherwise (their number must match the file's branches).
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

LENGTH = 142  # tools.DF2array's array length (data.load_data's default)
DILATIONS = [1, 2, 4, 6]  # train_model.py --dilation_list "1 2 4 6"
_BN = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))


def _layout(source: TensorSource) -> list[list[int]]:
    """The ``convlayers`` indices of the residual blocks, per stage (a pooling layer, which holds no tensor, ends
    each stage)."""
    stages, current, index = [], [], 1
    last = max((int(name.split(".")[1]) for name in source.tensors if name.startswith("convlayers.")), default=0)
    while index <= last + 1:
        if f"convlayers.{index}.fn.layers.0.0.weight" in source:
            current.append(index)
        elif current:
            stages.append(current)
            current = []
        else:
            break
        index += 1
    if not stages or len({len(stage) for stage in stages}) != 1:
        raise CheckpointError(f"{source.describe}: not Hybrid_CNN's stages of residual hybrid blocks each followed "
                              f"by a pooling layer (found blocks at convlayers {stages or current})")
    return stages


def _branches(source: TensorSource, index: int) -> int:
    count = 0
    while f"convlayers.{index}.fn.layers.{count}.0.weight" in source:
        count += 1
    return count


def config_from(source: TensorSource) -> dict:
    """The ``wztr`` config a ``Hybrid_CNN`` state_dict describes (dilations: the team's 1 2 4 6)."""
    filters, _, kernel = source.shape("conv0.0.weight")
    out_filters, _, out_kernel = source.shape("convlayers.0.0.weight")
    stages = _layout(source)
    core_kernel = source.shape(f"convlayers.{stages[0][0]}.fn.layers.0.0.weight")[2]
    hidden = [source.shape("fc0.0.weight")[0]]
    count = 0
    while f"fclayers.{count}.0.weight" in source:
        hidden.append(source.shape(f"fclayers.{count}.0.weight")[0])
        count += 1
    return {
        "input": {"kind": "onehot", "length": LENGTH, "region": "full", "pad": "zero_right", "trim": "right",
                  "n_value": 0.25},
        "strands": "concat_length",
        "first": {"filters": filters, "kernel_size": kernel, "out_filters": out_filters,
                  "out_kernel_size": out_kernel},
        "core": {"stages": len(stages), "repeats": len(stages[0]), "kernel_size": core_kernel,
                 "dilation_rates": list(DILATIONS), "pool_size": 2},
        "final": {"hidden_units": hidden},
    }


def _conv_bn(keras: str, team: str) -> list:
    return ([(f"{keras}_conv/kernel", f"{team}.0.weight", "conv"), (f"{keras}_conv/bias", f"{team}.0.bias", "copy")]
            + [(f"{keras}_bn/{ours}", f"{team}.1.{theirs}", "copy") for ours, theirs in _BN])


def _flatten_layout(channels: int):
    """torch ``[H, C·L]`` (channel-major flatten) -> Keras ``[L·C, H]`` (position-major)."""
    def layout(keras_shape):
        features, hidden = keras_shape
        length = features // channels

        def convert(a):
            return np.transpose(a.reshape(hidden, channels, length), (2, 1, 0)).reshape(features, hidden)
        return (hidden, features), convert
    return layout


def mapping(source: TensorSource, config: dict) -> list:
    """Every ``Hybrid_CNN`` tensor -> its seq2exp weight (``num_batches_tracked`` carries no weight)."""
    source.skip(lambda name: name.endswith("num_batches_tracked"))
    rates = config["core"]["dilation_rates"]
    pairs = _conv_bn("first_conv0", "conv0") + _conv_bn("first_conv1", "convlayers.0")
    for stage, indices in enumerate(_layout(source)):
        for repeat, index in enumerate(indices):
            if _branches(source, index) != len(rates):
                raise CheckpointError(f"{source.describe}: convlayers.{index} has {_branches(source, index)} "
                                      f"dilated branches, the config's dilation_rates {rates} make {len(rates)}")
            for branch in range(len(rates)):
                pairs += _conv_bn(f"core_stage{stage}_res{repeat}_hybrid_branch{branch}",
                                  f"convlayers.{index}.fn.layers.{branch}")
    pairs += [("final_dense0/kernel", "fc0.0.weight", _flatten_layout(config["first"]["out_filters"])),
              ("final_dense0/bias", "fc0.0.bias", "copy")]
    for index in range(len(config["final"]["hidden_units"]) - 1):
        pairs += [(f"final_dense{index + 1}/kernel", f"fclayers.{index}.0.weight", "dense"),
                  (f"final_dense{index + 1}/bias", f"fclayers.{index}.0.bias", "copy")]
    pairs += [("final_output/kernel", "out.0.weight", "dense"), ("final_output/bias", "out.0.bias", "copy")]
    return pairs


def is_wztr(tensors) -> bool:
    """A ``Hybrid_CNN`` file: its first convolution, its ``convlayers`` and its ``fc0`` head."""
    return all(name in tensors for name in ("conv0.0.weight", "convlayers.0.0.weight", "fc0.0.weight"))


def recipe(config: dict) -> dict:
    """``train_model.py``: ``trainer.predict`` (``predict_step``: the forward pass) on ``DF2array`` rows."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "scripts/train_model.py: data.load_data(test_mode=True) -> tools.DF2array: one-hot ACGT, N = "
                     "0.25, zeros to 142 on the right; Hybrid_CNN concatenates the reverse complement along the "
                     "length (284); trainer.predict's ReLU output as it is, written by tools.generate_submission_txt"}


IMPORTER = register_importer(Importer(
    architecture="wztr", format="pytorch_state_dict", team="wztr",
    source="teams/wztr/code/seq2exp/models.py:Hybrid_CNN (train_model.py: Lightning ModelCheckpoint -> "
           "best_checkpoint.ckpt; trainner.py: torch.save(model.state_dict())), predicted by train_model.py's "
           "trainer.predict",
    signature=is_wztr, config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "wztr", "model": "Hybrid_CNN (hybrid dilated-convolution ResNet)",
          "citation": dream_citation("wztr")},
))
