"""`seq2exp predict` over DREAM / FASTA / TSV files, through the server and in-process; atomic output; --resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seq2exp.cli import main as cli_main
from seq2exp.errors import InputFormatError
from seq2exp.serving.predict import SavedModelBackend, iter_records, predict_file

N_ROWS = 700


@pytest.fixture(scope="module")
def demo_rows(demo_train) -> list[str]:
    """The first rows of the real demo training file (DREAM format: sequence<TAB>expression)."""
    with open(demo_train) as handle:
        return [next(handle).rstrip("\n") for _ in range(N_ROWS)]


@pytest.fixture(scope="module")
def dream_file(tmp_path_factory, demo_rows) -> Path:
    path = tmp_path_factory.mktemp("predict") / "test.txt"
    path.write_text("\n".join(demo_rows) + "\n")
    return path


@pytest.fixture(scope="module")
def expected(loaded_runs, demo_rows) -> np.ndarray:
    sequences = [row.split("\t")[0] for row in demo_rows]
    return loaded_runs["tiny"].prediction_graph().predict(sequences)


def _read_dream_output(path: Path) -> tuple[list[str], np.ndarray]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])


def test_predict_through_the_server(server, dream_file, demo_rows, expected, tmp_path, capsys):
    out = tmp_path / "pred.txt"
    assert cli_main(["predict", str(dream_file), "-o", str(out), "--server", server.target, "--model", "tiny",
                     "--chunk-rows", "256", "--batch-size", "100", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == N_ROWS and summary["model"].startswith("tiny version 1")
    sequences, values = _read_dream_output(out)
    assert sequences == [row.split("\t")[0] for row in demo_rows]
    np.testing.assert_allclose(values, expected, atol=1e-5, rtol=1e-6)
    assert not (tmp_path / "pred.txt.partial").exists()


def test_predict_in_process_fasta_and_tsv(model_base, demo_rows, expected, tmp_path):
    sequences = [row.split("\t")[0] for row in demo_rows[:300]]
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">seq{i} description\n{s[:60]}\n{s[60:]}\n" for i, s in enumerate(sequences)))
    tsv = tmp_path / "in.tsv"
    tsv.write_text("id\tsequence\tother\n" + "".join(f"r{i}\t{s}\tx\n" for i, s in enumerate(sequences)))
    backend = SavedModelBackend(model_base / "tiny", batch_size=128)  # the model folder: its latest version
    try:
        for source, prefix in ((fasta, "seq"), (tsv, "r")):
            out = tmp_path / f"{source.stem}.{source.suffix}.out"
            summary = predict_file(source, out, backend, output_format="tsv", chunk_rows=128, progress=False)
            assert summary.rows == 300
            lines = out.read_text().splitlines()
            assert lines[0] == "id\tsequence\texpression"
            rows = [line.split("\t") for line in lines[1:]]
            assert [r[0] for r in rows] == [f"{prefix}{i}" for i in range(300)]
            assert [r[1] for r in rows] == sequences
            np.testing.assert_allclose([float(r[2]) for r in rows], expected[:300], atol=1e-5, rtol=1e-6)
    finally:
        backend.close()


def test_resume_continues_a_partial_run(server, dream_file, expected, tmp_path):
    from seq2exp.errors import Seq2ExpError
    from seq2exp.serving.predict import ServerBackend

    class FailsAfterTwoChunks:
        def __init__(self, inner):
            self.inner, self.calls, self.max_length, self.orientation = inner, 0, inner.max_length, inner.orientation

        def predict(self, sequences):
            self.calls += 1
            if self.calls > 2:
                raise Seq2ExpError("server went away")
            return self.inner.predict(sequences)

    out = tmp_path / "pred.txt"
    backend = ServerBackend(server.target, "tiny")
    try:
        predict_file(dream_file, out, backend, progress=False)
        full = out.read_text()
        out.unlink()
        with pytest.raises(Seq2ExpError, match=r"server went away \[.*pred\.txt\.partial keeps the 100 rows.*--resume"):
            predict_file(dream_file, out, FailsAfterTwoChunks(backend), chunk_rows=50, progress=False)
        partial = tmp_path / "pred.txt.partial"
        with open(partial, "a") as handle:
            handle.write("ACGT\t0.5\nAC")  # rows written after the last fingerprint, and half a line: dropped
        summary = predict_file(dream_file, out, backend, resume=True, progress=False)
        assert (summary.resumed_from, summary.rows) == (100, N_ROWS)
        assert out.read_text() == full
    finally:
        backend.close()


def test_bad_row_names_file_and_line_and_leaves_no_output(server, demo_rows, tmp_path):
    from seq2exp.serving.predict import ServerBackend

    bad = tmp_path / "bad.txt"
    rows = [row.split("\t")[0] for row in demo_rows[:50]]
    rows[37] = rows[37][:20] + "Z" + rows[37][21:]
    bad.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.txt"
    backend = ServerBackend(server.target, "tiny")
    try:
        with pytest.raises(InputFormatError, match=r"bad\.txt, line 38, field 'sequence'.*'Z' at position 21"):
            predict_file(bad, out, backend, progress=False)
    finally:
        backend.close()
    assert not out.exists()


def test_record_reader_formats(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">x one\nACG\nT\n\n>y\nGG\n")
    assert [(r.name, r.sequence, r.line) for r in iter_records(fasta)] == [("x", "ACGT", 1), ("y", "GG", 5)]
    dream = tmp_path / "a.txt"
    dream.write_text("ACGT\t1.5\nGGA\t\nTT\n")
    assert [(r.name, r.sequence) for r in iter_records(dream)] == [("0", "ACGT"), ("1", "GGA"), ("2", "TT")]
    broken = tmp_path / "b.fa"
    broken.write_text(">\nACGT\n")
    with pytest.raises(InputFormatError, match="header without a name"):
        list(iter_records(broken))


def test_tables_comma_separated_or_with_their_own_sequence_column(tmp_path):
    """A table to predict reads like a training table: a comma-separated header (no tab) works; the sequence column
    may have the caller's name; a header without a sequence column is refused naming its columns, while a DREAM file
    whose first row is bad still gets the row's own error."""
    tsv = tmp_path / "a.tsv"
    tsv.write_text("seq_id\tSequence\tmean_value\nr1\tACGT\t0.5\nr2\tggat\t1\n")
    expected = [("r1", "ACGT", 2), ("r2", "GGAT", 3)]
    assert [(r.name, r.sequence, r.line) for r in iter_records(tsv)] == expected
    csv = tmp_path / "a.csv"
    csv.write_text(tsv.read_text().replace("\t", ","))
    assert [(r.name, r.sequence, r.line) for r in iter_records(csv)] == expected
    assert next(iter_records(csv)).fields == {"seq_id": "r1", "sequence": "ACGT", "mean_value": "0.5"}
    own = tmp_path / "own.tsv"
    own.write_text("seq_id\tDNA\tmean_value\nr1\tACGT\t0.5\nr2\tGGAT\t1\n")
    with pytest.raises(InputFormatError, match=r"own\.tsv, line 1: a header line without a sequence column \(one "
                                               r"named sequence or seq, any case\): its columns are seq_id, dna, "
                                               r"mean_value; rename the sequence column"):
        list(iter_records(own))
    assert [(r.name, r.sequence, r.line) for r in iter_records(own, sequence_columns=["DNA"])] == expected
    with pytest.raises(InputFormatError, match=r"one named dna, any case"):
        list(iter_records(tsv, sequence_columns=["dna"]))
    for first_row, message in (("ACGTX\t1.5", "letter 'X' at position 5"), ("ACGT\tbig", "'big' is not a finite"),
                               ("ACGT\t1\t2", "expected 2 tab-separated fields")):
        dream = tmp_path / "d.txt"
        dream.write_text(first_row + "\nACGT\t1\n")
        with pytest.raises(InputFormatError, match=message):
            list(iter_records(dream))


def test_a_run_uses_one_version_while_a_new_one_is_rolled_out(tmp_path, model_base, tiny_v2, dream_file, demo_rows,
                                                              expected):
    """Export v2 into the served folder during a long run: every row of the run comes from the version resolved at
    its start (pinned on each chunk, checked in each response); the next run gets v2 and records it."""
    import shutil

    from seq2exp.serving.config import ModelConfig
    from seq2exp.serving.predict import MODEL_RECORD_SUFFIX, ServerBackend
    from seq2exp.serving.server import ModelServer

    base = tmp_path / "M" / "tiny"
    shutil.copytree(model_base / "tiny" / "1", base / "1")
    sequences = [row.split("\t")[0] for row in demo_rows]
    expected_v2 = tiny_v2[1].predict(sequences)
    assert not np.allclose(expected, expected_v2, atol=1e-3)
    config = [ModelConfig(name="tiny", base_path=str(base), policy="all")]  # v1 stays loaded beside v2
    with ModelServer(config, port=0, poll_seconds=0.05) as srv:
        backend = ServerBackend(srv.target, "tiny", batch_size=50)
        original, chunks = backend.predict, [0]

        def predict_rolling_out(chunk):
            chunks[0] += 1
            if chunks[0] == 2:  # mid-run: v2 appears and becomes the server's default
                temporary = base.parent / ".2.copying"
                shutil.copytree(tiny_v2[0], temporary)
                temporary.rename(base / "2")
                assert srv.manager.wait_for_polls(2)
                assert backend.client.resolve_version(version=None) == 2  # a new request would get v2 now
            return original(chunk)

        backend.predict = predict_rolling_out
        out = tmp_path / "run1.txt"
        try:
            summary = predict_file(dream_file, out, backend, chunk_rows=100, progress=False)
        finally:
            backend.close()
        assert chunks[0] == 7 and summary.model_version == 1
        np.testing.assert_allclose(_read_dream_output(out)[1], expected, atol=1e-5, rtol=1e-6)  # all rows from v1
        assert json.loads((tmp_path / f"run1.txt{MODEL_RECORD_SUFFIX}").read_text())["version"] == 1
        later = ServerBackend(srv.target, "tiny")
        try:
            summary = predict_file(dream_file, tmp_path / "run2.txt", later, progress=False)
        finally:
            later.close()
        assert summary.model_version == 2
        np.testing.assert_allclose(_read_dream_output(tmp_path / "run2.txt")[1], expected_v2, atol=1e-5, rtol=1e-6)


def test_an_export_reads_its_training_tables_sequence_column(tmp_path, capsys):
    """An export trained on a table whose sequence column is ``DNA`` predicts such a table as it is (the column
    comes from the export's metadata); ``--sequence-column`` names it for a model that does not record it."""
    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import random_promoters
    from tests.serving.tiny_variants import make_tiny_variant_run

    rows = random_promoters(5, seed=31, variable_lengths=False)
    run = make_tiny_variant_run(tmp_path / "run", seed=2, config={
        "data": {"table": {"targets": ["mean_value"], "sequence_column": "DNA"}}})
    plain = make_tiny_variant_run(tmp_path / "plain", seed=2)
    export_run(run, tmp_path / "models", "own")
    export_run(plain, tmp_path / "models", "plain")
    table = tmp_path / "own.csv"
    table.write_text("seq_id,DNA,mean_value\n" + "".join(f"r{i},{s},0.5\n" for i, s in enumerate(rows)))
    expected = load_run(run).predict(rows)

    def predict(model: str, *extra: str) -> tuple[int, str]:
        out = tmp_path / f"{model}{len(extra)}.tsv"
        code = cli_main(["predict", str(table), "-o", str(out), "--saved-model", str(tmp_path / "models" / model),
                         "--format", "tsv", "--no-progress", *extra])
        err = capsys.readouterr().err
        if code == 0:
            lines = out.read_text().splitlines()[1:]
            assert [line.split("\t")[0] for line in lines] == [f"r{i}" for i in range(5)]
            np.testing.assert_allclose([float(line.split("\t")[2]) for line in lines], expected, atol=2e-6,
                                       rtol=1e-6)
        return code, err

    assert predict("own") == (0, "")
    code, err = predict("plain")  # the same weights, no recorded column: refused, naming the columns
    assert code == 2 and "a header line without a sequence column" in err and "seq_id, dna, mean_value" in err
    assert predict("plain", "--sequence-column", "DNA")[0] == 0


def test_rows_longer_than_the_models_input_are_counted_and_warned_about(tmp_path, capsys, caplog):
    """A 110-bp model: a 130-bp row is cut to its first 110 bp by the encoder (``trim: right``, as in training) --
    its prediction equals that of its first 110 bp -- and the call says so (``rows_trimmed``, one warning naming the
    first such row); shorter rows are padded as usual and not counted."""
    import logging

    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import random_promoters
    from tests.serving.tiny_variants import make_tiny_variant_run

    run = make_tiny_variant_run(tmp_path / "run", seed=3)
    export_run(run, tmp_path / "models", "tiny")
    fits, long, longer = random_promoters(3, seed=40, variable_lengths=False)
    rows = [fits, long + "ACGTACGTACGTACGTACGT", fits[:90], longer + "GGCC" * 10]
    source = tmp_path / "in.txt"
    source.write_text("".join(f"{row}\t0\n" for row in rows))
    out = tmp_path / "out.txt"
    with caplog.at_level(logging.WARNING, logger="seq2exp.serving.predict"):
        assert cli_main(["predict", str(source), "-o", str(out), "--saved-model", str(tmp_path / "models" / "tiny"),
                         "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows_trimmed"] == 2
    warnings = [r.getMessage() for r in caplog.records if "longer than" in r.getMessage()]
    assert len(warnings) == 1 and "2 of 4 rows (first: row '1', line 2, 130 bp) are longer than the model's " \
        "110-bp input: the encoder cut them to 110 bp (encoding.trim 'right'" in warnings[0], warnings
    _, values = _read_dream_output(out)
    np.testing.assert_allclose(values[[1, 3]], load_run(run).predict([long, longer]), atol=2e-6, rtol=1e-6)
