"""On the simulator's ground truth: a model trained on simulated promoters recovers the planted TF motifs
(TF-MoDISco + Tomtom against JASPAR fungi) and its motif-tiling effect curves agree in sign with the simulator's."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.data.alphabet import FLANK3, FLANK5

pytestmark = pytest.mark.slow

LENGTH = 110
STRONG = 6  # the simulator's TFs with the largest |effect| whose recovery is checked


def _sharpened_site(motif, rng):
    probs = motif.probs ** 3
    probs /= probs.sum(axis=1, keepdims=True)
    return "".join("ACGT"[rng.choice(4, p=row)] for row in probs)


def _library(rng, n, motifs, planted_fraction):
    from seq2exp.simulate.library import random_promoters
    from seq2exp.simulate.model import to_strings

    codes, lengths = random_promoters(rng, n, lengths=np.full(n, LENGTH))
    sequences = to_strings(codes, lengths)
    out = []
    for s in sequences:
        if rng.random() < planted_fraction:
            for _ in range(int(rng.integers(1, 3))):
                site = _sharpened_site(motifs[int(rng.integers(len(motifs)))], rng)
                p = int(rng.integers(len(FLANK5), LENGTH - len(FLANK3) - len(site)))
                s = s[:p] + site + s[p + len(site):]
        out.append(s)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import keras

    from seq2exp.interpret.predictors import RunPredictor
    from seq2exp.interpret.sequences import jaspar_motif, onehot
    from seq2exp.simulate.model import PromoterModel
    from seq2exp.simulate.motifs import TF_TABLE
    from tests.interpret.conftest import save_run

    truth = PromoterModel()
    specs = [tf for tf in TF_TABLE if tf.matrix_id]
    motifs = {tf.name: jaspar_motif(tf.matrix_id) for tf in specs}
    strong = [tf.name for tf in sorted(specs, key=lambda tf: -abs(tf.effect))[:STRONG]]
    rng = np.random.default_rng(0)
    train = _library(rng, 60_000, list(motifs.values()), 0.6)
    y = truth.predict_strings(train).astype(np.float32)
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(LENGTH, 4), name="inputs")
    h = keras.layers.Conv1D(96, 11, activation="relu", padding="same")(inputs)
    h = keras.layers.MaxPooling1D(2)(h)
    h = keras.layers.Conv1D(64, 5, activation="relu", padding="same")(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    expression = keras.layers.Flatten(name="expression")(keras.layers.Dense(1)(h))
    model = keras.Model(inputs, {"expression": expression})
    model.compile(keras.optimizers.Adam(2e-3), loss={"expression": "mse"})
    model.fit(onehot(train), {"expression": y - y.mean()}, batch_size=256, epochs=6, verbose=0,
              validation_split=0.05)
    path = save_run(tmp_path_factory.mktemp("sim") / "run", model, {"kind": "onehot", "length": LENGTH})
    predictor = RunPredictor(path)
    test = _library(np.random.default_rng(1), 2000, list(motifs.values()), 0.6)
    r = np.corrcoef(predictor.predict(test), truth.predict_strings(test))[0, 1]
    assert r > 0.7, f"the model did not learn the simulator (Pearson r {r:.2f} on held-out promoters)"
    return predictor, truth, motifs, strong


def test_planted_motifs_are_recovered(trained):
    from seq2exp.interpret.attribution import attribute
    from seq2exp.interpret.discovery import discover

    predictor, _, motifs, strong = trained
    rng = np.random.default_rng(2)
    sequences = _library(rng, 1500, [motifs[name] for name in strong], 1.0)
    maps = attribute(predictor, sequences, "integrated_gradients", steps=16)
    patterns, found = discover(maps.onehot, maps.hypothetical)
    matched = {m["tf"] for p in patterns for m in p.matches}
    recovered = sorted(set(strong) & matched)
    print(f"strongest simulator TFs {strong}; patterns {len(patterns)}; best matches {found}; recovered {recovered}")
    assert len(recovered) >= 3, (strong, found, [p.as_dict() for p in patterns])


def test_motif_tiling_effects_agree_in_sign_with_the_simulator(trained):
    from seq2exp.interpret.motif_effects import insert, make_backgrounds, motif_effects
    from seq2exp.simulate.testset import TILING_MOTIFS

    predictor, truth, _, _ = trained
    backgrounds = make_backgrounds("random", 5, seed=3)
    checked = 0
    for name, site in TILING_MOTIFS.items():
        effects = motif_effects(predictor, site, backgrounds)
        reverse = effects.motif.reverse_complement().consensus
        true = np.array([[truth.predict_strings([insert(b, s, int(p)) for p in effects.positions])
                          - truth.predict_strings([b])[0] for s in (site, reverse)] for b in backgrounds])
        if abs(true.mean()) < 0.05:
            continue
        checked += 1
        assert np.sign(effects.effects.mean()) == np.sign(true.mean()), (name, effects.effects.mean(), true.mean())
    assert checked >= 3
