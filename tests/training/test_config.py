"""Config validation: every bad config fails before training, naming the field and the valid choices."""
from __future__ import annotations

from pathlib import Path

import pytest

from seq2exp.errors import ConfigError
from seq2exp.training.config import load_config, resolve_config

import tests.training.tiny_arch  # noqa: F401  (registers test_tiny)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "configs"
TEAM_CONFIGS = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
GOOD = {"model": {"architecture": "test_tiny"}, "loss": {"name": "mse"},
        "optimizer": {"name": "adam", "learning_rate": 0.01}, "batch_size": 8, "epochs": 1}


def test_every_team_has_a_config():
    expected = {"autosome", "bhi", "unlock_dna", "camformers", "nad", "wztr", "high_schoolers", "bionml", "bugf",
                "mt", "vaishnav", "kmer_ridge"}
    assert expected <= set(TEAM_CONFIGS)


@pytest.mark.parametrize("name", TEAM_CONFIGS)
def test_team_config_is_valid(name):
    from seq2exp.models import registry

    raw = load_config(CONFIG_DIR / f"{name}.yaml")
    architecture = raw["model"]["architecture"]
    assert architecture == "kmer_ridge" or architecture in registry.names(), (
        f"{name}.yaml: architecture {architecture!r} is not registered")
    for smoke in (False, True):
        config = resolve_config(raw, smoke=smoke)
        assert config["epochs"] >= 1
    assert resolve_config(raw, smoke=True)["batch_size"] <= 16


def _expect(overrides_or_config, pattern):
    with pytest.raises(ConfigError, match=pattern):
        resolve_config(overrides_or_config)


@pytest.mark.parametrize("change, pattern", [
    ({"model": {"architecture": "legnet"}}, r"model.architecture: unknown architecture 'legnet'; choose one of: .*autosome"),
    ({"loss": {"name": "hubber"}}, r"loss.name: unknown loss 'hubber'; choose one of: mse, l1, huber"),
    ({"optimizer": {"name": "adamm"}}, r"optimizer.name: unknown optimizer 'adamm'; choose one of: adam, adamw"),
    ({"schedule": {"name": "onecycle"}}, r"schedule.name: .*one_cycle"),
    ({"batch_size": "64"}, r"batch_size: expected int, got str"),
    ({"epochs": 2.5}, r"epochs: expected int, got float"),
    ({"epochs": 0}, r"epochs: must be at least 1"),
    ({"augment": {"reverse_complement": "yes"}}, r"augment.reverse_complement: expected bool"),
    ({"augment": {"rc": True}}, r"augment.rc: unknown field; valid: reverse_complement, shift, conjoined_rc"),
    ({"tta": {"shifts": [0.5]}}, r"tta.shifts: expected a list of integers"),
    ({"postprocess": [{"name": "ranks"}]}, r"postprocess\[0\].name: unknown step 'ranks'"),
    ({"precision": "fp16"}, r"precision: unknown policy 'fp16'; choose one of: auto, float32"),
    ({"callbacks": {"early_stopping": {"patience": 3, "monitor": "val_r2"}}},
     r"callbacks.early_stopping.monitor: unknown metric 'val_r2'; choose one of: val_pearson"),
    ({"data": {"val_fraction": 1.5}}, r"data.val_fraction: must be at least 0 and below 1"),
    ({"target": {"transform": "log"}}, r"target.transform: unknown transform 'log'; choose one of: identity"),
    ({"loss": {"name": "kl_bins"}}, r"loss.name: 'kl_bins' trains the 'bins' output but architecture 'test_tiny'"),
    ({"learning_rate": 0.1}, r"unknown field\(s\) \['learning_rate'\]; valid fields: name"),
])
def test_bad_config_names_field_and_choices(change, pattern):
    from seq2exp.models.registry import deep_merge

    _expect(deep_merge(GOOD, change), pattern)


@pytest.mark.parametrize("missing", ["model", "loss", "optimizer", "batch_size", "epochs"])
def test_missing_field(missing):
    config = {k: v for k, v in GOOD.items() if k != missing}
    _expect(config, rf"{missing}: missing required field")


def test_files_fail_before_training(tmp_path):
    from seq2exp.training.driver import prepare

    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"data.train: training file not found: .*absent.txt"):
        prepare(GOOD, tmp_path / "absent.txt", None, tmp_path / "run")
    (tmp_path / "train.txt").write_text("ACGT\t1.0\n")
    with pytest.raises(ConfigError, match=r"data.val: validation file not found"):
        prepare(GOOD, tmp_path / "train.txt", tmp_path / "val.txt", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_cli_bad_config_is_one_line_exit_2(tmp_path, capsys):
    from seq2exp.cli import main

    (tmp_path / "bad.yaml").write_text("model: {architecture: test_tiny}\nloss: {name: mse}\n"
                                       "optimizer: {name: sgdd}\nbatch_size: 8\nepochs: 1\n")
    (tmp_path / "train.txt").write_text("ACGT\t1.0\n")
    code = main(["train", str(tmp_path / "bad.yaml"), "--data", str(tmp_path / "train.txt"),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "optimizer.name: unknown optimizer 'sgdd'" in err[0] and "adamw" in err[0]


def test_set_overrides_parse():
    from seq2exp.training.cli import parse_overrides

    assert parse_overrides(["epochs=3", "optimizer.learning_rate=1e-3", "tta.shifts=[-1, 1]"]) == {
        "epochs": 3, "optimizer": {"learning_rate": 1e-3}, "tta": {"shifts": [-1, 1]}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["epochs"])
