"""The explain / variants / design stages end to end (in-process and over gRPC); bad input -> exit 2, one line; a
model with two tasks: --task required (one line naming the tasks), each stage's values are that task's."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from seq2exp.cli import main
from tests.interpret.conftest import (
    GENOMIC_LENGTH,
    MOTIF,
    TASKS,
    plant,
    promoters,
    random_rows,
    raw_task_outputs,
)


@pytest.fixture(scope="module")
def sequence_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "seqs.fa"
    planted = [plant(s, MOTIF, p) for s, p in zip(promoters(2, seed=21), (30, 60))]
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(planted)))
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_explain_ism_over_grpc_and_ig_in_process(motif_run, served_motif, sequence_file, tmp_path, capsys):
    server, _ = served_motif
    out = tmp_path / "ism"
    assert main(["explain", "--server", server.target, "--model", "motif", "--sequences", str(sequence_file),
                 "-o", str(out), "--method", "ism", "--top", "5", "--plots", "1", "--window", "5"]) == 0
    effects = np.load(out / "ism.npz")["effects"]
    assert effects.shape == (2, 110, 4)
    assert np.load(out / "windows_delete5.npz")["effects"].shape == (2, 106)
    top = (out / "top_effects.tsv").read_text().splitlines()
    assert top[0].split("\t") == ["name", "position", "ref", "alt", "effect"] and len(top) == 6
    assert (out / "ism_s0.png").stat().st_size > 1000 and "ism_s0.png" in (out / "index.md").read_text()
    capsys.readouterr()
    ig = tmp_path / "ig"
    assert main(["explain", str(motif_run), "--sequences", str(sequence_file), "-o", str(ig),
                 "--method", "integrated_gradients", "--steps", "8", "--plots", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["completeness_max_abs_error"] < 0.05
    assert (ig / "logo_s0.png").stat().st_size > 1000


def test_explain_motif_effects(motif_run, tmp_path, capsys):
    out = tmp_path / "motif"
    assert main(["explain", str(motif_run), "-o", str(out), "--motif", MOTIF, "--motif", "MA0363.3",
                 "--n-backgrounds", "2", "--pair", MOTIF, "TGASTCA", "--spacings", "0,10"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["motifs"][MOTIF]["min_effect"] < summary["motifs"][MOTIF]["max_effect"]
    assert (out / f"motif_{MOTIF}.png").exists() and len(summary["pair"]) == 2


def test_variants_scored_with_pair_semantics(motif_run, tmp_path, capsys):
    sequences = [plant(s, MOTIF, 40) for s in promoters(6, seed=22)]
    rows = ["name\tsequence\tposition\tref\talt\tdelta"]
    measured = [-1.0, -0.8, 0.1, -0.9, 0.0, 0.2]
    positions = [40, 42, 5, 45, 90, 10]
    for i, (s, p, d) in enumerate(zip(sequences, positions, measured)):
        rows.append(f"v{i}\t{s}\t{p}\t{s[p]}\t{'A' if s[p] != 'A' else 'C'}\t{d}")
    table = tmp_path / "variants.tsv"
    table.write_text("\n".join(rows) + "\n")
    assert main(["variants", str(motif_run), "--variants", str(table), "-o", str(tmp_path / "v")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    lines = (tmp_path / "v" / "variants.tsv").read_text().splitlines()
    predicted = np.array([float(line.split("\t")[5]) for line in lines[1:]])
    assert (predicted[[0, 1, 3]] < 0).all()
    expected = np.corrcoef(predicted, measured)[0, 1]  # pairs: Pearson of predicted vs measured deltas
    assert summary["snv_score"]["pearson"] == pytest.approx(float(expected), abs=1e-4)


def test_design_cli(motif_run, tmp_path, capsys):
    assert main(["design", str(motif_run), "--random", "2", "-o", str(tmp_path / "d"), "--generations", "2",
                 "--population", "4", "--children", "20", "--mutations", "2"]) == 0
    rows = (tmp_path / "d" / "designs.tsv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("name\tseed\tdesign")


@pytest.mark.parametrize("argv, message", [
    (["explain", "{run}", "--sequences", "{bad}", "-o", "{out}"], "letter 'X' at position 5"),
    (["explain", "{run}", "--sequences", "{short}", "-o", "{out}", "--method", "saliency"],
     "short.fa: row 1: length 50 bp, expected 110 bp"),  # gradient maps need one length; ISM takes mixed ones
    (["explain", "{run}", "--sequences", "{short}", "-o", "{out}", "--window", "5"],
     "short.fa: row 1: length 50 bp, expected 110 bp"),
    (["explain", "{run}", "-o", "{out}", "--motif", "MA9999.1"], "no such JASPAR matrix id"),
    (["design", "{run}", "--random", "1", "-o", "{out}", "--protect", "0-500"], "lies outside the 110-bp"),
    (["explain", "--server", "{target}", "--model", "motif", "--sequences", "{good}", "-o", "{out}",
      "--method", "saliency"], "needs the model's gradients"),
])
def test_bad_input_exits_2_with_one_line(argv, message, motif_run, served_motif, sequence_file, tmp_path, capsys):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGTXX\n")
    short = tmp_path / "short.fa"
    short.write_text(f">a\n{sequence_file.read_text().splitlines()[1]}\n>b\n{'A' * 50}\n")
    values = {"run": str(motif_run), "bad": str(bad), "short": str(short), "out": str(tmp_path / "o"),
              "target": served_motif[0].target, "good": str(sequence_file)}
    assert main([a.format(**values) for a in argv]) == 2
    assert message in _error_line(capsys)


def test_explain_ism_takes_rows_of_mixed_length(motif_run, sequence_file, tmp_path, capsys):
    first = sequence_file.read_text().splitlines()[1]
    mixed = tmp_path / "mixed.fa"
    mixed.write_text(f">full\n{first}\n>short\n{first[:83]}\n")
    out = tmp_path / "ism"
    assert main(["explain", str(motif_run), "--sequences", str(mixed), "-o", str(out), "--plots", "2"]) == 0
    saved = np.load(out / "ism.npz")
    assert saved["lengths"].tolist() == [110, 83] and saved["effects"].shape == (2, 110, 4)
    assert not saved["effects"][1, 83:].any() and saved["effects"][1, :83].any()
    assert (out / "ism_short.png").exists()


# --- a model with two tasks, an is_reverse channel and the genomic construct (tests.interpret.conftest) ---------
@pytest.fixture(scope="module")
def genomic_rows(tmp_path_factory):
    """Three 64-bp rows (the two-task model's input) as a FASTA file, and the rows."""
    rows = random_rows(3, GENOMIC_LENGTH, seed=31)
    path = tmp_path_factory.mktemp("cli_tasks") / "rows.fa"
    path.write_text("".join(f">g{i}\n{s}\n" for i, s in enumerate(rows)))
    return path, rows


def _variants_table(tmp_path, rows) -> str:
    table = tmp_path / "pairs.tsv"
    table.write_text("name\tref\talt\n" + "".join(f"p{i}\t{rows[i]}\t{rows[i + 1]}\n" for i in range(2)))
    return str(table)


@pytest.mark.parametrize("stage", ["explain-ism", "explain-ig", "explain-motif", "variants", "design"])
def test_a_two_task_model_without_task_fails_naming_the_tasks(stage, two_task_run, genomic_rows, tmp_path, capsys):
    out = tmp_path / "out"
    argv = {"explain-ism": ["explain", "--sequences", str(genomic_rows[0])],
            "explain-ig": ["explain", "--sequences", str(genomic_rows[0]), "--method", "integrated_gradients"],
            "explain-motif": ["explain", "--motif", "TGASTCA", "--n-backgrounds", "2"],
            "variants": ["variants", "--variants", _variants_table(tmp_path, genomic_rows[1])],
            "design": ["design", "--random", "2"]}[stage]
    assert main([argv[0], str(two_task_run), *argv[1:], "-o", str(out)]) == 2
    line = _error_line(capsys)
    assert line == (f"seq2exp {argv[0]}: error: run {two_task_run} predicts 2 tasks (hk, dev): choose one with "
                    "--task (task= in Python)")
    assert not out.exists() and not list(tmp_path.glob("out*"))  # refused before any work


def test_explain_ism_ig_and_saliency_of_one_task(two_task_run, genomic_rows, tmp_path, capsys, caplog):
    path, rows = genomic_rows
    raw = raw_task_outputs(two_task_run, rows)
    for method in ("ism", "integrated_gradients", "saliency"):
        out = tmp_path / method
        with caplog.at_level(logging.INFO):
            assert main(["explain", str(two_task_run), "--sequences", str(path), "-o", str(out), "--method", method,
                         "--steps", "8", "--plots", "1", "--task", "dev"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["task"] == "dev" and summary["orientation"] == "forward"
        assert json.loads((out / "summary.json").read_text())["task"] == "dev"
        saved = np.load(out / ("ism.npz" if method == "ism" else "attribution.npz"))
        values = saved["reference"] if method == "ism" else saved["values"]
        np.testing.assert_allclose(values, raw[:, TASKS.index("dev")], atol=1e-5)
    notes = [r.getMessage() for r in caplog.records if "forward orientation (is_reverse = 0)" in r.getMessage()]
    assert len(notes) == 3  # one line per stage


def test_explain_motif_tiles_the_genomic_input_of_one_task(two_task_export, tmp_path, capsys):
    out = tmp_path / "motif"
    assert main(["explain", str(two_task_export), "-o", str(out), "--motif", "TGASTCA", "--n-backgrounds", "2",
                 "--task", "hk"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "hk" and summary["orientation"] == "forward"
    assert summary["background_length"] == GENOMIC_LENGTH
    positions = [int(line.split("\t")[0]) for line in (out / "motif_TGASTCA.tsv").read_text().splitlines()[1:]]
    assert min(positions) == 0 and max(positions) == GENOMIC_LENGTH - 7  # the whole 64-bp input, not 80 bp


def test_variants_of_one_task(two_task_run, two_task_export, genomic_rows, tmp_path, capsys):
    rows = genomic_rows[1]
    raw = raw_task_outputs(two_task_run, rows)
    assert main(["variants", str(two_task_export), "--variants", _variants_table(tmp_path, rows), "-o",
                 str(tmp_path / "v"), "--task", "hk"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "hk" and summary["orientation"] == "forward"
    lines = (tmp_path / "v" / "variants.tsv").read_text().splitlines()
    delta = np.array([float(line.split("\t")[5]) for line in lines[1:]])
    np.testing.assert_allclose(delta, raw[1:, 0] - raw[:2, 0], atol=1e-4)  # hk: the model's column 0


def test_design_of_one_task_starts_from_rows_of_the_input_length(two_task_run, tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["design", str(two_task_run), "--random", "2", "-o", str(out), "--generations", "2",
                 "--population", "4", "--children", "2", "--task", "dev"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "dev" and summary["orientation"] == "forward"
    assert json.loads((out / "summary.json").read_text())["task"] == "dev"
    rows = [line.split("\t") for line in (out / "designs.tsv").read_text().splitlines()[1:]]
    assert [len(row[1]) for row in rows] == [GENOMIC_LENGTH] * 2  # seeds: the model's 64-bp input, not 80 bp
    raw = raw_task_outputs(two_task_run, [row[2] for row in rows])
    np.testing.assert_allclose([float(row[4]) for row in rows], raw[:, TASKS.index("dev")], atol=1e-4)


@pytest.mark.parametrize("source, task, message", [
    ("two", "Dev", "--task 'Dev': run {two} has no such task; valid choices are ['hk', 'dev']"),
    ("motif", "dev", "--task 'dev': run {motif} is a single-task model (it predicts one value and names no task); "
                     "leave --task out"),
])
def test_an_unknown_task_exits_2_with_one_line(source, task, message, two_task_run, motif_run, genomic_rows,
                                               tmp_path, capsys):
    model = two_task_run if source == "two" else motif_run
    assert main(["explain", str(model), "--sequences", str(genomic_rows[0]), "-o", str(tmp_path / "o"),
                 "--task", task]) == 2
    assert _error_line(capsys) == "seq2exp explain: error: " + message.format(two=two_task_run, motif=motif_run)
    assert not (tmp_path / "o").exists()
