"""Keras callbacks of the training driver: validation, best model, early stopping, checkpoints, SWA, progress.

Validation metrics + best model + early stopping + metrics log, resumable step checkpoints, stochastic weight
averaging, progress lines for logs (:class:`ProgressLog`).

All state a restarted run needs is on disk (``RUN/metrics.json`` for the history and best value,
``RUN/checkpoints/latest.weights.h5`` for weights + optimiser state, whose ``iterations`` variable is the step), so
a SIGKILLed run resumes where it stopped. The checkpoint is one file replaced by one rename: the step and the weights
cannot disagree (``state.json`` beside it is informative only and never read back for the step).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np

from seq2exp.inference.runs import save_model_atomically, write_json_atomically
from seq2exp.training.optimizers import build_optimizer_variables
from seq2exp.utils import atomic_write

logger = logging.getLogger(__name__)

CHECKPOINT_WEIGHTS = "latest.weights.h5"
CHECKPOINT_STATE = "state.json"


def pearson_spearman(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """Pearson r and Spearman rho (NaN where undefined, e.g. constant predictions)."""
    from scipy.stats import pearsonr, spearmanr

    predicted = np.asarray(predicted, np.float64)
    measured = np.asarray(measured, np.float64)
    keep = np.isfinite(predicted) & np.isfinite(measured)
    predicted, measured = predicted[keep], measured[keep]
    if predicted.size < 2 or np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return math.nan, math.nan
    return float(pearsonr(predicted, measured)[0]), float(spearmanr(predicted, measured)[0])


class ValidationCallback(keras.callbacks.Callback):
    """Per epoch: validation loss, Pearson r and Spearman rho (added to ``logs`` so later callbacks see them),
    ``RUN/metrics.csv`` + ``RUN/metrics.json``, the best model by ``monitor`` saved to ``RUN/model.keras``,
    and early stopping (``patience`` epochs without improvement), all resumable from ``metrics.json``.
    """

    def __init__(self, predict_fn: Callable[[], tuple[dict, np.ndarray]] | None,
                 loss_fn: Callable[[dict], float] | None,
                 run_dir: Path, save_model, *, monitor: str = "val_pearson", patience: int | None = None,
                 min_delta: float = 0.0, stop_monitor: str | None = None, model_file: str = "model.keras",
                 metrics_csv: str = "metrics.csv",
                 metrics_json: str = "metrics.json", task_names: Sequence[str] | None = None):
        super().__init__()
        # several tasks: val_pearson / val_spearman are the means over tasks, each task's are logged by name
        self.task_names = list(task_names) if task_names else None
        self.predict_fn, self.loss_fn = predict_fn, loss_fn
        self.run_dir, self.save_model = Path(run_dir), save_model
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        # early stopping may watch another metric than the best-model choice (wztr: stop on val_loss, keep the
        # best val correlation)
        self.stop_monitor = stop_monitor or monitor
        self.mode_max = not monitor.endswith("loss")
        self.model_path = self.run_dir / model_file
        self.csv_path, self.json_path = self.run_dir / metrics_csv, self.run_dir / metrics_json
        self.history: list[dict] = []
        self.stopped = False
        # no validation rows (data.val_fraction 0, the teams' "100-0" training): the last epoch is the model
        self.select_last = predict_fn is None
        if self.json_path.exists():
            self.history = json.loads(self.json_path.read_text()).get("epochs", [])

    def truncate(self, first_epoch: int) -> None:
        """Forget epochs >= ``first_epoch`` (they are being re-run after a restart)."""
        self.history = [row for row in self.history if row["epoch"] < first_epoch]

    def _score(self, row: Mapping[str, Any], monitor: str | None = None) -> float:
        monitor = monitor or self.monitor
        value = row.get(monitor, math.nan)
        if value is None or not np.isfinite(value):
            return -math.inf
        return -value if monitor.endswith("loss") else value

    def best_by(self, monitor: str) -> dict | None:
        """The epoch with the best ``monitor`` value (``None`` before any scored epoch)."""
        scored = [row for row in self.history if self._score(row, monitor) > -math.inf]
        return max(scored, key=lambda row: self._score(row, monitor)) if scored else None

    def should_stop(self) -> bool:
        """``patience`` epochs without a ``stop_monitor`` improvement."""
        best = None if self.select_last else self.best_by(self.stop_monitor)
        return (self.patience is not None and best is not None and bool(self.history)
                and self.history[-1]["epoch"] - best["epoch"] >= self.patience)

    @property
    def best(self) -> dict | None:
        if self.select_last:
            return self.history[-1] if self.history else None
        scored = [row for row in self.history if self._score(row) > -math.inf]
        return max(scored, key=self._score) if scored else None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        self.truncate(epoch)  # an epoch re-run after a restart replaces its first record
        val_loss = pearson = spearman = math.nan
        if not self.select_last:
            outputs, measured = self.predict_fn()
            predicted = np.asarray(outputs["expression_units"])
            if np.ndim(measured) == 2:  # several tasks ([n, T], NaN where a target is missing)
                names = self.task_names or [f"task{j}" for j in range(measured.shape[1])]
                scores = [pearson_spearman(predicted[:, j], measured[:, j]) for j in range(measured.shape[1])]
                pearson, spearman = (float(np.mean(values)) for values in zip(*scores))
                for name, (task_pearson, task_spearman) in zip(names, scores):
                    logs.update({f"val_pearson_{name}": task_pearson, f"val_spearman_{name}": task_spearman})
            else:
                pearson, spearman = pearson_spearman(predicted, measured)
            val_loss = float(self.loss_fn(outputs))
            logs.update({"val_loss": val_loss, "val_pearson": pearson, "val_spearman": spearman,
                         "val_pearson_plus_spearman": pearson + spearman})
        previous_best = None if self.select_last else self.best
        row = {"epoch": epoch}
        for key, value in logs.items():
            try:
                row[key] = float(value)
            except (TypeError, ValueError):
                continue
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            row["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            row["optimizer_steps"] = int(keras.ops.convert_to_numpy(optimizer.iterations))
        self.history.append(row)
        improved = previous_best is None or self._score(row) > self._score(previous_best) + self.min_delta
        if improved or not self.model_path.exists():
            save_model_atomically(self.save_model, self.model_path)
        self._write_logs()
        logger.info("epoch %d: val_loss %.4f val_pearson %.4f val_spearman %.4f%s", epoch + 1, val_loss, pearson,
                    spearman, " (best)" if improved else "")
        if self.should_stop():
            logger.info("early stopping: no %s improvement for %d epochs", self.stop_monitor, self.patience)
            self.stopped = True
            self.model.stop_training = True

    def _write_logs(self) -> None:
        best = self.best
        write_json_atomically(self.json_path, {"monitor": "last_epoch" if self.select_last else self.monitor,
                                               "best_epoch": best and best["epoch"], "epochs": self.history})
        keys: list[str] = []
        for row in self.history:
            keys += [k for k in row if k not in keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        with atomic_write(self.csv_path) as handle:
            handle.write(buffer.getvalue())


class ResumeCheckpoint(keras.callbacks.Callback):
    """Saves weights + optimiser state (its ``iterations`` = the step) every ``every`` steps and at each epoch end
    as one file replaced atomically, so a killed run restarts from the last saved step (:func:`restore_checkpoint`)."""

    def __init__(self, directory: Path, every: int, extra_state: Callable[[], dict] | None = None):
        super().__init__()
        self.directory, self.every = Path(directory), int(every)
        self.extra_state = extra_state or dict

    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        weights = self.directory / CHECKPOINT_WEIGHTS
        tmp = self.directory / f".tmp-{os.getpid()}.weights.h5"
        self.model.save_weights(str(tmp))  # weights + optimiser variables, iterations included
        os.replace(tmp, weights)  # the commit point
        write_json_atomically(self.directory / CHECKPOINT_STATE, {"step": self._step(), **self.extra_state()})

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._step() % self.every == 0:
            self.save()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.save()


def restore_checkpoint(model, directory: Path) -> dict:
    """Load the last :class:`ResumeCheckpoint` into a compiled ``model``; return its state (``{}`` if none)."""
    directory = Path(directory)
    for stale in directory.glob(".tmp-*.weights.h5"):  # a save killed before its rename
        stale.unlink(missing_ok=True)
    state_path, weights = directory / CHECKPOINT_STATE, directory / CHECKPOINT_WEIGHTS
    if not weights.exists():
        return {}
    build_optimizer_variables(model)
    model.load_weights(str(weights))
    state = {}
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except ValueError:
            state = {}
    # the step is the restored optimiser's own counter: it was saved in the same file as the weights
    state["step"] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    logger.info("resumed from step %d (%s)", state["step"], directory)
    return state


class StochasticWeightAveraging(keras.callbacks.Callback):
    """SWA as tfa.optimizers.SWA (High Schoolers: ``start_averaging=150, average_period=30``): from optimiser step
    ``start_step`` on, every ``period`` steps the weights join a running mean; :meth:`apply` gives the model the
    mean after training (BatchNorm statistics are kept from the last step, as tfa's SWA does without a BN update
    pass). The running mean is not part of the resume checkpoint: a restarted run averages the snapshots taken
    after the restart."""

    def __init__(self, start_step: int = 0, period: int = 1):
        super().__init__()
        self.start_step, self.period = int(start_step), max(int(period), 1)
        self.count = 0
        self.averages: list[np.ndarray] | None = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if step < self.start_step or (step - self.start_step) % self.period:
            return
        weights = [np.asarray(keras.ops.convert_to_numpy(v)) for v in self.model.trainable_variables]
        self.count += 1
        if self.averages is None:
            self.averages = [w.astype(np.float64) for w in weights]
        else:
            self.averages = [a + (w - a) / self.count for a, w in zip(self.averages, weights)]

    def apply(self, model=None) -> None:
        """Give the model the averaged weights (called once after all ``fit`` calls of a run)."""
        model = model or self.model
        if self.averages is None:
            return
        for variable, average in zip(model.trainable_variables, self.averages):
            variable.assign(average.astype(variable.dtype))
        logger.info("SWA: assigned the mean of %d snapshots", self.count)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLog(keras.callbacks.Callback):
    """Log steps done, rows/s, loss and an ETA at least every ``interval_s`` (and after the first step), so a log
    file shows a long epoch progressing; Keras's own progress bar only helps on a terminal.

    Args:
        total_steps: optimizer steps of the whole run (all epochs).
        batch_size: rows per step (global batch).
        start_step: steps already done (a resumed run).
        interval_s: seconds between lines (30 by default).
        enabled: ``None`` = only when stdout is not a terminal.
        clock: time source (``time.monotonic``).
    """

    def __init__(self, total_steps: int, batch_size: int, *, start_step: int = 0, interval_s: float = 30.0,
                 enabled: bool | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.total_steps, self.batch_size = int(total_steps), int(batch_size)
        self.step, self.interval_s, self.clock = int(start_step), float(interval_s), clock
        self.enabled = (not sys.stdout.isatty()) if enabled is None else bool(enabled)
        self.lines: list[str] = []
        self._started = self._last = None
        self._first_done = self._last_step = None

    def on_train_begin(self, logs=None):
        if self._started is None:
            self._started = self._last = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if not self.enabled:
            return
        now = self.clock()
        if self._first_done is None:  # the first step includes building the graph: not used for the rate
            self._first_done, self._last, self._last_step = (now, self.step), now, self.step
            self._log(f"first step done after {now - self._started:.1f} s (graph built)", logs)
            return
        if now - self._last < self.interval_s:
            return
        rate = (self.step - self._last_step) * self.batch_size / max(now - self._last, 1e-9)
        done_time, done_step = self._first_done
        per_step = (now - done_time) / max(self.step - done_step, 1)
        remaining = max(self.total_steps - self.step, 0)
        self._log(f"{rate:,.0f} rows/s, ETA {_clock(remaining * per_step)}", logs)
        self._last, self._last_step = now, self.step

    def _log(self, message: str, logs) -> None:
        loss = (logs or {}).get("loss")
        percent = 100.0 * self.step / self.total_steps if self.total_steps else 100.0
        line = f"step {self.step}/{self.total_steps} ({percent:.1f}%)" + (
            f", loss {float(loss):.4g}" if loss is not None else "") + f", {message}"
        self.lines.append(line)
        logger.info("train: %s", line)
