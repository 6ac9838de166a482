"""The bootstrap's 95% interval in the printed table and in scores.md; one model shows no rank table of 1.000s.

The interval oracle is numpy's percentile over the per-sample scores (``return_samples``; each sample's score is
checked against scipy in test_bootstrap.py), not the report's own summary."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from seq2exp.evaluation import bootstrap_ranks, prepare

from .conftest import REPO_ROOT, make_problem, random_sequences, write_dream, write_subset_csvs


def _files(tmp_path):
    problem = make_problem(n=600, seed=3)
    sequences = random_sequences(600)
    truth = write_dream(tmp_path / "truth.txt", sequences, problem["truth"] * 1.7 + 2)
    good = write_dream(tmp_path / "good.txt", sequences, problem["good"])
    poor = write_dream(tmp_path / "poor.txt", sequences, problem["poor"])
    subsets = write_subset_csvs(tmp_path / "subsets", problem["subsets"])
    return truth, good, poor, subsets


def _interval_rows(text: str) -> dict[str, list[float]]:
    section = text.split("## Bootstrap 95% intervals", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("model", "---"):
            numbers = [float(x) for cell in cells[1:] for x in re.findall(r"-?\d+\.\d+", cell)]
            rows[cells[0]] = numbers  # pearson mean, low, high, spearman mean, low, high
    return rows


def test_one_model_bootstrap_prints_the_interval_not_a_rank_table(tmp_path):
    truth, good, _, subsets = _files(tmp_path)
    command = [sys.executable, "-m", "seq2exp.cli", "score", "--predictions", str(good), "--truth", str(truth), "--subsets",
               str(subsets), "--bootstrap", "200", "--seed", "5", "--output", str(tmp_path / "report"), "--no-plots"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    expected = bootstrap_ranks(prepare(good, truth, subsets), n_samples=200, seed=5, return_samples=True)
    samples = expected["samples"]
    for text in (result.stdout, (tmp_path / "report" / "scores.md").read_text()):
        assert "Bootstrap ranking" not in text and "| 1.000 |" not in text
        (name, numbers), = _interval_rows(text).items()
        for offset, metric in ((0, "pearson"), (3, "spearman")):
            scores = samples[metric][:, 0]
            assert numbers[offset] == round(float(np.nanmean(scores)), 4)
            low, high = np.nanpercentile(scores, [2.5, 97.5])
            assert numbers[offset + 1:offset + 3] == [round(float(low), 4), round(float(high), 4)]
            assert low < high


def test_two_models_keep_the_ranking_and_show_both_intervals(tmp_path):
    from seq2exp.evaluation.report import markdown_table
    from seq2exp.evaluation import score_data

    truth, good, poor, subsets = _files(tmp_path)
    data = prepare({"good": good, "poor": poor}, truth, subsets)
    boot = bootstrap_ranks(data, n_samples=100, seed=1, return_samples=True)
    text = markdown_table({name: score_data(data, i) for i, name in enumerate(data.names)}, boot)
    assert "## Bootstrap ranking" in text
    rows = _interval_rows(text)
    assert list(rows) == ["good", "poor"]  # best first
    for m, name in enumerate(data.names):
        low, high = np.nanpercentile(boot["samples"]["spearman"][:, m], [2.5, 97.5])
        assert rows[name][4:6] == [round(float(low), 4), round(float(high), 4)]


def test_the_markdown_says_only_all_is_scored_without_subsets_and_names_the_missing_ones_otherwise(problem):
    """Data without the challenge's subsets (another lab's table, or no --subsets): one plain sentence, not a list of
    the eight yeast subsets as 'missing'; with some subsets, the absent ones are listed."""
    from seq2exp.evaluation import score
    from seq2exp.evaluation.report import markdown_table

    alone = markdown_table({"m": score(problem["good"], problem["truth"])})
    assert "Only `all` is scored (no test subsets" in alone and "Missing subsets" not in alone
    some = {name: items for name, items in problem["subsets"].items() if name in ("high", "low")}
    partial = markdown_table({"m": score(problem["good"], problem["truth"], some)})
    assert "Missing subsets (not scored, weights renormalised): yeast, random, challenging, SNVs" in partial
    assert "Only `all`" not in partial
