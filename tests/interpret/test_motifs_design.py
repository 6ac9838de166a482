"""Motif effects (tiling, pairs), motif parsing, backgrounds and design, on the fixed-weight motif model."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from seq2exp.errors import ConfigError, InputFormatError
from seq2exp.interpret.design import design
from seq2exp.interpret.motif_effects import insert, make_backgrounds, motif_effects, motif_pair_effects
from seq2exp.interpret.sequences import (
    check_sequences,
    dinucleotide_shuffle,
    parse_motif,
    parse_ranges,
    protected_mask,
    read_pwm,
)
from tests.interpret.conftest import MOTIF, plant, promoters, reference_motif_model


def test_motif_effect_curve_by_orientation(motif_predictor):
    backgrounds = make_backgrounds("random", 3, seed=2)
    effects = motif_effects(motif_predictor, MOTIF, backgrounds)
    assert list(effects.positions) == list(range(17, 97 - len(MOTIF) + 1))
    reverse = "CCGGGTAA"
    for b, background in enumerate(backgrounds):
        for o, site in enumerate((MOTIF, reverse)):
            expected = reference_motif_model([insert(background, site, p) for p in effects.positions]) \
                - reference_motif_model([background])[0]
            np.testing.assert_allclose(effects.effects[b, o], expected, atol=1e-4)
    assert (effects.curve[0] > 1.0).all()          # the forward site is the signal everywhere
    assert np.abs(effects.curve[1]).max() < 0.5 * effects.curve[0].min()  # the model reads one strand only


def test_motif_pairs_are_additive_for_an_additive_model(motif_predictor):
    backgrounds = make_backgrounds("random", 2, seed=3)
    pair = motif_pair_effects(motif_predictor, MOTIF, MOTIF, backgrounds, [0, 5, 20])
    np.testing.assert_allclose(pair.both, 2 * pair.a, rtol=0.05, atol=0.05)
    np.testing.assert_allclose(pair.interaction, 0.0, atol=0.1)


def test_motifs_from_iupac_jaspar_and_pwm_files(tmp_path):
    assert parse_motif("TGASTCA").probs[3].tolist() == [0.0, 0.5, 0.5, 0.0]
    reb1 = parse_motif("MA0363.3")
    assert "REB1" in reb1.name and "TTACCCG" in reb1.consensus
    path = tmp_path / "m.jaspar"
    path.write_text(">MA0000.1 TEST\nA [ 10 0 0 ]\nC [ 0 10 0 ]\nG [ 0 0 10 ]\nT [ 0 0 0 ]\n")
    assert read_pwm(path).consensus == "ACG" and parse_motif(str(path)).consensus == "ACG"
    with pytest.raises(ConfigError, match="MA9999.1.*no such JASPAR matrix id"):
        parse_motif("MA9999.1")
    with pytest.raises(ConfigError, match="not an IUPAC consensus"):
        parse_motif("TTAXCC")


def test_bad_sequences_and_ranges_raise_one_clear_error():
    with pytest.raises(InputFormatError, match=r"row 1: letter\(s\) \['X'\] outside A, C, G, T, N"):
        check_sequences(["ACGT", "ACXT"])
    with pytest.raises(InputFormatError, match="row 1: length 3 bp, expected 4 bp"):
        check_sequences(["ACGT", "ACG"])
    with pytest.raises(ConfigError, match="protected range 100-120 lies outside the 110-bp sequence"):
        protected_mask(110, [(100, 120)])
    with pytest.raises(ConfigError, match="expected START-STOP"):
        parse_ranges("0-17,x")


def test_dinucleotide_shuffle_keeps_dinucleotide_counts():
    rng = np.random.default_rng(0)
    sequence = promoters(1, seed=9)[0]
    shuffles = {dinucleotide_shuffle(sequence, rng) for _ in range(20)}
    assert len(shuffles) > 15
    for shuffled in shuffles:
        assert Counter(zip(sequence, sequence[1:])) == Counter(zip(shuffled, shuffled[1:]))


def test_design_respects_flanks_budget_and_seed(smooth_predictor):
    seeds = promoters(2, seed=12)
    kwargs = dict(generations=4, population=6, children=3, mutations=2, budget=5, seed=1)
    up = design(smooth_predictor, seeds, objective="maximize", **kwargs)
    down = design(smooth_predictor, seeds, objective="minimize", **kwargs)
    assert (up.values > up.seed_values).all() and (down.values < down.seed_values).all()
    np.testing.assert_allclose(up.values, smooth_predictor.predict(up.designs), rtol=1e-5)
    for result in (up, down):
        for seed, designed in zip(result.seeds, result.designs):
            assert designed[:17] == seed[:17] and designed[-13:] == seed[-13:]
            assert 0 < sum(a != b for a, b in zip(seed, designed)) <= 5
    again = design(smooth_predictor, seeds, objective="maximize", **kwargs)
    assert again.designs == up.designs
    target = float(up.seed_values.mean())
    hit = design(smooth_predictor, seeds, objective="target", target=target, **kwargs)
    assert (np.abs(hit.values - target) <= np.abs(hit.seed_values - target) + 1e-6).all()
    with pytest.raises(ConfigError, match="protected range 0-200 lies outside"):
        design(smooth_predictor, seeds, protected=[(0, 200)])


def test_design_over_grpc_finds_the_motif(served_motif):
    """From a seed one substitution away from the site, a served model's design restores it."""
    from seq2exp.interpret.predictors import ServerPredictor

    server, _ = served_motif
    seed = plant(promoters(1, seed=13)[0], "TTACCAGG", 40)
    remote = ServerPredictor(server.target, "motif")
    try:
        result = design(remote, [seed], generations=3, population=4, children=40, budget=1, seed=0)
    finally:
        remote.close()
    assert MOTIF in result.designs[0] and result.n_mutations == [1]


def test_patterns_are_matched_to_jaspar_fungi_tfs():
    """A pattern shaped like Reb1's JASPAR matrix (noised) is matched to REB1 by Tomtom; a flat one to nothing."""
    from seq2exp.interpret.discovery import Pattern, match_patterns

    rng = np.random.default_rng(0)
    reb1 = parse_motif("MA0363.3").probs
    noisy = np.clip(reb1 + rng.normal(0, 0.03, reb1.shape), 0.01, None)
    noisy /= noisy.sum(axis=1, keepdims=True)
    flat = np.full((8, 4), 0.25)
    patterns = match_patterns([Pattern("reb1_like", "+", noisy, noisy, 50), Pattern("flat", "+", flat, flat, 50)],
                              max_q=0.05)
    assert "REB1" in [m["tf"] for m in patterns[0].matches]
    assert patterns[1].matches == []
