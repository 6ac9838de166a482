"""``seq2exp models`` lists the recorded catalog: no TensorFlow, nothing built. The catalog is checked against the
live registry (every field) and its parameter counts against a real build (Keras' own count of the weights)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from seq2exp.models.catalog import FIELDS, build_catalog, load_catalog

from tests.conftest import REPO_ROOT

REGENERATE = "regenerate with `python -m seq2exp.models.catalog`"


def _packaged() -> list[str]:
    from seq2exp import models

    return [name for name in models.names() if models.get(name).builder.__module__.startswith("seq2exp.")]


def test_the_catalog_lists_every_packaged_architecture_with_the_registrys_fields():
    recorded = load_catalog()
    assert [row["name"] for row in recorded] == _packaged(), REGENERATE
    live = {row["name"]: row for row in build_catalog(_packaged(), count_params=False)}
    for row in recorded:
        assert set(row) == set(FIELDS)
        assert {k: v for k, v in row.items() if k != "params"} == {k: v for k, v in live[row["name"]].items()
                                                                    if k != "params"}, (row["name"], REGENERATE)


def _keras_count(name: str) -> int:
    import keras

    from seq2exp import models

    model = models.get(name).build()
    count = sum(int(weight.numpy().size) for weight in model.trainable_weights)
    keras.backend.clear_session()
    return count


@pytest.mark.parametrize("name", ["autosome", "zeta", "kmer_ridge"])
def test_recorded_parameter_counts_equal_a_build(name):
    recorded = {row["name"]: row["params"] for row in load_catalog()}
    assert recorded[name] == _keras_count(name), REGENERATE


@pytest.mark.slow  # builds all ~30 architectures at real size (~1-2 min)
def test_every_recorded_parameter_count_equals_a_build():
    recorded = {row["name"]: row["params"] for row in load_catalog()}
    wrong = {name: (recorded[name], count) for name in recorded if (count := _keras_count(name)) != recorded[name]}
    assert not wrong, f"recorded vs built: {wrong}; {REGENERATE}"


def test_models_lists_without_tensorflow():
    code = textwrap.dedent("""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tensorflow", "keras"):
                    raise ImportError(f"{name} is blocked")
        sys.meta_path.insert(0, Block())
        from seq2exp.cli import main
        sys.exit(main(["models"]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(load_catalog()) + 1
    vaishnav = next(line for line in lines if line.startswith("vaishnav "))
    assert "Reference model (Vaishnav et al. 2022)" in vaishnav and "3,369,937" in vaishnav


def test_the_table_keeps_its_columns_for_long_names():
    from seq2exp.models.cli import format_table

    rows = [{**load_catalog()[0], "name": "a_very_long_architecture_name_indeed", "team": "T" * 60},
            {**load_catalog()[1]}]
    lines = format_table(rows).splitlines()
    assert "T" * 60 in lines[1]
    starts = [line.index("regression") if "regression" in line else line.index("bins") for line in lines[1:]]
    assert len(set(starts)) == 1 and lines[0].index("head") == starts[0]
