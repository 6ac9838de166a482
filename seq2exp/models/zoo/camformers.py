"""camformers — Camformers: residual CNN (6 x Conv(512, k10), residual pairs) + MLP 256-256, regression.

Spec: ``../shared/reference/teams/camformers/code/script/camformers_submission.py: CNN`` (config block), ARCHITECTURES.md
section 4. Input: one-hot ACGT (anything else all-zero), 110 bp, right-padded with zeros / trimmed on the right.
Conv blocks: Conv(k10, same, bias) -> BN -> ReLU -> (MaxPool(10, stride 4) in block 5) -> Dropout(0.3); blocks in
pairs with a shortcut around the second of each pair. Prix Fixe blocks: first = pair 1, core = pairs 2-3,
final = Flatten -> Dense(256) -> ReLU -> Dense(256) -> ReLU -> Dense(1).
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.conv import apply_conv_pool_dropout
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.prixfixe import compose, register_block
from seq2exp.models.registry import Architecture, register

FIRST_DEFAULTS = {"filters": [512, 512], "kernel_size": 10, "pool_sizes": [1, 1], "pool_strides": [1, 1],
                  "dropout": 0.3}
CORE_DEFAULTS = {"filters": [512, 512, 512, 512], "kernel_size": 10, "pool_sizes": [1, 1, 10, 1],
                 "pool_strides": [1, 1, 4, 1], "dropout": 0.3}
FINAL_DEFAULTS = {"hidden_units": [256, 256], "dropout": 0.0}

DEFAULT_CONFIG = {
    "name": "camformers",
    "input": {"kind": "onehot", "length": 110, "region": "full", "pad": "zero_right", "trim": "right",
              "n_value": 0.0},
    "strands": "forward",
    "first": {"block": "camformers", **FIRST_DEFAULTS},
    "core": {"block": "camformers", **CORE_DEFAULTS},
    "final": {"block": "camformers", **FINAL_DEFAULTS},
}
SMOKE_CONFIG = {"first": {"filters": [16, 16]}, "core": {"filters": [16, 16, 16, 16]},
                "final": {"hidden_units": [8, 8]}}


def apply_residual_pairs(x, config: dict, name: str):
    """Conv blocks taken in pairs: ``x = B0(x); x = x + B1(x)`` (B0's pooling happens before the shortcut)."""
    filters, pools, strides = config["filters"], config["pool_sizes"], config["pool_strides"]
    if not len(filters) == len(pools) == len(strides) or len(filters) % 2:
        raise ValueError(f"{name}: filters/pool_sizes/pool_strides must have the same even length")
    for index in range(0, len(filters), 2):
        blocks = []
        for offset in (0, 1):
            blocks.append(dict(filters=filters[index + offset], pool_size=pools[index + offset],
                               pool_stride=strides[index + offset]))
        x = apply_conv_pool_dropout(x, kernel_size=config["kernel_size"], dropout=config["dropout"],
                                    name=f"{name}_block{index}", **blocks[0])
        shortcut = x
        x = apply_conv_pool_dropout(x, kernel_size=config["kernel_size"], dropout=config["dropout"],
                                    name=f"{name}_block{index + 1}", **blocks[1])
        x = keras.layers.Add(name=f"{name}_residual{index // 2}")([x, shortcut])
    return x


register_block("first", "camformers", defaults=FIRST_DEFAULTS,
               description="Camformers' first residual pair of conv blocks")(apply_residual_pairs)
register_block("core", "camformers", defaults=CORE_DEFAULTS,
               description="Camformers' remaining residual pairs of conv blocks")(apply_residual_pairs)


@register_block("final", "camformers", defaults=FINAL_DEFAULTS)
def camformers_final(x, config: dict, name: str) -> dict:
    """Flatten -> [Dense -> ReLU -> (Dropout)] x 2 -> Dense(1)."""
    return apply_mlp_regression_head(x, config["hidden_units"], activation="relu", dropout=config["dropout"],
                                     name=name)


def build_camformers(config: dict) -> keras.Model:
    """Camformers' CNN from ``config`` (see ``DEFAULT_CONFIG``)."""
    return compose(config=config)


register(Architecture(
    name="camformers", builder=build_camformers, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=16_611_073, head="regression", team="Camformers", rank=4, fidelity="faithful",
    paper_params_source="team report (teams/camformers/report.txt: 16,611,073 trainable; paper Table 1: 16.6M)",
    source="teams/camformers/code/script/camformers_submission.py:CNN (paper Table 1: 16.6M)",
    description="ResNet-style CNN: 6 x Conv(512, k10) in residual pairs + MLP 256-256",
))
