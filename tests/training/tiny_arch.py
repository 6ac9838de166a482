"""A tiny registered architecture for training tests (fast graph building, no dropout: deterministic).

Importing this module registers ``test_tiny`` (regression head) and ``test_tiny_bins`` (18-bin head) in the
model registry. Subprocess tests run the real CLI through :func:`main` after importing it.
"""
from __future__ import annotations

import sys

import keras

from seq2exp.models.registry import Architecture, register

TINY_INPUT = {"kind": "onehot", "length": 110, "region": "full", "pad": "n_right", "trim": "right", "n_value": 0.25}


def build_tiny(config: dict) -> keras.Model:
    """Conv1D -> global mean -> Dense(1): ``{"expression": [B]}`` (``{"bins", "expression"}`` with ``bins: true``);
    a 5th input channel with ``input: {rc_channel: true}`` (is_reverse)."""
    channels = 4 + bool(config["input"].get("rc_channel"))
    inputs = keras.Input((config["input"]["length"], channels), name="inputs")
    x = keras.layers.Conv1D(config["filters"], 5, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    if config.get("bins"):
        bins = keras.layers.Dense(18, activation="softmax", name="bins")(x)
        expected = keras.layers.Dense(1, use_bias=False, trainable=False, name="expected",
                                      kernel_initializer=keras.initializers.Constant(
                                          [[float(i)] for i in range(18)]))(bins)
        return keras.Model(inputs, {"bins": bins, "expression": keras.layers.Reshape((), name="expression")(expected)})
    x = keras.layers.Dense(1, name="dense")(x)
    return keras.Model(inputs, {"expression": keras.layers.Reshape((), name="expression")(x)})


register(Architecture(name="test_tiny", builder=build_tiny, default_config={"input": TINY_INPUT, "filters": 8},
                      smoke_config={"filters": 4}, head="regression", description="test model"))
register(Architecture(name="test_tiny_bins", builder=build_tiny,
                      default_config={"input": TINY_INPUT, "filters": 8, "bins": True},
                      smoke_config={"filters": 4}, head="bins", description="test model (bins)"))


def main(argv: list[str]) -> int:
    """``python -m tests.training.tiny_arch train ...``: the seq2exp CLI with the tiny architectures registered."""
    import os

    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    logical_cpus = int(os.environ.get("SEQ2EXP_TEST_LOGICAL_CPUS", "0"))
    if logical_cpus > 1:  # several CPU devices: a real multi-replica MirroredStrategy without GPUs
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    _install_checkpoint_kill(os.environ.get("SEQ2EXP_TEST_KILL_IN_CHECKPOINT"))
    kill_at = int(os.environ.get("SEQ2EXP_TEST_SIGKILL_AT_STEP", "0"))
    if kill_at:
        _sigkill_at_step(kill_at)
    from seq2exp.cli import main as cli_main

    return cli_main(argv)


def _install_checkpoint_kill(spec: str | None) -> None:
    """``SEQ2EXP_TEST_KILL_IN_CHECKPOINT=N:tmp`` SIGKILLs this process inside the N-th checkpoint save, with half
    of the new weights file written; ``N:state`` right after the new weights are committed, before ``state.json``
    is replaced (it still names the previous step): the moments a kill -9 can hit a checkpoint write."""
    if not spec:
        return
    import os
    import signal

    from seq2exp.training import callbacks

    when, mode = spec.split(":")
    calls = {"n": 0}
    original = callbacks.ResumeCheckpoint.save

    def save(self) -> None:
        calls["n"] += 1
        if calls["n"] < int(when):
            return original(self)
        self.directory.mkdir(parents=True, exist_ok=True)
        if mode == "tmp":
            tmp = self.directory / f".tmp-{os.getpid()}.weights.h5"
            self.model.save_weights(str(tmp))
            with open(tmp, "r+b") as handle:
                handle.truncate(os.path.getsize(tmp) // 2)
        else:
            tmp = self.directory / f".tmp-{os.getpid()}.weights.h5"
            self.model.save_weights(str(tmp))
            os.replace(tmp, self.directory / callbacks.CHECKPOINT_WEIGHTS)
        os.kill(os.getpid(), signal.SIGKILL)

    callbacks.ResumeCheckpoint.save = save


def _sigkill_at_step(step: int) -> None:
    """Make this process SIGKILL itself right after optimiser step ``step`` (a crash at a known point, whatever
    the machine's load, instead of a parent racing the training loop)."""
    import os
    import signal

    from seq2exp.training import callbacks

    original = callbacks.ResumeCheckpoint.on_train_batch_end

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        original(self, batch, logs)
        if self._step() >= step:
            os.kill(os.getpid(), signal.SIGKILL)

    callbacks.ResumeCheckpoint.on_train_batch_end = on_train_batch_end


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
