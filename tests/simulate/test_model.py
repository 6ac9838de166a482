"""Unit tests of the simulator's biology: motifs, binding, regulation, assay, text output."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.simulate import motifs as motif_lib
from seq2exp.simulate.assay import AssayParams, expected_mean_bin, measure, sample_cell_counts
from seq2exp.simulate.library import format_dream_rows, random_promoters
from seq2exp.simulate.model import FLANK3, FLANK5, PLASMID_AFTER_FLANK3, PromoterModel, to_codes, to_strings


@pytest.fixture(scope="module")
def model() -> PromoterModel:
    return PromoterModel()


@pytest.fixture(scope="module")
def background() -> str:
    rng = np.random.default_rng(3)
    codes, lengths = random_promoters(rng, 200, lengths=np.full(200, 110, dtype=np.int32), width=110)
    return to_strings(codes, lengths)


def test_motifs_are_real_jaspar_fungi_matrices(model: PromoterModel) -> None:
    tables = model.tables
    assert tables.consensus["REB1"].find("TTACCCG") >= 0          # Reb1's known site
    assert "CACGTG" in tables.consensus["CBF1"]                   # E-box
    assert "TGACTCA" in tables.consensus["GCN4"]
    assert all(len(pwm) <= motif_lib.SITE_K for pwm in tables.pwms.values())
    assert 0.01 < (tables.row_of_kmer >= 0).mean() < 0.2           # sparse site tables


def _brute_force_occupancy(model: PromoterModel, seq: str) -> np.ndarray:
    """Direct loop over windows: the definition that the vectorised scorer must reproduce."""
    scored = seq.replace("N", "A") + PLASMID_AFTER_FLANK3
    total = np.zeros(len(model.names))
    for p in range(len(FLANK5) - motif_lib.SITE_K + 1, len(seq) - len(FLANK3)):
        kmer = 0
        for base in scored[p:p + motif_lib.SITE_K]:
            kmer = kmer * 4 + "ACGT".index(base)
        row = model.tables.row_of_kmer[kmer]
        if row >= 0:
            total += model.tables.occupancy[row] * model.profile[len(seq) - 1 - p]
    return total


def test_vectorised_scoring_equals_the_direct_loop(model: PromoterModel) -> None:
    rng = np.random.default_rng(1)
    codes, lengths = random_promoters(rng, 40)
    seqs = to_strings(codes, lengths)
    seqs[0] = seqs[0][:40] + "N" * 5 + seqs[0][45:]
    codes, lengths = to_codes(seqs)
    fast = model.tf_occupancy(codes, lengths)
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(fast[i], _brute_force_occupancy(model, seq), rtol=1e-5, atol=1e-6)


def _with_site(seq: str, site: str, position: int) -> str:
    start = len(FLANK5) + position
    return seq[:start] + site + seq[start + len(site):]


def _mean_effect(model: PromoterModel, backgrounds: list[str], site: str, position: int) -> float:
    before = model.predict_strings(backgrounds)
    after = model.predict_strings([_with_site(s, site, position) for s in backgrounds])
    return float(np.mean(after - before))


def test_activator_and_repressor_sites_move_expression(model: PromoterModel, background: list[str]) -> None:
    assert _mean_effect(model, background, "TTACCCGG", 30) > 0.5          # Reb1 activates
    assert _mean_effect(model, background, "ATCACGTGAC", 30) > 0.2        # Cbf1 activates
    assert _mean_effect(model, background, "TAGCCGCCGA", 62) < -0.5       # Ume6 (URS1) represses near the TSS


def test_position_orientation_and_dosage(model: PromoterModel, background: list[str]) -> None:
    rap1 = "TGTATGGGTG"
    # position: same site, different distance from the TSS
    assert abs(_mean_effect(model, background, rap1, 5) - _mean_effect(model, background, rap1, 45)) > 0.1
    # orientation: Rap1 prefers the forward strand
    forward = _mean_effect(model, background, rap1, 40)
    reverse = _mean_effect(model, background, rap1[::-1].translate(str.maketrans("ACGT", "TGCA")), 40)
    assert forward > reverse > 0
    # dosage: a second site adds, but less than the first (saturation)
    one = model.predict_strings([_with_site(s, "TTACCCGG", 20) for s in background])
    two = model.predict_strings([_with_site(_with_site(s, "TTACCCGG", 20), "TTACCCGG", 50) for s in background])
    zero = model.predict_strings(background)
    assert 0 < np.mean(two - one) < np.mean(one - zero)


def test_cooperative_pair_is_more_than_additive(model: PromoterModel, background: list[str]) -> None:
    mcm1, fkh2 = "CCCAATTAGG", "GTAAACA"
    base = model.predict_strings(background)
    a = model.predict_strings([_with_site(s, mcm1, 30) for s in background]) - base
    b = model.predict_strings([_with_site(s, fkh2, 50) for s in background]) - base
    both = model.predict_strings([_with_site(_with_site(s, mcm1, 30), fkh2, 50) for s in background]) - base
    assert np.mean(both) > np.mean(a + b) + 0.05


def test_additive_model_differs_from_full_model(model: PromoterModel, background: list[str]) -> None:
    full = model.predict_strings(background)
    additive = model.predict_strings(background, additive=True)
    assert np.corrcoef(full, additive)[0, 1] > 0.5
    assert np.abs(full - additive).max() > 0.1


def test_assay_single_cells_give_integer_bins() -> None:
    rng = np.random.default_rng(0)
    params = AssayParams()
    x = rng.uniform(3, 16, size=50_000)
    cells = sample_cell_counts(rng, len(x), params)
    values = measure(rng, x, cells, params)
    assert values.min() >= 0 and values.max() <= 17
    assert np.all(values[cells == 1] == np.round(values[cells == 1]))
    integer_share = np.mean(values == np.round(values))
    assert 0.5 < integer_share < 0.66                                  # ~58% in the real data
    many = measure(rng, x[:2000], sample_cell_counts(rng, 2000, params, test=True), params)
    truth = expected_mean_bin(x[:2000], params.cell_sigma)
    assert np.corrcoef(many, truth)[0, 1] > 0.99
    assert np.all(np.diff(expected_mean_bin(np.linspace(-5, 25, 50), 1.0)) > 0)


def test_dream_text_round_trip() -> None:
    rng = np.random.default_rng(2)
    codes, lengths = random_promoters(rng, 500)
    values = np.concatenate([rng.integers(0, 18, 250).astype(float), rng.uniform(0, 17, 250)])
    text = format_dream_rows(codes, lengths, values).decode()
    lines = text.splitlines()
    assert len(lines) == 500 and text.endswith("\n")
    seqs = to_strings(codes, lengths)
    for line, seq, value in zip(lines, seqs, values):
        seq_text, value_text = line.split("\t")
        assert seq_text == seq and seq.startswith(FLANK5) and seq.endswith(FLANK3)
        assert float(value_text) == pytest.approx(value, abs=1e-6)
        if value == int(value):
            assert value_text == str(int(value))
