"""The explain / variants / design stages end to end (in-process and over gRPC); bad input -> exit 2, one line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seq2exp.cli import main
from tests.interpret.conftest import MOTIF, plant, promoters


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
