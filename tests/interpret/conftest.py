"""Fixtures of the interpretation tests: run folders whose weights make a known motif the only signal."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seq2exp.data.alphabet import FLANK3, FLANK5

MOTIF = "TTACCCGG"  # Reb1's consensus
BASES = "ACGT"


def motif_kernel(motif: str) -> np.ndarray:
    """Conv1D kernel [k, 4, 1]: +1 for the motif's base at each offset."""
    kernel = np.zeros([len(motif), 4, 1], np.float32)
    for offset, base in enumerate(motif):
        kernel[offset, BASES.index(base), 0] = 1.0
    return kernel


def save_run(path: Path, model, encoding: dict, tta: dict | None = None) -> Path:
    """A run folder as ``seq2exp train`` writes it (model.keras, run.json)."""
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    info = {"architecture": "test", "encoding": encoding, "target_transform": None, "tta": tta or {},
            "postprocess": [], "data": {"train_sha256": "0" * 64}, "metrics": {}}
    (path / "run.json").write_text(json.dumps(info))
    return path


def make_motif_run(path: Path, motif: str = MOTIF, tta: dict | None = None) -> Path:
    """expression = sum over positions of relu(matches(motif) - (k - 2)): only near-exact sites count (fixed
    weights; a site on the forward strand only)."""
    import keras

    from seq2exp.data.encoding import Encoder

    encoding = {"kind": "onehot", "length": 110, "pad": "n_right"}
    encoder = Encoder(encoding)
    inputs = keras.Input(shape=encoder.input_shape, name="inputs")
    conv = keras.layers.Conv1D(1, len(motif), activation="relu", name="motif")
    hidden = conv(inputs)
    conv.set_weights([motif_kernel(motif), np.array([-(len(motif) - 2)], np.float32)])
    expression = keras.layers.Flatten(name="expression")(keras.layers.GlobalAveragePooling1D()(hidden) * 100.0)
    return save_run(path, keras.Model(inputs, {"expression": expression}), encoding, tta)


SMOOTH_ENCODING = {"kind": "onehot", "length": 110, "pad": "plasmid_right", "rc_channel": True}
# mt's letter channels (A, G, C, T, N, P; P on padded positions) with an RC channel after them
LETTERS_ENCODING = {"kind": "onehot", "length": 110, "pad": "zero_right", "n_value": 0.0, "onehot_letters": "AGCTNP",
                    "rc_channel": True}


def make_smooth_run(path: Path, tta: dict | None = None, seed: int = 0, encoding: dict | None = None) -> Path:
    """A small random smooth network (tanh conv -> dense) on ``encoding`` (default: a plasmid-padded 110-bp input
    with an RC channel)."""
    import keras

    from seq2exp.data.encoding import Encoder

    keras.utils.set_random_seed(seed)
    encoding = encoding or SMOOTH_ENCODING
    encoder = Encoder(encoding)
    inputs = keras.Input(shape=encoder.input_shape, name="inputs")
    hidden = keras.layers.Conv1D(8, 9, activation="tanh")(inputs)
    hidden = keras.layers.Conv1D(4, 5, activation="softplus")(hidden)
    hidden = keras.layers.Flatten()(hidden)
    expression = keras.layers.Flatten(name="expression")(keras.layers.Dense(1)(hidden))
    return save_run(path, keras.Model(inputs, {"expression": expression}), encoding, tta)


def promoters(n: int, seed: int = 0, size: int = 80) -> list[str]:
    rng = np.random.default_rng(seed)
    return [FLANK5 + "".join(rng.choice(list(BASES), size)) + FLANK3 for _ in range(n)]


def plant(sequence: str, motif: str, position: int) -> str:
    return sequence[:position] + motif + sequence[position + len(motif):]


@pytest.fixture(scope="session")
def motif_run(tmp_path_factory) -> Path:
    return make_motif_run(tmp_path_factory.mktemp("interpret") / "motif")


@pytest.fixture(scope="session")
def motif_predictor(motif_run):
    from seq2exp.interpret.predictors import RunPredictor

    return RunPredictor(motif_run)


@pytest.fixture(scope="session")
def smooth_predictor(tmp_path_factory):
    from seq2exp.interpret.predictors import RunPredictor

    path = make_smooth_run(tmp_path_factory.mktemp("interpret") / "smooth",
                           tta={"reverse_complement": True, "shifts": [0, 1]})
    return RunPredictor(path)


@pytest.fixture(scope="session")
def letters_predictor(tmp_path_factory):
    """The smooth network on mt-style letter channels (``LETTERS_ENCODING``), with reverse-complement TTA."""
    from seq2exp.interpret.predictors import RunPredictor

    path = make_smooth_run(tmp_path_factory.mktemp("interpret") / "letters", tta={"reverse_complement": True}, seed=1,
                           encoding=LETTERS_ENCODING)
    return RunPredictor(path)


def reference_motif_model(sequences: list[str], motif: str = MOTIF) -> np.ndarray:
    """numpy oracle of make_motif_run's model: 100 x mean over windows of relu(matches - (k - 2))."""
    k = len(motif)
    out = []
    for s in sequences:
        padded = s + "N" * (110 - len(s))
        windows = [sum(a == b for a, b in zip(padded[p:p + k], motif)) for p in range(110 - k + 1)]
        out.append(100.0 * np.mean([max(0, w - (k - 2)) for w in windows]))
    return np.array(out, np.float32)


@pytest.fixture(scope="session")
def served_motif(tmp_path_factory, motif_run):
    """The motif run exported with export_run and served by the embedded gRPC server: (server, SavedModel dir)."""
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.export import export_run
    from seq2exp.serving.server import ModelServer

    base = tmp_path_factory.mktemp("interpret_models")
    export_run(motif_run, base, "motif", verify=False)
    server = ModelServer(discover_models(base), port=0, poll_seconds=0.5).start()
    yield server, base / "motif"
    server.stop(grace=1)


TASKS = ["hk", "dev"]  # the two-task model's column order; an export's expression_<task> outputs sort them
GENOMIC_LENGTH = 64  # the two-task model's input (genomic construct: no flanks; an export accepts up to 256 bp)


@pytest.fixture(scope="session")
def two_task_run(tmp_path_factory) -> Path:
    """A tiny Drosophila-like run folder: two tasks (``TASKS``), an ``is_reverse`` input channel, the ``genomic``
    construct and a ``GENOMIC_LENGTH``-bp input (Conv1D -> max pooling -> Dense(2))."""
    from tests.serving.tiny_variants import make_tiny_variant_run

    return make_tiny_variant_run(tmp_path_factory.mktemp("interpret") / "two_tasks", tasks=TASKS, rc_channel=True,
                                 seed=4, length=GENOMIC_LENGTH, construct="genomic")


@pytest.fixture(scope="session")
def two_task_export(tmp_path_factory, two_task_run) -> Path:
    """``two_task_run`` exported with ``export_run``: the model folder ``M/two``."""
    from seq2exp.serving.export import export_run

    base = tmp_path_factory.mktemp("interpret_two_tasks")
    export_run(two_task_run, base, "two", verify=False)
    return base / "two"


def raw_task_outputs(run: Path, sequences: list[str], with_gradients: bool = False):
    """The two-task model's ``expression`` ``[n, 2]`` computed directly with Keras on a numpy one-hot (A, C, G, T,
    then the is_reverse channel at 0) of equal-length ACGT ``sequences`` as long as its input; with
    ``with_gradients``, also d column / d one-hot ``[2, n, L, 4]`` (one tape per column)."""
    import tensorflow as tf

    from seq2exp.inference.runs import load_model_file

    model = load_model_file(run / "model.keras")
    x = np.zeros([len(sequences), len(sequences[0]), 5], np.float32)
    for i, s in enumerate(sequences):
        x[i, np.arange(len(s)), [BASES.index(b) for b in s]] = 1.0
    if not with_gradients:
        return np.asarray(model(x, training=False)["expression"])
    x = tf.constant(x)
    grads = []
    for column in range(2):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = model(x, training=False)["expression"][:, column]
        grads.append(tape.gradient(value, x).numpy()[..., :4])
    return np.asarray(model(x, training=False)["expression"]), np.stack(grads)


def random_rows(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(BASES), length)) for _ in range(n)]
