"""`seq2exp run` end to end at tiny size: simulate -> train -> export -> serve -> predict over gRPC -> score."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from seq2exp.cli import main as cli_main
from seq2exp.job import RunOptions, run, training_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    options = RunOptions(workdir=str(workdir), n_train=2000, n_test=800, epochs=1, width=0.5, batch_size=128,
                         bootstrap=20, quiet=True)
    return options, run(options)


def test_every_stage_leaves_its_output(tiny_run):
    options, summary = tiny_run
    assert set(summary["seconds"]) == {"simulate", "train", "export", "predict", "score"}
    saved_model = summary["export"]["saved_model"]
    assert saved_model.endswith("/seq2exp/1")
    predictions = open(summary["predict"]["predictions"]).read().splitlines()
    test_rows = open(summary["data"]["test"]).read().splitlines()
    assert len(predictions) == len(test_rows)
    # predictions are DREAM submission rows in test order, one finite value per test sequence
    for prediction, test_row in zip(predictions[:50], test_rows[:50]):
        sequence, value = prediction.split("\t")
        assert sequence == test_row.split("\t")[0]
        assert math.isfinite(float(value))
    report = json.loads(open(summary["report"]["json"]).read())
    assert set(report["models"]) == {"model vs measured", "model vs noise-free truth"}
    measured = summary["scores"]["model vs measured"]
    assert set(measured) >= {"pearson_score", "spearman_score", "subsets", "missing_subsets"}
    assert set(measured["subsets"]) >= {"all", "random", "SNVs", "motif_tiling"}
    assert math.isfinite(measured["pearson_score"])


def test_predictions_beat_chance_on_the_measured_test_values(tiny_run):
    """The served predictions, read back from the file, against the test file's measured values (scipy), and a
    chance baseline computed here: the same predictions shuffled across the test rows, 1,000 times."""
    _, summary = tiny_run
    predicted = np.array([float(line.split("\t")[1]) for line in open(summary["predict"]["predictions"])])
    measured = np.array([float(line.split("\t")[1]) for line in open(summary["data"]["test"])])
    r = stats.pearsonr(predicted, measured)[0]
    assert summary["scores"]["model vs measured"]["subsets"]["all"]["pearson"] == pytest.approx(r, abs=1e-6)
    rng = np.random.default_rng(0)
    chance = [stats.pearsonr(rng.permutation(predicted), measured)[0] for _ in range(1000)]
    assert r > max(chance), (r, max(chance))  # 1 epoch on 2,000 rows: r ~0.2 here, chance stays below ~0.12


def test_rerun_reuses_finished_stages(tiny_run, capsys):
    options, _ = tiny_run
    summary = run(RunOptions(**{**options.__dict__, "quiet": False}))
    out = capsys.readouterr().out
    assert out.count("up to date, reused") == 5
    assert all(seconds == 0.0 for seconds in summary["seconds"].values())


def test_changed_parameters_rerun_from_the_changed_stage(tiny_run, capsys):
    options, _ = tiny_run
    run(RunOptions(**{**options.__dict__, "quiet": False, "bootstrap": 10}))
    out = capsys.readouterr().out
    assert out.count("up to date, reused") == 4  # only scoring runs again
    assert "[5/5] score: done" in out


def test_training_config_is_the_autosome_recipe():
    config = training_config(RunOptions(width=0.5))
    assert config["model"]["architecture"] == "autosome"
    assert config["loss"]["name"] == "kl_bins"
    assert config["model"]["config"]["core"]["block_sizes"] == [16, 8, 8, 8]
    assert training_config(RunOptions(architecture="bhi"))["loss"]["name"] == "mse"


def test_cli_run_help_lists_scaling_flags(capsys):
    with pytest.raises(SystemExit):
        cli_main(["run", "--help"])
    out = capsys.readouterr().out
    for flag in ("--workdir", "--n-train", "--architecture", "--epochs"):
        assert flag in out
