"""camformers (rank 5): the team's PyTorch ``CNN`` ``state_dict`` -> seq2exp ``camformers``.

The team's code (``teams/camformers/code/script``): ``camformers_submission.py`` defines ``CNN`` (Conv2d ``(k, 1)``
blocks on a ``[B, 4, L, 1]`` one-hot, residual pairs, an MLP) and its config block, and saves the best model
(``torch.save(model.state_dict(), "Models/trained_model.pt")``); ``predict_test.py`` predicts:

- encoding (``OHE``): one-hot A, C, G, T (anything else all zeros), right-padded with ``N`` (zeros) / cut on the
  right to 110 bp. The team's ``OHE`` drops rows with more than 3 ``N`` or more than 3 bp away from 110 bp (it never
  predicts them); the import predicts every row, padded or cut like the others.
- output: the model's value as it is; no test-time augmentation.

Layouts: Conv2d ``[out, in, k, 1]`` -> Conv1D ``[k, in, out]``; the first Linear reads the ``[C, L]`` feature map
flattened channel-major (``x.view(B, -1)`` of ``[B, C, L, 1]``), Keras's Flatten reads ``[L, C]`` position-major, so
its rows are reordered. Pooling is not in the file: the team's config (max-pool 10, stride 4 in block 5) is used and
checked against the first Linear's input size.
"""
from __future__ import annotations

import numpy as np

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

POOL_SIZES, POOL_STRIDES = [1, 1, 1, 1, 10, 1], [1, 1, 1, 1, 4, 1]  # camformers_submission.py config block
LENGTH = 110  # target_len
_BN = (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"))


def _conv_layers(source: TensorSource) -> list[tuple[int, int]]:
    layers = []
    while f"CNN_layers.{len(layers)}.0.conv.weight" in source:
        out, _, k, width = source.shape(f"CNN_layers.{len(layers)}.0.conv.weight")
        if width != 1:
            raise CheckpointError(f"{source.describe}: tensor 'CNN_layers.{len(layers)}.0.conv.weight' has a "
                                  f"kernel of width {width}; Camformers' kernels are (k, 1)")
        layers.append((out, k))
    if len(layers) != len(POOL_SIZES):
        raise CheckpointError(f"{source.describe}: {len(layers)} convolution blocks (CNN_layers.N.0.conv.weight); "
                              f"the team's CNN has {len(POOL_SIZES)}")
    return layers


def _pooled_length() -> int:
    length = LENGTH
    for size, stride in zip(POOL_SIZES, POOL_STRIDES):
        length = (length - size) // stride + 1
    return length


def config_from(source: TensorSource) -> dict:
    """The ``camformers`` config a ``CNN`` state_dict describes."""
    layers = _conv_layers(source)
    kernels = {k for _, k in layers}
    if len(kernels) != 1:
        raise CheckpointError(f"{source.describe}: convolution kernels of several sizes {sorted(kernels)}")
    hidden = []
    while f"linear_layers.{len(hidden) + 1}.0.weight" in source:
        hidden.append(source.shape(f"linear_layers.{len(hidden)}.0.weight")[0])
    features = source.shape("linear_layers.0.0.weight")[1]
    if features != layers[-1][0] * _pooled_length():
        raise CheckpointError(f"{source.describe}: tensor 'linear_layers.0.0.weight' reads {features} features, not "
                              f"{layers[-1][0]} channels x {_pooled_length()} positions of the team's pooling")
    return {
        "input": {"kind": "onehot", "length": LENGTH, "region": "full", "pad": "zero_right", "trim": "right",
                  "n_value": 0.0},
        "strands": "forward",
        "first": {"filters": [out for out, _ in layers[:2]], "kernel_size": layers[0][1],
                  "pool_sizes": POOL_SIZES[:2], "pool_strides": POOL_STRIDES[:2]},
        "core": {"filters": [out for out, _ in layers[2:]], "kernel_size": layers[0][1],
                 "pool_sizes": POOL_SIZES[2:], "pool_strides": POOL_STRIDES[2:]},
        "final": {"hidden_units": hidden},
    }


def _conv2d(keras_shape):  # [out, in, k, 1] -> [k, in, out]
    k, channels, out = keras_shape
    return (out, channels, k, 1), lambda a: np.transpose(a[..., 0], (2, 1, 0))


def _channel_major_dense(channels: int):
    def layout(keras_shape):
        features, out = keras_shape
        length = features // channels

        def convert(a):  # torch [out, C*L] (c-major) -> Keras [L*C, out] (position-major)
            return np.transpose(a.reshape(out, channels, length), (2, 1, 0)).reshape(features, out)
        return (out, features), convert
    return layout


def mapping(source: TensorSource, config: dict) -> list:
    """Conv2d / BatchNorm2d per block, the first Linear reordered, the others transposed."""
    source.skip(lambda name: name.endswith(".num_batches_tracked"))
    names = [f"first_block{i}" for i in range(2)] + [f"core_block{i}" for i in range(len(config["core"]["filters"]))]
    pairs = []
    for index, ours in enumerate(names):
        team = f"CNN_layers.{index}"
        pairs += [(f"{ours}_conv/kernel", f"{team}.0.conv.weight", _conv2d),
                  (f"{ours}_conv/bias", f"{team}.0.conv.bias", "copy")]
        pairs += [(f"{ours}_bn/{k}", f"{team}.1.{t}", "copy") for k, t in _BN]
    last_channels = config["core"]["filters"][-1]
    keras_dense = [f"final_dense{i}" for i in range(len(config["final"]["hidden_units"]))] + ["final_output"]
    for index, ours in enumerate(keras_dense):
        layout = _channel_major_dense(last_channels) if index == 0 else "dense"
        pairs += [(f"{ours}/kernel", f"linear_layers.{index}.0.weight", layout),
                  (f"{ours}/bias", f"linear_layers.{index}.0.bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``predict_test.py``: the model's value on the 110-bp one-hot."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "predict_test.py + OHE: one-hot ACGT (else zeros), N-padded (zeros) / cut on the right to 110 "
                     "bp, the model's value; the team's OHE would drop rows with > 3 N or > 3 bp from 110 bp"}


IMPORTER = register_importer(Importer(
    architecture="camformers", format="pytorch_state_dict", team="Camformers",
    source="teams/camformers/code/script/camformers_submission.py:CNN (torch.save(model.state_dict(), "
           "'Models/trained_model.pt')); predicted by predict_test.py",
    signature="CNN_layers.0.0.conv.weight", config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "Camformers", "model": "residual CNN (CNN)",
          "citation": dream_citation("Camformers")},
))
