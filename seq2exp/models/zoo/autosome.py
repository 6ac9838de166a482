"""autosome — LegNet (Autosome.org, DREAM 2022 winner): EfficientNetV2-like CNN, 18-bin soft classification.

Spec: ``../shared/reference/teams/autosome/`` (``code/model.py: SeqNN``, ``train.sh``), ARCHITECTURES.md section 1,
the PyTorch twin ``../shared/bench/legnet_torch_ref.py`` (1,852,846 parameters, matched exactly here).
Input: one-hot ACGT (N = 0.25) + is_reverse + is_singleton channels, 150 bp, left-padded with the plasmid.
Stem Conv(k7, 256) -> 6 stages [concat(x, inverted residual with grouped conv + SE/bilinear) -> resize conv]
-> Conv1x1(18) -> SiLU -> mean over length -> softmax ("bins"); "expression" = expected bin.
Prix Fixe blocks: first = the stem, core = the stages, final = the soft-bin head.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.conv import apply_conv_bn_act, apply_legnet_stage, torch_conv_init
from seq2exp.models.blocks.heads import apply_soft_bin_head
from seq2exp.models.prixfixe import AUTOSOME_INPUT, compose, register_block
from seq2exp.models.registry import Architecture, register

DEFAULT_CONFIG = {
    "name": "autosome",
    "input": AUTOSOME_INPUT,
    "strands": "forward",
    "first": {"block": "autosome", "filters": 256, "kernel_size": 7},
    "core": {"block": "autosome", "block_sizes": [128, 128, 64, 64, 64, 64], "kernel_size": 7, "resize_factor": 4,
             "filters_per_group": 2, "se_reduction": 4, "bilinear": True},
    "final": {"block": "autosome", "n_bins": 18, "activation": "silu"},
}
SMOKE_CONFIG = {"first": {"filters": 16}, "core": {"block_sizes": [16, 8]}}


@register_block("first", "autosome", defaults={"filters": 256, "kernel_size": 7})
def autosome_first(x, config: dict, name: str):
    """LegNet stem: Conv(k, no bias) -> BatchNorm -> SiLU."""
    return apply_conv_bn_act(x, config["filters"], config["kernel_size"], name=name, activation="silu",
                             use_bias=False,
                             kernel_initializer=torch_conv_init(config["kernel_size"], config["filters"]))


@register_block("core", "autosome", defaults={k: v for k, v in DEFAULT_CONFIG["core"].items() if k != "block"})
def autosome_core(x, config: dict, name: str):
    """LegNet stages: per output width, concat(x, inverted residual(x)) then a resize convolution."""
    for index, out_channels in enumerate(config["block_sizes"]):
        x = apply_legnet_stage(x, out_channels, kernel_size=config["kernel_size"],
                               resize_factor=config["resize_factor"], filters_per_group=config["filters_per_group"],
                               se_reduction=config["se_reduction"], bilinear=config["bilinear"],
                               name=f"{name}_stage{index}")
    return x


@register_block("final", "autosome", defaults={"n_bins": 18, "activation": "silu"})
def autosome_final(x, config: dict, name: str) -> dict:
    """Soft-bin head: Conv1x1(n_bins) -> (SiLU) -> mean over length -> softmax; expression = expected bin."""
    return apply_soft_bin_head(x, n_bins=config["n_bins"], activation=config["activation"], name=name)


def build_autosome(config: dict) -> keras.Model:
    """LegNet from ``config`` (see ``DEFAULT_CONFIG``)."""
    return compose(config=config)


register(Architecture(
    name="autosome", builder=build_autosome, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=1_852_846, head="bins", team="Autosome.org", rank=1, fidelity="faithful",
    paper_params_source="team report (teams/autosome/report.txt: 1,852,846; paper Table 1: 1.9M)",
    source="teams/autosome/code/model.py:SeqNN + train.sh; bench/legnet_torch_ref.py (paper Table 1: 1.9M)",
    description="LegNet: EfficientNetV2-like CNN, grouped convs, SE with CP bilinear, 18-bin soft classification",
))
