"""Training: config -> model -> run folder, with the teams' losses, optimisers, schedules and strategies.

The ``model.fit`` driver, the teams' losses, optimisers and schedules, callbacks, tf.distribute strategies,
resumable runs, and a k-mer ridge baseline. Prediction from a run lives in :mod:`seq2exp.inference`.

    >>> from seq2exp.training import train
    >>> run = train("autosome", data="train.txt", out="runs/autosome")
    >>> run.predict(["TGCATTTTTTTCACATC...GGTTACGGCTGTT"])

Importing this package does not import TensorFlow; the names below load their modules on first use.
"""
from __future__ import annotations

from seq2exp.utils import lazy_exports

_LAZY = {
    "train": "seq2exp.training.driver",
    "prepare": "seq2exp.training.driver",
    "fit_kmer_ridge": "seq2exp.training.baselines",
    "import_weights": "seq2exp.training.importing",
    "load_config": "seq2exp.training.config",
    "resolve_config": "seq2exp.training.config",
    "load_run": "seq2exp.inference.runs",  # a trained run folder (lives in seq2exp.inference; here for discovery)
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
