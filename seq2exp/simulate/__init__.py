"""seq2exp.simulate: a promoter-library simulator with ground truth (the DREAM 2022 yeast random-promoter assay).

``simulate(out_dir, n_train=..., n_test=..., seed=...)`` writes a training file, a test file, the challenge's subset
CSVs and the ground truth in the formats of the project's contract; see ``docs/simulator.md`` for the model.
Attributes are imported lazily so that ``seq2exp --help`` stays fast.
"""
from __future__ import annotations

from seq2exp.simulate.sizes import FULL_TEST_SIZE, FULL_TRAIN_SIZE
from seq2exp.utils import lazy_exports

__all__ = ["FULL_TEST_SIZE", "FULL_TRAIN_SIZE", "SUBSET_FILES", "SimulationOutput", "calibration_report",
           "simulate"]

_LAZY = {"simulate": "seq2exp.simulate.core", "SimulationOutput": "seq2exp.simulate.core",
         "SUBSET_FILES": "seq2exp.simulate.core", "calibration_report": "seq2exp.simulate.calibrate"}

__getattr__ = lazy_exports(__name__, _LAZY)
