"""The teams' configs are package data: registered recipe names, ``seq2exp configs``, and one source.

``seq2exp/training/configs/`` (installed with the package) is the source; the top-level ``training/configs/`` is the
readable copy a source checkout shows. They must stay byte-equal: after editing one, copy it over the other
(``cp training/configs/X.yaml seq2exp/training/configs/``).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seq2exp.errors import ConfigError
from seq2exp.training.config import load_config
from seq2exp.training.recipes import RECIPE_DIR, config_path, recipe_names, recipe_path
from tests.conftest import REPO_ROOT

READABLE = REPO_ROOT / "training" / "configs"


def test_the_readable_copy_is_byte_equal_to_the_package_data():
    packaged = {str(p.relative_to(RECIPE_DIR)): p.read_bytes() for p in RECIPE_DIR.rglob("*.yaml")}
    readable = {str(p.relative_to(READABLE)): p.read_bytes() for p in READABLE.rglob("*.yaml")}
    assert sorted(packaged) == sorted(readable), (
        f"only in seq2exp/training/configs: {sorted(set(packaged) - set(readable))}; "
        f"only in training/configs: {sorted(set(readable) - set(packaged))}")
    differ = sorted(name for name in packaged if packaged[name] != readable[name])
    assert not differ, f"training/configs and seq2exp/training/configs differ: {differ} (copy the edited one over)"


def test_the_recipes_are_inside_the_package_and_declared_as_package_data():
    assert RECIPE_DIR.parent == Path(__import__("seq2exp.training", fromlist=["x"]).__file__).parent
    assert {"autosome", "bhi", "kmer_ridge", "unlock_dna"} <= set(recipe_names())
    setup_text = (REPO_ROOT / "setup.py").read_text()
    assert '"**/*.yaml"' in setup_text


def test_a_name_resolves_to_the_recipe_and_a_path_still_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_path("autosome") == RECIPE_DIR / "autosome.yaml"
    assert load_config("autosome") == load_config(READABLE / "autosome.yaml")
    (tmp_path / "autosome").mkdir()  # a run folder named like the recipe does not hide it
    assert config_path("autosome") == RECIPE_DIR / "autosome.yaml"
    mine = tmp_path / "mine.yaml"
    mine.write_text("name: mine\n")
    assert load_config("mine.yaml") == {"name": "mine"}
    with pytest.raises(ConfigError, match="did you mean autosome"):
        load_config("autosom")
    with pytest.raises(ConfigError, match="config file not found: absent.yaml"):
        load_config("absent.yaml")
    with pytest.raises(ConfigError, match="no recipe named 'zzzz'"):
        recipe_path("zzzz")


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seq2exp.cli", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(REPO_ROOT)})


def test_configs_list_and_show(tmp_path):
    listed = _cli("configs", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if line and not line.startswith("train one")]
    assert names == recipe_names()
    assert "LegNet" in next(line for line in listed.stdout.splitlines() if line.startswith("autosome "))
    shown = _cli("configs", "show", "bhi", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == (READABLE / "bhi.yaml").read_text()
    bad = _cli("configs", "show", "bhii", cwd=tmp_path)
    assert bad.returncode == 2 and "did you mean bhi" in bad.stderr and "Traceback" not in bad.stderr
