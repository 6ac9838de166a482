"""Scoring a model with several tasks: ``seq2exp predict --format tsv``'s ``id, sequence, <task 1>, ...`` file
against a table with the measured task columns (e.g. the Drosophila benchmark's ``sample_test.txt``).

Each task is scored like a single-task model (:func:`seq2exp.evaluation.metrics.prepare` / ``score_data``: Pearson
and Spearman over the rows, per subset where there are subsets); rows whose measured value is missing (empty/NaN)
are left out of that task only. Rows are matched by position and must hold the same sequences. No TensorFlow.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from seq2exp.data.formats import open_text_bytes, read_table
from seq2exp.errors import InputFormatError

PREDICTION_COLUMNS = ("id", "sequence")  # the first columns of a predict --format tsv file


def prediction_tasks(path: str | os.PathLike) -> list[str] | None:
    """The task columns of a ``predict --format tsv`` file of a model with several tasks, else ``None``."""
    try:
        with open_text_bytes(path) as handle:
            header = handle.readline(1 << 16).decode("utf-8", "replace").rstrip("\r\n").split("\t")
    except InputFormatError:
        return None
    if [h.strip().lower() for h in header[:2]] != list(PREDICTION_COLUMNS) or header[2:] in ([], ["expression"]):
        return None
    return [h.strip() for h in header[2:]]


def score_tasks(predictions: str | os.PathLike, truth: str | os.PathLike, subsets: Any = None) -> dict:
    """``{"tasks": {task: contract score JSON}, "mean_pearson": .., "mean_spearman": ..}`` for a predictions TSV
    with task columns against ``truth`` (a table with a header holding the same task columns)."""
    from seq2exp.evaluation.metrics import prepare, score_data

    tasks = prediction_tasks(predictions)
    if not tasks:
        raise InputFormatError("not a predictions TSV with task columns (header id, sequence, <task>, ...)",
                               path=os.fspath(predictions), line=1)
    predicted = read_table(predictions, {"targets": tasks, "sequence_column": "sequence"}, max_length=None)
    measured = read_table(truth, {"targets": tasks}, max_length=None)
    if len(predicted) != len(measured):
        raise InputFormatError(f"{len(predicted)} prediction rows but {len(measured)} truth rows in {truth}",
                               path=os.fspath(predictions))
    for row, (a, b) in enumerate(zip(predicted.sequences, measured.sequences)):
        if a != b:
            raise InputFormatError(f"row {row}: the sequence differs from the truth file's row (line "
                                   f"{int(measured.line_numbers[row])} of {truth})", path=os.fspath(predictions),
                                   line=int(predicted.line_numbers[row]), field="sequence")
    result: dict[str, Any] = {"tasks": {}}
    for column, task in enumerate(tasks):
        keep = np.isfinite(measured.targets[:, column])
        values = np.asarray(predicted.targets[keep, column], np.float64)
        data = prepare([values], np.asarray(measured.targets[keep, column], np.float64),
                       subsets if keep.all() else None, names=[task])
        result["tasks"][task] = {**score_data(data, 0), "n_missing_truth": int((~keep).sum())}
    alls = [score["subsets"]["all"] for score in result["tasks"].values()]
    result["mean_pearson"] = float(np.mean([a["pearson"] for a in alls]))
    result["mean_spearman"] = float(np.mean([a["spearman"] for a in alls]))
    return result
