"""Prix Fixe in Keras: models composed of a first-layers block -> core block -> final-layers block.

The DREAM challenge's Prix Fixe framework (``../shared/reference/prixfixe/``) splits every model into a data
processor, a first-layers block, a core block and a final-layers block, so that blocks of different teams can be
mixed (the paper's DREAM-CNN and DREAM-RNN are such hybrids). Here the data processor is the model config's
``"input"`` encoding spec (``seq2exp.data.encoding.EncodingSpec``), and the three blocks are plain functions on
symbolic Keras tensors (channels last, ``[B, L, C]``); shapes chain for free, no dry run is needed.

Block interface (all three kinds)::

    def apply_block(x, config: dict, name: str) -> x

``config`` is the block's defaults merged with the model config's section for that kind; ``name`` prefixes every
layer. ``first``/``core`` blocks return a tensor; ``final`` blocks return the model's output dict
(``{"expression": [B]}`` or ``{"bins": [B, 18], "expression": [B]}``, see ``seq2exp.models.blocks.heads``).

Registering a block (the zoo module of a team registers its blocks next to its architecture)::

    from seq2exp.models.prixfixe import register_block

    @register_block("core", "unlock_dna", defaults={"n_blocks": 4, "kernel_size": 15, "heads": 8, "rate": 0.1})
    def unlock_dna_core(x, config, name):
        ...
        return x

A model config for ``compose`` (all plain data)::

    {"input": {...EncodingSpec dict...},
     "strands": "forward",           # or "conjoined" (run the trunk on x and RC(x), average the outputs),
                                     # "concat_length" (x ‖ RC(x) along length), "complement_channels" (x ‖ comp(x))
     "first": {"block": "bhi", "filters": 320},     # "block" names the registered block; the rest overrides it
     "core": {"block": "autosome"},
     "final": {"block": "autosome"}}

``compose(first="bhi", core="autosome", final="autosome", config=...)`` builds that model; an explicit block name
overrides the config's ``"block"`` (and then the config's parameters for that section are used only if they were
written for the same block). ``DREAM_CNN`` / ``DREAM_RNN`` are the paper's hybrids, registered as architectures.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import keras

from seq2exp.errors import ConfigError
from seq2exp.models.blocks.layers import ReverseComplement
from seq2exp.models.registry import Architecture, register, register_block_options

logger = logging.getLogger(__name__)

KINDS = ("first", "core", "final")
STRAND_MODES = ("forward", "conjoined", "concat_length", "complement_channels")


@dataclass(frozen=True)
class Block:
    """A registered Prix Fixe block: ``apply(x, config, name)`` with its default ``config``."""

    kind: str
    name: str
    apply: Callable[[Any, dict, str], Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


_BLOCKS: dict[str, dict[str, Block]] = {kind: {} for kind in KINDS}


def register_block(kind: str, name: str, defaults: Mapping[str, Any] | None = None, description: str = ""):
    """Decorator registering ``fn(x, config, name) -> x`` as the ``kind`` block ``name``."""
    if kind not in KINDS:
        raise ValueError(f"block kind must be one of {KINDS}, got {kind!r}")

    def decorator(fn: Callable[[Any, dict, str], Any]):
        existing = _BLOCKS[kind].get(name)
        if existing is not None and existing.apply is not fn:
            raise ValueError(f"{kind} block {name!r} is registered twice")
        _BLOCKS[kind][name] = Block(kind, name, fn, dict(defaults or {}), description or (fn.__doc__ or "").strip())
        return fn

    return decorator


def _discover() -> None:
    from seq2exp.models import registry

    registry.names()  # imports every zoo module, which registers its blocks


def block_names(kind: str) -> list[str]:
    """Names of the registered ``kind`` blocks."""
    _discover()
    return sorted(_BLOCKS[kind])


def get_block(kind: str, name: str) -> Block:
    """The registered block; an unknown name raises ``ConfigError`` with the valid choices."""
    if kind not in KINDS:
        raise ConfigError(f"block kind must be one of {', '.join(KINDS)}, got {kind!r}")
    _discover()
    try:
        return _BLOCKS[kind][name]
    except KeyError:
        raise ConfigError(f"unknown {kind} block {name!r}; choose one of: {', '.join(sorted(_BLOCKS[kind]))}") from None


def block_config(block: Block, section: Mapping[str, Any] | None) -> dict:
    """The block's defaults overridden by ``section`` (the model config's entry for this kind).

    A section written for another block (its ``"block"`` differs) is ignored; an unknown key raises ``ConfigError``.
    """
    config = copy.deepcopy(dict(block.defaults))
    section = dict(section or {})
    written_for = section.pop("block", block.name)
    if written_for != block.name:
        logger.info("%s block %r: ignoring the config written for block %r", block.kind, block.name, written_for)
        return config
    unknown = sorted(set(section) - set(config))
    if unknown:
        raise ConfigError(f"{block.kind} block {block.name!r}: unknown option(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(sorted(config))}")
    config.update(copy.deepcopy(section))
    return config


def input_signature(spec: Mapping[str, Any]) -> tuple[tuple, str]:
    """``(shape, dtype)`` of the model input for an encoding spec (from ``seq2exp.data.encoding.Encoder``)."""
    from seq2exp.data.encoding import Encoder

    encoder = Encoder(dict(spec))
    return tuple(encoder.input_shape), str(encoder.input_dtype)


def model_input(config: Mapping[str, Any], name: str = "inputs") -> keras.KerasTensor:
    """The model's ``keras.Input`` for ``config["input"]``."""
    if "input" not in config:
        raise ConfigError("model config has no 'input' encoding spec")
    shape, dtype = input_signature(config["input"])
    return keras.Input(shape=shape, dtype=dtype, name=name)


def require_acgt_channels(config: Mapping[str, Any], architecture: str) -> None:
    """``ConfigError`` unless the one-hot input's first four channels are A, C, G, T (``onehot_letters`` left at
    its default): for models whose layers read those four channels as the bases (k-mer detectors, N channel)."""
    from seq2exp.data.encoding import BASES, EncodingSpec

    letters = EncodingSpec.from_dict(config["input"]).onehot_letters
    if letters != BASES:
        raise ConfigError(f"model.config.input.onehot_letters: {architecture} reads the first four one-hot channels "
                          f"as {', '.join(BASES)}; got {letters!r} (leave it at {BASES!r})")


def reverse_complement(config: Mapping[str, Any], *, reverse_length: bool = True,
                       name: str = "reverse_complement") -> ReverseComplement:
    """The :class:`ReverseComplement` layer (complement only with ``reverse_length=False``) for the one-hot letter
    channels of ``config["input"]`` (``onehot_letters``, default ``"ACGT"``)."""
    from seq2exp.data.encoding import EncodingSpec

    letters = EncodingSpec.from_dict(config["input"]).onehot_letters
    return ReverseComplement(reverse_length=reverse_length, letters=letters, name=name)


def _apply_trunk(x, blocks: Mapping[str, Block], config: Mapping[str, Any]) -> dict:
    for kind in ("first", "core"):
        x = blocks[kind].apply(x, block_config(blocks[kind], config.get(kind)), kind)
    outputs = blocks["final"].apply(x, block_config(blocks["final"], config.get("final")), "final")
    if not isinstance(outputs, Mapping) or "expression" not in outputs:
        raise TypeError(f"final block {blocks['final'].name!r} must return a dict with an 'expression' output")
    return dict(outputs)


def compose(first: str | None = None, core: str | None = None, final: str | None = None,
            config: Mapping[str, Any] | None = None, name: str | None = None) -> keras.Model:
    """Build ``final(core(first(inputs)))`` as a functional ``keras.Model`` with one input ``"inputs"``.

    Args:
        first, core, final: registered block names (default: each config section's ``"block"``).
        config: the model config (see the module docstring); ``"input"`` is required.
        name: the model's name (default ``config["name"]`` or ``"<first>_<core>_<final>"``).
    """
    config = dict(config or {})
    chosen = {"first": first, "core": core, "final": final}
    blocks = {}
    for kind in KINDS:
        block_name = chosen[kind] or dict(config.get(kind) or {}).get("block")
        if not block_name:
            raise ConfigError(f"no {kind} block: pass {kind}= or set config['{kind}']['block']")
        blocks[kind] = get_block(kind, block_name)
    strands = config.get("strands", "forward")
    if strands not in STRAND_MODES:
        raise ConfigError(f"strands must be one of {', '.join(STRAND_MODES)}, got {strands!r}")
    if strands != "forward" and config["input"].get("kind", "onehot") != "onehot":
        raise ConfigError(f"strands={strands!r} needs a one-hot input, got kind {config['input'].get('kind')!r}")
    model_name = name or config.get("name") or "_".join(blocks[kind].name for kind in KINDS)

    inputs = model_input(config)
    if strands == "conjoined":
        strand = model_input(config, name="strand")
        trunk = keras.Model(strand, _apply_trunk(strand, blocks, config), name="trunk")
        forward = trunk(inputs)
        reverse = trunk(reverse_complement(config)(inputs))
        outputs = {key: keras.layers.Average(name=key)([forward[key], reverse[key]]) for key in forward}
    else:
        x = inputs
        if strands == "concat_length":
            x = keras.layers.Concatenate(axis=1, name="strands_concat")(
                [inputs, reverse_complement(config)(inputs)])
        elif strands == "complement_channels":
            x = keras.layers.Concatenate(axis=-1, name="strands_concat")(
                [inputs, reverse_complement(config, reverse_length=False, name="complement")(inputs)])
        outputs = _apply_trunk(x, blocks, config)
    return keras.Model(inputs, outputs, name=model_name)


# ------------------------------------------------------------------------------------------------ paper hybrids
# The paper's "DREAM-optimised" Prix Fixe models (prixfixe/notebooks/DREAMNets_BuildModel_Train_and_Predict.py):
# autosome's data processing (6 x 150) and final block, with BHI's first block and an autosome or BHI core.
AUTOSOME_INPUT = {"kind": "onehot", "length": 150, "region": "full", "pad": "plasmid_left", "trim": "left",
                  "n_value": 0.25, "rc_channel": True, "singleton_channel": True}

DREAM_CNN = {
    "input": AUTOSOME_INPUT,
    "first": {"block": "bhi", "filters": 320, "kernel_sizes": [9, 15], "dropout": 0.2},
    "core": {"block": "autosome", "block_sizes": [128, 128, 64, 64, 64, 64], "bilinear": False},
    "final": {"block": "autosome", "activation": None},
}
DREAM_RNN = {
    "input": AUTOSOME_INPUT,
    "first": {"block": "bhi", "filters": 320, "kernel_sizes": [9, 15], "dropout": 0.2},
    "core": {"block": "bhi", "lstm_units": 320, "filters": 320, "kernel_sizes": [9, 15], "dropout": 0.2,
             "output_dropout": 0.5},
    "final": {"block": "autosome", "activation": None},
}
_HYBRID_SMOKE_FIRST = {"filters": 16}


def build_dream_cnn(config: dict) -> keras.Model:
    """DREAM-CNN: BHI first block + autosome core (simple SE) + autosome soft-bin final block."""
    return compose(config=config, name="dream_cnn")


def build_dream_rnn(config: dict) -> keras.Model:
    """DREAM-RNN: BHI first block + BHI core (BiLSTM + convs) + autosome soft-bin final block."""
    return compose(config=config, name="dream_rnn")


register(Architecture(
    name="dream_cnn", builder=build_dream_cnn, default_config=DREAM_CNN,
    smoke_config={"first": _HYBRID_SMOKE_FIRST, "core": {"block_sizes": [8, 8]}},
    head="bins", team="Prix Fixe DREAM-CNN", source="prixfixe/notebooks/DREAMNets_BuildModel_Train_and_Predict.py",
    fidelity="faithful", rank=None, description="Prix Fixe hybrid: BHI first + autosome core + autosome final",
))
register(Architecture(
    name="dream_rnn", builder=build_dream_rnn, default_config=DREAM_RNN,
    smoke_config={"first": _HYBRID_SMOKE_FIRST, "core": {"lstm_units": 8, "filters": 8}},
    head="bins", team="Prix Fixe DREAM-RNN", source="prixfixe/notebooks/DREAMNets_BuildModel_Train_and_Predict.py",
    fidelity="faithful", rank=None, description="Prix Fixe hybrid: BHI first + BHI core + autosome final",
))


# The paper's generalisation benchmarks (prixfixe_benchmarks/{drosophila,human}/prixfixe/autosome/
# final_layers_block.py): the autosome final block as a regression head, one per task: Conv1x1(256) -> mean over
# length -> Linear(1) (init: conv N(0, sqrt(2 / (k * out))), linear N(0, 0.001), zero biases); MSE per task, summed.
@register_block("final", "autosome_regression", defaults={"channels": 256, "activation": None},
                description="Prix Fixe benchmarks' autosome final block: per task Conv1x1 -> mean -> Linear(1)")
def autosome_regression_final(x, config: dict, name: str) -> dict:
    """Per task: Conv1x1(``channels``) -> global mean over length -> Dense(1); ``expression`` ``[B]`` for one
    task, ``[B, T]`` for T (the benchmarks' y1, y2)."""
    import math

    from seq2exp.models.blocks.heads import expression_output, n_tasks

    channels = int(config["channels"])
    outputs = []
    for task in range(n_tasks()):
        suffix = "" if n_tasks() == 1 else f"_task{task}"
        y = keras.layers.Conv1D(channels, 1, kernel_initializer=keras.initializers.RandomNormal(
            stddev=math.sqrt(2.0 / channels)), name=f"{name}_mapper{suffix}")(x)
        if config["activation"]:  # None in the benchmarks (their SiLU is commented out)
            y = keras.layers.Activation(config["activation"], name=f"{name}_act{suffix}")(y)
        y = keras.layers.GlobalAveragePooling1D(name=f"{name}_pool{suffix}")(y)
        outputs.append(keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                                          name=f"{name}_linear{suffix}")(y))
    joined = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name=f"{name}_tasks")(outputs)
    return {"expression": expression_output(joined)}


# Config sections that name a block are checked against that block's options (registry.check_overrides).
for _kind in KINDS:
    register_block_options(_kind, lambda block, kind=_kind: get_block(kind, block).defaults)
