"""``seq2exp batch`` on Beam's portable path (the one Flink, Spark and Dataflow use): the PortableRunner with Beam's
local job service and the SDK workers as separate processes from a worker pool on 127.0.0.1. Its outputs equal
``seq2exp predict`` row for row; the dead letters cross the process boundary with their reasons."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from seq2exp.batch.pipeline import pipeline_options
from seq2exp.batch.portable import local_worker_pool, portable_beam_options
from seq2exp.cli import main as cli_main
from seq2exp.errors import ConfigError
from tests.batch.conftest import assert_same_rows
from tests.batch.test_pipeline import BATCH_OPTIONS, _batch_rows, _rows

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_portable_runner_with_external_workers_equals_predict(inputs, tiny_model_base, tmp_path):
    out = tmp_path / "portable"
    model = str(tiny_model_base / "tiny")
    # the workers are new processes: they must import this checkout's seq2exp, as the driver does
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    with local_worker_pool(env={"PYTHONPATH": pythonpath}) as pool:
        options = [arg for option in portable_beam_options(pool) for arg in ("--beam-option", option)]
        assert cli_main(["batch", str(inputs["a"]), str(inputs["b"]), str(inputs["c"]), "-o", str(out),
                         "--saved-model", model, *BATCH_OPTIONS, *options]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runner"] == "PortableRunner"
    assert manifest["rows_out"] == 150 + 230 + 87 and manifest["rows_rejected"] == 4  # c: 3 bad rows + no-sequence
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_rejected"]
    for index, source in enumerate([inputs["a"], inputs["b"], inputs["c_good"]]):
        expected = tmp_path / f"{index}.tsv"
        assert cli_main(["predict", str(source), "-o", str(expected), "--saved-model", model, "--format", "tsv",
                         "--no-progress"]) == 0
        assert_same_rows(_batch_rows(out, index), _rows(expected))
    rejected = [line.split("\t") for path in sorted(out.glob("rejected-00002-*.tsv"))
                for line in path.read_text().splitlines()[1:]]
    assert sorted(int(row[1]) for row in rejected) == sorted([*inputs["bad_lines"], inputs["noseq_line"]])
    assert any("letter 'X' at position 21" in row[3] for row in rejected)


def test_beam_options_whose_name_differs_from_their_key_are_accepted():
    """``experiment`` is stored as ``experiments``: a known option, not a typo."""
    assert pipeline_options(["experiment=use_runner_v2"]).get_all_options()["experiments"] == ["use_runner_v2"]
    with pytest.raises(ConfigError, match="bogus_option: not a Beam pipeline option"):
        pipeline_options(["bogus_option=1"])


def test_dask_runner_is_refused_with_the_reason(inputs, tiny_model_base, tmp_path, capsys):
    out = tmp_path / "dask"
    assert cli_main(["batch", str(inputs["a"]), "-o", str(out), "--saved-model", str(tiny_model_base / "tiny"),
                     "--beam-option", "runner=DaskRunner"]) == 2
    assert "Dask runner" in capsys.readouterr().err
    assert not out.exists()
