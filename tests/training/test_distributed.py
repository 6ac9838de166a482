"""Robustness and distribution, for real, in subprocesses running the ``seq2exp train`` CLI:

- a training process SIGKILLed inside a checkpoint write, between its two files, and (by itself) at a seeded random
  step, restarted with the same command each time, finishes with the same number of optimiser steps, and the same
  final weights, as an uninterrupted run;
- MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 (TF_CONFIG) train a few steps and end with
  identical weights; the global batch is split per replica and the input pipeline is sharded.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import copy_first_lines

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = """\
model: {architecture: test_tiny}
loss: {name: mse}
optimizer: {name: adam, learning_rate: 0.005}
batch_size: 16
epochs: 3
steps_per_epoch: 30
checkpoint_every: 7
seed: 11
callbacks: {tensorboard: false}
"""


def _train_command(config: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.training.tiny_arch", "train", str(config), "--data", str(data),
            "--out", str(out), "--quiet", *extra]


def _env(**extra: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1", **extra}
    return env


def _final_weights(run: Path) -> list[np.ndarray]:
    import h5py

    arrays: list[np.ndarray] = []
    with h5py.File(run / "checkpoints" / "latest.weights.h5", "r") as handle:
        handle.visititems(lambda name, item: arrays.append(np.asarray(item)) if isinstance(item, h5py.Dataset)
                          else None)
    return arrays


@pytest.fixture(scope="module")
def small_train(tmp_path_factory, demo_train) -> Path:
    return copy_first_lines(demo_train, tmp_path_factory.mktemp("data") / "train.txt", 400)


def test_sigkill_mid_epoch_then_resume(tmp_path, small_train):
    """kill -9 three times - inside a checkpoint write (half a weights file), between committing the weights and
    replacing state.json (which still names the older step), and at a seeded random step (the process kills
    itself: the same point whatever the machine's load) - then resume: the same steps and the same final weights
    as an uninterrupted run."""
    import random

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    reference, victim = tmp_path / "uninterrupted", tmp_path / "killed"
    uninterrupted = subprocess.Popen(_train_command(config, small_train, reference), cwd=REPO, env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state_file = victim / "checkpoints" / "state.json"
    # the 2nd save after each (re)start: step 14 (killed half-written: step 7 stays), then step 21 (resumed from 7)
    for kill in ("2:tmp", "2:state"):
        killed = subprocess.run(_train_command(config, small_train, victim), cwd=REPO, capture_output=True,
                                text=True, timeout=600, env=_env(SEQ2EXP_TEST_KILL_IN_CHECKPOINT=kill))
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert json.loads(state_file.read_text())["step"] == 14  # stale: the committed weights file holds step 21
    target = random.Random(os.getpid()).choice([s for s in range(36, 80) if s % 30 and s % 7])
    process = subprocess.Popen(_train_command(config, small_train, victim), cwd=REPO,
                               env=_env(SEQ2EXP_TEST_SIGKILL_AT_STEP=str(target)), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    output = process.communicate(timeout=600)[0].decode()
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    assert "resumed from step 21" in output
    last_save = max(target // 7 * 7, target // 30 * 30)  # every 7 steps and at each epoch end
    assert json.loads(state_file.read_text())["step"] == last_save
    assert not (victim / "run.json").exists()

    resumed = subprocess.run(_train_command(config, small_train, victim), cwd=REPO, env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert f"resumed from step {last_save}" in resumed.stderr
    reference_output = uninterrupted.communicate(timeout=600)[0].decode()
    assert uninterrupted.returncode == 0, reference_output[-3000:]

    resumed_info = json.loads((victim / "run.json").read_text())
    reference_info = json.loads((reference / "run.json").read_text())
    assert resumed_info["optimizer_steps"] == reference_info["optimizer_steps"] == 3 * 30
    metrics = json.loads((victim / "metrics.json").read_text())["epochs"]
    assert [row["epoch"] for row in metrics] == [0, 1, 2]
    assert [row["optimizer_steps"] for row in metrics] == [30, 60, 90]
    assert not list((victim / "checkpoints").glob(".tmp-*"))
    for resumed_weights, reference_weights in zip(_final_weights(victim), _final_weights(reference), strict=True):
        np.testing.assert_allclose(resumed_weights, reference_weights, rtol=1e-4, atol=1e-5)
    assert resumed_info["metrics"]["val_pearson"] == pytest.approx(reference_info["metrics"]["val_pearson"], abs=1e-4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two TensorFlow processes (~25 s on a quiet 2-core machine, minutes under load)
def test_multi_worker_mirrored_strategy_two_processes(tmp_path, small_train):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    workers = [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        command = _train_command(config, small_train, tmp_path / f"worker{index}", "--strategy", "multi_worker",
                                 "--set", "epochs=2", "--set", "steps_per_epoch=4")
        processes.append(subprocess.Popen(command, cwd=REPO, env=_env(TF_CONFIG=tf_config),
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [p.communicate(timeout=600)[0].decode() for p in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    infos = [json.loads((tmp_path / f"worker{i}" / "run.json").read_text()) for i in range(2)]
    for info in infos:
        assert info["strategy"] == "multi_worker" and info["replicas"] == 2 and info["optimizer_steps"] == 8
    assert [info["chief"] for info in infos] == [True, False]
    weights = [_final_weights(tmp_path / f"worker{i}") for i in range(2)]
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)
    assert infos[0]["metrics"]["val_pearson"] == infos[1]["metrics"]["val_pearson"]


def test_input_pipeline_is_sharded_with_per_replica_batches(tmp_path, small_train):
    import tensorflow as tf

    import tests.training.tiny_arch  # noqa: F401
    from seq2exp.training.driver import prepare

    setup = prepare({"model": {"architecture": "test_tiny"}, "loss": "mse", "optimizer": {"name": "adam"},
                     "batch_size": 32, "epochs": 1}, small_train, None, tmp_path / "run", strategy="default")
    targets = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        inputs, target = next(iter(setup.train_dataset(input_context=context)))
        assert inputs.shape[0] == 16  # global batch 32 over 2 replicas
        targets.append(set(np.round(target["expression"].numpy(), 5)))
    whole = next(iter(setup.train_dataset()))
    assert whole[0].shape[0] == 32
    assert targets[0] != targets[1]


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path, small_train):
    """model.fit under MirroredStrategy with two replicas (two logical CPU devices)."""
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    result = subprocess.run(_train_command(config, small_train, tmp_path / "mirrored", "--strategy", "mirrored",
                                           "--set", "epochs=1", "--set", "steps_per_epoch=6"),
                            cwd=REPO, env=_env(SEQ2EXP_TEST_LOGICAL_CPUS="2"), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "mirrored" / "run.json").read_text())
    assert info["strategy"] == "mirrored" and info["replicas"] == 2 and info["optimizer_steps"] == 6
