"""`seq2exp run` end to end at tiny size: simulate -> train -> export -> serve -> predict over gRPC -> score."""
from __future__ import annotations

import json
import math

import pytest

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
    scores = json.loads(open(summary["report"]["json"]).read())
    assert scores  # the report's scores.json holds the contract JSON per compared truth
    measured = summary["scores"]["model vs measured"]
    assert set(measured) >= {"pearson_score", "spearman_score", "subsets", "missing_subsets"}
    assert set(measured["subsets"]) >= {"all", "random", "SNVs", "motif_tiling"}
    assert math.isfinite(measured["pearson_score"])


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
