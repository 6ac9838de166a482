"""The construct in the export: recorded in the metadata, used for the warm-up rows, and `predict`'s warning on rows
that lack the flanks the model was trained with (a user construct, DREAM yeast, and an export from before)."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from seq2exp.cli import main as cli_main
from seq2exp.data.construct import Construct
from seq2exp.serving.export import export_run, warmup_sequences
from seq2exp.serving.predict import SavedModelBackend, predict_file
from tests.serving.conftest import make_tiny_run

USER = Construct(name="my_mpra", flank5="ACTGGCCGCTTCACTG", flank3="AGATCGGAAGAGCG",
                 upstream="GGAATTCCTTACTGGCCGCTTCACTG", downstream="AGATCGGAAGAGCGTCGTGTAGGG", insert_length=80)
YEAST5, YEAST3 = "TGCATTTTTTTCACATC", "GGTTACGGCTGTT"  # the challenge's flanks, written out


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """(model base, {name: run folder}): the tiny model trained "in" USER, and the same run without a record."""
    root = tmp_path_factory.mktemp("construct")
    user_run = make_tiny_run(root / "user_run", seed=3)
    info = json.loads((user_run / "run.json").read_text())
    info["encoding"] = {"kind": "onehot", "length": 110, "pad": "plasmid_split"}
    info["construct"] = USER.to_dict()
    (user_run / "run.json").write_text(json.dumps(info))
    old_run = make_tiny_run(root / "old_run", seed=3)  # run.json without "construct": DREAM yeast
    base = root / "models"
    export_run(user_run, base, "user")
    export_run(old_run, base, "old")
    return base, {"user": user_run, "old": old_run}


def _metadata(base, name):
    return json.loads((base / name / "1" / "assets.extra" / "seq2exp_metadata.json").read_text())


def test_metadata_records_the_construct(exports):
    base, _ = exports
    assert _metadata(base, "user")["construct"] == USER.to_dict()
    old = _metadata(base, "old")["construct"]
    assert (old["name"], old["flank5"], old["flank3"], old["insert_length"]) == ("dream_yeast", YEAST5, YEAST3, 80)


def test_warmup_rows_are_rows_of_the_construct():
    rng = np.random.default_rng(0)  # the yeast warm-up rows are unchanged: flanks + 80 random bases
    assert warmup_sequences() == [YEAST5 + "".join(rng.choice(list("ACGT"), 80)) + YEAST3 for _ in range(8)]
    rows = warmup_sequences(construct=USER)
    assert all(r.startswith(USER.flank5) and r.endswith(USER.flank3) and len(r) == 110 for r in rows)
    assert all(len(r) == 50 for r in warmup_sequences(construct="genomic", max_length=50))


def test_served_predictions_use_the_construct(exports):
    from seq2exp.inference.runs import load_run

    base, runs = exports
    rows = [USER.with_flanks("ACGT" * 20), "ACGT" * 20, "GATTACA" * 11]
    backend = SavedModelBackend(base / "user")
    try:
        served = backend.predict(rows)
    finally:
        backend.close()
    run = load_run(runs["user"])
    np.testing.assert_allclose(served, run.predict(rows), atol=1e-5)
    # the plasmid_split padding of the 80-bp insert comes from USER's vector, not yeast's: other values
    yeast_encoded = run.model(np.asarray(_yeast_encoder().encode(rows[1:2])))["expression"]
    assert abs(float(np.ravel(yeast_encoded)[0]) - float(served[1])) > 1e-4


def _yeast_encoder():
    from seq2exp.data.encoding import Encoder

    return Encoder({"kind": "onehot", "length": 110, "pad": "plasmid_split"})


def _write_rows(path, rows):
    path.write_text("".join(f"{r}\t\n" for r in rows))
    return path


@pytest.mark.parametrize("name, flank5, flank3", [("user", USER.flank5, USER.flank3), ("old", YEAST5, YEAST3)])
def test_predict_warns_about_rows_without_the_flanks(exports, tmp_path, caplog, name, flank5, flank3):
    base, _ = exports
    rng = np.random.default_rng(1)
    inserts = ["".join(rng.choice(list("ACGT"), 80)) for _ in range(7)]
    rows = [flank5 + s + flank3 if i % 3 else s for i, s in enumerate(inserts)]  # rows 0, 3, 6: the insert alone
    rows[1] = flank5 + inserts[1]  # the 3' flank missing
    missing = [i for i, r in enumerate(rows) if not (r.startswith(flank5) and r.endswith(flank3))]
    assert missing == [0, 1, 3, 6]
    backend = SavedModelBackend(base / name)
    try:
        with caplog.at_level(logging.WARNING, logger="seq2exp.serving.predict"):
            summary = predict_file(_write_rows(tmp_path / "in.txt", rows), tmp_path / "out.txt", backend,
                                   progress=False, chunk_rows=3)
            clean = predict_file(_write_rows(tmp_path / "ok.txt", [rows[2], rows[4]]), tmp_path / "ok_out.txt",
                                 backend, progress=False)
    finally:
        backend.close()
    assert summary.rows_missing_flanks == 4 and clean.rows_missing_flanks == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "4 of 7 rows (first: row '0', line 1, 80 bp) lack the constant flanks" in warnings[0]
    assert flank5 in warnings[0] and flank3 in warnings[0]


def test_an_export_without_a_construct_record_is_yeast_and_the_cli_reports(exports, tmp_path, capsys, caplog):
    base, _ = exports
    meta_path = base / "old" / "1" / "assets.extra" / "seq2exp_metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("construct")  # as exports written before constructs were recorded
    meta_path.write_text(json.dumps(meta))
    inputs = _write_rows(tmp_path / "in.txt", ["ACGT" * 20, YEAST5 + "ACGT" * 20 + YEAST3])
    with caplog.at_level(logging.WARNING, logger="seq2exp.serving.predict"):
        assert cli_main(["predict", str(inputs), "-o", str(tmp_path / "out.txt"), "--saved-model",
                         str(base / "old"), "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows_missing_flanks"] == 1
    assert any("1 of 2 rows" in r.getMessage() and "dream_yeast" in r.getMessage() for r in caplog.records)


def test_predict_through_a_server_checks_the_construct_named(exports, tmp_path, capsys, caplog):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    base, _ = exports
    inputs = _write_rows(tmp_path / "in.txt", ["ACGT" * 20, YEAST5 + "ACGT" * 20 + YEAST3, "TTGCA" * 16])
    server = ModelServer(discover_models(base), port=0).start()
    try:
        common = ["predict", str(inputs), "--server", server.target, "--model", "old", "--no-progress"]
        with caplog.at_level(logging.WARNING, logger="seq2exp.serving.predict"):
            assert cli_main(common + ["-o", str(tmp_path / "a.txt"), "--construct", "dream_yeast"]) == 0
            assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows_missing_flanks"] == 2
            assert cli_main(common + ["-o", str(tmp_path / "b.txt")]) == 0  # a server does not say: no check
            assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows_missing_flanks"] == 0
        assert sum("2 of 3 rows" in r.getMessage() for r in caplog.records) == 1
        assert cli_main(common + ["-o", str(tmp_path / "c.txt"), "--construct", "drosophila"]) == 2
        assert "unknown built-in construct 'drosophila'" in capsys.readouterr().err
    finally:
        server.stop(grace=1)
    assert cli_main(["predict", str(inputs), "-o", str(tmp_path / "d.txt"), "--saved-model", str(base / "old"),
                     "--construct", "genomic"]) == 2
    assert "--construct is for --server" in capsys.readouterr().err
    assert not (tmp_path / "c.txt").exists() and not (tmp_path / "d.txt").exists()
