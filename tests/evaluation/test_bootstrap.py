"""Bootstrap ranking: every sample's scores recomputed independently (scipy on the sampled items)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from seq2exp.evaluation import bootstrap_ranks, prepare
from seq2exp.evaluation.bootstrap import sample_blocks

from .conftest import PAIRS, WEIGHTS, make_problem, subset_vectors


def sample_scores(truth, pred, subsets, keep):
    """Scores of one sample: single subsets keep their sampled members, pairs the pairs whose alt was sampled."""
    r2, rho, total = 0.0, 0.0, 0.0
    for name, items in {"all": np.arange(len(truth)), **subsets}.items():
        items = items[keep[items[:, 0]]] if name in PAIRS else items[keep[items]]
        y, x = subset_vectors(truth, pred, name, items)
        if len(items) < 2:
            continue
        r2 += WEIGHTS[name] * pearsonr(y, x)[0] ** 2
        rho += WEIGHTS[name] * spearmanr(y, x)[0]
        total += WEIGHTS[name]
    return r2 / total, rho / total


@pytest.fixture(scope="module")
def tied_problem():
    problem = make_problem(n=500, seed=4)
    problem["truth"] = np.round(problem["truth"], 0)  # many truth ties
    problem["poor"] = np.round(problem["poor"], 1)  # model ties too
    return problem


@pytest.fixture(scope="module")
def overlapping_problem():
    """Subsets that overlap (a sequence in two singles, high members as SNV alts) and alts in several pairs."""
    problem = make_problem(n=500, seed=10)
    subsets = dict(problem["subsets"])
    subsets["low"] = np.unique(np.concatenate([subsets["low"], subsets["high"][:10]]))
    snvs = subsets["SNVs"]
    extra = np.stack([np.concatenate([snvs[:15, 0], subsets["high"][10:20]]),
                      np.concatenate([snvs[15:30, 1], snvs[:10, 1]])], axis=1)
    subsets["SNVs"] = np.unique(np.concatenate([snvs, extra]), axis=0)
    problem["subsets"] = subsets
    return problem


@pytest.mark.parametrize("case", ["untied", "ties", "overlaps"])
def test_exact_within_sample_scores_match_scipy(case, tied_problem, overlapping_problem, monkeypatch):
    """The samples are drawn by the test (``sample_blocks`` replaced by its own masks, handed out in blocks of 5),
    so which items each sample keeps does not come from the code under test."""
    import seq2exp.evaluation.bootstrap as module

    problem = {"untied": make_problem(n=500, seed=5), "ties": tied_problem, "overlaps": overlapping_problem}[case]
    predictions = {"good": problem["good"], "poor": problem["poor"]}
    masks = np.random.default_rng(7).random((12, len(problem["truth"]))) < 0.3

    def test_drawn(universe_size, n_samples, fraction, seed, block_size):
        assert (universe_size, n_samples, block_size) == (masks.shape[1], 12, 5)
        for first in range(0, n_samples, block_size):
            yield first, masks[first:first + block_size]

    monkeypatch.setattr(module, "sample_blocks", test_drawn)
    result = bootstrap_ranks(predictions, problem["truth"], problem["subsets"], n_samples=12, fraction=0.3, seed=7,
                             block_size=5, return_samples=True)
    assert result["block_size"] == 5
    columns = result["samples"]["columns"]  # test index of each mask column
    assert sorted(columns.tolist()) == list(range(len(problem["truth"])))
    for first in range(0, 12, 5):
        for offset, row in enumerate(masks[first:first + 5]):
            keep = np.zeros(len(problem["truth"]), bool)
            keep[columns[row]] = True
            for m, name in enumerate(predictions):
                expected = sample_scores(problem["truth"], predictions[name], problem["subsets"], keep)
                assert result["samples"]["pearson"][first + offset, m] == pytest.approx(expected[0], abs=1e-12)
                assert result["samples"]["spearman"][first + offset, m] == pytest.approx(expected[1], abs=1e-10)


def test_global_rank_approximation_is_close(tied_problem):
    problem = make_problem(n=800, seed=8)
    predictions = [problem["good"], problem["poor"]]
    exact = bootstrap_ranks(predictions, problem["truth"], problem["subsets"], n_samples=20, fraction=0.5,
                            return_samples=True)
    approx = bootstrap_ranks(predictions, problem["truth"], problem["subsets"], n_samples=20, fraction=0.5,
                             spearman="global", return_samples=True)
    assert np.allclose(approx["samples"]["pearson"], exact["samples"]["pearson"], atol=1e-12)
    difference = np.abs(approx["samples"]["spearman"] - exact["samples"]["spearman"])
    assert 0 < difference.max() < 0.03


def test_rank_distribution_and_pairwise_fractions():
    problem = make_problem(n=600, seed=9)
    rng = np.random.default_rng(0)
    truth = problem["truth"]
    predictions = {"best": truth + rng.normal(0, 0.1, truth.size), "mid_a": problem["good"],
                   "mid_b": truth + rng.normal(0, 1.0, truth.size), "worst": problem["poor"],
                   "constant": np.full(truth.size, 3.0)}
    result = bootstrap_ranks(predictions, truth, problem["subsets"], n_samples=60, fraction=0.5, seed=1,
                             return_samples=True)
    names = list(predictions)
    assert result["models"] == names and result["n_samples"] == 60
    for metric in ("pearson", "spearman"):
        block = result[metric]
        for name in names:
            assert sum(block["rank_counts"][name]) == 60
        # each rank is taken once per sample unless scores tie
        assert np.array(list(block["rank_counts"].values())).sum() == 60 * len(names)
        assert block["rank_fractions"]["best"][0] == 1.0
        assert block["rank_fractions"]["constant"][-1] == 1.0  # NaN scores rank last
        assert block["undefined_samples"]["constant"] == 60
        assert block["beats"]["best"]["worst"] == 1.0 and block["beats"]["worst"]["best"] == 0.0
        samples = result["samples"][metric]
        a, b = names.index("mid_a"), names.index("mid_b")
        assert block["beats"]["mid_a"]["mid_b"] == pytest.approx(np.mean(samples[:, a] > samples[:, b]))
        assert block["beats"]["mid_a"]["mid_b"] + block["beats"]["mid_b"]["mid_a"] == pytest.approx(1.0)
        assert block["mean_rank"]["best"] == 1.0
    assert result["mean_rank"]["worst"] == 4.0


def test_same_seed_same_result_and_arguments_checked():
    problem = make_problem(n=600, seed=2)
    args = ([problem["good"], problem["poor"]], problem["truth"], problem["subsets"])
    first = bootstrap_ranks(*args, n_samples=15, seed=3, return_samples=True)
    second = bootstrap_ranks(*args, n_samples=15, seed=3, return_samples=True, threads=1)
    assert np.array_equal(first["samples"]["spearman"], second["samples"]["spearman"])
    other = bootstrap_ranks(*args, n_samples=15, seed=4, return_samples=True)
    assert not np.array_equal(first["samples"]["spearman"], other["samples"]["spearman"])
    for bad in ({"spearman": "fast"}, {"fraction": 0.0}, {"n_samples": 0}):
        with pytest.raises(ValueError):
            bootstrap_ranks(*args, **bad)


def test_models_must_share_the_bootstrap_universe():
    """A model missing some indices: the bootstrap uses the indices every model predicts."""
    problem = make_problem(n=600, seed=6)
    partial = {int(i): float(v) for i, v in enumerate(problem["poor"]) if i % 4}
    data = prepare({"good": problem["good"], "partial": partial}, problem["truth"], problem["subsets"])
    result = bootstrap_ranks(data, n_samples=10)
    assert result["scored_indices"] == len(partial)


def test_sampling_rate_matches_its_binomial_distribution():
    """The sample masks checked against what Poisson sampling must give -- not against the code's own draw: every
    entry kept with probability ``fraction`` (rounded to 1/2^16), independently across sequences and samples."""
    from scipy.stats import binom, chisquare

    n, samples = 3000, 400
    for fraction in (0.1, 0.3):
        p = round(fraction * 2**16) / 2**16
        masks = np.concatenate([mask for _, mask in sample_blocks(n, samples, fraction, 11, 64)])
        assert masks.shape == (samples, n)
        total = int(masks.sum())
        low, high = binom.ppf([1e-6, 1 - 1e-6], masks.size, p)
        assert low <= total <= high, (total, low, high, fraction)
        # per-sample counts follow Binomial(n, p): their spread, not only their mean
        counts = masks.sum(axis=1)
        assert 0.7 < counts.var() / (n * p * (1 - p)) < 1.4
        # every sequence equally likely (chi-square of per-column counts against the uniform expectation)
        per_column = masks.sum(axis=0)
        assert chisquare(per_column).pvalue > 1e-4
        # no dependence between neighbouring sequences or consecutive samples
        assert abs(np.corrcoef(masks[:, :-1].ravel(), masks[:, 1:].ravel())[0, 1]) < 0.02
        assert abs(np.corrcoef(masks[:-1].ravel(), masks[1:].ravel())[0, 1]) < 0.02
    # another seed gives other samples
    first = next(sample_blocks(n, 4, 0.1, 1, 4))[1]
    second = next(sample_blocks(n, 4, 0.1, 2, 4))[1]
    assert (first != second).any()


def test_subset_with_exactly_two_items_is_scored_and_one_item_left_out(monkeypatch):
    """The samples are chosen by the test (``sample_blocks`` replaced), so each sample's score is known from scipy:
    a subset with exactly two items in a sample counts with its weight (r = rho = +-1), one with a single item is
    left out and the weights renormalised -- the rule the module docstring states."""
    import seq2exp.evaluation.bootstrap as module

    rng = np.random.default_rng(3)
    n = 60
    truth = rng.normal(size=n)
    pred = truth + rng.normal(0, 0.7, size=n)
    subsets = {"high": np.array([0, 1, 2]), "low": np.array([5, 6, 7, 8])}
    drops = [[], [2], [1, 2], [0, 1, 2, 8], [5, 6, 7]]  # high: 3, 2, 1, 0 items; low: 4, 4, 4, 3, 1

    def chosen_samples(universe_size, n_samples, fraction, seed, block_size):
        masks = np.ones((len(drops), universe_size), bool)
        for row, dropped in enumerate(drops):
            masks[row, column_of[dropped]] = False
        yield 0, masks

    layout = bootstrap_ranks({"m": pred}, truth, subsets, n_samples=1, fraction=1.0, return_samples=True)
    column_of = np.empty(n, np.int64)
    column_of[layout["samples"]["columns"]] = np.arange(n)
    monkeypatch.setattr(module, "sample_blocks", chosen_samples)
    result = bootstrap_ranks({"m": pred}, truth, subsets, n_samples=len(drops), fraction=1.0, return_samples=True,
                             threads=1, block_size=len(drops))
    for row, dropped in enumerate(drops):
        keep = np.ones(n, bool)
        keep[dropped] = False
        expected = sample_scores(truth, pred, subsets, keep)  # scipy; subsets under two items skipped
        assert result["samples"]["pearson"][row, 0] == pytest.approx(expected[0], abs=1e-10), row
        assert result["samples"]["spearman"][row, 0] == pytest.approx(expected[1], abs=1e-10), row
