"""Nothing written outside its place, nothing half-written served, nothing wrong presented as complete: model
names, version folder names, stale export folders, and ``seq2exp predict --resume`` against another input."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from seq2exp.errors import ConfigError, InputFormatError, Seq2ExpError
from seq2exp.serving.config import check_model_name, clean_stale_exports, list_versions, parse_version
from seq2exp.serving.predict import ModelOrientation, predict_file
from tests.reliability.conftest import assert_one_line_error, random_promoters, run_cli


@pytest.mark.parametrize("name", ["tiny", "m1", "Model_2", "dream-2022.v3", "_x", "9"])
def test_valid_model_names(name):
    assert check_model_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "../x", "a\\b", "-x", "a b", "é", "m" * 256,
                                  "a\nb", "a:b"])
def test_invalid_model_names(name):
    with pytest.raises(ConfigError, match="model name"):
        check_model_name(name)


def test_version_folder_names(tmp_path, caplog):
    """Only canonical positive int64 names are versions; every other entry is ignored with one log line, once."""
    names = {"1": True, "7": True, "9223372036854775807": True, "0003": False, "0": False, "-1": False,
             "99999999999999999999": False, "9223372036854775808": False, "1e3": False, " 2": False, "3 ": False,
             "+4": False, "٣": False, ".5.tmp-abc": False, "v6": False}
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "saved_model.pb").write_bytes(b"")
    (tmp_path / "8").write_text("a file, not a folder")
    (tmp_path / "10").mkdir()  # a folder without saved_model.pb: an export not finished, not a version yet
    with caplog.at_level(logging.INFO, logger="seq2exp.serving.config"):
        assert list_versions(tmp_path) == [1, 7, 2**63 - 1]
        ignored = [record.getMessage() for record in caplog.records]
        assert len(ignored) == sum(not valid for valid in names.values()) + 1  # + the file "8"
        list_versions(tmp_path)  # polled again: no new lines
        assert len(caplog.records) == len(ignored)
    assert [parse_version(name) for name in ("12", "012", "0", str(2**63))] == [12, None, None, None]


def test_export_cleans_stale_temporary_folders_and_serving_ignores_fresh_ones(tiny_export):
    model_dir = tiny_export / "tiny"
    assert not (model_dir / ".1.tmp-stale").exists()  # left by an interrupted export long ago: removed
    assert (model_dir / ".2.tmp-fresh").is_dir()  # may belong to an export in progress: kept
    assert list_versions(model_dir) == [1]
    assert clean_stale_exports(model_dir, older_than=3600) == []
    from seq2exp.serving.config import discover_models

    (model,) = discover_models(tiny_export)
    assert model.name == "tiny"


@pytest.mark.parametrize("name", ["..", ".", "../../etc"])
def test_export_name_cannot_leave_the_base_path(name, tmp_path, capsys):
    base = tmp_path / "deep" / "M"
    base.mkdir(parents=True)
    result = run_cli(["export", tmp_path / "run", "--model-base-path", base, f"--name={name}"], capsys)
    assert_one_line_error(result, "export", "model name")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["deep", "deep/M"]


# ---------------------------------------------------------------------------------------------------------------
# predict --resume
# ---------------------------------------------------------------------------------------------------------------
class GCBackend:
    """Deterministic stand-in predictions (GC fraction): the files, not the model, are under test here."""

    max_length = 200
    orientation = ModelOrientation()  # every row as given

    def __init__(self, fail_after_calls: int | None = None):
        self.calls, self.fail_after_calls = 0, fail_after_calls

    def predict(self, sequences):
        self.calls += 1
        if self.fail_after_calls is not None and self.calls > self.fail_after_calls:
            raise Seq2ExpError("connection lost")
        return np.array([(s.count("G") + s.count("C")) / len(s) for s in sequences], np.float32)

    def close(self):
        pass


def _interrupted(source: Path, out: Path, chunks: int, **kwargs) -> str:
    with pytest.raises(Seq2ExpError) as caught:
        predict_file(source, out, GCBackend(fail_after_calls=chunks), chunk_rows=10, progress=False, **kwargs)
    return str(caught.value)


def test_resume_refuses_another_input_whose_last_row_matches(tmp_path):
    rows = random_promoters(60, seed=8)
    source = tmp_path / "a.txt"
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "pred.txt"
    message = _interrupted(source, out, chunks=3)
    assert "keeps the 30 rows predicted so far: rerun with --resume" in message and "or delete it" in message
    assert "[while predicting input lines 31-40; " in message  # the failed chunk's lines, not the call's rows
    other = tmp_path / "b.txt"
    other_rows = random_promoters(30, seed=9)[:29] + [rows[29]] + rows[30:]  # row 30 (the last written) matches
    other.write_text("\n".join(other_rows) + "\n")
    with pytest.raises(InputFormatError, match="first 30 rows differ from those .*pred.txt.partial was written from"):
        predict_file(other, out, GCBackend(), chunk_rows=10, resume=True, progress=False)
    with pytest.raises(ConfigError, match="--format dream, not tsv"):
        predict_file(source, out, GCBackend(), output_format="tsv", resume=True, progress=False)
    shorter = tmp_path / "c.txt"
    shorter.write_text("\n".join(rows[:20]) + "\n")
    with pytest.raises(InputFormatError, match="more than this input"):
        predict_file(shorter, out, GCBackend(), resume=True, progress=False)
    summary = predict_file(source, out, GCBackend(), chunk_rows=10, resume=True, progress=False)
    assert (summary.resumed_from, summary.rows) == (30, 60)
    reference = tmp_path / "reference.txt"
    predict_file(source, reference, GCBackend(), progress=False)
    assert out.read_text() == reference.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt", "pred.txt", "pred.txt.model.json",
                                                          "reference.txt", "reference.txt.model.json"]


def test_resume_without_a_fingerprint_is_refused(tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("\n".join(random_promoters(5, seed=1)) + "\n")
    (tmp_path / "pred.txt.partial").write_text(source.read_text().splitlines()[0] + "\t0.5\n")
    with pytest.raises(InputFormatError, match="pred.txt.partial.json is missing, so .* cannot be checked"):
        predict_file(source, tmp_path / "pred.txt", GCBackend(), resume=True, progress=False)
    (tmp_path / "pred.txt.partial.json").write_text("{not json")
    with pytest.raises(InputFormatError, match="is not a resume fingerprint"):
        predict_file(source, tmp_path / "pred.txt", GCBackend(), resume=True, progress=False)


def test_a_bad_row_fails_before_any_output_is_created(tmp_path):
    """The row checks run over the whole input first: a bad row in the last of three chunks fails the call naming
    its line, with no model call and no output file (not even OUT.partial); after the fix the run completes."""
    rows = random_promoters(25, seed=2)
    broken = rows.copy()
    broken[21] = broken[21][:5] + "Q" + broken[21][6:]
    source = tmp_path / "in.tsv"
    source.write_text("id\tsequence\n" + "".join(f"r{i}\t{s}\n" for i, s in enumerate(broken)))
    out, backend = tmp_path / "p.tsv", GCBackend()
    with pytest.raises(InputFormatError, match=r"line 23, field 'sequence'.*'Q'") as caught:
        predict_file(source, out, backend, output_format="tsv", chunk_rows=10, progress=False)
    assert "--resume" not in str(caught.value) and backend.calls == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tsv"]
    source.write_text("id\tsequence\n" + "".join(f"r{i}\t{s}\n" for i, s in enumerate(rows)))
    summary = predict_file(source, out, GCBackend(), output_format="tsv", chunk_rows=10, progress=False)
    assert (summary.resumed_from, summary.rows) == (0, 25)
    lines = out.read_text().splitlines()
    assert lines[0] == "id\tsequence\texpression" and [line.split("\t")[0] for line in lines[1:]] == \
        [f"r{i}" for i in range(25)]


def test_a_failure_in_the_first_chunk_leaves_nothing_behind(tmp_path):
    """A model that fails on the first chunk: the error as it is, and no empty OUT.partial to --resume from."""
    source = tmp_path / "a.txt"
    source.write_text("\n".join(random_promoters(30, seed=3)) + "\n")
    assert _interrupted(source, tmp_path / "pred.txt", chunks=0) == "connection lost"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_the_progress_bar_counts_towards_the_input_rows(tmp_path, capsys):
    source = tmp_path / "a.txt"
    source.write_text("\n".join(random_promoters(23, seed=4)) + "\n")
    predict_file(source, tmp_path / "pred.txt", GCBackend(), chunk_rows=10, progress=True)
    assert "23/23" in capsys.readouterr().err


def test_predict_checks_the_input_before_it_loads_the_saved_model(tiny_export, tmp_path, capsys, monkeypatch):
    """``seq2exp predict --saved-model``: every row is checked against the export's own length limit (its metadata)
    before the SavedModel is loaded, so a bad last row fails without the load; a good input is checked once."""
    from seq2exp.serving import predict as predict_module
    from seq2exp.serving import session

    version = tiny_export / "tiny" / "1"
    max_length = predict_module.export_metadata(version)["max_sequence_length"]
    rows = random_promoters(12, seed=6)
    assert max(len(row) for row in rows) <= max_length
    loads, checks = [], []
    real_load, real_check = session.SessionModel.__init__, predict_module.check_input
    monkeypatch.setattr(session.SessionModel, "__init__",
                        lambda self, *args, **kwargs: loads.append(args) or real_load(self, *args, **kwargs))
    monkeypatch.setattr(predict_module, "check_input",
                        lambda *args, **kwargs: checks.append(args) or real_check(*args, **kwargs))
    source, out = tmp_path / "in.txt", tmp_path / "out" / "p.txt"
    out.parent.mkdir()
    source.write_text("\n".join(rows[:-1] + ["A" * (max_length + 1)]) + "\n")
    argv = ["predict", source, "-o", out, "--saved-model", tiny_export / "tiny", "--no-progress"]
    assert_one_line_error(run_cli(argv, capsys), "predict",
                          rf"in\.txt, line 12, field 'sequence': .*longer than the maximum {max_length} bp")
    assert loads == [] and list(out.parent.iterdir()) == []
    source.write_text("\n".join(rows) + "\n")
    checks.clear()
    code, _out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert len(loads) == 1 and len(checks) == 1 and len(out.read_text().splitlines()) == 12


@pytest.mark.parametrize("output_of", [lambda source: source,  # -o the input itself
                                       lambda source: source.parent / "link.txt",  # a hard link to it
                                       lambda source: source.with_name("in")],  # OUT.partial would be the input
                         ids=["itself", "hard-link", "its-partial"])
def test_predict_refuses_an_output_that_would_overwrite_its_input(output_of, tmp_path, capsys):
    source = tmp_path / "in.partial"
    source.write_text("\n".join(random_promoters(5, seed=12)) + "\n")
    before = source.read_bytes()
    (tmp_path / "link.txt").hardlink_to(source)
    output = output_of(source)
    backend = GCBackend()
    with pytest.raises(ConfigError, match=r"would overwrite its input .*in\.partial.*give another output path"):
        predict_file(source, output, backend, progress=False)
    assert backend.calls == 0 and source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.partial", "link.txt"]
    assert_one_line_error(run_cli(["predict", source, "-o", output, "--saved-model", "no-such-model"], capsys),
                          "predict", r"would overwrite its input")
