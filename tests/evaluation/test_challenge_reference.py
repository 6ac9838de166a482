"""Our scores against the challenge's own ``evaluate_predictions`` (executed read-only from ../shared).

The script reads hard-coded ``data/...`` paths relative to the working folder, so each test lays out a synthetic
test set in that shape inside a temporary folder, runs the script there, and parses the numbers it prints.
"""
from __future__ import annotations

import importlib.util
import re

import pytest

from seq2exp.evaluation import score
from tests.conftest import require_shared

from .conftest import SHARED_REFERENCE, make_problem, random_sequences, write_dream, write_leaderboard, \
    write_subset_csvs

LABELS = {"all": "all", "high": "high", "low": "low", "yeast": "yeast", "random": "random",
          "challenging": "challenging", "SNVs": "SNVs", "motif_perturbation": "motif perturbation",
          "motif_tiling": "motif tiling"}


@pytest.fixture(scope="module")
def reference():
    require_shared(SHARED_REFERENCE)  # the oracle of this file: missing means failing, not skipping
    spec = importlib.util.spec_from_file_location("dream_reference_evaluation", SHARED_REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_reference(reference, folder, predictions, discard, capsys, monkeypatch) -> dict:
    monkeypatch.chdir(folder)
    capsys.readouterr()
    reference.evaluate_predictions(predictions, discard_public_leaderboard_indices=discard)
    text = capsys.readouterr().out

    def number(pattern: str) -> float:
        return float(re.search(pattern + r": (\S+)", text).group(1))

    parsed = {"pearson_score": number("Pearson Score"), "spearman_score": number("Spearman Score")}
    for name, label in LABELS.items():
        parsed[name] = (number(f"{label} r"), number(f"{label} \u03c1"))
    return parsed


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    problem = make_problem(n=700, seed=11)
    folder = tmp_path_factory.mktemp("challenge")
    data = folder / "data"
    data.mkdir()
    write_dream(data / "filtered_test_data_with_MAUDE_expression.txt", random_sequences(700), problem["truth"])
    write_subset_csvs(data / "test_subset_ids", problem["subsets"])
    subsets = problem["subsets"]
    public = {"high": subsets["high"][:8], "low": subsets["low"][:6], "yeast": subsets["yeast"][:5],
              "random": subsets["random"][:10], "challenging": subsets["challenging"][:7],
              "SNVs": subsets["SNVs"][:20], "motif_perturbation": subsets["motif_perturbation"][:9],
              "motif_tiling": subsets["motif_tiling"][:6]}
    write_leaderboard(data / "public_leaderboard_ids", problem["truth"], public)
    return folder, problem


@pytest.mark.parametrize("discard", [False, True], ids=["all-indices", "private-only"])
def test_matches_the_challenge_script(reference, layout, discard, capsys, monkeypatch):
    folder, problem = layout
    data = folder / "data"
    for predictions in (problem["good"], problem["poor"]):
        expected = run_reference(reference, folder, predictions, discard, capsys, monkeypatch)
        ours = score(predictions, str(data / "filtered_test_data_with_MAUDE_expression.txt"),
                     str(data / "test_subset_ids"), str(data / "public_leaderboard_ids") if discard else None)
        assert ours["missing_subsets"] == []
        assert ours["pearson_score"] == pytest.approx(expected["pearson_score"], abs=1e-12)
        assert ours["spearman_score"] == pytest.approx(expected["spearman_score"], abs=1e-12)
        for name in LABELS:
            assert ours["subsets"][name]["pearson"] == pytest.approx(expected[name][0], abs=1e-12), name
            assert ours["subsets"][name]["spearman"] == pytest.approx(expected[name][1], abs=1e-12), name
