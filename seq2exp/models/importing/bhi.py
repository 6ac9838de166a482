"""bhi (DeepGXP, rank 2): the team's PyTorch ``state_dict`` -> seq2exp ``bhi`` (``strands: forward``).

The team's code (``teams/bhi/code/src``): ``net.py:DeepGXP`` defines the tensors, ``train_full.py`` saves them
(``torch.save(model.state_dict(), args.output)``), ``infer_txt.py --tta 5`` + ``postprocess_txt.py`` predict
(README "How to run"):

- encoding (``data.py:DDPDatasetShift``): one-hot A, C, G, T (``N`` all zeros), 110 bp; a shorter row is padded
  with the real vector flanks on a random side (right 1/3, left 2/9, both 4/9: seq2exp's ``plasmid_random``, drawn
  per row from the row's content instead of Python's ``random``), a longer one cut on the right.
- test-time augmentation: shifts -2..2 (vector bases ``CGATTCGAAC`` / ``TCTTAATTAA`` move in) x forward and
  reverse complement (``seq.flip([0, 1])``), averaged.
- output: the standardised expression ``(y - 11) / std``, flattened by ``postprocess_txt.py`` with
  ``scipy.stats.norm.cdf(x, loc=0.06201038511068657, scale=1)``: the run's ``normal_cdf`` post-processing step.

PyTorch's LSTM keeps two biases per gate (``bias_ih + bias_hh`` = Keras's one); the gate order (i, f, g, o) is the
same. Widths, kernel sizes, LSTM units, hidden layers and the input length (``linear1`` reads 110 positions) are
read off the tensors.
"""
from __future__ import annotations

from seq2exp.models.importing.checkpoint import CheckpointError, TensorSource, bilstm_pairs
from seq2exp.models.importing.core import Importer, dream_citation, register_importer

BHI_LOC = 0.06201038511068657  # postprocess_txt.py: the mean of the standardised training expression


def _branches(source: TensorSource, prefix: str) -> list[tuple[int, int]]:
    """``(out channels, kernel size)`` of each ``ConvBlock`` in ``prefix`` (``conv_blocks1`` / ``conv_blocks2``)."""
    shapes = []
    while f"{prefix}.{len(shapes)}.conv.weight" in source:
        shape = source.shape(f"{prefix}.{len(shapes)}.conv.weight")
        shapes.append((shape[0], shape[2]))
    if not shapes:
        raise CheckpointError(f"{source.describe}: missing tensor '{prefix}.0.conv.weight'")
    if len({out for out, _ in shapes}) != 1:
        raise CheckpointError(f"{source.describe}: the {prefix} branches have different widths {shapes}")
    return shapes


def config_from(source: TensorSource) -> dict:
    """The ``bhi`` config a ``DeepGXP`` state_dict describes."""
    first, second = _branches(source, "conv_blocks1"), _branches(source, "conv_blocks2")
    units = source.shape("bi_lstm.weight_hh_l0")[1]
    filters = sum(out for out, _ in second)
    hidden = [source.shape("linear1.weight")[0], source.shape("linear2.weight")[0]]
    flat = source.shape("linear1.weight")[1]
    if flat % filters:
        raise CheckpointError(f"{source.describe}: tensor 'linear1.weight' reads {flat} features, not a multiple "
                              f"of the {filters} channels of conv_blocks2")
    return {
        "input": {"kind": "onehot", "length": flat // filters, "region": "full", "pad": "plasmid_random",
                  "trim": "right", "n_value": 0.0},
        "strands": "forward",
        "first": {"filters": sum(out for out, _ in first), "kernel_sizes": [k for _, k in first], "pool_size": 1},
        "core": {"lstm_units": units, "filters": filters, "kernel_sizes": [k for _, k in second], "pool_size": 1},
        "final": {"hidden_units": hidden},
    }


def mapping(source: TensorSource, config: dict) -> list:
    """Conv1d [out, in, k] -> [k, in, out]; LSTM weight_ih/hh [4H, in] -> kernel/recurrent_kernel [in, 4H], biases
    summed; Linear transposed (``linear1`` reads the positions x channels flattening Keras's Flatten reads)."""
    pairs = []
    for index in range(len(config["first"]["kernel_sizes"])):
        pairs += [(f"first_branch{index}_conv/kernel", f"conv_blocks1.{index}.conv.weight", "conv"),
                  (f"first_branch{index}_conv/bias", f"conv_blocks1.{index}.conv.bias", "copy")]
    pairs += bilstm_pairs("core_bilstm", "bi_lstm")
    for index in range(len(config["core"]["kernel_sizes"])):
        pairs += [(f"core_convs_branch{index}_conv/kernel", f"conv_blocks2.{index}.conv.weight", "conv"),
                  (f"core_convs_branch{index}_conv/bias", f"conv_blocks2.{index}.conv.bias", "copy")]
    for keras_name, team in (("final_dense0", "linear1"), ("final_dense1", "linear2"), ("final_output", "linear3")):
        pairs += [(f"{keras_name}/kernel", f"{team}.weight", "dense"), (f"{keras_name}/bias", f"{team}.bias", "copy")]
    return pairs


def recipe(config: dict) -> dict:
    """``infer_txt.py --tta 5`` then ``postprocess_txt.py``."""
    return {"tta": {"reverse_complement": True, "shifts": [-2, -1, 0, 1, 2]},
            "target_transform": {"name": "identity"},
            "postprocess": [{"name": "normal_cdf", "loc": BHI_LOC, "scale": 1.0}],
            "notes": "infer_txt.py --tta 5: shifts -2..2 x forward/reverse complement averaged, on the standardised "
                     "scale (the training std is not in the file, so 'expression' before post-processing is the "
                     "team's z-score); postprocess_txt.py: scipy.stats.norm.cdf(z, loc=0.0620, scale=1). Rows "
                     "shorter than 110 bp: random-side vector padding as data.py draws it, per row from its content"}


IMPORTER = register_importer(Importer(
    architecture="bhi", format="pytorch_state_dict", team="BHI",
    source="teams/bhi/code/src/net.py:DeepGXP (saved by train_full.py: torch.save(model.state_dict()); predicted "
           "by infer_txt.py --tta 5 + postprocess_txt.py)",
    signature="bi_lstm.weight_ih_l0", config_from=config_from, mapping=mapping, recipe=recipe,
    card={"team": "BHI", "model": "DeepGXP (DanQ-derived CNN-BiLSTM-CNN)",
          "citation": dream_citation("BHI"),
          "code": "https://github.com/Sangyeup/BHI-DREAM-Challenge"},
))
