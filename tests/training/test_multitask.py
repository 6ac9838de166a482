"""Several tasks: the masked multi-task loss against numpy, and a run's per-task validation metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seq2exp.training.losses import get_loss, multitask_loss


@pytest.mark.parametrize("name", ["mse", "huber", "l1"])
def test_masked_multitask_loss_matches_numpy(name):
    rng = np.random.default_rng(3)
    y = rng.normal(size=(7, 3)).astype(np.float32) * 2.5
    y[1, 0] = y[4, 2] = y[5, 1] = np.nan
    p = rng.normal(size=(7, 3)).astype(np.float32)
    spec = multitask_loss(get_loss({"name": name, **({"delta": 0.7} if name == "huber" else {})}), 3)
    import tensorflow as tf

    y_t = tf.constant(y)
    target = spec.make_target(y_t, y_t)
    per_sample = spec.fn(target, tf.constant(p)).numpy()
    error = np.abs(p - y)
    if name == "mse":
        elementwise = error ** 2
    elif name == "l1":
        elementwise = error
    else:
        quadratic = np.minimum(error, 0.7)
        elementwise = 0.5 * quadratic ** 2 + 0.7 * (error - quadratic)
    expected = np.where(np.isnan(y), 0.0, elementwise).sum(axis=1)  # missing targets masked, never imputed
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    with tf.GradientTape() as tape:
        prediction = tf.Variable(p)
        loss = tf.reduce_mean(spec.fn(target, prediction))
    gradient = tape.gradient(loss, prediction).numpy()
    assert np.isfinite(gradient).all() and (gradient[np.isnan(y)] == 0).all()


def test_masked_kl_bins_per_task():
    import tensorflow as tf

    from seq2exp.data.targets import soft_bin_targets

    y = np.array([[3.2, np.nan], [np.nan, 7.9], [11.0, 0.4]], np.float32)
    probabilities = tf.nn.softmax(tf.constant(np.random.default_rng(0).normal(size=(3, 2, 18)), tf.float32)).numpy()
    spec = multitask_loss(get_loss({"name": "kl_bins"}), 2)
    target = spec.make_target(tf.constant(y), tf.constant(y))
    got = spec.fn(target, tf.constant(probabilities)).numpy()
    expected = np.zeros(3)
    for row in range(3):
        for task in range(2):
            if np.isnan(y[row, task]):
                continue
            t = soft_bin_targets(np.array([y[row, task]], np.float32))[0]
            expected[row] += np.sum(t * (np.log(np.maximum(t, 1e-7)) - np.log(probabilities[row, task])))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


BENCHMARK_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs" / "benchmarks").glob("*.yaml"))


@pytest.mark.parametrize("path", BENCHMARK_CONFIGS, ids=lambda p: p.stem)
def test_benchmark_configs_resolve_and_build(path):
    """The benchmark configs: the authors' batch size, learning rate and loss, a valid data.table, and the model
    builds for its tasks with the input the authors' Seq2Tensor gives (249 / 230 bp x A, G, C, T + is_reverse)."""
    from seq2exp.data.formats import TableSpec
    from seq2exp.models import registry
    from seq2exp.training.config import load_config, resolve_config

    config = resolve_config(load_config(path))
    assert config["batch_size"] == 32 and config["loss"]["name"] == "mse" and config["epochs"] == 80
    assert config["optimizer"]["learning_rate"] == (0.001 if "attn" in path.stem else 0.005)
    table = TableSpec.from_dict(config["data"]["table"])
    model_config = registry.get(config["model"]["architecture"]).config(
        {**config["model"]["config"], "tasks": list(table.targets)}, smoke=True)
    model = registry.get(config["model"]["architecture"]).build_from(model_config)
    length = 249 if path.stem.startswith("drosophila") else 230
    assert tuple(model.input.shape) == (None, length, 5)
    expected = (None, 2) if len(table.targets) == 2 else (None,)
    assert tuple(model.output["expression"].shape) == expected


def test_bad_table_is_a_config_error():
    from seq2exp.errors import ConfigError
    from seq2exp.training.config import resolve_config

    with pytest.raises(ConfigError, match="data.table"):
        resolve_config({"model": {"architecture": "bhi"}, "loss": {"name": "mse"}, "batch_size": 8, "epochs": 1,
                        "optimizer": {"name": "adam", "learning_rate": 0.01},
                        "data": {"table": {"targets": ["a"], "orientation": {"column": "x"}}}})


@pytest.mark.slow  # ~45 s on 2 cores
def test_training_on_a_table_with_missing_targets(tmp_path):
    """A 2-task table with missing values trains (finite losses: masked, never NaN), logs each task's validation
    metrics, and records the tasks in run.json; the model learns each task's signal better than chance."""
    import json

    from seq2exp.training import train

    rng = np.random.default_rng(0)
    letters = np.array(list("ACGT"))
    rows = []
    for i in range(360):
        sequence = "".join(rng.choice(letters, 60))
        gc = (sequence.count("G") + sequence.count("C")) / 60
        a = sequence.count("A") / 60
        dev = "" if i % 7 == 0 else f"{10 * gc + rng.normal(0, 0.2):.4f}"
        hk = "NaN" if i % 5 == 1 and i % 7 else f"{10 * a + rng.normal(0, 0.2):.4f}"
        rows.append(f"r{i}\t{sequence}\t{dev}\t{hk}")
    (tmp_path / "train.tsv").write_text("name\tseq\tdev\thk\n" + "\n".join(rows[:300]) + "\n")
    (tmp_path / "val.tsv").write_text("name\tseq\tdev\thk\n" + "\n".join(rows[300:]) + "\n")
    config = {"model": {"architecture": "auth", "config": {"input": {"kind": "onehot", "length": 60,
                                                                      "region": "full", "pad": "n_right"},
                                                            "dense_units": [32, 32]}},
              "data": {"table": {"targets": ["dev", "hk"]}}, "loss": {"name": "mse"},
              "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 32, "epochs": 15}
    run = train(config, data=tmp_path / "train.tsv", val=tmp_path / "val.tsv", out=tmp_path / "run", smoke=True,
                strategy="default")
    epochs = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"]
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["val_loss"]) for row in epochs)
    assert run.info["tasks"] == ["dev", "hk"]
    tasks = run.info["metrics"]["tasks"]
    assert tasks["dev"]["pearson"] > 0.45 and tasks["hk"]["pearson"] > 0.45, tasks
