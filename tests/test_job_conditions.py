"""`seq2exp run --conditions`: a tiny two-condition job (simulate two conditions -> train a two-task model -> export
-> serve -> predict over gRPC -> score each task, beside one k-mer ridge per task); the report's per-task Pearson and
Spearman, the network's and the ridge's, against scipy on the files the job wrote."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from scipy import stats

from seq2exp.cli import main as cli_main
from seq2exp.data.formats import read_table
from seq2exp.job import RunOptions, headline, run, training_config

TASKS = ["dev", "hk"]


@pytest.fixture(scope="module")
def tiny_task_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run_tasks")
    options = RunOptions(workdir=str(workdir), n_train=600, n_test=200, epochs=1, width=0.25, batch_size=64,
                         bootstrap=0, quiet=True, conditions=TASKS, planted_sites=2)
    return options, run(options)


@pytest.mark.slow  # ~80 s on 2 loaded cores (training and export dominate)
def test_the_job_serves_and_scores_every_task(tiny_task_run):
    options, summary = tiny_task_run
    assert summary["tasks"] == TASKS and "kmer_ridge vs measured" not in summary["scores"]  # one per task instead
    assert summary["data"]["subsets"] is None and summary["data"]["test"].endswith("test.tsv")
    predictions = read_table(summary["predict"]["predictions"], {"targets": TASKS, "sequence_column": "sequence"})
    header = open(summary["predict"]["predictions"]).readline().rstrip("\n").split("\t")
    assert header == ["id", "sequence", *TASKS]  # the served model names its two tasks
    measured = read_table(summary["data"]["test"], {"targets": TASKS})
    truth = read_table(summary["data"]["ground_truth"], {"targets": TASKS})
    assert predictions.sequences == measured.sequences == truth.sequences
    assert np.isfinite(predictions.targets).all() and predictions.targets.shape == (200, 2)
    report = json.loads(open(summary["report"]["json"]).read())["models"]
    for column, task in enumerate(TASKS):
        for reference, key in ((measured, f"{task} vs measured"), (truth, f"{task} vs noise-free truth")):
            scored = report[key]["subsets"]["all"]
            assert scored["n"] == 200
            assert scored["pearson"] == pytest.approx(
                stats.pearsonr(predictions.targets[:, column], reference.targets[:, column])[0], abs=1e-6)
            assert scored["spearman"] == pytest.approx(
                stats.spearmanr(predictions.targets[:, column], reference.targets[:, column])[0], abs=1e-6)
    text = "\n".join(headline(summary))
    for task in TASKS:
        scored = summary["scores"][f"{task} vs measured"]["subsets"]["all"]
        assert f"{task:<3}  Pearson r {scored['pearson']:.4f}   Spearman rho {scored['spearman']:.4f}" in text
    markdown = open(summary["report"]["markdown"]).read()
    assert all(f"| {task} vs measured |" in markdown for task in TASKS)

    # the k-mer ridge, one per task, on the same rows: its predictions file scores as the report says (scipy)
    ridge_file = summary["predict"]["baseline_predictions"]
    assert ridge_file.endswith("predictions_kmer_ridge.tsv")
    assert open(ridge_file).readline().rstrip("\n").split("\t") == ["id", "sequence", *TASKS]
    ridge = read_table(ridge_file, {"targets": TASKS, "sequence_column": "sequence"})
    assert ridge.sequences == measured.sequences and np.isfinite(ridge.targets).all()
    assert not np.allclose(ridge.targets[:, 0], ridge.targets[:, 1])  # two ridges, one per task column
    figures = {}
    for column, task in enumerate(TASKS):
        scored = report[f"kmer_ridge {task} vs measured"]["subsets"]["all"]
        assert scored["n"] == 200
        assert scored["pearson"] == pytest.approx(
            stats.pearsonr(ridge.targets[:, column], measured.targets[:, column])[0], abs=1e-6)
        assert scored["spearman"] == pytest.approx(
            stats.spearmanr(ridge.targets[:, column], measured.targets[:, column])[0], abs=1e-6)
        assert f"  Pearson r {scored['pearson']:.4f}   Spearman rho {scored['spearman']:.4f}   (kmer_ridge " \
               "(baseline))" in text
        assert f"| kmer_ridge {task} vs measured |" in markdown
        network = report[f"{task} vs measured"]["subsets"]["all"]["pearson"]
        figures[task] = (round(network, 4), round(scored["pearson"], 4))
    print("Pearson r vs measured (network, ridge):", figures)
    warned = {task for task in TASKS if f"on task {task}'s " in text}  # a warning where the ridge wins
    assert warned == {task for task, (network, ridge) in figures.items() if ridge > network}
    runs = summary["run"]["baseline"]["tasks"]
    network_run = json.loads(open(f"{summary['run']['run']}/run.json").read())
    from seq2exp.inference.runs import load_run

    for column, task in enumerate(TASKS):  # each ridge fitted on its own column of the network's rows and split
        np.testing.assert_allclose(ridge.targets[:, column], load_run(runs[task]["run"]).predict(ridge.sequences),
                                   rtol=1e-6, atol=1e-6)  # the task's column: that task's ridge
        info = json.loads(open(f"{runs[task]['run']}/run.json").read())
        config = yaml.safe_load(open(f"{runs[task]['run']}/config.yaml"))
        assert info["architecture"] == "kmer_ridge" and config["data"]["table"] == {"targets": [task]}
        assert {key: info["data"][key] for key in ("train_sha256", "n_train", "n_val", "split_seed")} == \
            {key: network_run["data"][key] for key in ("train_sha256", "n_train", "n_val", "split_seed")}


def test_the_headline_lists_each_task():
    def scores(r, rho):
        return {"pearson_score": r * r, "spearman_score": rho, "subsets": {"all": {"pearson": r, "spearman": rho}}}

    summary = {"workdir": "w", "data": {"out_dir": "w/data"}, "run": {"run": "w/run"}, "export": {"saved_model": "m"},
               "predict": {"predictions": "p.tsv"}, "report": {"json": "w/r/scores.json"}, "tasks": ["dev", "hk"],
               "options": {"architecture": "autosome"},
               "scores": {"dev vs measured": scores(0.61, 0.58), "dev vs noise-free truth": scores(0.7, 0.66),
                          "hk vs measured": scores(0.52, 0.5), "hk vs noise-free truth": scores(0.55, 0.51)}}
    text = "\n".join(headline(summary))
    assert "    dev  Pearson r 0.6100   Spearman rho 0.5800   (vs noise-free truth: r 0.7000, rho 0.6600)" in text
    assert "    hk   Pearson r 0.5200   Spearman rho 0.5000   (vs noise-free truth: r 0.5500, rho 0.5100)" in text
    assert "k-mer baseline" in text and "WARNING" not in text
    # with one ridge per task: its line under each task, and a warning for the task where the ridge wins
    summary["scores"]["kmer_ridge dev vs measured"] = scores(0.55, 0.52)
    summary["scores"]["kmer_ridge hk vs measured"] = scores(0.53, 0.49)
    summary["predict"]["baseline_predictions"] = "w/predictions_kmer_ridge.tsv"
    text = "\n".join(headline(summary))
    assert "    dev  Pearson r 0.6100   Spearman rho 0.5800   (vs noise-free truth: r 0.7000, rho 0.6600)\n" \
           "         Pearson r 0.5500   Spearman rho 0.5200   (kmer_ridge (baseline))\n" \
           "    hk   Pearson r 0.5200   Spearman rho 0.5000" in text
    assert "         Pearson r 0.5300   Spearman rho 0.4900   (kmer_ridge (baseline))" in text
    assert "one k-mer ridge per task" in text and "w/predictions_kmer_ridge.tsv" in text
    warnings = [line for line in text.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "on task hk's Pearson r (0.5300 vs 0.5200)" in warnings[0], warnings


def test_the_run_config_reads_the_simulated_table():
    config = training_config(RunOptions(conditions=2))
    assert config["data"]["table"] == {"targets": ["cond1", "cond2"]}
    assert "table" not in training_config(RunOptions())["data"]  # one condition: today's config
    assert "table" not in training_config(RunOptions(conditions=1))["data"]
    assert "table" not in training_config(RunOptions(conditions=["dev"]))["data"]


@pytest.mark.parametrize("value, message", [("9", "expected between 1 and 8 conditions, got 9"),
                                            ("dev,dev", "'dev' is given twice")])
def test_bad_conditions_exit_2_before_anything_is_written(tmp_path, capsys, value, message):
    workdir = tmp_path / "w"
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "--workdir", str(workdir), "--conditions", value])
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("seq2exp run: ")]
    assert len(errors) == 1 and f"argument --conditions: {message}" in errors[0]
    assert not workdir.exists()
