"""The driver end to end on real demo rows with the tiny test architecture: run folder, metrics, best model,
prediction consistency, early stopping, the k-mer ridge baseline."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

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
    assert info["construct"]["name"] == "dream_yeast"  # no construct in the config: the challenge's
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


# --- resume safety ------------------------------------------------------------------------------------------------
def test_resume_on_changed_data_is_refused_and_restart_retrains(run, tmp_path, demo_train):
    """A finished (or half-trained) run folder resumed with another --data file: a ConfigError naming the checksum,
    never training on the wrong rows; --restart discards the old state and trains on the new file."""
    from seq2exp.errors import ConfigError

    other = copy_first_lines(demo_train, tmp_path / "other.txt", 500)
    with pytest.raises(ConfigError, match=r"trained on other data \(train_sha256: .*--restart"):
        train(CONFIG, data=other, out=run.path, strategy="default", verbose=0)
    edited = tmp_path / "edited.txt"
    edited.write_text(open(run.info["data"]["train"]).read().replace("\t", "\t1", 1))  # one value edited
    with pytest.raises(ConfigError, match="train_sha256"):
        train(CONFIG, data=edited, out=run.path, strategy="default", verbose=0)
    fresh = tmp_path / "fresh"
    import shutil

    shutil.copytree(run.path, fresh)
    retrained = train({**CONFIG, "epochs": 1}, data=other, out=fresh, strategy="default", verbose=0, restart=True)
    assert retrained.info["data"]["n_train"] == 450 and retrained.info["optimizer_steps"] == 10
    assert json.loads((fresh / "checkpoints" / "data.json").read_text())["train_sha256"] == \
        retrained.info["data"]["train_sha256"] != run.info["data"]["train_sha256"]


def test_shared_cache_dir_keeps_each_files_rows(tmp_path, demo_train):
    from seq2exp.training.driver import prepare

    cache_dir = str(tmp_path / "shared-cache")
    first = copy_first_lines(demo_train, tmp_path / "a.txt", 300)
    second = copy_first_lines(demo_train, tmp_path / "b.txt", 200)
    config = {**CONFIG, "data": {"cache_dir": cache_dir}}
    setup_a = prepare(config, first, None, tmp_path / "run_a", strategy="default")
    setup_b = prepare(config, second, None, tmp_path / "run_b", strategy="default")
    assert (setup_a.train_cache.n, setup_b.train_cache.n) == (300, 200)
    assert setup_a.train_cache.path != setup_b.train_cache.path
    again = prepare(config, first, None, tmp_path / "run_a", strategy="default")
    assert again.train_cache.n == 300 and again.train_cache.source_sha256 == setup_a.data_info["train_sha256"]


def test_resume_skips_at_the_batch_index(demo_rows):
    """skip_batches=k gives exactly batches k, k+1, ... of the full stream (shuffle, RC + shift augmentation, across
    epoch boundaries), and reads only the rows of the batches it yields (O(1) in k)."""
    from seq2exp.data.cache import TrainingCache
    from seq2exp.data.datasets import make_dataset
    from seq2exp.data.encoding import Encoder
    from seq2exp.models import registry

    cache = TrainingCache.from_sequences(*_rows(demo_rows, 90))
    encoder = Encoder(registry.get("test_tiny").default_config["input"])
    kwargs = dict(batch_size=16, shuffle=True, seed=3, rc_augment=True, shift_augment=2, repeat=True)
    full = [batch for _, batch in zip(range(14), make_dataset(cache, encoder, **kwargs))]
    read = []
    original = cache.read_codes
    cache.read_codes = lambda rows: read.append(len(rows)) or original(rows)
    skipped = [batch for _, batch in zip(range(3), make_dataset(cache, encoder, skip_batches=11, **kwargs))]
    for (x_full, y_full), (x_skip, y_skip) in zip(full[11:], skipped, strict=True):
        np.testing.assert_array_equal(x_full.numpy(), x_skip.numpy())
        np.testing.assert_array_equal(y_full["expression"].numpy(), y_skip["expression"].numpy())
    assert sum(read) <= 16 * 3 + 16 * 8  # the batches it yields plus what prefetching reads ahead, not 11 batches
    many = make_dataset(cache, encoder, skip_batches=10**9, **kwargs)
    assert next(iter(many))[0].shape[0] == 16  # step 10^9 costs no more than step 11


def _rows(path, n):
    lines = open(path).read().splitlines()[:n]
    return [line.split("\t")[0] for line in lines], np.array([float(line.split("\t")[1]) for line in lines])


def test_val_fraction_zero_trains_on_every_row_and_keeps_the_last_epoch(tmp_path, demo_rows):
    """Autosome's and BHI's "100-0" recipe: every row trains, a fixed epoch budget, the last epoch is the model."""
    config = {**CONFIG, "data": {"val_fraction": 0}, "callbacks": {"early_stopping": None}, "epochs": 2}
    result = train(config, data=demo_rows, out=tmp_path / "all_rows", strategy="default", verbose=0)
    assert result.info["data"]["n_train"] == 600 and result.info["data"]["n_val"] == 0
    assert result.info["model_selection"] == "last_epoch (no validation rows)"
    assert result.info["best_epoch"] == 1 and result.metrics["n_val"] == 0
    assert json.loads((result.path / "metrics.json").read_text())["monitor"] == "last_epoch"
    from seq2exp.errors import ConfigError

    with pytest.raises(ConfigError, match="early_stopping: needs validation rows"):
        train({**config, "callbacks": {"early_stopping": {"patience": 2}}}, data=demo_rows, out=tmp_path / "x")


def test_training_restores_global_seeds_and_precision(tmp_path, demo_rows):
    import random

    import keras

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    train({**CONFIG, "epochs": 1}, data=demo_rows, out=tmp_path / "seeds", strategy="default", verbose=0)
    assert (random.random(), np.random.rand()) == expected
    assert keras.mixed_precision.global_policy().name == "float32"


def test_saved_model_says_which_architecture_and_config_built_it(run):
    from seq2exp.models import registry

    info = registry.build_info(run.path / "model.keras")  # the .keras file alone
    assert info["architecture"] == "test_tiny" and info["config"]["filters"] == 8
    assert registry.build_info(run.model) == info


def test_the_training_step_is_traced_once(tmp_path, demo_rows, monkeypatch):
    """The optimiser's variables exist before the first step: Keras would otherwise create them inside the first
    traced step (no distribution strategy), and TensorFlow would trace the whole step a second time."""
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    traces = []
    original = TensorFlowTrainer.train_step

    def counted(self, data):
        traces.append(1)  # Python runs only while TensorFlow traces the step
        return original(self, data)

    monkeypatch.setattr(TensorFlowTrainer, "train_step", counted)
    train({**CONFIG, "epochs": 2, "steps_per_epoch": 3}, data=demo_rows, out=tmp_path / "once", strategy="default",
          verbose=0)
    assert len(traces) == 1


def test_the_final_validation_line_names_its_tta_against_the_per_epoch_figures(tmp_path, demo_rows, caplog):
    """The final val_pearson (selected weights, the run's prediction graph with TTA) differs from the per-epoch
    ones (bare model): the log line says which is which and carries run.json's figure."""
    import logging

    config = {**CONFIG, "epochs": 1, "steps_per_epoch": 3, "tta": {"reverse_complement": True, "shifts": [-1, 0, 1]}}
    with caplog.at_level(logging.INFO, logger="seq2exp.training.driver"):
        trained = train(config, data=demo_rows, out=tmp_path / "run", strategy="default", verbose=0)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("final validation"))
    assert "test-time augmentation reverse complement + shifts [-1, 0, 1]" in line
    assert f"val_pearson {trained.info['metrics']['val_pearson']:.4f}" in line
    assert "per-epoch val_pearson above is the bare model without test-time augmentation" in line


def test_a_validation_set_without_spread_writes_strict_json(tmp_path, demo_rows, capsys):
    """Constant measured validation values give a NaN correlation: the CLI's line, run.json and metrics.json hold
    null there (NaN is not JSON: jq and JavaScript refuse it), and a rerun resumes from those records."""
    import yaml

    from seq2exp.cli import main

    val = tmp_path / "flat_val.txt"
    val.write_text("".join(line.split("\t")[0] + "\t11\n" for line in demo_rows.read_text().splitlines()[:20]))
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "epochs": 1, "steps_per_epoch": 2}))

    def strict(text: str):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))

    argv = ["train", str(config), "--data", str(demo_rows), "--val", str(val), "--out", str(tmp_path / "flat"),
            "--quiet"]
    for _ in range(2):  # the second call resumes the finished run from its records
        capsys.readouterr()
        assert main(argv) == 0
        assert strict(capsys.readouterr().out.strip().splitlines()[-1])["val_pearson"] is None
    assert strict((tmp_path / "flat" / "run.json").read_text())["metrics"]["val_pearson"] is None
    epoch = strict((tmp_path / "flat" / "metrics.json").read_text())["epochs"][0]
    assert epoch["val_pearson"] is None and np.isfinite(epoch["val_loss"])


def _oriented_table(path, rows, rng) -> None:
    """A human-MPRA-like table: ``seq_id`` (``_Reversed:`` marks a reverse row), ``seq`` (110 bp), ``mean_value``
    = GC fraction, + 2 on reverse rows (the orientation matters to the target, so the model learns the channel)."""
    letters = np.array(list("ACGT"))
    lines = ["seq_id\tseq\tmean_value"]
    for i in range(rows):
        sequence = "".join(rng.choice(letters, 110))
        reverse = i % 3 == 0
        value = (sequence.count("G") + sequence.count("C")) / 110 + 2.0 * reverse + rng.normal(0, 0.05)
        lines.append(f"seq{i}_{'Reversed:' if reverse else 'F'}\t{sequence}\t{value:.4f}")
    path.write_text("\n".join(lines) + "\n")


def test_final_validation_feeds_each_rows_orientation_to_the_is_reverse_channel(tmp_path):
    """With an is_reverse channel and reverse validation rows, run.json's final val_pearson is the Pearson of the
    model's oriented predictions (the Keras model called on a numpy one-hot + each row's is_reverse flag), as the
    per-epoch validation's is; before, it was the forward-only figure (every row's channel 0)."""
    from scipy.stats import pearsonr

    from seq2exp.data.formats import read_table

    rng = np.random.default_rng(5)
    _oriented_table(tmp_path / "train.tsv", 240, rng)
    _oriented_table(tmp_path / "val.tsv", 90, rng)
    config = {"model": {"architecture": "test_tiny", "config": {"input": {"rc_channel": True}}}, "construct": "genomic",
              "data": {"table": {"targets": ["mean_value"],
                                 "orientation": {"column": "seq_id", "contains": "_Reversed:"}}},
              "loss": {"name": "mse"}, "optimizer": {"name": "adam", "learning_rate": 0.02},
              "batch_size": 32, "epochs": 2, "steps_per_epoch": 8}
    trained = train(config, data=tmp_path / "train.tsv", val=tmp_path / "val.tsv", out=tmp_path / "run",
                    strategy="default", verbose=0)
    val = read_table(tmp_path / "val.tsv", config["data"]["table"])
    assert 0 < val.reverse.sum() < len(val)
    onehot = np.array([[[float(base == letter) for letter in "ACGT"] for base in sequence]
                       for sequence in val.sequences], np.float32)

    def pearson(flags: np.ndarray) -> float:
        channel = np.broadcast_to(flags.astype(np.float32)[:, None, None], (len(flags), 110, 1))
        predicted = np.asarray(trained.model(np.concatenate([onehot, channel], axis=2), training=False)["expression"])
        return float(pearsonr(predicted.reshape(-1), val.targets[:, 0])[0])

    oriented, forward = pearson(val.reverse), pearson(np.zeros(len(val), bool))
    recorded = json.loads((trained.path / "run.json").read_text())["metrics"]["val_pearson"]
    print(f"final val_pearson {recorded:.4f}; numpy oriented {oriented:.4f}, forward-only {forward:.4f}")
    assert abs(oriented - forward) > 0.05  # the data tell the two apart
    assert recorded == pytest.approx(oriented, abs=1e-5)
    best = json.loads((trained.path / "metrics.json").read_text())
    epoch = next(row for row in best["epochs"] if row["epoch"] == best["best_epoch"])
    assert recorded == pytest.approx(epoch["val_pearson"], abs=1e-5)  # TTA none: the best epoch's own figure


def test_a_row_without_any_target_names_the_way_out_and_that_way_works(tmp_path, capsys):
    """A one-target table's row whose target is missing is an invalid row, not a masked one: ``seq2exp train``
    fails with one line naming the line, the column and ``--set data.on_invalid=skip``; that very option (as the
    hint spells it) trains on the other rows, the bad one skipped."""
    import yaml

    from seq2exp.cli import main
    from seq2exp.training.cli import parse_overrides

    rng = np.random.default_rng(2)
    rows = ["seq_id\tseq\tmean_value"] + [f"r{i}\t{''.join(rng.choice(list('ACGT'), 110))}\t{i % 5}.25"
                                          for i in range(60)]
    rows[3] = rows[3].rsplit("\t", 1)[0] + "\t"  # line 4: the only target missing
    (tmp_path / "missing.tsv").write_text("\n".join(rows) + "\n")
    config = {"model": {"architecture": "test_tiny"}, "construct": "genomic",
              "data": {"table": {"targets": ["mean_value"]}}, "loss": {"name": "mse"},
              "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 16, "epochs": 1,
              "steps_per_epoch": 2}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    argv = ["train", str(tmp_path / "tiny.yaml"), "--data", str(tmp_path / "missing.tsv"), "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "refused")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.tsv, line 4, field 'mean_value': every target (mean_value) is missing" in err[0]
    assert "train with --set data.on_invalid=skip" in err[0], err[0]
    trained = train(config, data=tmp_path / "missing.tsv", out=tmp_path / "skipped", strategy="default",
                    overrides=parse_overrides(["data.on_invalid=skip"]))
    assert trained.info["data"]["on_invalid"] == "skip"
    assert trained.info["data"]["n_train"] + trained.info["data"]["n_val"] == 59
