"""Ensemble without leakage, the report files, and the ``seq2exp score`` command end to end."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import pearsonr

from seq2exp.cli import main as cli_main
from seq2exp.evaluation import ensemble, prepare, score_data, with_ensemble, write_report

from .conftest import REPO_ROOT, make_problem, random_sequences, write_dream, write_leaderboard, write_subset_csvs


def test_ensemble_is_out_of_fold():
    problem = make_problem(n=600, seed=12)
    truth = problem["truth"]
    rng = np.random.default_rng(1)
    models = {"a": truth + rng.normal(0, 1, truth.size), "b": 2 * truth + rng.normal(0, 2, truth.size)}
    values, info = ensemble(models, truth, folds=5, seed=0)
    assert info["models"] == ["a", "b"] and len(info["coefficients"]) == 5
    # each prediction ignores its own measured value: changing some truths leaves their predictions unchanged
    for index in (3, 50, 400):
        changed = truth.copy()
        changed[index] += 100.0
        values_changed, _ = ensemble(models, changed, folds=5, seed=0)
        assert values_changed[index] == pytest.approx(values[index], abs=1e-9)
        assert not np.allclose(values_changed, values)  # ... while the other folds' fits did use it
    # it combines the models: better than either alone
    r = pearsonr(truth, values)[0]
    assert r > max(pearsonr(truth, models["a"])[0], pearsonr(truth, models["b"])[0])
    with pytest.raises(ValueError, match="folds"):
        ensemble(models, truth, folds=1)


def test_ensemble_is_scored_like_any_model():
    problem = make_problem(n=600, seed=13)
    data = prepare({"good": problem["good"], "poor": problem["poor"]}, problem["truth"], problem["subsets"])
    extended, info = with_ensemble(data, folds=4)
    assert extended.names == ["good", "poor", "ensemble"]
    result = score_data(extended, 2)
    assert set(result["subsets"]) == {"all", "high", "low", "yeast", "random", "challenging", "SNVs",
                                      "motif_perturbation", "motif_tiling"}
    assert result["pearson_score"] > 0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    problem = make_problem(n=600, seed=14)
    sequences = random_sequences(600)
    truth = write_dream(folder / "test.txt", sequences, problem["truth"])
    good = write_dream(folder / "good.txt", sequences, problem["good"])
    poor = folder / "poor.json"
    poor.write_text(json.dumps({str(i): float(v) for i, v in enumerate(problem["poor"])}))
    subsets = write_subset_csvs(folder / "test_subset_ids", problem["subsets"])
    public = write_leaderboard(folder / "public", problem["truth"], {"high": problem["subsets"]["high"][:5]})
    return {"folder": folder, "truth": truth, "good": good, "poor": poor, "subsets": subsets, "public": public,
            "problem": problem}


def test_cli_json_for_one_model_is_the_contract(files, capsys):
    code = cli_main(["score", "--predictions", str(files["good"]), "--truth", str(files["truth"]),
                     "--subsets", str(files["subsets"]), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert {"pearson_score", "spearman_score", "subsets", "missing_subsets"} <= set(document)
    assert document["missing_subsets"] == []
    problem = files["problem"]
    assert document["subsets"]["all"]["pearson"] == pytest.approx(pearsonr(problem["truth"], problem["good"])[0])


def test_cli_many_models_bootstrap_ensemble_report(files, capsys, tmp_path):
    report = tmp_path / "report"
    code = cli_main(["score", "--predictions", str(files["good"]), str(files["poor"]), "--names", "G", "P",
                     "--truth", str(files["truth"]), "--subsets", str(files["subsets"]), "--exclude-indices",
                     str(files["public"]), "--bootstrap", "30", "--ensemble", "-o", str(report), "--json"])
    assert code == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert list(document["models"]) == ["G", "P", "ensemble"]
    assert document["models"]["G"]["public_excluded"] is True
    assert document["models"]["G"]["subsets"]["high"]["n"] == 35
    assert document["bootstrap"]["n_samples"] == 30 and "beats" in document["bootstrap"]["pearson"]
    assert "bootstrap" in captured.err  # progress bar on stderr
    stored = json.loads((report / "scores.json").read_text())
    assert stored["models"]["P"]["pearson_score"] == pytest.approx(document["models"]["P"]["pearson_score"])
    assert "| G |" in (report / "scores.md").read_text()
    for name in ("subset_scores.png", "bootstrap_ranks.png", "measured_vs_predicted_G.png",
                 "measured_vs_predicted_ensemble.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_cli_errors_are_one_line_exit_2(files, capsys, tmp_path):
    short = write_dream(tmp_path / "short.txt", random_sequences(600)[:590], np.zeros(590))
    code = cli_main(["score", "--predictions", str(short), "--truth", str(files["truth"])])
    assert code == 2
    assert "test index 590" in capsys.readouterr().err
    code = cli_main(["score", "--predictions", str(files["good"]), "--names", "a", "b", "--truth",
                     str(files["truth"])])
    assert code == 2
    assert "--names" in capsys.readouterr().err


def test_cli_constant_predictions_warn_and_give_null(files, capsys, tmp_path):
    constant = tmp_path / "constant.json"
    constant.write_text(json.dumps({str(i): 1.0 for i in range(600)}))
    code = cli_main(["score", "--predictions", str(constant), "--truth", str(files["truth"]), "--json"])
    assert code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["pearson_score"] is None
    assert "warning" in captured.err and "undefined" in captured.err


def test_report_json_is_strict(tmp_path):
    scores = {"m": {"pearson_score": float("nan"), "spearman_score": 0.5, "missing_subsets": [],
                    "subsets": {"all": {"pearson": float("nan"), "spearman": 0.5, "n": 3}}}}
    write_report(tmp_path, scores, plots=False)
    text = (tmp_path / "scores.json").read_text()
    assert "NaN" not in text and json.loads(text)["models"]["m"]["pearson_score"] is None


def test_no_tensorflow_import():
    code = ("import sys, seq2exp.evaluation, seq2exp.evaluation.cli; import seq2exp.cli as c; c.build_parser(); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
