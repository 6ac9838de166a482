"""The bootstrap's compiled inner loop (numba): exact within-sample Spearman rho of every model in every sample.

Within-sample ranks without a sort per sample and model. A subset's items are known in advance by truth ordinal
(their rank in the subset's truth order) and, per model, by model ordinal; a sample holds some of them. Set the
sampled items' ordinals as bits of a bitmap (one bit per item of the subset) and count the set bits of each 64-bit
word once (a running prefix): the within-sample rank of an item is then the prefix of its word plus the population
count of the bits below it in that word. That is a few instructions per item and one pass over ``k / 64`` words
per sample and model, with no comparison sort. Ties get average ranks (scipy's ``rankdata``): a tie group is a run
of model ordinals ``[start, end)``; its sampled members share ``rank(start) + (count in the run + 1) / 2``. The truth
side reads the truth bitmap back in ascending order (lowest set bit by ``cttz``), which also orders each model's
ordinal lookups by address.

Sums are accumulated in float64; the rank products are quarter-integers far below 2**53, so they are exact.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_ONE = np.uint64(1)
_SIX = np.uint64(6)
_LOW_BITS = np.uint64(63)


@intrinsic
def _popcount(typingctx, value):
    """LLVM's ``ctpop`` (one POPCNT instruction on x86-64) of a uint64."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@intrinsic
def _lowest_bit(typingctx, value):
    """LLVM's ``cttz``: index of the lowest set bit of a non-zero uint64."""
    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], context.get_constant(types.boolean, True))
    return types.uint64(types.uint64), codegen


@numba.njit(nogil=True, cache=True)
def _set_bit(bitmap, index):
    bitmap[np.uint64(index) >> _SIX] |= _ONE << (np.uint64(index) & _LOW_BITS)


@numba.njit(nogil=True, cache=True)
def _count_prefix(bitmap, prefix):
    """``prefix[w]`` = set bits in words before ``w``."""
    running = 0
    for word in range(bitmap.size):
        prefix[word] = running
        running += _popcount(bitmap[word])


@numba.njit(nogil=True, cache=True)
def _rank_below(bitmap, prefix, index):
    """Number of set bits below bit ``index``."""
    word = np.uint64(index) >> _SIX
    below = bitmap[word] & ((_ONE << (np.uint64(index) & _LOW_BITS)) - _ONE)
    return prefix[word] + np.int64(_popcount(below))


@numba.njit(nogil=True, cache=True)
def sample_spearman(mask, owners, owner_ptr, owner_items, model_ordinal, model_tie_start, model_tie_end, model_tied,
                    truth_groups, rho):
    """Fill ``rho[s, m]``: Spearman rho (Pearson r of average ranks, scipy's) of model ``m`` on sample ``s``.

    ``mask[s, c]`` (uint8): whether sample ``s`` keeps sampling column ``c``. Carrier ``j`` of the subset is column
    ``owners[j]`` and carries the items (truth ordinals, of a subset of ``k`` items) ``owner_items[owner_ptr[j]:
    owner_ptr[j + 1]]``. ``model_ordinal[m, t]``: model ``m``'s ordinal of truth ordinal ``t``.
    ``model_tie_start[m, o]`` / ``model_tie_end[m, o]``: the ordinal range ``[start, end)`` of the tie group of model ordinal ``o`` (read only
    where ``model_tied[m]``). ``truth_groups[t]``: tie-group id of truth ordinal ``t``. NaN where a sample has fewer
    than two items or either side is constant in it.
    """
    samples = mask.shape[0]
    k = model_ordinal.shape[1]
    models = model_ordinal.shape[0]
    width = max(k, 1)
    words = k // 64 + 1  # bit k (a tie run's end at k) stays addressable
    bitmap = np.zeros(words, np.uint64)
    prefix = np.zeros(words, np.int64)
    truth_sorted = np.empty(width, np.int64)
    truth_rank = np.empty(width, np.float64)
    ordinal_of = np.empty(width, np.int64)
    for sample in range(samples):
        kept = mask[sample]
        n = 0
        for carrier in range(owners.size):
            if kept[owners[carrier]]:
                for position in range(owner_ptr[carrier], owner_ptr[carrier + 1]):
                    _set_bit(bitmap, owner_items[position])
                n += owner_ptr[carrier + 1] - owner_ptr[carrier]
        if n < 2:
            bitmap[:] = 0
            for model in range(models):
                rho[sample, model] = np.nan
            continue
        count = 0
        for word in range(words):  # the sample in truth order
            bits = bitmap[word]
            bitmap[word] = 0
            while bits != 0:
                truth_sorted[count] = word * 64 + np.int64(_lowest_bit(bits))
                bits &= bits - _ONE
                count += 1
        truth_squares = 0.0
        start = 0
        for position in range(1, n + 1):  # average ranks over runs of equal truth
            if position == n or truth_groups[truth_sorted[position]] != truth_groups[truth_sorted[start]]:
                average = (start + 1 + position) / 2.0
                for tied in range(start, position):
                    truth_rank[tied] = average
                truth_squares += (position - start) * average * average
                start = position
        centre = n * ((n + 1) / 2.0) ** 2  # n * mean rank ** 2 (average ranks always sum to n (n + 1) / 2)
        untied_squares = n * (n + 1.0) * (2.0 * n + 1.0) / 6.0
        for model in range(models):
            ordinals = model_ordinal[model]
            for slot in range(n):
                ordinal = ordinals[truth_sorted[slot]]
                ordinal_of[slot] = ordinal
                _set_bit(bitmap, ordinal)
            _count_prefix(bitmap, prefix)
            cross = 0.0
            if model_tied[model]:
                starts, ends = model_tie_start[model], model_tie_end[model]
                model_squares = 0.0
                for slot in range(n):
                    ordinal = ordinal_of[slot]
                    below = _rank_below(bitmap, prefix, starts[ordinal])
                    tied = _rank_below(bitmap, prefix, ends[ordinal]) - below
                    rank = below + (tied + 1) / 2.0
                    cross += rank * truth_rank[slot]
                    model_squares += rank * rank
            else:
                for slot in range(n):
                    cross += (_rank_below(bitmap, prefix, ordinal_of[slot]) + 1.0) * truth_rank[slot]
                model_squares = untied_squares
            for slot in range(n):
                bitmap[np.uint64(ordinal_of[slot]) >> _SIX] = 0
            denominator = np.sqrt((truth_squares - centre) * (model_squares - centre))
            if denominator > 1e-9 * centre:
                rho[sample, model] = min(1.0, max(-1.0, (cross - centre) / denominator))
            else:
                rho[sample, model] = np.nan
