"""Shared serving fixtures: two real registry architectures saved as training runs, exported, and served once."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seq2exp.data.alphabet import FLANK3, FLANK5

# architecture -> test-time augmentation recorded in its run (autosome: reverse complement; BHI: a +1 bp shift)
ARCHITECTURES = {"autosome": {"reverse_complement": True}, "bhi": {"shifts": [0, 1]}}
BIN_MODELS = {"autosome"}  # architectures with a "bins" output


def random_promoters(n: int, seed: int = 0, variable_lengths: bool = True) -> list[str]:
    """Challenge-like sequences: flanks + random middle (80 bp, or 60-100 bp when ``variable_lengths``)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    out = []
    for _ in range(n):
        size = int(rng.integers(60, 101)) if variable_lengths else 80
        out.append(FLANK5 + "".join(rng.choice(letters, size)) + FLANK3)
    return out


def session_run(version_dir, requests) -> list[dict]:
    """Load a version with TF Serving's own loading path (``tf.compat.v1.saved_model.loader.load``, not seq2exp's
    loader), then run each ``(signature key, {alias: array})`` by the SignatureDef's tensor names."""
    import tensorflow as tf

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        results = []
        for signature_key, feed in requests:
            signature = meta_graph.signature_def[signature_key]
            fetches = {alias: info.name for alias, info in signature.outputs.items()}
            results.append(session.run(fetches, {signature.inputs[alias].name: value
                                                 for alias, value in feed.items()}))
        return results


def make_run(path: Path, architecture: str, tta: dict, seed: int = 0, overrides: dict | None = None) -> Path:
    """A run folder as ``seq2exp train`` writes it (model.keras, run.json, config.yaml), with untrained weights:
    the smoke config, then ``overrides``."""
    import keras
    import yaml

    from seq2exp.models import registry

    keras.utils.set_random_seed(seed)
    config = registry.get(architecture).config(overrides, smoke=True)
    model = registry.build(architecture, overrides, smoke=True)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    info = {"architecture": architecture, "model_config": config, "encoding": config["input"],
            "target_transform": None, "tta": tta, "postprocess": [],
            "data": {"train": "demo_train.txt", "train_sha256": "0" * 64},
            "metrics": {"val_pearson": 0.5, "val_spearman": 0.4}}
    (path / "run.json").write_text(json.dumps(info))
    (path / "config.yaml").write_text(yaml.safe_dump({"model": {"architecture": architecture}, "tta": tta}))
    return path


def make_tiny_run(path: Path, seed: int = 0) -> Path:
    """A run folder holding a small plain Keras model (Conv1D -> pooling -> Dense) on the 110-bp one-hot input.

    Cheap to trace and to load: used where the serving machinery, not the architecture, is under test.
    """
    import keras

    from seq2exp.data.encoding import Encoder

    keras.utils.set_random_seed(seed)
    encoding = {"kind": "onehot", "length": 110}
    encoder = Encoder(encoding)
    inputs = keras.Input(shape=encoder.input_shape, dtype=encoder.input_dtype, name="inputs")
    hidden = keras.layers.Conv1D(8, 7, activation="relu")(inputs)
    hidden = keras.layers.GlobalMaxPooling1D()(hidden)
    expression = keras.layers.Flatten(name="expression")(keras.layers.Dense(1)(hidden))
    model = keras.Model(inputs, {"expression": expression})
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    info = {"architecture": "tiny", "encoding": encoding, "target_transform": None, "tta": {}, "postprocess": [],
            "data": {"train_sha256": "1" * 64}, "metrics": {"val_pearson": 0.1}}
    (path / "run.json").write_text(json.dumps(info))
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    made = {name: make_run(root / name, name, tta, seed=i) for i, (name, tta) in enumerate(ARCHITECTURES.items())}
    made["tiny"] = make_tiny_run(root / "tiny", seed=5)
    return made


@pytest.fixture(scope="session")
def loaded_runs(runs):
    from seq2exp.inference.runs import load_run

    return {name: load_run(path) for name, path in runs.items()}


@pytest.fixture(scope="session")
def model_base(tmp_path_factory, runs) -> Path:
    """``M/<name>/1`` for autosome, bhi and tiny, exported with ``export_run`` (the self-check on tiny only: the
    tests compare the big ones with the in-process prediction themselves)."""
    from seq2exp.serving.export import export_run

    base = tmp_path_factory.mktemp("models")
    for name, path in runs.items():
        export_run(path, base, name, verify=name == "tiny")
    return base


@pytest.fixture(scope="session")
def server(model_base):
    """The embedded server on a free loopback port, polling every 0.2 s."""
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    srv = ModelServer(discover_models(model_base), port=0, poll_seconds=0.2).start()
    yield srv
    srv.stop(grace=1)


@pytest.fixture(scope="session")
def sequences() -> list[str]:
    return random_promoters(300, seed=7)


@pytest.fixture(scope="session")
def expected_outputs(loaded_runs, sequences) -> dict[str, dict[str, np.ndarray]]:
    """In-process predictions (PredictionGraph.predict_outputs, the run's TTA) of ``sequences``, per architecture."""
    return {name: run.prediction_graph().predict_outputs(sequences) for name, run in loaded_runs.items()
            if name in ARCHITECTURES}


@pytest.fixture(scope="session")
def tiny_v2(tmp_path_factory, loaded_runs):
    """(version folder, PredictionGraph) of the tiny model with other weights: a "new version" to roll out."""
    import keras

    from seq2exp.serving.export import export_graph
    from seq2exp.inference.graph import PredictionGraph

    graph_v1 = loaded_runs["tiny"].prediction_graph()
    keras.utils.set_random_seed(123)
    graph = PredictionGraph(keras.models.clone_model(graph_v1.model), graph_v1.encoder)  # new random weights
    result = export_graph(graph, tmp_path_factory.mktemp("staging"), "tiny", version=2, verify=False)
    return result.path, graph
