"""high_schoolers (rank 7): the team's Keras 2 model file (``model.h5``) -> seq2exp ``high_schoolers``.

The team's code (``teams/high_schoolers/code``): ``Training Code/ModelTraining.py`` builds the model (functional
Keras 2 with three nested ``ProfileModel`` stages, ``RevCompConv1D``, ``AttentionPooling``, ``MultiHeadAttention2``)
and saves the whole model with ``model.save('../model.h5')`` (published as ``submission_model.h5``); ``Testing
Code/GetPredictions.py`` predicts:

- encoding (``Training Code/DataProcessing.py:convert_one_hot`` then ``x_test[:, :111, :4]``): each row right-padded
  with ``N`` to 111 and one-hot over A, C, G, T, N, the N channel dropped (N and padding: all zeros). A row longer
  than 111 does not fit the team's array (the team's training rows were filtered to <= 111).
- output: ``model.predict`` as it is; the team then applies ``sklearn.preprocessing.quantile_transform`` over the
  whole test set (a rank transform of the submitted file, not of one sequence), which a per-sequence model cannot
  carry: the imported run predicts the value before it.

The file is read with h5py (no team code, no ``tensorflow_addons``, whose ``SWA`` optimizer only the training
state in the file names). Keras 2 names layers by session counters, so layers are matched by kind and order inside
each stage; the pooling sizes (4, 4, 2), dropouts and the 8 attention heads are the team's hard-coded values (the
head count is not in the file: ``config`` may say otherwise).
"""
from __future__ import annotations

from collections import OrderedDict

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

POOLS = (4, 4, 2)  # ModelTraining.py: AttentionPooling(4), (4), (2)
_BN = ("gamma", "beta", "moving_mean", "moving_variance")


def _units(source: TensorSource, prefix: str) -> "OrderedDict[str, dict[str, str]]":
    """The sub-layers of the file layer ``prefix`` in their first-listed order: ``{sub-layer: {weight: name}}``."""
    units: OrderedDict[str, dict[str, str]] = OrderedDict()
    for name in source.tensors:
        if name.startswith(prefix + "/"):
            inner = name[len(prefix) + 1:]
            unit, _, weight = inner.rpartition("/")
            units.setdefault(unit or inner, {})[weight] = name
    return units


def _stages(source: TensorSource) -> list["OrderedDict[str, dict[str, str]]"]:
    layers = list(OrderedDict.fromkeys(name.split("/")[0] for name in source.tensors))
    stages = [_units(source, layer) for layer in layers if layer.startswith("profile_model")]
    if len(stages) != len(POOLS):
        raise CheckpointError(f"{source.describe}: {len(stages)} ProfileModel stages, the team's model has "
                              f"{len(POOLS)}")
    return stages


def _stage_layout(units: "OrderedDict[str, dict[str, str]]", describe: str, first: bool) -> dict:
    """A stage's units split into: the RC / entry convolution + BN, the residual block's (conv, BN) pairs, the pool."""
    names = list(units)
    pool = [n for n in names if n.startswith("attention_pooling")]
    convs = [n for n in names if "kernel" in units[n] and not n.startswith("attention_pooling")]
    norms = [n for n in names if "gamma" in units[n]]
    if len(pool) != 1 or len(convs) != len(norms) or len(convs) < 2:
        raise CheckpointError(f"{describe}: a ProfileModel stage that is not (conv, BN) pairs + one attention pooling "
                              f"({', '.join(names)})")
    if first and not convs[0].startswith("rev_comp_conv1d"):
        raise CheckpointError(f"{describe}: the first stage does not start with the RevCompConv1D")
    return {"entry": (convs[0], norms[0]), "residual": list(zip(convs[1:], norms[1:])), "pool": pool[0]}


def is_high_schoolers(tensors) -> bool:
    """A High Schoolers file: its RevCompConv1D and its relative attention."""
    return (any("rev_comp_conv1d/kernel" in name for name in tensors)
            and any(name.endswith("-r_w") for name in tensors))


def config_from(source: TensorSource) -> dict:
    """The ``high_schoolers`` config a model file describes (pools, dropouts, 8 heads: the team's values)."""
    stages = []
    rc_kernel = rc_filters = None
    for index, units in enumerate(_stages(source)):
        layout = _stage_layout(units, source.describe, first=index == 0)
        entry_kernel = source.shape(units[layout["entry"][0]]["kernel"])
        stage = {"filters": None, "kernel_size": None, "residual_layers": len(layout["residual"]),
                 "pool": POOLS[index], "dropout_before_pool": 0.2 if index == 0 else 0.0,
                 "dropout_after_pool": (0.0, 0.3, 0.1)[index]}
        if index == 0:
            rc_kernel, _, rc_filters = entry_kernel
        else:
            stage.update(filters=entry_kernel[2], kernel_size=entry_kernel[0],
                         conv_activation="relu" if index == 1 else None)
        stages.append(stage)
    ffn = [name for name in source.tensors if name.split("/")[0].startswith("conv1d")
           and name.endswith("/kernel")]
    dense = [name for name in source.tensors if name.split("/")[0].startswith("dense") and name.endswith("/kernel")]
    if len(ffn) != 2 or len(dense) < 2:
        raise CheckpointError(f"{source.describe}: not the team's attention + feed-forward + MLP head (found "
                              f"{len(ffn)} 1x1 convolutions and {len(dense)} Dense layers)")
    return {
        "input": {"kind": "onehot", "length": 111, "region": "full", "pad": "n_right", "trim": "right",
                  "n_value": 0.0},
        "rc_filters": rc_filters, "rc_kernel_size": rc_kernel, "stages": stages, "attention_heads": 8,
        "ffn_units": source.shape(ffn[0])[2],
        "mlp_units": [source.shape(name)[1] for name in dense[:-1]],
    }


def _squeeze_first(keras_shape):
    return (1, *keras_shape), lambda a: a[0]


def _relative_bias(keras_shape):  # (1, heads, 1, depth) -> (heads, depth)
    heads, depth = keras_shape
    return (1, heads, 1, depth), lambda a: a.reshape(heads, depth)


def mapping(source: TensorSource, config: dict) -> list:
    """Stage by stage and layer by layer, in the file's order (see the module docstring)."""
    pairs = []
    for index, units in enumerate(_stages(source)):
        layout = _stage_layout(units, source.describe, first=index == 0)
        conv, norm = layout["entry"]
        entry = "rc" if index == 0 else f"stage{index}"
        pairs += [(f"{entry}_conv/{name}", units[conv][name], "copy") for name in ("kernel", "bias")]
        pairs += [(f"{entry}_bn/{name}", units[norm][name], "copy") for name in _BN]
        for step, (conv, norm) in enumerate(layout["residual"]):
            pairs += [(f"stage{index}_residual_conv{step}/{name}", units[conv][name], "copy")
                      for name in units[conv]]
            pairs += [(f"stage{index}_residual_bn{step}/{name}", units[norm][name], "copy") for name in _BN]
        pairs.append((f"stage{index}_pool/logits/kernel", units[layout["pool"]]["kernel"], _squeeze_first))
    attention = [layer for layer in OrderedDict.fromkeys(name.split("/")[0] for name in source.tensors)
                 if layer.startswith("multi_head_attention2")]
    if len(attention) != 1:
        raise CheckpointError(f"{source.describe}: missing tensor 'multi_head_attention2/...'")
    units = _units(source, attention[0])
    bias = {unit.rsplit("-", 1)[-1]: weights for unit, weights in units.items() if "-r_" in unit}
    projections = [unit for unit in units if unit.startswith("dense")]
    if set(bias) != {"r_w", "r_r"} or len(projections) != 5:
        raise CheckpointError(f"{source.describe}: {attention[0]} is not MultiHeadAttention2 (r_w, r_r, wq, wk, wv, "
                              f"r_k_layer, dense): found {', '.join(units)}")
    pairs += [(f"attention/{name}", next(iter(bias[name].values())), _relative_bias) for name in ("r_w", "r_r")]
    for ours, unit in zip(("query", "key", "value", "relative_position", "output"), projections):
        pairs += [(f"attention/{ours}/{name}", tensor, "copy") for name, tensor in units[unit].items()]
    top = [layer for layer in OrderedDict.fromkeys(name.split("/")[0] for name in source.tensors)
           if not layer.startswith(("profile_model", "multi_head_attention2"))]
    norms = [layer for layer in top if layer.startswith("layer_normalization")]
    convs = [layer for layer in top if layer.startswith("conv1d")]
    dense = [layer for layer in top if layer.startswith("dense")]
    batch = [layer for layer in top if layer.startswith("batch_normalization")]
    if len(norms) != 2 or len(convs) != 2 or len(dense) != len(batch) + 1:
        raise CheckpointError(f"{source.describe}: not the team's attention / feed-forward / MLP head layers "
                              f"({', '.join(top)})")
    for ours, layer in zip(("attention_norm", "ffn_norm"), norms):
        pairs += [(f"{ours}/{name}", f"{layer}/{name}", "copy") for name in ("gamma", "beta")]
    for ours, layer in zip(("ffn_expand", "ffn_project"), convs):
        pairs += [(f"{ours}/{name}", f"{layer}/{name}", "copy") for name in ("kernel", "bias")]
    for index, (layer, norm) in enumerate(zip(dense, batch)):
        pairs += [(f"head_dense{index}/{name}", f"{layer}/{name}", "copy") for name in ("kernel", "bias")]
        pairs += [(f"head_bn{index}/{name}", f"{norm}/{name}", "copy") for name in _BN]
    pairs += [(f"head_output/{name}", f"{dense[-1]}/{name}", "copy") for name in ("kernel", "bias")]
    return pairs


def recipe(config: dict) -> dict:
    """``GetPredictions.py``: ``model.predict`` on the 111-bp one-hot rows (before its test-set quantile transform)."""
    return {"tta": {}, "target_transform": {"name": "identity"}, "postprocess": [],
            "notes": "GetPredictions.py: DataProcessing.py's convert_one_hot (N-padded on the right to 111, ACGTN) "
                     "cut to the A, C, G, T channels (N = 0); model.predict as it is. The team then ranks the whole "
                     "test set with sklearn's quantile_transform (uniform), which depends on the other rows and is "
                     "not part of a per-sequence prediction"}


IMPORTER = register_importer(Importer(
    architecture="high_schoolers", format="keras_h5", team="High Schoolers Are All You Need",
    source="teams/high_schoolers/code/Training Code/ModelTraining.py (model.save('../model.h5')), predicted by "
           "Testing Code/GetPredictions.py",
    signature=is_high_schoolers, config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "High Schoolers Are All You Need",
          "model": "RC conv + dilated residual CNN + attention pooling + relative-position attention",
          "citation": dream_citation("High Schoolers Are All You Need")},
))
