"""Bootstrap ranking of models, as in the challenge paper: many 10% samples of the test set, both scores per sample.

Sampling. Each sample keeps every scorable test sequence independently with probability ``fraction`` (Poisson
sampling without replacement: a sample holds 10% of the test set on average, about +-0.1% for 71,103 sequences,
and no sequence twice, so within-sample ranks have no artificial ties). The subsets of a sample are the subsets of
the test set restricted to it: a single subset keeps its sampled members, a pair subset keeps the pairs whose *alt*
sequence was sampled (the alt is the variant; refs are shared by many pairs). All models see the same samples,
over the indices every model predicts. A subset with fewer than two items in a sample is left out of that sample's
score and the weights renormalised, as in the full scoring.

Vectorisation (no Python loop over samples or samples x subsets; only over blocks of samples, subsets and models).
The scorable sequences are laid out so that each subset's carriers (its members; the alts of a pair subset) form
one contiguous column range where the subsets do not overlap; a block of samples is a boolean matrix
``[samples, sequences]`` drawn in one call. Per subset, the moments (count, sums, squares, cross products) of all
models come from one float64 matrix product ``mask[:, range] @ features`` (features summed per carrier; BLAS held to
one thread, as the blocks already run in threads), giving every within-sample Pearson r as exactly as scipy's.
Spearman rho follows the paper's definition (the Spearman rho *of the sample*, i.e. average ranks recomputed within
each sample): ``spearman="exact"`` (default) ranks each sample's members within the sample by bitmaps over the
subset's truth and model ordinals and population counts, in compiled code with no sort per sample and model
(:mod:`seq2exp.evaluation._rank_kernel`, numba; about twice as fast as numpy's radix argsorts, and the same
numbers). ``spearman="global"`` is a faster approximation:
Pearson r of each subset's *full-test-set* ranks restricted to the sample (a monotone, nearly linear map of the
within-sample ranks; it differs from the exact rho by ~1e-3-1e-2 and can swap models whose scores are that close),
computed in the same matrix product as Pearson.
"""
from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seq2exp.evaluation.metrics import ScoringData, average_ranks, prepare
from seq2exp.evaluation.subsets import PAIR_SUBSETS, SUBSET_NAMES, SUBSET_WEIGHTS

logger = logging.getLogger(__name__)

SPEARMAN_METHODS = ("exact", "global")
_UNIFORM_BITS = 16


@dataclass
class _SubsetPlan:
    """Per-subset precomputation. Items are indexed by truth ordinal (their rank in the subset's truth order)."""

    name: str
    weight: float
    items: int  # number of items (singles or pairs)
    owners: np.ndarray  # int64 [u]: sorted unique sampling columns that carry the items
    block: tuple[int, int] | None  # (start, stop) when ``owners`` is that contiguous column range
    features: np.ndarray  # float64 [u, cols]: per carrier, the sums of 1, y, y^2, then per model x, x^2, x*y (...)
    owner_items: np.ndarray  # int32: truth ordinals of the items grouped by carrier (CSR order)
    owner_ptr: np.ndarray  # int64 [u+1]: CSR offsets of each carrier's items in ``owner_items``
    truth_groups: np.ndarray | None = None  # int32 [k]: tie group of each truth ordinal (exact mode)
    model_ordinal: np.ndarray | None = None  # int32 [M, k]: model ordinal (rank in the model's order) of each item
    model_tie_start: np.ndarray | None = None  # int32 [M, k]: first model ordinal of each model ordinal's tie group
    model_tie_end: np.ndarray | None = None  # int32 [M, k]: one past its last
    model_tied: np.ndarray | None = None  # bool [M]: whether the model has ties at all


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


def _tie_groups(sorted_values: np.ndarray) -> np.ndarray:
    """Tie-group id of each position of a sorted vector (equal values, equal id; ids ascending from 0)."""
    new = np.ones(sorted_values.size, bool)
    new[1:] = sorted_values[1:] != sorted_values[:-1]
    return (np.cumsum(new) - 1).astype(np.int32)


def _subset_values(data: ScoringData, name: str, present: np.ndarray) -> tuple | None:
    """(carrier test index per item, truth [k], predictions [k, M]) of a subset's scorable items, or None."""
    items = data.subset_items(name, present)
    if len(items) < 2:
        return None
    y, x = data.vectors(name, items, range(len(data.names)))
    return (items[:, 0] if name in PAIR_SUBSETS else items), y, x


def _plan(name: str, carrier_column: np.ndarray, y: np.ndarray, x: np.ndarray, spearman: str) -> _SubsetPlan:
    """Precompute one subset: carriers' columns, per-carrier moment features, ordinals and tie ranges."""
    order = np.argsort(y, kind="stable")  # index items by truth ordinal
    y, x, carrier_column = y[order], x[order], carrier_column[order]
    k, models = len(y), x.shape[1]
    columns = _moment_features(y, x)
    if spearman == "global":
        columns += _moment_features(average_ranks(y), average_ranks(x, axis=0))[1:]
    features = np.concatenate(columns, axis=1)
    owners, inverse = np.unique(carrier_column, return_inverse=True)
    by_owner = np.argsort(inverse, kind="stable")
    owner_ptr = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=owners.size))))
    if owners.size == k:
        features = features[by_owner]
    else:
        features = np.add.reduceat(features[by_owner], owner_ptr[:-1], axis=0)
    contiguous = bool(owners[-1] - owners[0] + 1 == owners.size)
    plan = _SubsetPlan(
        name=name,
        weight=SUBSET_WEIGHTS[name],
        items=k,
        owners=owners,
        block=(int(owners[0]), int(owners[-1]) + 1) if contiguous else None,
        features=np.ascontiguousarray(features, dtype=np.float64),
        owner_items=by_owner.astype(np.int32),
        owner_ptr=owner_ptr,
    )
    if spearman == "exact":
        plan.truth_groups = _tie_groups(y)
        plan.model_ordinal = np.empty((models, k), np.int32)
        plan.model_tie_start = np.empty((models, k), np.int32)
        plan.model_tie_end = np.empty((models, k), np.int32)
        plan.model_tied = np.zeros(models, bool)
        for model in range(models):
            model_order = np.argsort(x[:, model], kind="stable")
            plan.model_ordinal[model, model_order] = np.arange(k, dtype=np.int32)
            groups = _tie_groups(x[model_order, model])
            bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])  # run starts, then k
            plan.model_tie_start[model] = bounds[groups]
            plan.model_tie_end[model] = bounds[groups + 1]
            plan.model_tied[model] = bounds.size - 1 < k
    return plan


def _column_layout(present: np.ndarray, carriers: list[np.ndarray]) -> np.ndarray:
    """Test index of each sampling column: scorable indices grouped by the first subset (largest first) carrying
    them, so that non-overlapping subsets occupy contiguous column ranges."""
    universe = np.flatnonzero(present)
    home = np.full(present.size, len(carriers), np.int64)
    for rank, carrier in sorted(enumerate(carriers), key=lambda item: -np.unique(item[1]).size):
        unassigned = carrier[home[carrier] == len(carriers)]
        home[unassigned] = rank
    return universe[np.lexsort((universe, home[universe]))]


_MOMENT_COLUMNS = 8192  # sample-mask columns turned into float64 at a time


def _moments(sampled: np.ndarray, plans: Sequence[_SubsetPlan]) -> list[np.ndarray]:
    """Per plan, the ``[samples, cols]`` sums of its features over each sample's carriers, in float64 (so that r
    is as exact as scipy's): the 0/1 mask times the features. The mask is turned into float64 a slice of columns at
    a time (bounded memory), each slice once for every plan whose carriers are a contiguous column range."""
    stats = [np.zeros((sampled.shape[0], plan.features.shape[1])) for plan in plans]
    for first in range(0, sampled.shape[1], _MOMENT_COLUMNS):
        last = min(first + _MOMENT_COLUMNS, sampled.shape[1])
        mask = None
        for plan, total in zip(plans, stats):
            if plan.block is None or plan.block[1] <= first or plan.block[0] >= last:
                continue
            if mask is None:
                mask = sampled[:, first:last].view(np.uint8).astype(np.float64)
            lo, hi = max(first, plan.block[0]), min(last, plan.block[1])
            total += mask[:, lo - first:hi - first] @ plan.features[lo - plan.block[0]:hi - plan.block[0]]
    for plan, total in zip(plans, stats):
        if plan.block is None:
            for first in range(0, plan.owners.size, _MOMENT_COLUMNS):
                last = min(first + _MOMENT_COLUMNS, plan.owners.size)
                mask = sampled[:, plan.owners[first:last]].view(np.uint8).astype(np.float64)
                total += mask @ plan.features[first:last]
    return stats


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


def _exact_spearman(plan: _SubsetPlan, sampled: np.ndarray) -> np.ndarray:
    """Every model's exact within-sample Spearman rho ``[samples, models]`` on a block of sample masks, by the
    compiled bitmap ranks of :mod:`seq2exp.evaluation._rank_kernel`."""
    from seq2exp.evaluation._rank_kernel import sample_spearman

    rho = np.empty((sampled.shape[0], plan.model_ordinal.shape[0]))
    sample_spearman(np.ascontiguousarray(sampled).view(np.uint8), plan.owners, plan.owner_ptr, plan.owner_items,
                    plan.model_ordinal, plan.model_tie_start, plan.model_tie_end, plan.model_tied, plan.truth_groups,
                    rho)
    return rho


def sample_blocks(universe_size: int, n_samples: int, fraction: float, seed: int, block_size: int):
    """Yield ``(first sample number, bool [block, universe_size])``: the sampling columns each sample keeps.

    Each entry is kept with probability ``round(fraction * 2**16) / 2**16``; the draw depends only on the arguments.
    """
    threshold = int(round(fraction * 2 ** _UNIFORM_BITS))
    generator = np.random.default_rng(seed).bit_generator
    for first in range(0, n_samples, block_size):
        size = min(block_size, n_samples - first)
        raw = generator.random_raw((size * universe_size + 3) // 4)  # 4 uniform 16-bit numbers per 64-bit draw
        yield first, raw.view(np.uint16)[: size * universe_size].reshape(size, universe_size) < threshold


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
    arrays under ``"samples"`` (numpy arrays, not JSON; ``"columns"`` maps the sample masks' columns to test
    indices). ``threads`` (default: up to 2 CPUs) scores that many blocks of
    samples at once (the compiled rank kernel and numpy's matrix products release the GIL).
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
    values = {name: found for name in SUBSET_NAMES if name in data.subsets
              for found in [_subset_values(data, name, present)] if found is not None}
    if not values:
        raise ValueError("nothing to bootstrap: no subset has two scorable items")
    columns = _column_layout(present, [carrier for name, (carrier, _, _) in values.items() if name != "all"])
    column_of = np.full(present.size, -1, np.int64)
    column_of[columns] = np.arange(columns.size)
    plans = [_plan(name, column_of[carrier], y, x, spearman) for name, (carrier, y, x) in values.items()]
    threshold = int(round(fraction * 2 ** _UNIFORM_BITS))
    if block_size is None:
        block_size = int(np.clip(2 ** 24 // columns.size, 8, 512))
    pearson_scores = np.empty((n_samples, models))
    spearman_scores = np.empty((n_samples, models))
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    def score_block(first: int, sampled: np.ndarray) -> int:
        size = sampled.shape[0]
        weighted_r2 = np.zeros((size, models))
        weighted_rho = np.zeros((size, models))
        total_weight = np.zeros((size, 1))
        for plan, stats in zip(plans, _moments(sampled, plans)):
            r = _pearson_from_moments(stats, models, 1)
            if spearman == "global":
                rho = _pearson_from_moments(stats, models, 3 + 3 * models)
            else:
                rho = _exact_spearman(plan, sampled)
            usable = stats[:, :1] >= 1.5
            weight = np.where(usable, plan.weight, 0.0)
            weighted_r2 += np.where(usable, weight * r ** 2, 0.0)
            weighted_rho += np.where(usable, weight * rho, 0.0)
            total_weight += weight
        with np.errstate(invalid="ignore", divide="ignore"):
            pearson_scores[first:first + size] = weighted_r2 / total_weight
            spearman_scores[first:first + size] = weighted_rho / total_weight
        return size

    blocks = sample_blocks(columns.size, n_samples, fraction, seed, block_size)
    # one BLAS thread per matrix product: the blocks already run in `threads` threads, and BLAS's own threads would
    # compete with them (and make the sums depend on the thread count)
    with threadpool_limits(limits=1, user_api="blas"), tqdm(total=n_samples, desc="bootstrap", unit="sample",
                                                            file=sys.stderr, disable=not progress,
                                                            mininterval=0.5) as bar:
        if threads > 1 and n_samples > block_size:
            # several blocks at once (the compiled kernel and numpy's gathers release the GIL); at most `threads`
            # blocks in flight, so memory stays at a few masks
            from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

            with ThreadPoolExecutor(max_workers=threads) as pool:
                pending: set = set()
                for first, sampled in blocks:
                    if len(pending) >= threads:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            bar.update(future.result())
                    pending.add(pool.submit(score_block, first, sampled))
                for future in pending:
                    bar.update(future.result())
        else:
            for first, sampled in blocks:
                bar.update(score_block(first, sampled))
    result = {
        "n_samples": int(n_samples),
        "fraction": threshold / 2 ** _UNIFORM_BITS,
        "seed": int(seed),
        "spearman_ranks": spearman,
        "sampling": "Poisson: each scorable test sequence kept with probability `fraction`; pairs follow their alt",
        "scored_indices": int(columns.size),
        "block_size": int(block_size),
        "models": list(data.names),
        "pearson": _summarise(pearson_scores, data.names),
        "spearman": _summarise(spearman_scores, data.names),
    }
    result["mean_rank"] = {name: (result["pearson"]["mean_rank"][name] + result["spearman"]["mean_rank"][name]) / 2
                           for name in data.names}
    if return_samples:
        # columns: the test index of each column of the masks that sample_blocks(len(columns), ...) yields
        result["samples"] = {"pearson": pearson_scores, "spearman": spearman_scores, "columns": columns}
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
