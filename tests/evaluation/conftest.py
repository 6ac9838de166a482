"""Hand-built scoring problems shared by the evaluation tests (expected numbers come from scipy, not our code)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, SHARED  # noqa: F401 (REPO_ROOT re-exported for the tests)

SHARED_REFERENCE = SHARED / "reference" / "prixfixe" / "evaluation.py"

SUBSET_FILES = {
    "high": "high_exp_seqs.csv",
    "low": "low_exp_seqs.csv",
    "yeast": "yeast_seqs.csv",
    "random": "all_random_seqs.csv",
    "challenging": "challenging_seqs.csv",
    "SNVs": "all_SNVs_seqs.csv",
    "motif_perturbation": "motif_perturbation_seqs.csv",
    "motif_tiling": "motif_tiling_seqs.csv",
}
LEADERBOARD_FILES = {
    "high": "high_exp_indices.json",
    "low": "low_exp_indices.json",
    "yeast": "yeast_exp_indices.json",
    "random": "random_exp_indices.json",
    "challenging": "challenging_exp_indices.json",
    "SNVs": "SNVs_exp_indices.json",
    "motif_perturbation": "motif_perturbation_exp_indices.json",
    "motif_tiling": "motif_tiling_exp_indices.json",
}
PAIRS = ("SNVs", "motif_perturbation", "motif_tiling")
# the paper's subset weights, written out here rather than read from seq2exp.evaluation.subsets
WEIGHTS = {"all": 1, "high": .3, "low": .3, "yeast": .3, "random": .3, "challenging": .5, "SNVs": 1.25,
           "motif_perturbation": .3, "motif_tiling": .4}


def subset_vectors(truth: np.ndarray, pred: np.ndarray, name: str, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(measured, predicted) vectors of a subset's items: the values for singles, alt - ref differences for pairs."""
    if name in PAIRS:
        return truth[items[:, 0]] - truth[items[:, 1]], pred[items[:, 0]] - pred[items[:, 1]]
    return truth[items], pred[items]


def make_problem(n: int = 600, seed: int = 0) -> dict:
    """Truth, two prediction vectors, and every subset kind (singles disjoint, pairs with shared refs)."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(11, 2, size=n)
    good = truth + rng.normal(0, 1.0, size=n)
    poor = truth + rng.normal(0, 3.0, size=n)
    order = rng.permutation(n)
    sizes = {"high": 40, "low": 40, "yeast": 30, "random": 80, "challenging": 50}
    subsets, cursor = {}, 0
    for name, size in sizes.items():
        subsets[name] = np.sort(order[cursor:cursor + size])
        cursor += size
    rest = order[cursor:]
    for name, size in zip(PAIRS, (120, 60, 50)):
        alt = rest[:size]
        rest = rest[size:]
        refs = rest[:7]  # a few refs shared by many pairs, like the real motif subsets
        subsets[name] = np.stack([alt, refs[np.arange(size) % refs.size]], axis=1)
        rest = rest[7:]
    return {"truth": truth, "good": good, "poor": poor, "subsets": subsets}


def write_subset_csvs(folder: Path, subsets: dict, duplicate_rows: bool = True) -> Path:
    """The challenge's CSV layout (extra columns, repeated rows as in challenging_seqs.csv)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in subsets.items():
        lines = []
        rows = np.concatenate([items, items[:3]]) if duplicate_rows and len(items) >= 3 else items
        if name in PAIRS:
            lines.append(",alt_tag,ref_tag,alt_sequence,ref_sequence,alt_pos,ref_pos,alt_exp,ref_exp")
            for i, (alt, ref) in enumerate(rows.tolist()):
                lines.append(f"{i},a{alt},r{ref},ACGT,ACGT,{alt},{ref},,")
        else:
            lines.append(",tag,sequence,pos,exp")
            for i, index in enumerate(rows.tolist()):
                lines.append(f"{i},t{index},ACGT,{index},")
        (folder / SUBSET_FILES[name]).write_text("\n".join(lines) + "\n")
    return folder


def write_leaderboard(folder: Path, truth: np.ndarray, public: dict) -> Path:
    """Leaderboard JSONs: ``{"idx": v}`` for singles, ``{"alt,ref": [a, r]}`` for pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in public.items():
        if name in PAIRS:
            content = {f"{a},{r}": [float(truth[a]), float(truth[r])] for a, r in np.asarray(items).tolist()}
        else:
            content = {str(i): float(truth[i]) for i in np.asarray(items).tolist()}
        (folder / LEADERBOARD_FILES[name]).write_text(json.dumps(content))
    return folder


def write_dream(path: Path, sequences: list[str], values) -> Path:
    text = "".join(f"{s}\t{'' if v is None else repr(float(v))}\n" for s, v in zip(sequences, values))
    path.write_text(text)
    return path


def random_sequences(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return ["".join(row) for row in letters[rng.integers(0, 4, size=(n, 12))]]


@pytest.fixture
def problem() -> dict:
    return make_problem()

