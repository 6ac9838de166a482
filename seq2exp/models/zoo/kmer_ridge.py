"""The k-mer ridge baseline as a registered architecture: fixed k-mer detectors -> frequencies -> one linear layer.

Not a team's model: the yardstick every network is compared with on the same rows. It is a Keras model like the
others (input ``"inputs"``, output ``"expression"``), so it is saved, loaded, exported and served by the same code::

    one-hot -> for each k: Conv1D(4**k fixed k-mer detectors, bias -(k-1), ReLU) = 1 where the k-mer occurs
            -> mean over positions (k-mer frequencies) -> concatenate -> Dense(1) (the ridge weights)

Its weights are solved in closed form (``fit``: :func:`seq2exp.training.baselines.fit_kmer_ridge_run`), not by
gradient steps; ``alphas`` are the ridge penalties tried, the best by validation Pearson r is kept.
"""
from __future__ import annotations

import itertools
from typing import Any, Mapping

import keras
import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.models.registry import Architecture, register

ASSUMPTIONS = "Baseline, not a team's model: ridge regression on k-mer frequencies (k = 1..6), alpha on validation r."

DEFAULT_CONFIG: dict = {
    "input": {"kind": "onehot", "length": 150, "region": "full", "pad": "zero_right", "trim": "right",
              "n_value": 0.0},
    "ks": [1, 2, 3, 4, 5, 6],
    "alphas": [10.0, 100.0, 1000.0, 10000.0, 30000.0, 100000.0, 300000.0, 1000000.0],
}
SMOKE_CONFIG: dict = {"ks": [1, 2, 3]}
FEATURES_LAYER = "kmer_frequencies"


def validate_kmer_config(config: Mapping[str, Any]) -> None:
    """``ks`` a non-empty list of 1..8, ``alphas`` positive numbers, a one-hot input (``ConfigError`` otherwise)."""
    ks = config["ks"]
    if not isinstance(ks, list) or not ks or not all(isinstance(k, int) and 1 <= k <= 8 for k in ks):
        raise ConfigError(f"model.config.ks: expected a non-empty list of k-mer sizes 1..8, got {ks!r}")
    alphas = config["alphas"]
    if not isinstance(alphas, list) or not alphas or not all(isinstance(a, (int, float)) and a > 0 for a in alphas):
        raise ConfigError(f"model.config.alphas: expected a list of positive numbers, got {alphas!r}")
    if config["input"].get("kind", "onehot") != "onehot":
        raise ConfigError("model.config.input.kind: the k-mer ridge model needs 'onehot'")
    from seq2exp.models.prixfixe import require_acgt_channels

    require_acgt_channels(config, "kmer_ridge")


def _kmer_kernel(k: int) -> np.ndarray:
    """Conv1D kernel [k, 4, 4**k]: filter j detects the j-th k-mer (lexicographic over ACGT)."""
    kernel = np.zeros((k, 4, 4 ** k), np.float32)
    for index, kmer in enumerate(itertools.product(range(4), repeat=k)):
        for position, base in enumerate(kmer):
            kernel[position, base, index] = 1.0
    return kernel


def build_kmer_ridge(config: dict) -> keras.Model:
    """The (untrained) k-mer ridge model; its features are the ``kmer_frequencies`` layer's output."""
    from seq2exp.models.prixfixe import model_input

    validate_kmer_config(config)
    inputs = model_input(config)
    onehot = inputs[..., :4] if inputs.shape[-1] > 4 else inputs
    features = []
    for k in config["ks"]:
        conv = keras.layers.Conv1D(4 ** k, k, padding="valid", activation="relu", trainable=False,
                                   name=f"kmer{k}_detect")
        hits = conv(onehot)
        conv.set_weights([_kmer_kernel(k), np.full(4 ** k, -(k - 1.0), np.float32)])
        features.append(keras.layers.GlobalAveragePooling1D(name=f"kmer{k}_frequency")(hits))
    joined = keras.layers.Concatenate(name=FEATURES_LAYER)(features) if len(features) > 1 else \
        keras.layers.Identity(name=FEATURES_LAYER)(features[0])
    linear = keras.layers.Dense(1, name="ridge")(joined)
    expression = keras.layers.Reshape((), name="expression")(linear)
    return keras.Model(inputs, {"expression": expression}, name="kmer_ridge")


def feature_model(model: keras.Model) -> keras.Model:
    """inputs -> k-mer frequencies of a :func:`build_kmer_ridge` model."""
    return keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output, name="kmer_features")


register(Architecture(
    name="kmer_ridge", builder=build_kmer_ridge, default_config=DEFAULT_CONFIG, smoke_config=SMOKE_CONFIG,
    paper_params=None, head="regression", team="baseline (k-mer ridge)", source="seq2exp baseline",
    fidelity="faithful", rank=None, description="ridge regression on k-mer frequencies (closed form)",
    fit="seq2exp.training.baselines:fit_kmer_ridge_run",
))
