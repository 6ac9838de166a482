"""ProgressLog: steps, rows/s and ETA lines at least every interval during model.fit (a fake clock)."""
from __future__ import annotations

import logging

import numpy as np

import keras

from seq2exp.training.callbacks import ProgressLog


class FakeClock:
    """Advances 10 s per reading after the start, as if every step took 10 s."""

    def __init__(self):
        self.now, self.readings = 1000.0, 0

    def __call__(self) -> float:
        self.readings += 1
        if self.readings > 1:
            self.now += 10.0
        return self.now


def test_progress_lines_carry_steps_rate_and_eta(caplog):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((80, 3), np.float32), np.zeros((80, 1), np.float32)
    progress = ProgressLog(total_steps=20, batch_size=8, interval_s=30.0, enabled=True, clock=FakeClock())
    with caplog.at_level(logging.INFO, logger="seq2exp.training.callbacks"):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[progress], shuffle=False)
    lines = progress.lines
    assert lines[0].startswith("step 1/20 (5.0%)") and "first step done after 10.0 s" in lines[0]
    # after the first step, a line every 3 steps (30 s at 10 s a step): 8 rows / 10 s = 1 row/s
    assert [line.split(" ", 2)[1] for line in lines[1:]] == ["4/20", "7/20", "10/20", "13/20", "16/20", "19/20"]
    assert all("1 rows/s" in line and "loss " in line for line in lines[1:])
    assert "ETA 0:02:40" in lines[1]  # 16 steps left at 10 s each
    assert "ETA 0:00:10" in lines[-1]
    assert sum("train: step" in record.getMessage() for record in caplog.records) == len(lines)


def test_progress_is_quiet_when_disabled():
    progress = ProgressLog(total_steps=5, batch_size=2, enabled=False, clock=FakeClock())
    for step in range(5):
        progress.on_train_batch_end(step, {"loss": 1.0})
    assert progress.lines == [] and progress.step == 5
