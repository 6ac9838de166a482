"""score(): every subset kind, weights, renormalisation, exclusion; expected numbers from scipy.stats directly."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import pearsonr, rankdata, spearmanr

from seq2exp.evaluation import Exclusion, pearson_columns, score, score_many, spearman_columns
from seq2exp.evaluation.subsets import SUBSET_WEIGHTS

from .conftest import PAIRS, WEIGHTS, subset_vectors


def expected_scores(truth, pred, subsets, keep=None):
    """Independent computation: scipy per subset, the paper's weighted formula."""
    n = len(truth)
    keep = np.ones(n, bool) if keep is None else keep
    r, rho = {}, {}
    groups = {"all": np.flatnonzero(keep), **subsets}
    for name, items in groups.items():
        items = np.asarray(items)
        items = items[keep[items[:, 0]] & keep[items[:, 1]]] if name in PAIRS else items[keep[items]]
        y, x = subset_vectors(truth, pred, name, items)
        if len(items) < 2:
            continue
        r[name], rho[name] = pearsonr(y, x)[0], spearmanr(y, x)[0]
    total = sum(WEIGHTS[name] for name in r)
    return (sum(WEIGHTS[k] * v ** 2 for k, v in r.items()) / total,
            sum(WEIGHTS[k] * v for k, v in rho.items()) / total, r, rho)


def test_weights_are_the_challenges():
    assert SUBSET_WEIGHTS == WEIGHTS
    assert math.isclose(sum(SUBSET_WEIGHTS.values()), 4.65)


def test_columns_match_scipy_with_ties():
    rng = np.random.default_rng(3)
    y = np.round(rng.normal(size=300), 1)
    x = np.column_stack([y + rng.normal(size=300), np.round(y * 2 + rng.normal(size=300)), -y])
    for j in range(x.shape[1]):
        assert pearson_columns(x, y)[j] == pytest.approx(pearsonr(x[:, j], y)[0], abs=1e-12)
        assert spearman_columns(x, y)[j] == pytest.approx(spearmanr(x[:, j], y)[0], abs=1e-12)


def test_all_subset_kinds_match_scipy(problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    result = score(pred, truth, subsets)
    pearson_score, spearman_score, r, rho = expected_scores(truth, pred, subsets)
    assert set(result["subsets"]) == set(WEIGHTS)
    assert result["missing_subsets"] == []
    for name in WEIGHTS:
        assert result["subsets"][name]["pearson"] == pytest.approx(r[name], abs=1e-12)
        assert result["subsets"][name]["spearman"] == pytest.approx(rho[name], abs=1e-12)
    assert result["subsets"]["SNVs"]["n"] == len(subsets["SNVs"])
    assert result["pearson_score"] == pytest.approx(pearson_score, abs=1e-12)
    assert result["spearman_score"] == pytest.approx(spearman_score, abs=1e-12)
    # with every subset present the denominator is the challenge's 4.65
    manual = sum(WEIGHTS[k] * r[k] ** 2 for k in WEIGHTS) / 4.65
    assert result["pearson_score"] == pytest.approx(manual, abs=1e-12)


def test_pairs_are_scored_on_alt_minus_ref_differences(problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    result = score(pred, truth, {"SNVs": subsets["SNVs"]})
    alt, ref = subsets["SNVs"][:, 0], subsets["SNVs"][:, 1]
    diff = pearsonr(truth[alt] - truth[ref], pred[alt] - pred[ref])[0]
    on_alt_values = pearsonr(truth[alt], pred[alt])[0]
    assert result["subsets"]["SNVs"]["pearson"] == pytest.approx(diff, abs=1e-12)
    assert abs(diff - on_alt_values) > 1e-3
    # the challenge's tuple-order quirk computes ref - alt on both sides: same r and rho
    swapped = score(pred, truth, {"SNVs": subsets["SNVs"][:, ::-1]})
    assert swapped["subsets"]["SNVs"]["pearson"] == pytest.approx(diff, abs=1e-12)
    assert swapped["subsets"]["SNVs"]["spearman"] == pytest.approx(result["subsets"]["SNVs"]["spearman"], abs=1e-12)


def test_missing_subsets_renormalise_weights(problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    chosen = {name: subsets[name] for name in ("high", "SNVs")}
    result = score(pred, truth, chosen)
    r_all, r_high = pearsonr(truth, pred)[0], pearsonr(truth[subsets["high"]], pred[subsets["high"]])[0]
    alt, ref = subsets["SNVs"].T
    r_snv = pearsonr(truth[alt] - truth[ref], pred[alt] - pred[ref])[0]
    expected = (r_all ** 2 + 0.3 * r_high ** 2 + 1.25 * r_snv ** 2) / (1 + 0.3 + 1.25)
    assert result["pearson_score"] == pytest.approx(expected, abs=1e-12)
    assert set(result["missing_subsets"]) == set(WEIGHTS) - {"all", "high", "SNVs"}
    assert sum(result["weights"].values()) == pytest.approx(1.0)


def test_partial_truth_scores_what_is_present(problem):
    """A public-leaderboard-like truth: values for part of the test set only."""
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    known = np.concatenate([subsets["high"], subsets["random"][:30], subsets["SNVs"][:20].ravel()])
    truth_map = {int(i): float(truth[i]) for i in np.unique(known)}
    result = score(pred, truth_map, subsets)
    keep = np.zeros(len(truth), bool)
    keep[list(truth_map)] = True
    pearson_score, spearman_score, r, _ = expected_scores(truth, pred, subsets, keep)
    assert set(result["subsets"]) == set(r)
    assert "low" in result["missing_subsets"] and "motif_tiling" in result["missing_subsets"]
    assert result["subsets"]["all"]["n"] == keep.sum()
    assert result["subsets"]["SNVs"]["n"] == 20
    assert result["pearson_score"] == pytest.approx(pearson_score, abs=1e-12)
    assert result["spearman_score"] == pytest.approx(spearman_score, abs=1e-12)


def test_exclusion_drops_public_items_like_the_challenge(problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    public = {"high": subsets["high"][:10], "random": subsets["random"][:5],
              "SNVs": subsets["SNVs"][:15], "motif_tiling": subsets["motif_tiling"][:4]}
    result = score(pred, truth, subsets, exclude=public)
    public_indices = set(np.concatenate([v.ravel() for v in public.values()]).tolist())
    public_pairs = {tuple(p) for name in ("SNVs", "motif_tiling") for p in public[name].tolist()}
    # expected, built the way the challenge's script does it
    all_left = [i for i in range(len(truth)) if i not in public_indices]
    assert result["subsets"]["all"]["n"] == len(all_left)
    assert result["subsets"]["all"]["pearson"] == pytest.approx(pearsonr(truth[all_left], pred[all_left])[0],
                                                                  abs=1e-12)
    for name in ("high", "low", "yeast", "random", "challenging"):
        left = [i for i in subsets[name].tolist() if i not in public_indices]
        assert result["subsets"][name]["n"] == len(left)
        assert result["subsets"][name]["spearman"] == pytest.approx(spearmanr(truth[left], pred[left])[0],
                                                                    abs=1e-12)
    for name in PAIRS:
        left = np.array([p for p in subsets[name].tolist() if tuple(p) not in public_pairs])
        # a pair survives even when its members are public single indices: only exact public pairs go
        assert result["subsets"][name]["n"] == len(left)
        y = truth[left[:, 0]] - truth[left[:, 1]]
        x = pred[left[:, 0]] - pred[left[:, 1]]
        assert result["subsets"][name]["pearson"] == pytest.approx(pearsonr(y, x)[0], abs=1e-12)
    assert result["public_excluded"] is True


def test_exclusion_of_refs_shared_by_pairs_drops_them_from_all(problem):
    subsets = problem["subsets"]
    exclusion = Exclusion.from_leaderboard({"motif_perturbation": subsets["motif_perturbation"][:1]})
    alt, ref = subsets["motif_perturbation"][0]
    assert set(exclusion.indices.tolist()) == {alt, ref}
    left = exclusion.filter_pairs(subsets["motif_perturbation"])
    assert len(left) == len(subsets["motif_perturbation"]) - 1  # other pairs with the same ref stay


def test_score_many_names_and_independent_presence(problem):
    truth, subsets = problem["truth"], problem["subsets"]
    partial = {int(i): float(problem["poor"][i]) for i in range(0, len(truth), 2)}
    results = score_many({"good": problem["good"], "poor": partial}, truth, subsets)
    assert list(results) == ["good", "poor"]
    assert results["good"]["subsets"]["all"]["n"] == len(truth)
    assert results["poor"]["subsets"]["all"]["n"] == len(partial)
    assert results["good"]["pearson_score"] > results["poor"]["pearson_score"]


def test_spearman_uses_average_ranks_like_scipy():
    truth = np.array([1, 2, 2, 3, 4, 4, 4, 5, 6, 7], float)
    pred = np.array([1, 1, 2, 2, 3, 3, 3, 3, 4, 9], float)
    result = score(pred, truth)
    assert result["subsets"]["all"]["spearman"] == pytest.approx(spearmanr(truth, pred)[0], abs=1e-12)
    assert result["subsets"]["all"]["spearman"] == pytest.approx(pearsonr(rankdata(truth), rankdata(pred))[0])
