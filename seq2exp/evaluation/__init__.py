"""Offline scoring the way the Random Promoter DREAM Challenge 2022 did it (numpy/scipy/pandas/matplotlib only).

``score`` / ``score_many`` give the contract JSON (Pearson and Spearman scores over the weighted test subsets),
``bootstrap_ranks`` ranks models over 10% samples of the test set, ``ensemble`` fits an out-of-fold linear
regression over several models, ``write_report`` writes ``scores.json``, ``scores.md`` and plots.
No TensorFlow import anywhere in this package.
"""
from seq2exp.evaluation.bootstrap import bootstrap_ranks
from seq2exp.evaluation.ensemble import ensemble, with_ensemble
from seq2exp.evaluation.metrics import (
    ScoringData,
    UndefinedCorrelationWarning,
    pearson_columns,
    prepare,
    score,
    score_data,
    score_many,
    spearman_columns,
    weighted_scores,
)
from seq2exp.evaluation.report import dumps, jsonable, markdown_table, write_report
from seq2exp.evaluation.subsets import (
    PAIR_SUBSETS,
    SINGLE_SUBSETS,
    SUBSET_NAMES,
    SUBSET_WEIGHTS,
    Exclusion,
    load_subsets,
)
from seq2exp.evaluation.values import ValueTable, read_values

__all__ = [
    "PAIR_SUBSETS", "SINGLE_SUBSETS", "SUBSET_NAMES", "SUBSET_WEIGHTS", "Exclusion", "ScoringData",
    "UndefinedCorrelationWarning", "ValueTable", "bootstrap_ranks", "dumps", "ensemble", "jsonable",
    "load_subsets", "markdown_table", "pearson_columns", "prepare", "read_values", "score", "score_data",
    "score_many", "spearman_columns", "weighted_scores", "with_ensemble", "write_report",
]
