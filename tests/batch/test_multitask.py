"""``seq2exp batch`` with a model of two tasks: one named column per task, row for row what ``seq2exp predict
--format tsv`` writes, in both modes (the SavedModel in the workers, a server through the TF-free client); the dream
format (one value column) refused before anything is written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2exp.cli import main as cli_main
from tests.batch.conftest import assert_same_rows
from tests.serving.tiny_variants import make_tiny_variant_run

TASKS = ["hk", "dev"]  # task order of the model; predict's columns are its expression_<task> outputs, sorted
COLUMNS = ["dev", "hk"]
OPTIONS = ["--format", "tsv", "--batch-size", "32", "--shard-rows", "64"]


@pytest.fixture(scope="module")
def two_task_base(tmp_path_factory) -> Path:
    from seq2exp.serving.export import export_run

    root = tmp_path_factory.mktemp("two_tasks")
    export_run(make_tiny_variant_run(root / "run", tasks=TASKS, seed=3), root / "models", "two")
    return root / "models"


def _shard_text(out: Path, index: int) -> list[str]:
    shards = sorted(out.glob(f"predictions-{index:05d}-*.tsv"))
    assert shards
    lines = []
    for shard in shards:
        header, *rows = shard.read_text().splitlines()
        assert header == "id\tsequence\t" + "\t".join(COLUMNS)
        lines += rows
    return lines


def _predict_lines(source: Path, base: Path, out: Path) -> list[str]:
    assert cli_main(["predict", str(source), "-o", str(out), "--saved-model", str(base / "two"), "--format", "tsv",
                     "--no-progress"]) == 0
    header, *rows = out.read_text().splitlines()
    assert header == "id\tsequence\t" + "\t".join(COLUMNS)
    return rows


def _assert_same_rows(got: list[str], expected: list[str]) -> None:
    """:func:`assert_same_rows` over TSV lines, each with one value column per task."""
    got_rows = [line.split("\t") for line in got]
    assert all(len(row) == 2 + len(COLUMNS) for row in got_rows)
    assert_same_rows(got_rows, [line.split("\t") for line in expected])


def test_batch_writes_predict_tsv_row_for_row_in_both_modes(two_task_base, inputs, tmp_path):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    sources = [inputs["a"], inputs["c"]]  # c.tsv has bad rows: dead letters as for one task
    local = tmp_path / "local"
    assert cli_main(["batch", *map(str, sources), "-o", str(local), "--saved-model", str(two_task_base / "two"),
                     *OPTIONS]) == 0
    manifest = json.loads((local / "manifest.json").read_text())
    assert manifest["model"]["tasks"] == COLUMNS
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_rejected"] and manifest["rows_rejected"] == 4
    expected = {0: _predict_lines(inputs["a"], two_task_base, tmp_path / "a.tsv"),
                1: _predict_lines(inputs["c_good"], two_task_base, tmp_path / "c.tsv")}
    for index, lines in expected.items():
        _assert_same_rows(_shard_text(local, index), lines)
    rejected = [line for shard in sorted(local.glob("rejected-00001-*.tsv"))
                for line in shard.read_text().splitlines()[1:]]  # the dead letters, as for one task
    assert [line.split("\t")[2] for line in rejected] == ["c_badletter", "c_empty", "c_long", "c_noseq"]

    server = ModelServer(discover_models(two_task_base), port=0, poll_seconds=0).start()
    try:
        remote = tmp_path / "remote"
        assert cli_main(["batch", *map(str, sources), "-o", str(remote), "--server", server.target, "--model",
                         "two", *OPTIONS]) == 0
    finally:
        server.stop(grace=1)
    assert json.loads((remote / "manifest.json").read_text())["model"]["tasks"] == COLUMNS
    for index, lines in expected.items():
        _assert_same_rows(_shard_text(remote, index), lines)


def test_the_dream_format_is_refused_before_anything_is_written(two_task_base, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    capsys.readouterr()
    assert cli_main(["batch", str(inputs["a"]), "-o", str(out), "--saved-model", str(two_task_base / "two")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "predicts 2 tasks (dev, hk)" in err[0] and "--format tsv" in err[0], err
    assert not out.exists()
