"""wztr — wztr's Hybrid_CNN: hybrid dilated-convolution ResNet on forward ‖ reverse complement, regression.

Spec: ``../shared/reference/teams/wztr/code/seq2exp/models.py: Hybrid_CNN`` + ``layers.py`` (train_model.py
defaults), ARCHITECTURES.md section 5=. Input: one-hot ACGT (N = 0.25), right-zero-padded to 142; inside the model
the reverse complement is concatenated along length (284). first = ConvBlock(1024, k5) -> ConvBlock(256, k3)
(Conv -> BN -> ReLU); core = 6 stages x [3 x Residual(HybridConv: dilations 1/2/4/6, 64 each) -> AvgPool(2, ceil)];
final = Flatten -> Dense(256) -> GELU -> 2 x [Dense(256) -> GELU -> Dropout(0.2)] -> Dense(1) -> ReLU.
"""
from __future__ import annotations

import keras

from seq2exp.models.blocks.conv import apply_conv_bn_act, apply_hybrid_residual
from seq2exp.models.blocks.heads import apply_mlp_regression_head
from seq2exp.models.prixfixe import compose, register_block
from seq2exp.models.registry import Architecture, register

FIRST_DEFAULTS = {"filters": 1024, "kernel_size": 5, "out_filters": 256, "out_kernel_size": 3}
CORE_DEFAULTS = {"stages": 6, "repeats": 3, "kernel_size": 3, "dilation_rates": [1, 2, 4, 6], "pool_size": 2}
FINAL_DEFAULTS = {"hidden_units": [256, 256, 256], "dropout": 0.2}

DEFAULT_CONFIG = {
    "name": "wztr",
    "input": {"kind": "onehot", "length": 142, "region": "full", "pad": "zero_right", "trim": "right",
              "n_value": 0.25},
    "strands": "concat_length",
    "first": {"block": "wztr", **FIRST_DEFAULTS},
    "core": {"block": "wztr", **CORE_DEFAULTS},
    "final": {"block": "wztr", **FINAL_DEFAULTS},
}
SMOKE_CONFIG = {"first": {"filters": 16, "out_filters": 8}, "core": {"stages": 2, "repeats": 1},
                "final": {"hidden_units": [8, 8, 8]}}


@register_block("first", "wztr", defaults=FIRST_DEFAULTS)
def wztr_first(x, config: dict, name: str):
    """ConvBlock(filters, k5) -> ConvBlock(out_filters, k3); ConvBlock = Conv(bias) -> BN -> ReLU."""
    x = apply_conv_bn_act(x, config["filters"], config["kernel_size"], name=f"{name}_conv0")
    return apply_conv_bn_act(x, config["out_filters"], config["out_kernel_size"], name=f"{name}_conv1")


@register_block("core", "wztr", defaults=CORE_DEFAULTS)
def wztr_core(x, config: dict, name: str):
    """``stages`` x [``repeats`` x Residual(HybridConv) -> AvgPool(2, ceil mode)]."""
    for stage in range(config["stages"]):
        for repeat in range(config["repeats"]):
            x = apply_hybrid_residual(x, kernel_size=config["kernel_size"], dilation_rates=config["dilation_rates"],
                                      name=f"{name}_stage{stage}_res{repeat}")
        x = keras.layers.AveragePooling1D(config["pool_size"], padding="same", name=f"{name}_stage{stage}_pool")(x)
    return x


@register_block("final", "wztr", defaults=FINAL_DEFAULTS)
def wztr_final(x, config: dict, name: str) -> dict:
    """Flatten -> Dense -> GELU -> [Dense -> GELU -> Dropout] x 2 -> Dense(1) -> ReLU."""
    return apply_mlp_regression_head(x, config["hidden_units"], activation="gelu_sigmoid", dropout=config["dropout"],
                                     first_dropout=False, output_activation="relu", name=name)


def build_wztr(config: dict) -> keras.Model:
    """wztr's Hybrid_CNN from ``config`` (see ``DEFAULT_CONFIG``)."""
    return compose(config=config)


register(Architecture(
    name="wztr", builder=build_wztr, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=4_823_297, head="regression", team="wztr", rank=5, fidelity="faithful",
    paper_params_source=("hand count from teams/wztr/code/seq2exp/models.py:Hybrid_CNN "
                         "(ARCHITECTURES.md; paper Table 1: 4.8M)"),
    source="teams/wztr/code/seq2exp/models.py:Hybrid_CNN (paper Table 1: 4.8M)",
    description="Hybrid dilated-conv ResNet on forward ‖ RC along length, ReLU output",
))
