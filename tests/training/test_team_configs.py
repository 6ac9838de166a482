"""Every team config trains a few steps at its smoke size through ``seq2exp train`` (autosome in the default
suite, all of them in one slow test), and autosome at full size for one short epoch on the real demo data (slow)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import copy_first_lines

CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "configs"
TEAM_CONFIGS = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if p.stem != "bionml_finetune")
if os.environ.get("SEQ2EXP_TEST_CONFIGS"):  # e.g. SEQ2EXP_TEST_CONFIGS=nad,mt: only these in the slow smoke test
    TEAM_CONFIGS = [name for name in TEAM_CONFIGS if name in os.environ["SEQ2EXP_TEST_CONFIGS"].split(",")]


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory, demo_train) -> Path:
    """The first 300 real demo rows (smoke runs: a split of 270 / 30)."""
    return copy_first_lines(demo_train, tmp_path_factory.mktemp("data") / "train.txt", 300)


def _smoke(name: str, data: Path, out: Path, capsys) -> dict:
    from seq2exp.cli import main
    from seq2exp.models import registry
    from seq2exp.training.config import load_config

    architecture = load_config(CONFIG_DIR / f"{name}.yaml")["model"]["architecture"]
    assert architecture == "kmer_ridge" or architecture in registry.names(), (
        f"{name}.yaml: architecture {architecture!r} is not registered")
    code = main(["train", str(CONFIG_DIR / f"{name}.yaml"), "--data", str(data), "--out", str(out), "--smoke",
                 "--quiet", "--strategy", "default"])
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 0
    summary = json.loads(printed)
    info = json.loads((out / "run.json").read_text())
    assert info["smoke"] is True
    if architecture != "kmer_ridge":
        assert summary["optimizer_steps"] == info["steps_per_epoch"] * 1 == 2
        losses = json.loads((out / "metrics.json").read_text())["epochs"]
        assert np.isfinite(losses[-1]["loss"]) and np.isfinite(losses[-1]["val_loss"])
    return info


def test_autosome_smoke(tmp_path, demo_rows, capsys):
    info = _smoke("autosome", demo_rows, tmp_path / "autosome", capsys)
    assert info["loss"]["name"] == "kl_bins" and info["loss"]["output"] == "bins"
    assert info["tta"]["reverse_complement"] is True
    assert info["encoding"]["rc_channel"] and info["encoding"]["singleton_channel"]


@pytest.mark.slow
def test_every_team_config_smoke(tmp_path, demo_rows, capsys):
    """All configs in one test (one process: the shared TensorFlow start-up is paid once)."""
    failures = {}
    for name in TEAM_CONFIGS:
        try:
            _smoke(name, demo_rows, tmp_path / name, capsys)
        except Exception as error:  # noqa: BLE001 - collect every failing config
            failures[name] = repr(error)
    assert not failures, failures


@pytest.mark.slow
def test_autosome_full_size_one_short_epoch(tmp_path, demo_train):
    from seq2exp.training.driver import train

    run = train(CONFIG_DIR / "autosome.yaml", data=demo_train, out=tmp_path / "autosome_full", strategy="default",
                overrides={"epochs": 1, "steps_per_epoch": 3, "batch_size": 256}, verbose=0)
    assert run.info["params"] > 1_500_000 and run.info["optimizer_steps"] == 3
    assert run.info["data"]["n_train"] + run.info["data"]["n_val"] == 6370
    assert np.isfinite(run.info["metrics"]["val_pearson"])
