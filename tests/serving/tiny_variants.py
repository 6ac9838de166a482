"""Tiny run folders for what the plain tiny model lacks: several tasks, an ``is_reverse`` input channel.

Like :func:`tests.serving.conftest.make_tiny_run` (Conv1D -> pooling -> Dense on a 110-bp one-hot), cheap to trace,
export and load: for tests of the serving and batch machinery, not of an architecture.
"""
from __future__ import annotations

import json
from pathlib import Path


def make_tiny_variant_run(path: Path, *, tasks: list[str] | None = None, rc_channel: bool = False,
                          seed: int = 0, config: dict | None = None, length: int = 110,
                          construct: str | None = None) -> Path:
    """A run folder (``model.keras`` + ``run.json``) whose model predicts ``len(tasks)`` columns (stamped with the
    task names, as the registry stamps its models) and, with ``rc_channel``, reads a 5th ``is_reverse`` channel;
    ``config``: the run's ``config.yaml`` (e.g. its ``data.table``); ``length``: the input's bases; ``construct``:
    the run's construct record (e.g. ``genomic``; none: ``dream_yeast``)."""
    import keras

    from seq2exp.data.encoding import Encoder
    from seq2exp.models import registry

    keras.utils.set_random_seed(seed)
    encoding = {"kind": "onehot", "length": length, "rc_channel": rc_channel}
    encoder = Encoder(encoding, construct=construct)
    inputs = keras.Input(shape=encoder.input_shape, dtype=encoder.input_dtype, name="inputs")
    hidden = keras.layers.Conv1D(8, 7, activation="relu")(inputs)
    hidden = keras.layers.GlobalMaxPooling1D()(hidden)
    width = len(tasks) if tasks and len(tasks) > 1 else 1
    dense = keras.layers.Dense(width)(hidden)
    expression = dense if width > 1 else keras.layers.Flatten(name="expression")(dense)
    model = keras.Model(inputs, {"expression": expression})
    registry.stamp(model, "tiny", {"input": encoding, **({"tasks": list(tasks)} if tasks else {})})
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    info = {"architecture": "tiny", "encoding": encoding, "target_transform": None, "tta": {}, "postprocess": [],
            "data": {"train_sha256": "2" * 64}, "metrics": {"val_pearson": 0.1}}
    if construct is not None:
        info["construct"] = construct
    (path / "run.json").write_text(json.dumps(info))
    if config is not None:
        import yaml

        (path / "config.yaml").write_text(yaml.safe_dump(config))
    return path
