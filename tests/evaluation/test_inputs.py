"""Reading predictions/truth/subsets/exclusions, and every degenerate input: a clear answer, never a crash."""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr

from seq2exp.errors import InputFormatError
from seq2exp.evaluation import Exclusion, UndefinedCorrelationWarning, load_subsets, read_values, score

from .conftest import random_sequences, write_dream, write_leaderboard, write_subset_csvs


def test_real_demo_subset_csvs_load(demo_subsets):
    subsets = load_subsets(demo_subsets)
    sizes = {name: len(items) for name, items in subsets.items()}
    # the README's unique counts (challenging 1,981 rows / 1,953 unique; yeast 964 / 578; pairs deduplicated)
    assert sizes == {"high": 968, "low": 997, "yeast": 578, "random": 6349, "challenging": 1953,
                     "motif_perturbation": 3287, "motif_tiling": 2624}
    assert subsets["motif_tiling"].shape == (2624, 2)
    assert all(items.max() < 71103 for items in subsets.values())


def test_dream_and_json_inputs_give_the_same_scores(tmp_path, problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    sequences = random_sequences(len(truth))
    truth_file = write_dream(tmp_path / "truth.txt", sequences, truth)
    pred_file = write_dream(tmp_path / "pred.txt", sequences, pred)
    pred_json = tmp_path / "pred.json"
    pred_json.write_text(json.dumps({str(i): float(v) for i, v in enumerate(pred)}))
    folder = write_subset_csvs(tmp_path / "test_subset_ids", subsets)
    from_text = score(str(pred_file), str(truth_file), str(folder))
    from_json = score(str(pred_json), str(truth_file), str(folder))
    from_arrays = score(pred, truth, subsets)
    for other in (from_json, from_arrays):
        assert other["pearson_score"] == pytest.approx(from_text["pearson_score"], abs=1e-12)
        assert other["spearman_score"] == pytest.approx(from_text["spearman_score"], abs=1e-12)
    table = read_values(truth_file)
    assert table.ordered and table.n == len(truth) and np.array_equal(table.values, truth)


def test_truth_from_a_leaderboard_folder_with_pair_entries(tmp_path, problem):
    truth, pred, subsets = problem["truth"], problem["good"], problem["subsets"]
    public = {"high": subsets["high"], "SNVs": subsets["SNVs"][:30]}
    folder = write_leaderboard(tmp_path / "public", truth, public)
    table = read_values(folder)
    expected = np.unique(np.concatenate([subsets["high"], subsets["SNVs"][:30].ravel()]))
    assert np.array_equal(np.flatnonzero(table.present), expected)
    result = score(pred, folder, subsets)
    assert result["subsets"]["SNVs"]["n"] == 30
    assert result["subsets"]["high"]["n"] == len(subsets["high"])


def test_exclusion_folder(tmp_path, problem):
    truth, subsets = problem["truth"], problem["subsets"]
    folder = write_leaderboard(tmp_path / "public", truth, {"low": subsets["low"][:5],
                                                           "motif_tiling": subsets["motif_tiling"][:3]})
    exclusion = Exclusion.from_folder(folder)
    assert set(exclusion.indices.tolist()) == set(subsets["low"][:5].tolist()) | set(
        subsets["motif_tiling"][:3].ravel().tolist())
    assert exclusion.pairs.shape == (3, 2)
    with pytest.raises(InputFormatError, match="no leaderboard id file"):
        Exclusion.from_folder(tmp_path)


def test_constant_predictions_give_nan_with_a_warning(problem):
    truth = problem["truth"]
    with pytest.warns(UndefinedCorrelationWarning, match="constant predictions"):
        result = score(np.full(len(truth), 7.0), truth)
    assert math.isnan(result["subsets"]["all"]["pearson"])
    assert math.isnan(result["pearson_score"]) and math.isnan(result["spearman_score"])


def test_constant_only_within_one_pair_subset(problem):
    truth, subsets = problem["truth"], problem["subsets"]
    pred = problem["good"].copy()
    alt, ref = subsets["motif_tiling"].T
    pred[alt] = pred[ref] + 0.5  # every predicted difference is the same
    with pytest.warns(UndefinedCorrelationWarning, match="motif_tiling"):
        result = score(pred, truth, subsets)
    assert math.isnan(result["subsets"]["motif_tiling"]["pearson"])
    assert not math.isnan(result["subsets"]["SNVs"]["pearson"])


def test_nan_and_inf_predictions(tmp_path, problem):
    truth, pred = problem["truth"], problem["good"].copy()
    pred[17], pred[40] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"test index 17 has the non-finite value NaN \(2 non-finite"):
        score(pred, truth)
    dropped = score(pred, truth, nonfinite="drop")
    keep = np.isfinite(pred)
    assert dropped["subsets"]["all"]["n"] == len(truth) - 2
    assert dropped["subsets"]["all"]["pearson"] == pytest.approx(pearsonr(truth[keep], pred[keep])[0], abs=1e-12)
    # in files too: DREAM (line = index + 1) and JSON (NaN token)
    sequences = random_sequences(len(truth))
    with pytest.raises(InputFormatError, match="line 18"):
        score(str(write_dream(tmp_path / "p.txt", sequences, pred)), truth)
    (tmp_path / "p.json").write_text('{"0": 1.0, "1": NaN, "2": 3.0}')
    with pytest.raises(InputFormatError, match="test index 1 has the non-finite value NaN "):  # as the file has it
        read_values(tmp_path / "p.json")
    (tmp_path / "q.json").write_text('{"0": 1.0, "1": 2.0, "2": "-inf", "3,1": [-Infinity, 2.0]}')
    with pytest.raises(InputFormatError, match=r"test index 2 has the non-finite value '-inf' \(2 non-finite"):
        read_values(tmp_path / "q.json")
    table = read_values(tmp_path / "p.json", nonfinite="drop")
    assert table.present.tolist() == [True, False, True]


def test_length_mismatch_names_the_first_bad_index(tmp_path, problem):
    truth, pred = problem["truth"], problem["good"]
    sequences = random_sequences(len(truth))
    truth_file = write_dream(tmp_path / "truth.txt", sequences, truth)
    short = write_dream(tmp_path / "short.txt", sequences[:-5], pred[:-5])
    with pytest.raises(InputFormatError, match=f"test index {len(truth) - 5}"):
        score(str(short), str(truth_file))
    beyond = tmp_path / "beyond.json"
    beyond.write_text(json.dumps({"3": 1.0, str(len(truth) + 2): 2.0}))
    with pytest.raises(InputFormatError, match=f"test index {len(truth) + 2}"):
        score(str(beyond), str(truth_file))


def test_sequence_mismatch_names_the_index(tmp_path, problem):
    truth, pred = problem["truth"], problem["good"]
    sequences = random_sequences(len(truth))
    shuffled = list(sequences)
    shuffled[9], shuffled[10] = shuffled[10], shuffled[9]
    truth_file = write_dream(tmp_path / "truth.txt", sequences, truth)
    pred_file = write_dream(tmp_path / "pred.txt", shuffled, pred)
    if sequences[9] != sequences[10]:
        with pytest.raises(InputFormatError, match="test index 9"):
            score(str(pred_file), str(truth_file))


def test_duplicated_indices(tmp_path):
    (tmp_path / "dup.json").write_text('{"0": 1.0, "1": 2.0, "01": 3.0}')
    with pytest.raises(InputFormatError, match="duplicated test index 1"):
        read_values(tmp_path / "dup.json")
    (tmp_path / "same_key.json").write_text('{"4": 1.0, "4": 1.0}')
    with pytest.raises(InputFormatError, match="duplicated test index 4"):
        read_values(tmp_path / "same_key.json")
    # a ref shared by several leaderboard pairs repeats its (identical) value: fine; conflicting values: error
    (tmp_path / "pairs.json").write_text('{"1,0": [2.0, 5.0], "2,0": [3.0, 5.0]}')
    assert read_values(tmp_path / "pairs.json").values.tolist() == [5.0, 2.0, 3.0]
    (tmp_path / "bad_pairs.json").write_text('{"1,0": [2.0, 5.0], "2,0": [3.0, 6.0]}')
    with pytest.raises(InputFormatError, match="duplicated test index 0"):
        read_values(tmp_path / "bad_pairs.json")


def test_bad_json_values_and_keys(tmp_path):
    for text, message in (('{"a": 1.0}', "not an integer test index"), ('{"-3": 1.0}', "negative test index"),
                          ('{"3": "x"}', "not a number"), ('[1, 2]', "expected a JSON object"),
                          ('{"3": 1.0', "not valid JSON")):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(InputFormatError, match=message):
            read_values(tmp_path / "bad.json")
    (tmp_path / "null.json").write_text('{"0": 1.0, "1": null}')
    assert read_values(tmp_path / "null.json").present.tolist() == [True, False]


def test_empty_and_tiny_subsets_are_missing(problem):
    truth, pred = problem["truth"], problem["good"]
    subsets = {"high": np.zeros(0, np.int64), "low": np.array([5]), "SNVs": np.zeros((0, 2), np.int64),
               "yeast": np.arange(20)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = score(pred, truth, subsets)
    assert {"high", "low", "SNVs"} <= set(result["missing_subsets"])
    assert set(result["subsets"]) == {"all", "yeast"}
    # everything excluded: the subset is missing, not an error
    excluded = score(pred, truth, {"yeast": np.arange(20)}, exclude={"yeast": np.arange(20)})
    assert "yeast" in excluded["missing_subsets"]


def test_subset_index_beyond_the_truth(tmp_path, problem):
    truth, pred = problem["truth"], problem["good"]
    sequences = random_sequences(len(truth))
    truth_file = write_dream(tmp_path / "truth.txt", sequences, truth)
    with pytest.raises(InputFormatError, match=f"test index {len(truth) + 4}"):
        score(pred, str(truth_file), {"high": np.array([1, 2, len(truth) + 4])})
    with pytest.raises(ValueError, match="unknown subset"):
        score(pred, truth, {"native": np.array([1, 2])})


def test_empty_truth_values_are_not_scored(tmp_path, problem):
    truth, pred = problem["truth"], problem["good"]
    sequences = random_sequences(len(truth))
    partial = [None if i % 3 == 0 else v for i, v in enumerate(truth)]
    truth_file = write_dream(tmp_path / "truth.txt", sequences, partial)
    result = score(pred, str(truth_file))
    keep = np.arange(len(truth)) % 3 != 0
    assert result["subsets"]["all"]["n"] == keep.sum()
    assert result["subsets"]["all"]["pearson"] == pytest.approx(pearsonr(truth[keep], pred[keep])[0], abs=1e-12)
