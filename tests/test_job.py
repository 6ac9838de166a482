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
    """`seq2exp run` killed (SIGKILL) mid-train after its first epoch's checkpoint, then run again: it resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    workdir = tmp_path_factory.mktemp("run")
    options = RunOptions(workdir=str(workdir), n_train=2000, n_test=800, epochs=2, width=0.5, batch_size=128,
                         bootstrap=20, quiet=True)
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", "import sys; from seq2exp.cli import main; sys.exit(main(sys.argv[1:]))", "run",
               "--workdir", str(workdir), "--n-train", "2000", "--n-test", "800", "--epochs", "2", "--width", "0.5",
               "--batch-size", "128", "--bootstrap", "20", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    metrics = workdir / "run" / "metrics.json"
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if metrics.exists() and (workdir / "run" / "checkpoints" / "latest.weights.h5").exists():
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    output = process.communicate()[0].decode()
    assert process.returncode == -signal.SIGKILL, f"not killed mid-train:\n{output[-3000:]}"
    assert not (workdir / "run" / "run.json").exists()
    first_epoch = json.loads(metrics.read_text())["epochs"][0]
    return options, run(options), first_epoch


def test_a_killed_run_is_resumed_not_restarted(tiny_run):
    options, summary, first_epoch = tiny_run
    epochs = json.loads(open(f"{summary['run']['run']}/metrics.json").read())["epochs"]
    assert [row["epoch"] for row in epochs] == [0, 1]
    assert epochs[0] == first_epoch  # the killed process's epoch 0 kept, not trained again
    assert json.loads(open(f"{summary['run']['run']}/run.json").read())["optimizer_steps"] == 2 * 15
    assert math.isfinite(summary["run"]["validation"]["val_pearson"])  # the summary reads the driver's metrics


def test_the_report_ranks_the_network_against_the_kmer_baseline(tiny_run):
    options, summary, _ = tiny_run
    assert set(summary["scores"]) >= {"model vs measured", "kmer_ridge vs measured"}
    assert math.isfinite(summary["run"]["baseline"]["validation"]["val_pearson"])
    scores = json.loads(open(summary["report"]["json"]).read())
    text = open(summary["report"]["json"].replace("scores.json", "scores.md")).read()
    assert "kmer_ridge" in text and options.architecture in text
    assert "bootstrap" in json.dumps(scores).lower() or "rank" in text.lower()


def test_every_stage_leaves_its_output(tiny_run):
    options, summary, _ = tiny_run
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
    assert set(report["models"]) == {"model vs measured", "model vs noise-free truth", "kmer_ridge vs measured"}
    measured = summary["scores"]["model vs measured"]
    assert set(measured) >= {"pearson_score", "spearman_score", "subsets", "missing_subsets"}
    assert set(measured["subsets"]) >= {"all", "random", "SNVs", "motif_tiling"}
    assert math.isfinite(measured["pearson_score"])


def test_predictions_beat_chance_on_the_measured_test_values(tiny_run):
    """The served predictions, read back from the file, against the test file's measured values (scipy), and a
    chance baseline computed here: the same predictions shuffled across the test rows, 1,000 times."""
    _, summary, _ = tiny_run
    predicted = np.array([float(line.split("\t")[1]) for line in open(summary["predict"]["predictions"])])
    measured = np.array([float(line.split("\t")[1]) for line in open(summary["data"]["test"])])
    r = stats.pearsonr(predicted, measured)[0]
    assert summary["scores"]["model vs measured"]["subsets"]["all"]["pearson"] == pytest.approx(r, abs=1e-6)
    rng = np.random.default_rng(0)
    chance = [stats.pearsonr(rng.permutation(predicted), measured)[0] for _ in range(1000)]
    assert r > max(chance), (r, max(chance))  # 1 epoch on 2,000 rows: r ~0.2 here, chance stays below ~0.12


def test_rerun_reuses_finished_stages(tiny_run, capsys, caplog):
    import logging

    options, _, _ = tiny_run
    with caplog.at_level(logging.INFO, logger="seq2exp.job"):
        summary = run(RunOptions(**{**options.__dict__, "quiet": False}), announce=print)
    out = capsys.readouterr().out
    assert out.count("up to date, reused") == 5
    # each stage line is shown once: printed by the CLI's announce, not logged at INFO as well
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "up to date" in r.getMessage()]
    assert [f"[{i}/5]" in out for i in range(1, 6)] == [True] * 5
    assert all(seconds == 0.0 for seconds in summary["seconds"].values())


def test_changed_parameters_rerun_from_the_changed_stage(tiny_run, capsys):
    options, _, _ = tiny_run
    run(RunOptions(**{**options.__dict__, "quiet": False, "bootstrap": 10}), announce=print)
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


def test_the_headline_shows_the_baseline_beside_the_network(tiny_run):
    from seq2exp.job import headline

    _, summary, _ = tiny_run
    text = "\n".join(headline(summary))
    network = summary["scores"]["model vs measured"]
    baseline = summary["scores"]["kmer_ridge vs measured"]
    assert f"Pearson score {network['pearson_score']:.4f}" in text
    assert f"Pearson score {baseline['pearson_score']:.4f}" in text and "kmer_ridge (baseline)" in text
    assert "with test-time augmentation" in text and "per-epoch val_pearson" in text
    loses = baseline["pearson_score"] > network["pearson_score"] or baseline["spearman_score"] > network["spearman_score"]
    assert ("WARNING: the k-mer ridge baseline beats" in text) == loses


@pytest.mark.parametrize("baseline_pearson, warned", [(0.53, True), (0.10, False)])
def test_the_headline_warns_when_the_baseline_wins(baseline_pearson, warned):
    from seq2exp.job import headline

    scores = {"pearson_score": 0.13, "spearman_score": 0.40, "subsets": {"all": {"pearson": 0.36}}}
    summary = {"workdir": "w", "data": {"out_dir": "w/data"}, "run": {"run": "w/run", "validation": {}},
               "export": {"saved_model": "m"}, "predict": {"predictions": "p"}, "report": {"json": "w/r/scores.json"},
               "options": {"architecture": "autosome"},
               "scores": {"model vs measured": scores,
                          "kmer_ridge vs measured": {**scores, "pearson_score": baseline_pearson}}}
    text = "\n".join(headline(summary))
    assert ("WARNING: the k-mer ridge baseline beats autosome on the pearson score (0.5300 vs 0.1300)" in text) == warned


def test_run_help_counts_the_same_five_stages_as_the_progress_lines(capsys):
    from seq2exp.job import STAGE_NAMES

    with pytest.raises(SystemExit):
        cli_main(["--help"])
    out = capsys.readouterr().out
    assert f"the main job in {len(STAGE_NAMES)} stages" in out
