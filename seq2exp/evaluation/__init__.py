"""Offline scoring the way the Random Promoter DREAM Challenge 2022 did it (numpy/scipy/pandas/matplotlib only).

``score`` / ``score_many`` give the contract JSON (Pearson and Spearman scores over the weighted test subsets),
``bootstrap_ranks`` ranks models over 10% samples of the test set, ``ensemble`` fits an out-of-fold linear
regression over several models, ``write_report`` writes ``scores.json``, ``scores.md`` and plots.
No TensorFlow import anywhere in this package. Every public name is available here; its module is imported on
first use, so ``import seq2exp.evaluation`` (and ``seq2exp score``'s start-up) imports only what is used.
"""
from __future__ import annotations

from seq2exp.utils import lazy_exports

_EXPORTS = {
    "bootstrap": ("bootstrap_ranks",),
    "ensemble": ("ensemble", "with_ensemble"),
    "metrics": ("ScoringData", "UndefinedCorrelationWarning", "pearson_columns", "prepare", "score", "score_data",
                "score_many", "spearman_columns", "weighted_scores"),
    "report": ("dumps", "jsonable", "markdown_table", "write_report"),
    "subsets": ("PAIR_SUBSETS", "SINGLE_SUBSETS", "SUBSET_NAMES", "SUBSET_WEIGHTS", "Exclusion", "load_subsets"),
    "values": ("ValueTable", "read_values"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)

__getattr__ = lazy_exports(__name__, {name: f".{module}" for name, module in _MODULE_OF.items()})


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
