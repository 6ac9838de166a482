"""The measurement: cells sorted into 18 expression bins, mean bin per sequence (the challenge's 0-17 scale).

Each cell carrying a promoter has log-fluorescence ``x + cell_sigma * noise`` (``x`` from the model); the sorter puts
it in bin ``b`` when it falls in ``[b, b + 1)`` (bin 0 and bin 17 are open-ended). Sequencing recovers each cell's
bin with a random number of reads; a sequence's expression is the read-weighted mean bin over its cells. Training
sequences are seen in few cells (often one: then the value is an integer bin); test sequences in about 100 cells.
The noise-free ground truth is the expected mean bin ``E[bin | x]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

N_BINS = 18


@dataclass(frozen=True)
class AssayParams:
    """Constants of the simulated sort-seq assay (calibrated on the demo data, see docs/simulator.md)."""

    cell_sigma: float = 1.25          # cell-to-cell log-fluorescence noise, in bins
    single_cell_share: float = 0.545  # training sequences observed in exactly one cell
    extra_cells_mean: float = 2.5     # mean of (cells - 2) for the others (geometric)
    read_shape: float = 2.0           # Gamma shape of a cell's read weight
    test_cells_mean: float = 100.0    # test sequences: Poisson number of cells (at least 20)


def expected_mean_bin(x: np.ndarray, cell_sigma: float) -> np.ndarray:
    """Noise-free expected bin of a promoter with log-expression ``x``: ``sum_k P(cell >= k)``, k = 1..17."""
    x = np.asarray(x, dtype=np.float64)
    edges = np.arange(1, N_BINS, dtype=np.float64)
    return ndtr((x[..., None] - edges) / cell_sigma).sum(axis=-1)


def sample_cell_counts(rng: np.random.Generator, n: int, params: AssayParams, *, test: bool = False) -> np.ndarray:
    """Cells observed per sequence (``[n]`` int64)."""
    if test:
        return np.maximum(rng.poisson(params.test_cells_mean, size=n), 20)
    single = rng.random(n) < params.single_cell_share
    extra = rng.geometric(1.0 / (1.0 + params.extra_cells_mean), size=n) - 1
    return np.where(single, 1, 2 + extra)


def measure(rng: np.random.Generator, x: np.ndarray, cells: np.ndarray, params: AssayParams) -> np.ndarray:
    """Sort the cells of every sequence into bins and return the read-weighted mean bin (``[n]`` float64).

    Sequences whose cells all fell in one bin get that bin exactly (an integer value, as in the real data).
    """
    n = len(x)
    owner = np.repeat(np.arange(n), cells)
    fluorescence = x[owner] + params.cell_sigma * rng.standard_normal(len(owner))
    bins = np.clip(np.floor(fluorescence), 0, N_BINS - 1)
    weights = rng.gamma(params.read_shape, 1.0, size=len(owner))
    starts = np.concatenate(([0], np.cumsum(cells)[:-1]))
    weighted = np.add.reduceat(weights * bins, starts)
    total = np.add.reduceat(weights, starts)
    lowest = np.minimum.reduceat(bins, starts)
    highest = np.maximum.reduceat(bins, starts)
    value = weighted / total
    same_bin = lowest == highest
    value[same_bin] = lowest[same_bin]
    return np.clip(value, 0.0, N_BINS - 1)
