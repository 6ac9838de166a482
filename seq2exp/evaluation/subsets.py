"""The challenge's test subsets, their weights, and the public-leaderboard exclusion.

Subsets come as ``{name: indices}`` for single subsets (``int64 [n]``) and ``{name: pairs}`` for pair subsets
(``int64 [n, 2]`` rows ``(alt, ref)``), the shapes :func:`seq2exp.data.formats.read_test_subsets` returns.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from seq2exp.data.formats import sorted_unique, unique_pairs
from seq2exp.errors import InputFormatError

# Weights of the challenge's Pearson and Spearman scores (they sum to 4.65).
SUBSET_WEIGHTS: dict[str, float] = {
    "all": 1.0,
    "high": 0.3,
    "low": 0.3,
    "yeast": 0.3,
    "random": 0.3,
    "challenging": 0.5,
    "SNVs": 1.25,
    "motif_perturbation": 0.3,
    "motif_tiling": 0.4,
}
SUBSET_NAMES: tuple[str, ...] = tuple(SUBSET_WEIGHTS)
SINGLE_SUBSETS: tuple[str, ...] = ("all", "high", "low", "yeast", "random", "challenging")
PAIR_SUBSETS: tuple[str, ...] = ("SNVs", "motif_perturbation", "motif_tiling")


def load_subsets(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a ``test_subset_ids`` folder (see :func:`seq2exp.data.formats.read_test_subsets`)."""
    from seq2exp.data.formats import read_test_subsets

    return read_test_subsets(folder)


@dataclass(frozen=True)
class Exclusion:
    """Public-leaderboard items to leave out of the scoring, as the challenge's final (private) scoring does.

    ``indices``: every index of any public single subset and both members of every public pair (dropped from "all"
    and from every single subset). ``pairs``: the public ``(alt, ref)`` pairs (dropped from every pair subset).
    """

    indices: np.ndarray  # int64 [k], sorted unique
    pairs: np.ndarray  # int64 [p, 2], unique rows

    @classmethod
    def from_leaderboard(cls, leaderboard: Mapping[str, np.ndarray]) -> "Exclusion":
        """Build from ``{name: indices or [n, 2] pairs}`` (what ``read_public_leaderboard_ids`` returns)."""
        singles, pairs = [np.zeros(0, np.int64)], [np.zeros((0, 2), np.int64)]
        for name, items in leaderboard.items():
            items = np.asarray(items, dtype=np.int64)
            if items.ndim == 2:
                if items.shape[1] != 2:
                    raise ValueError(f"exclusion {name!r}: pairs must have shape [n, 2], got {items.shape}")
                pairs.append(items)
                singles.append(items.ravel())
            else:
                singles.append(items.ravel())
        pair_array = np.concatenate(pairs)
        return cls(
            indices=sorted_unique(np.concatenate(singles)),
            pairs=unique_pairs(pair_array),
        )

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> "Exclusion":
        """Read a ``public_leaderboard_ids`` folder of JSONs (``{"idx": v}`` singles, ``{"alt,ref": [a, r]}`` pairs)."""
        from seq2exp.data.formats import LEADERBOARD_ID_FILES, read_public_leaderboard_ids

        ids = read_public_leaderboard_ids(folder)
        if not ids:
            raise InputFormatError(
                f"no leaderboard id file found; expected some of {sorted(LEADERBOARD_ID_FILES.values())}",
                path=str(Path(folder)),
            )
        return cls.from_leaderboard(ids)

    def filter_singles(self, indices: np.ndarray) -> np.ndarray:
        """``indices`` without the public ones."""
        return indices[~np.isin(indices, self.indices)]

    def filter_pairs(self, pairs: np.ndarray) -> np.ndarray:
        """``pairs`` without the exact public ``(alt, ref)`` pairs."""
        if pairs.size == 0 or self.pairs.size == 0:
            return pairs
        return pairs[~_rows_in(pairs, self.pairs)]


def _rows_in(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``[n, 2]`` integer rows of ``rows`` occur in ``table``."""
    width = int(max(rows.max(initial=0), table.max(initial=0))) + 1
    return np.isin(rows[:, 0] * width + rows[:, 1], table[:, 0] * width + table[:, 1])


def coerce_exclusion(exclude: "Exclusion | Mapping[str, np.ndarray] | str | os.PathLike | None") -> Exclusion | None:
    """Accept an :class:`Exclusion`, a leaderboard-id mapping, a folder path, or ``None``."""
    if exclude is None or isinstance(exclude, Exclusion):
        return exclude
    if isinstance(exclude, (str, os.PathLike)):
        return Exclusion.from_folder(exclude)
    return Exclusion.from_leaderboard(exclude)


def coerce_subsets(subsets: "Mapping[str, np.ndarray] | str | os.PathLike | None") -> dict[str, np.ndarray]:
    """Accept a subsets mapping, a ``test_subset_ids`` folder path, or ``None`` (only "all" is scored).

    Singles become sorted unique ``int64 [n]``; pairs unique ``int64 [n, 2]`` ``(alt, ref)`` rows (the challenge
    deduplicates both). Unknown names raise ``ValueError`` listing the valid ones.
    """
    if subsets is None:
        return {}
    if isinstance(subsets, (str, os.PathLike)):
        subsets = load_subsets(subsets)
    result: dict[str, np.ndarray] = {}
    for name, items in subsets.items():
        if name not in SUBSET_WEIGHTS or name == "all":
            raise ValueError(f"unknown subset {name!r}; valid: {[n for n in SUBSET_NAMES if n != 'all']}")
        array = np.asarray(items)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"subset {name!r}: indices must be integers, got {array.dtype}")
        array = array.astype(np.int64)
        if array.size and array.min() < 0:
            raise ValueError(f"subset {name!r}: negative test index {int(array.min())}")
        if name in PAIR_SUBSETS:
            array = array.reshape(-1, 2)
            result[name] = unique_pairs(array)
        else:
            if array.ndim != 1:
                raise ValueError(f"subset {name!r}: expected a 1-D index array, got shape {array.shape}")
            result[name] = sorted_unique(array)
    return result
