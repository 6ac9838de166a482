"""Bootstrap ranking of models, as in the challenge paper: many 10% samples of the test set, both scores per sample.

Sampling. Each sample keeps every scorable test sequence independently with probability ``fraction`` (Poisson
sampling without replacement: a sample holds 10% of the test set on average, about +-0.1% for 71,103 sequences,
and no sequence twice, so within-sample ranks have no artificial ties). The subsets of a sample are the subsets of
the test set restricted to it: a single subset keeps its sampled members, a pair subset keeps the pairs whose *alt*
sequence was sampled (the alt is the variant; refs are shared by many pairs). All models see the same samples,
over the indices every model predicts. A subset with fewer than two items in a sample is left out of that sample's
score and the weights renormalised, as in the full scoring.

Vectorisation. Samples are processed in blocks: a block's samples are a boolean matrix ``[samples, sequences]``;
per subset, the weighted moments (count, sums, squares, cross products) of all models come out of one matrix
product ``mask[:, subset] @ features[subset]``, which gives every within-sample Pearson r. Spearman rho follows the
paper's definition (the Spearman rho *of the sample*, i.e. average ranks recomputed within each sample):
``spearman="exact"`` computes them exactly with one row-wise sort per model and subset of a ``[samples, members]``
block of packed integer keys (model ordinal << bits | truth position). ``spearman="global"`` is a faster
approximation: Pearson r of each subset's *full-test-set* ranks restricted to the sample (a monotone, nearly linear
map of the within-sample ranks; it differs from the exact rho by ~1e-3 and can swap models whose scores are that
close), computed in the same matrix product as Pearson.
"""
from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import rankdata

from seq2exp.evaluation.metrics import ScoringData, prepare
from seq2exp.evaluation.subsets import PAIR_SUBSETS, SUBSET_NAMES, SUBSET_WEIGHTS

logger = logging.getLogger(__name__)

SPEARMAN_METHODS = ("exact", "global")
_UNIFORM_BITS = 16


@dataclass
class _SubsetPlan:
    """Per-subset precomputation; items in truth order (exact Spearman) or sampling-universe order (global)."""

    name: str
    weight: float
    owner: np.ndarray  # int64 [k]: the sampled sequence (universe position) that carries each item
    features: np.ndarray  # float32 [k, cols]: 1, y, y^2, then per model x, x^2, x*y (+ the same on ranks: global)
    truth_groups: np.ndarray | None  # int32 [k+1] tie group of each truth ordinal (+ pad), None if no ties
    model_ordinal: np.ndarray  # int32 [M, k+1]: model ordinal of each item (pad -> k); exact Spearman only
    model_groups: list[np.ndarray | None]  # per model: int32 [k+1] tie group of each model ordinal, None if no ties

    @property
    def size(self) -> int:
        return int(self.owner.size)

    def whole_universe(self, universe_size: int) -> bool:
        """True when the items are exactly the sampling universe in its order (no column gather needed)."""
        return self.size == universe_size and bool(np.array_equal(self.owner, np.arange(universe_size)))


def _standardise(values: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (constant columns become 0); Pearson r is invariant to this."""
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(axis=0)
    scale = np.sqrt((centred ** 2).mean(axis=0))
    constant = scale <= np.abs(values).max(axis=0, initial=0.0) * 1e-12
    return np.where(constant, 0.0, centred / np.where(constant, 1.0, scale))


def _moment_features(y: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    """Columns whose sample sums give the Pearson moments: 1, y, y^2, x, x^2, x*y."""
    ys, xs = _standardise(y), _standardise(x)
    return [np.ones((len(y), 1)), ys[:, None], ys[:, None] ** 2, xs, xs ** 2, xs * ys[:, None]]


def _tie_groups(sorted_values: np.ndarray) -> np.ndarray | None:
    """Tie-group id of each position of a sorted vector (+ one pad group), or ``None`` if all values differ."""
    new = np.ones(sorted_values.size, bool)
    new[1:] = sorted_values[1:] != sorted_values[:-1]
    if new.all():
        return None
    groups = np.cumsum(new) - 1
    return np.append(groups, groups[-1] + 1 if groups.size else 0).astype(np.int32)


def _plan(data: ScoringData, name: str, universe_position: np.ndarray, present: np.ndarray,
          spearman: str) -> _SubsetPlan | None:
    items = data.subset_items(name, present)
    if len(items) < 2:
        return None
    y, x = data.vectors(name, items, range(len(data.names)))
    carrier = items[:, 0] if name in PAIR_SUBSETS else items
    owner = universe_position[carrier]
    # exact Spearman needs the items in truth order; the matrix-product path only needs the sampled columns, and
    # in the sampling universe's order a subset covering the whole universe ("all") needs no column gather at all
    order = np.argsort(y, kind="stable") if spearman == "exact" else np.argsort(owner, kind="stable")
    y, x, owner = y[order], x[order], owner[order]
    k, models = len(y), x.shape[1]
    columns = _moment_features(y, x)
    model_ordinal = np.zeros((0, k + 1), np.int32)
    model_groups: list[np.ndarray | None] = []
    truth_groups = None
    if spearman == "global":
        columns += _moment_features(rankdata(y), rankdata(x, axis=0))
    else:
        truth_groups = _tie_groups(y)
        model_ordinal = np.empty((models, k + 1), np.int32)
        for model in range(models):
            model_order = np.argsort(x[:, model], kind="stable")
            model_ordinal[model, model_order] = np.arange(k, dtype=np.int32)
            model_ordinal[model, k] = k
            model_groups.append(_tie_groups(x[model_order, model]))
    return _SubsetPlan(
        name=name,
        weight=SUBSET_WEIGHTS[name],
        owner=owner,
        features=np.ascontiguousarray(np.concatenate(columns, axis=1), dtype=np.float32),
        truth_groups=truth_groups,
        model_ordinal=model_ordinal,
        model_groups=model_groups,
    )


def _pearson_from_moments(stats: np.ndarray, models: int, offset: int) -> np.ndarray:
    """Within-sample Pearson r ``[samples, models]`` from the moment columns starting at ``offset``."""
    count = stats[:, :1]
    sy, syy = stats[:, offset:offset + 1], stats[:, offset + 1:offset + 2]
    base = offset + 2
    sx, sxx, sxy = (stats[:, base + j * models: base + (j + 1) * models] for j in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_y, mean_x = sy / count, sx / count
        var_y = syy - sy * mean_y
        var_x = sxx - sx * mean_x
        cov = sxy - sx * mean_y
        r = cov / np.sqrt(var_x * var_y)
    # standardised columns: a within-sample variance at rounding level means a constant column (undefined r)
    undefined = (var_x <= 1e-5 * count) | (var_y <= 1e-5 * count)
    return np.where(undefined, np.nan, np.clip(r, -1.0, 1.0))


def _segment_average_ranks(groups: np.ndarray) -> np.ndarray:
    """1-based average ranks of the positions of each row, runs of equal ``groups`` values being ties."""
    width = groups.shape[1]
    positions = np.arange(width)
    new = np.ones(groups.shape, bool)
    new[:, 1:] = groups[:, 1:] != groups[:, :-1]
    last = np.ones(groups.shape, bool)
    last[:, :-1] = new[:, 1:]
    start = np.maximum.accumulate(np.where(new, positions, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, positions, width)[:, ::-1], axis=1)[:, ::-1]
    return (start + end) / 2.0 + 1.0


def _exact_spearman(mask: np.ndarray, plan: _SubsetPlan, threads: int = 1) -> np.ndarray:
    """Exact within-sample Spearman rho ``[samples, models]`` (scipy's definition: Pearson r of average ranks).

    ``mask`` ``[samples, k]`` marks the sampled items, columns in truth order. Per model, the sampled items' packed
    keys ``model ordinal << bits | truth slot`` are sorted row-wise; the slot read back at each model-ordered
    position gives the pairing of model ranks with truth ranks.
    """
    samples = mask.shape[0]
    models = plan.model_ordinal.shape[0]
    rows, columns = np.nonzero(mask)  # row-major: columns ascend, i.e. members come in truth order
    counts = np.bincount(rows, minlength=samples)
    width = int(counts.max(initial=0))
    result = np.full((samples, models), np.nan)
    if width < 2:
        return result
    starts = np.cumsum(counts) - counts
    members = np.full((samples, width), plan.size, np.int32)  # truth ordinals; pad = k (sorts after every item)
    members[rows, np.arange(rows.size) - starts[rows]] = columns
    del rows, columns
    slot = np.arange(width)
    valid = slot[None, :] < counts[:, None]
    count = counts.astype(np.float64)
    centre = count * ((count + 1.0) / 2.0) ** 2  # n * mean_rank^2 (average ranks always sum to n(n+1)/2)
    untied_squares = count * (count + 1.0) * (2.0 * count + 1.0) / 6.0
    # pads sit at slots count..width-1 and, sorting last in slot order, at the same model positions: their share of
    # the untied cross sum sum_q (q+1)(slot_q+1) is sum_{q>=count} (q+1)^2
    squares_below = np.concatenate(([0.0], np.cumsum((slot + 1.0) ** 2)))
    pad_share = squares_below[width] - squares_below[counts]
    position_weight = (slot + 1).astype(np.int64)
    if plan.truth_groups is None:
        truth_rank = None
        truth_squares = untied_squares
    else:
        truth_rank = _segment_average_ranks(plan.truth_groups[members])
        truth_squares = np.where(valid, truth_rank ** 2, 0.0).sum(axis=1)
    bits = max(1, (width - 1).bit_length())
    key_type = np.int32 if (plan.size + 1) << bits < 2 ** 31 else np.int64
    low = key_type((1 << bits) - 1)
    shift = key_type(bits)

    def one_model(model: int) -> None:
        keys = plan.model_ordinal[model][members].astype(key_type, copy=False)
        keys <<= shift
        keys |= slot.astype(key_type)
        keys.sort(axis=1)
        source = keys & low  # which member (truth slot) sits at each model-ordered position
        groups = plan.model_groups[model]
        if groups is None and truth_rank is None:
            cross = source @ position_weight + width * (width + 1) / 2.0 - pad_share
            model_squares = untied_squares
        else:
            if groups is None:
                model_rank = np.broadcast_to(slot + 1.0, (samples, width))
                model_squares = untied_squares
            else:
                model_rank = _segment_average_ranks(groups[keys >> shift])
                model_squares = np.where(valid, model_rank ** 2, 0.0).sum(axis=1)
            truth_at = source + 1.0 if truth_rank is None else np.take_along_axis(truth_rank, source.astype(np.intp), 1)
            cross = np.where(valid, model_rank * truth_at, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            denominator = np.sqrt((truth_squares - centre) * (model_squares - centre))
            rho = (cross - centre) / denominator
        result[:, model] = np.where(denominator > 1e-9 * centre, np.clip(rho, -1.0, 1.0), np.nan)

    if threads > 1 and models > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one_model, range(models)))
    else:
        for model in range(models):
            one_model(model)
    return result
    starts = np.cumsum(counts) - counts
    members = np.full((samples, width), plan.size, np.int32)  # truth ordinals; pad = k
    members[rows, np.arange(rows.size) - starts[rows]] = columns
    slot = np.arange(width)
    valid = slot[None, :] < counts[:, None]
    count = counts.astype(np.float64)
    centre = count * ((count + 1.0) / 2.0) ** 2  # n * mean_rank^2 (average ranks always sum to n(n+1)/2)
    untied_squares = count * (count + 1.0) * (2.0 * count + 1.0) / 6.0
    if plan.truth_groups is None:
        truth_rank = np.broadcast_to(slot + 1.0, (samples, width))
        truth_squares = untied_squares
    else:
        truth_rank = _segment_average_ranks(plan.truth_groups[members])
        truth_squares = np.where(valid, truth_rank ** 2, 0.0).sum(axis=1)
    bits = max(1, (width - 1).bit_length())
    key_type = np.int32 if (plan.size + 1) << bits < 2 ** 31 else np.int64
    low = (1 << bits) - 1
    for model in range(models):
        keys = plan.model_ordinal[model][members].astype(key_type)
        keys <<= bits
        keys |= slot.astype(key_type)
        keys.sort(axis=1)
        source = keys & low  # which member (truth position) sits at each model-ordered position
        if plan.model_groups[model] is None:
            model_rank = slot + 1.0
            model_squares = untied_squares
        else:
            model_rank = _segment_average_ranks(plan.model_groups[model][keys >> bits])
            model_squares = np.where(valid, model_rank ** 2, 0.0).sum(axis=1)
        if plan.truth_groups is None:
            truth_at = source + 1.0
        else:
            truth_at = np.take_along_axis(truth_rank, source.astype(np.intp), axis=1)
        cross = np.where(valid, model_rank * truth_at, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            denominator = np.sqrt((truth_squares - centre) * (model_squares - centre))
            rho = (cross - centre) / denominator
        result[:, model] = np.where(denominator > 1e-9 * centre, np.clip(rho, -1.0, 1.0), np.nan)
    return result


def sample_blocks(universe_size: int, n_samples: int, fraction: float, seed: int, block_size: int):
    """Yield ``(first sample number, float32 0/1 [block, universe_size])``: the scorable sequences each sample keeps.

    The universe is the scorable test indices in increasing order; the draw depends only on the arguments.
    """
    threshold = int(round(fraction * 2 ** _UNIFORM_BITS))
    rng = np.random.default_rng(seed)
    for first in range(0, n_samples, block_size):
        size = min(block_size, n_samples - first)
        draws = rng.integers(0, 2 ** _UNIFORM_BITS, size=(size, universe_size), dtype=np.uint16)
        yield first, np.less(draws, threshold, out=np.empty(draws.shape, np.float32), casting="unsafe")


def _rank_scores(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = best per sample (ties share the better rank; NaN ranks last)."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    return 1 + (filled[:, None, :] > filled[:, :, None]).sum(axis=2)


def bootstrap_ranks(
    predictions: Any,
    truth: Any = None,
    subsets: Any = None,
    exclude: Any = None,
    *,
    names: Sequence[str] | None = None,
    n_samples: int = 10_000,
    fraction: float = 0.1,
    seed: int = 0,
    spearman: str = "exact",
    block_size: int | None = None,
    progress: bool = False,
    return_samples: bool = False,
    threads: int | None = None,
) -> dict:
    """Rank models over bootstrap samples of the test set (see the module docstring for the exact definition).

    ``predictions`` is a :class:`ScoringData` (then ``truth``/``subsets``/``exclude`` are ignored) or anything
    :func:`seq2exp.evaluation.metrics.prepare` accepts. Returns a JSON-ready dict: per metric (``pearson``,
    ``spearman``) each model's rank counts and fractions (rank 1 = best), mean rank, mean score and 95% interval,
    and ``beats[a][b]`` = fraction of samples where ``a`` scored strictly higher than ``b``; ``mean_rank`` is the
    paper's final ranking key (average of both metrics' mean ranks). ``return_samples`` adds the per-sample score
    arrays under ``"samples"`` (numpy arrays, not JSON). ``threads`` (default: up to 2 CPUs) sorts several models
    at once in exact mode (numpy releases the GIL while sorting).
    """
    if threads is None:
        threads = min(2, os.cpu_count() or 1)
    if spearman not in SPEARMAN_METHODS:
        raise ValueError(f"spearman must be one of {SPEARMAN_METHODS}, got {spearman!r}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    data = predictions if isinstance(predictions, ScoringData) else prepare(predictions, truth, subsets, exclude,
                                                                             names=names)
    models = len(data.names)
    present = data.scorable()
    for row in range(models):
        only_here = int((data.scorable(row) & ~present).sum())
        if only_here:
            logger.warning("bootstrap: %s has %d scored indices that another model lacks; the bootstrap uses the "
                           "%d indices every model predicts", data.names[row], only_here, int(present.sum()))
    universe = np.flatnonzero(present)
    universe_position = np.full(present.size, -1, np.int64)
    universe_position[universe] = np.arange(universe.size)
    plans = [plan for name in SUBSET_NAMES if name in data.subsets
             for plan in [_plan(data, name, universe_position, present, spearman)] if plan is not None]
    if not plans:
        raise ValueError("nothing to bootstrap: no subset has two scorable items")
    threshold = int(round(fraction * 2 ** _UNIFORM_BITS))
    if block_size is None:
        block_size = int(np.clip(2 ** 24 // max(plan.size for plan in plans), 8, 512))
    pearson_scores = np.empty((n_samples, models))
    spearman_scores = np.empty((n_samples, models))
    from tqdm import tqdm

    with tqdm(total=n_samples, desc="bootstrap", unit="sample", file=sys.stderr, disable=not progress,
              mininterval=0.5) as bar:
        for first, sampled in sample_blocks(universe.size, n_samples, fraction, seed, block_size):
            size = sampled.shape[0]
            weighted_r2 = np.zeros((size, models))
            weighted_rho = np.zeros((size, models))
            total_weight = np.zeros((size, 1))
            for plan in plans:
                mask = sampled if plan.whole_universe(sampled.shape[1]) else sampled[:, plan.owner]  # float32 0/1 [block, items]
                stats = (mask @ plan.features).astype(np.float64)
                r = _pearson_from_moments(stats, models, 1)
                if spearman == "global":
                    rho = _pearson_from_moments(stats, models, 4 + 3 * models)
                else:
                    rho = _exact_spearman(mask, plan, threads)
                usable = stats[:, :1] >= 2
                weight = np.where(usable, plan.weight, 0.0)
                weighted_r2 += np.where(usable, weight * r ** 2, 0.0)
                weighted_rho += np.where(usable, weight * rho, 0.0)
                total_weight += weight
            with np.errstate(invalid="ignore", divide="ignore"):
                pearson_scores[first:first + size] = weighted_r2 / total_weight
                spearman_scores[first:first + size] = weighted_rho / total_weight
            bar.update(size)
    result = {
        "n_samples": int(n_samples),
        "fraction": threshold / 2 ** _UNIFORM_BITS,
        "seed": int(seed),
        "spearman_ranks": spearman,
        "sampling": "Poisson: each scorable test sequence kept with probability `fraction`; pairs follow their alt",
        "scored_indices": int(universe.size),
        "block_size": int(block_size),
        "models": list(data.names),
        "pearson": _summarise(pearson_scores, data.names),
        "spearman": _summarise(spearman_scores, data.names),
    }
    result["mean_rank"] = {name: (result["pearson"]["mean_rank"][name] + result["spearman"]["mean_rank"][name]) / 2
                           for name in data.names}
    if return_samples:
        result["samples"] = {"pearson": pearson_scores, "spearman": spearman_scores}
    return result


def _summarise(scores: np.ndarray, names: Sequence[str]) -> dict:
    """Rank distribution, pairwise win fractions and score summaries of ``scores`` ``[samples, models]``."""
    samples, models = scores.shape
    ranks = _rank_scores(scores)
    counts = np.stack([np.bincount(ranks[:, m] - 1, minlength=models) for m in range(models)])
    filled = np.where(np.isnan(scores), -np.inf, scores)
    beats = (filled[:, :, None] > filled[:, None, :]).mean(axis=0)
    low, high = np.full(models, np.nan), np.full(models, np.nan)
    defined = ~np.isnan(scores).all(axis=0)
    if defined.any():
        low[defined], high[defined] = np.nanpercentile(scores[:, defined], [2.5, 97.5], axis=0)
    return {
        "rank_counts": {name: counts[m].tolist() for m, name in enumerate(names)},
        "rank_fractions": {name: (counts[m] / samples).tolist() for m, name in enumerate(names)},
        "mean_rank": {name: float(ranks[:, m].mean()) for m, name in enumerate(names)},
        "mean_score": {name: _nan_mean(scores[:, m]) for m, name in enumerate(names)},
        "score_95": {name: [float(low[m]), float(high[m])] for m, name in enumerate(names)},
        "beats": {a: {b: float(beats[i, j]) for j, b in enumerate(names) if j != i} for i, a in enumerate(names)},
        "undefined_samples": {name: int(np.isnan(scores[:, m]).sum()) for m, name in enumerate(names)},
    }


def _nan_mean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan
