"""seq2exp.simulate: a promoter-library simulator with ground truth (the DREAM 2022 yeast random-promoter assay).

``simulate(out_dir, n_train=..., n_test=..., seed=...)`` writes a training file, a test file, the challenge's subset
CSVs and the ground truth in the formats of the project's contract; see ``docs/simulator.md`` for the model.
Heavy imports (JASPAR, genome) happen only when a simulation runs.
"""
from __future__ import annotations

from seq2exp.simulate.core import FULL_TRAIN_SIZE, SUBSET_FILES, SimulationOutput, simulate

__all__ = ["FULL_TRAIN_SIZE", "SUBSET_FILES", "SimulationOutput", "simulate", "calibration_report"]


def calibration_report(simulated_train, real_train, max_rows: int = 200_000):
    """Compare a simulated and a real DREAM training file (see ``seq2exp.simulate.calibrate``)."""
    from seq2exp.simulate.calibrate import calibration_report as _report

    return _report(simulated_train, real_train, max_rows)
