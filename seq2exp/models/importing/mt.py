"""mt (rank 10): the team's Keras 2 model file (``sub_model.<epoch>.h5``) -> seq2exp ``mt``.

The team's code (``teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py``, a notebook): cell 29 ``build_model``
(functional Keras: 2 x Bidirectional GRU -> 3 x Conv1D/MaxPool -> Flatten -> [Dense -> BatchNorm -> LeakyReLU] x 2
-> Dense(1, sigmoid)), cell 36 ``ModelCheckpoint("sub_model.{epoch}.h5")`` saves the whole model (Keras 2 HDF5),
cell 37 ``make_prediction`` predicts:

- encoding (cells 16, 21: ``DataGenerator(..., random_select=1)`` -> ``get_input``): each row right-padded with the
  letter ``P`` to 142 (the longest training row), one-hot over A, G, C, T, N, P, followed on the channels by the
  complement strand (not reversed): seq2exp's ``mt`` encoding (``onehot_letters: AGCTNP``) and its
  ``complement_channels`` input layer.
- output: the sigmoid value as it is (the team trained on expression min-max scaled to [0.001, 0.999] and submitted
  the sigmoid).

Keras 2 names layers by session counters (``bidirectional_1``, ``conv1d_2``, ...), so layers are matched by kind
and order, not by name. GRU weights keep Keras's layout (``reset_after``: a ``[2, 3H]`` bias) on both sides.
"""
from __future__ import annotations

from collections import OrderedDict

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

LENGTH = 142  # max_seq_len of the team's training set (cell 7)


def _layers(names) -> "OrderedDict[str, dict[str, str]]":
    """``{layer: {weight path inside the layer: full name}}`` in the file's order."""
    layers: OrderedDict[str, dict[str, str]] = OrderedDict()
    for name in names:
        layer, _, inner = name.partition("/")
        layers.setdefault(layer, {})[inner] = name
    return layers


def _kinds(source: TensorSource) -> dict[str, list[dict[str, str]]]:
    kinds: dict[str, list[dict[str, str]]] = {"bigru": [], "conv": [], "dense": [], "bn": []}
    for layer, weights in _layers(source.tensors).items():
        if any("forward_" in inner and inner.endswith("/kernel") for inner in weights):
            kinds["bigru"].append(weights)
        elif "gamma" in weights:
            kinds["bn"].append(weights)
        elif "kernel" in weights and len(source.shape(weights["kernel"])) == 3:
            kinds["conv"].append(weights)
        elif "kernel" in weights:
            kinds["dense"].append(weights)
        else:
            raise CheckpointError(f"{source.describe}: unexpected layer {layer!r} ({', '.join(weights)})")
    if not kinds["bigru"] or len(kinds["conv"]) != 3 or len(kinds["dense"]) != len(kinds["bn"]) + 1:
        raise CheckpointError(f"{source.describe}: not mt's layer stack (bidirectional GRUs, 3 Conv1D, Dense + "
                              f"BatchNorm pairs, a Dense output): found {({k: len(v) for k, v in kinds.items()})}")
    return kinds


def _gru_weights(weights: dict[str, str], direction: str) -> dict[str, str]:
    found = {inner.rsplit("/", 1)[-1]: name for inner, name in weights.items()
             if inner.startswith(f"{direction}_")}
    return found


def _is_mt(tensors) -> bool:
    return any("forward_gru" in name and "gru_cell" in name for name in tensors)


def config_from(source: TensorSource) -> dict:
    """The ``mt`` config a model file describes (widths, kernels; pooling and length as the team's cell 32)."""
    kinds = _kinds(source)
    units = source.shape(_gru_weights(kinds["bigru"][0], "forward")["recurrent_kernel"])[0]
    convs = [source.shape(weights["kernel"]) for weights in kinds["conv"]]
    pools = [3, 2, 1]  # cell 32: pool_size1 3, pool_size2 2 (no pooling after the third convolution)
    length = LENGTH
    for (kernel, _, _), pool in zip(convs, pools):
        length = (length - kernel + 1) // pool
    features = source.shape(kinds["dense"][0]["kernel"])[0]
    if features != length * convs[-1][2]:
        raise CheckpointError(f"{source.describe}: the first Dense reads {features} features, not "
                              f"{length} x {convs[-1][2]} of a {LENGTH}-bp input with the team's pooling")
    return {
        "input": {"kind": "onehot", "length": LENGTH, "region": "full", "pad": "zero_right", "trim": "right",
                  "n_value": 0.0, "onehot_letters": "AGCTNP"},
        "strands": "complement_channels",
        "first": {"gru_units": units, "layers": len(kinds["bigru"])},
        "core": {"filters": [shape[2] for shape in convs], "kernel_sizes": [shape[0] for shape in convs],
                 "pool_sizes": pools},
        "final": {"hidden_units": [source.shape(weights["kernel"])[1] for weights in kinds["dense"][:-1]]},
    }


def mapping(source: TensorSource, config: dict) -> list:
    """Layer by layer, in order; every weight keeps its Keras layout."""
    kinds = _kinds(source)
    pairs = []
    for index, weights in enumerate(kinds["bigru"]):
        for direction in ("forward", "backward"):
            found = _gru_weights(weights, direction)
            cell = f"first_bigru{index}/{direction}_first_bigru{index}_gru/gru_cell"
            pairs += [(f"{cell}/{name}", found.get(name, f"{direction}_gru/gru_cell/{name}"), "copy")
                      for name in ("kernel", "recurrent_kernel", "bias")]
    for index, weights in enumerate(kinds["conv"]):
        pairs += [(f"core_conv{index}/{name}", weights[name], "copy") for name in ("kernel", "bias")]
    for index, (dense, bn) in enumerate(zip(kinds["dense"], kinds["bn"])):
        pairs += [(f"final_dense{index}/{name}", dense[name], "copy") for name in ("kernel", "bias")]
        pairs += [(f"final_bn{index}/{name}", bn[name], "copy")
                  for name in ("gamma", "beta", "moving_mean", "moving_variance")]
    pairs += [(f"final_output/{name}", kinds["dense"][-1][name], "copy") for name in ("kernel", "bias")]
    return pairs


def recipe(config: dict) -> dict:
    """Cell 37 ``make_prediction``: the sigmoid output on the forward-first 12-channel input."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "cells 16/21/37: P-padded to 142, one-hot AGCTNP + the complement strand's one-hot (not "
                     "reversed), forward first; the sigmoid output as submitted (targets were min-max scaled to "
                     "[0.001, 0.999] in training)"}


IMPORTER = register_importer(Importer(
    architecture="mt", format="keras_h5", team="mt",
    source="teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py: build_model (cell 29), saved by "
           "ModelCheckpoint('sub_model.{epoch}.h5') (cell 36), predicted by make_prediction (cell 37)",
    signature=_is_mt, config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "mt", "model": "BiGRU-CNN-MLP (build_model)",
          "citation": dream_citation("mt")},
))
