"""The driver end to end on real demo rows with the tiny test architecture: run folder, metrics, best model,
prediction consistency, early stopping, the k-mer ridge baseline."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import tests.training.tiny_arch  # noqa: E402,F401  (registers test_tiny)
from seq2exp.inference import runs as inference  # noqa: E402
from seq2exp.training.driver import train  # noqa: E402
from tests.conftest import copy_first_lines  # noqa: E402

CONFIG = {
    "model": {"architecture": "test_tiny"},
    "target": {"transform": "standardize"},
    "loss": {"name": "huber", "delta": 1.0},
    "optimizer": {"name": "adamw", "learning_rate": 0.01, "weight_decay": 0.01},
    "schedule": {"name": "one_cycle"},
    "batch_size": 32,
    "epochs": 3,
    "steps_per_epoch": 10,
    "augment": {"reverse_complement": True, "shift": 2},
    "tta": {"reverse_complement": True},
    "callbacks": {"early_stopping": {"patience": 5}},
}


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory, demo_train):
    return copy_first_lines(demo_train, tmp_path_factory.mktemp("data") / "train.txt", 600)


@pytest.fixture(scope="module")
def run(tmp_path_factory, demo_rows):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    return train(CONFIG, data=demo_rows, out=out, strategy="default", verbose=0)


def test_run_folder_layout(run):
    for name in ("config.yaml", "model.keras", "run.json", "metrics.csv", "metrics.json"):
        assert (run.path / name).is_file(), name
    assert (run.path / "checkpoints" / "state.json").is_file()
    assert any((run.path / "tensorboard").rglob("events.out.tfevents*"))
    info = json.loads((run.path / "run.json").read_text())
    assert info["architecture"] == "test_tiny"
    assert info["encoding"]["kind"] == "onehot" and info["encoding"]["length"] == 110
    assert info["target_transform"]["name"] == "standardize"
    assert info["tta"] == {"reverse_complement": True, "shifts": [0]}
    assert info["data"]["n_train"] == 540 and info["data"]["n_val"] == 60 and len(info["data"]["train_sha256"]) == 64
    assert info["optimizer_steps"] == 30
    assert np.isfinite(info["metrics"]["val_pearson"]) and np.isfinite(info["metrics"]["val_spearman"])


def test_metrics_log_and_best_model(run):
    with open(run.path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("loss", "val_loss", "val_pearson", "val_spearman", "learning_rate", "optimizer_steps"):
        assert key in rows[0], key
    assert [int(r["optimizer_steps"]) for r in rows] == [10, 20, 30]
    pearsons = [float(r["val_pearson"]) for r in rows]
    best = int(np.nanargmax(pearsons))
    assert json.loads((run.path / "metrics.json").read_text())["best_epoch"] == best
    # the saved model is the best epoch's: its plain (no-TTA) validation Pearson equals the logged best
    graph = inference.PredictionGraph(run.model, run.encoder, None, run.target_transform)
    from seq2exp.data.cache import TrainingCache
    from seq2exp.training.callbacks import pearson_spearman

    cache = TrainingCache.open(next((run.path / "cache").glob("train-*")))
    _, val_index = cache.split(0.1, 0)
    predicted = graph.predict(cache.sequences(val_index))
    assert pearson_spearman(predicted, cache.targets[val_index])[0] == pytest.approx(pearsons[best], abs=1e-4)


def test_load_run_predicts_like_the_recorded_metrics(run):
    from seq2exp.data.cache import TrainingCache
    from seq2exp.training.callbacks import pearson_spearman

    loaded = inference.load_run(run.path)
    cache = TrainingCache.open(next((run.path / "cache").glob("train-*")))
    _, val_index = cache.split(0.1, 0)
    predicted = loaded.predict(cache.sequences(val_index))
    assert pearson_spearman(predicted, cache.targets[val_index])[0] == pytest.approx(
        run.info["metrics"]["val_pearson"], abs=1e-5)
    assert loaded.prediction_graph().tta.variants() == [(0, False), (0, True)]


def test_resume_finished_run_and_refuse_other_config(run, demo_rows):
    from seq2exp.errors import ConfigError

    again = train(CONFIG, data=demo_rows, out=run.path, strategy="default", verbose=0)
    assert again.info["optimizer_steps"] == 30  # nothing re-trained
    with pytest.raises(ConfigError, match="different config"):
        train({**CONFIG, "epochs": 4}, data=demo_rows, out=run.path, strategy="default", verbose=0)


def test_kmer_ridge_baseline(tmp_path, demo_rows):
    """k-mer ridge through the same driver: a Keras model of fixed k-mer detectors + solved ridge weights."""
    config = {"model": {"architecture": "kmer_ridge", "config": {"ks": [1, 2, 3], "alphas": [1.0, 100.0]}},
              "batch_size": 128, "epochs": 1}
    baseline = train(config, data=demo_rows, out=tmp_path / "ridge", strategy="default", verbose=0)
    assert baseline.info["ridge"]["features"] == 4 + 16 + 64
    assert baseline.info["ridge"]["alpha"] in (1.0, 100.0)
    assert baseline.info["metrics"]["val_pearson"] == pytest.approx(
        baseline.info["ridge"]["val_pearson_by_alpha"][baseline.info["ridge"]["alpha"]], abs=1e-4)


def test_kmer_ridge_recovers_a_kmer_signal():
    """Synthetic check: expression = 3 * count(GATA) - count(CC) + noise is predicted with r > 0.95."""
    from seq2exp.data.cache import TrainingCache
    from seq2exp.data.encoding import Encoder
    from seq2exp.data.datasets import make_dataset
    from seq2exp.training.baselines import fit_kmer_ridge, kmer_model_config

    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 80)) for _ in range(1500)]
    y = np.array([3 * s.count("GATA") - sum(s[i:i + 2] == "CC" for i in range(79)) for s in sequences], float)
    y += rng.normal(0, 0.3, len(y))
    cache = TrainingCache.from_sequences(sequences, y.astype(np.float32))
    config = kmer_model_config({"ks": [2, 4], "alphas": [0.1, 10.0],
                                "input": {"length": 80}})
    encoder = Encoder(config["input"])
    train_rows, val_rows = np.arange(1200), np.arange(1200, 1500)
    train_ds = make_dataset(cache, encoder, batch_size=256, indices=train_rows, shuffle=False)
    val_ds = make_dataset(cache, encoder, batch_size=256, indices=val_rows, shuffle=False)
    model, details = fit_kmer_ridge(config, train_ds, val_ds, y[val_rows])
    assert details["val_pearson_by_alpha"][details["alpha"]] > 0.95
    predicted = model.predict(encoder.encode([sequences[i] for i in val_rows]), verbose=0)["expression"]
    assert np.corrcoef(predicted, y[val_rows])[0, 1] > 0.95
