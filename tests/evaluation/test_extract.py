"""``seq2exp subsets extract`` / ``list``: subset files as FASTA, DREAM and variant TSV.

Oracles: pandas reading the challenge's real CSVs (../shared/data/dream_demo), and a hand-written folder whose
values are known by construction. The written files are read back with the package's own consumers (the FASTA /
DREAM reader of ``seq2exp predict`` and ``seq2exp variants``' table reader), so a recipe's output is usable.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2exp.cli import main as cli_main
from seq2exp.data.formats import iter_sequence_records, read_dream, read_fasta
from seq2exp.interpret.cli import read_variants

F5, F3 = "TGCATTTTTTTCACATC", "GGTTACGGCTGTT"


def _seq(core: str) -> str:
    return F5 + core + F3


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    """Two single subsets and one pair subset with measured values; a duplicated row in each."""
    folder = tmp_path / "test_subset_ids"
    folder.mkdir()
    a, b, c, d = _seq("AAAA"), _seq("CCCC"), _seq("GGGG"), _seq("TTTT")
    (folder / "high_exp_seqs.csv").write_text(
        ",tag,sequence,pos,exp\n0,h one,%s,3,1.5\n1,h2,%s,1,2.25\n2,h2,%s,1,2.25\n" % (a, b, b))
    (folder / "yeast_seqs.csv").write_text(",tag,sequence,pos,exp\n0,y,%s,0,\n" % c)
    (folder / "all_SNVs_seqs.csv").write_text(
        ",alt_tag,ref_tag,alt_sequence,ref_sequence,alt_pos,ref_pos,alt_exp,ref_exp\n"
        "0,s1,r,%s,%s,2,3,7.0,1.5\n1,s1,r,%s,%s,2,3,7.0,1.5\n2,s2,r,%s,%s,0,3,0.5,1.5\n" % (d, a, d, a, c, a))
    return folder


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_real_demo_random_fasta_matches_pandas(demo_dir: Path, tmp_path: Path, capsys) -> None:
    folder = demo_dir / "test_subset_ids"
    out = tmp_path / "four.fa"
    assert _run(["subsets", "extract", str(folder), "--subset", "random", "-o", str(out), "--n", "4"], capsys)[0] == 0
    table = pd.read_csv(folder / "all_random_seqs.csv")
    fasta = read_fasta(out)
    assert fasta.names == table["tag"].head(4).tolist()
    assert fasta.sequences == table["sequence"].head(4).tolist()
    # a seeded sample: N distinct rows of the subset, in file order, the same for the same seed
    for name in ("a.txt", "b.txt"):
        assert _run(["subsets", "extract", str(folder), "--subset", "challenging", "-o", str(tmp_path / name),
                     "--n", "50", "--seed", "3"], capsys)[0] == 0
    sample = read_dream(tmp_path / "a.txt").sequences
    assert sample == read_dream(tmp_path / "b.txt").sequences and len(set(sample)) == 50
    challenging = pd.read_csv(folder / "challenging_seqs.csv").drop_duplicates("pos")
    rows = [challenging["sequence"].tolist().index(s) for s in sample]
    assert rows == sorted(rows) and rows != list(range(50))


def test_real_demo_pairs_as_variants(demo_dir: Path, tmp_path: Path, capsys) -> None:
    folder = demo_dir / "test_subset_ids"
    out = tmp_path / "tiling.tsv"
    assert _run(["subsets", "extract", str(folder), "--subset", "motif_tiling", "-o", str(out)], capsys)[0] == 0
    table = pd.read_csv(folder / "motif_tiling_seqs.csv").drop_duplicates(["alt_pos", "ref_pos"])
    variants = read_variants(str(out))
    assert len(variants["ref"]) == len(table) == 2624
    assert variants["ref"] == table["ref_sequence"].tolist() and variants["alt"] == table["alt_sequence"].tolist()
    written = pd.read_csv(out, sep="\t")
    assert written["alt_index"].tolist() == table["alt_pos"].tolist()
    assert written["ref_index"].tolist() == table["ref_pos"].tolist()
    assert variants["measured"] is None


def test_real_demo_has_no_values(demo_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "y.txt"
    code, _, err = _run(["subsets", "extract", str(demo_dir / "test_subset_ids"), "--subset", "yeast", "-o",
                         str(out), "--values"], capsys)
    assert code == 2 and "yeast_seqs.csv" in err and "--truth" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_values_from_csv_and_truth(tiny: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "high.txt"
    assert _run(["subsets", "extract", str(tiny), "--subset", "high", "-o", str(out), "--values"], capsys)[0] == 0
    table = read_dream(out)
    assert table.sequences == [_seq("AAAA"), _seq("CCCC")]          # duplicate row of index 1 dropped
    assert table.expression.tolist() == [1.5, 2.25]
    # a truth file by test index overrides the CSV's values; yeast has none in its CSV
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"0": 9.5, "1": -1.0, "2": 4.0, "3": 0.25}))
    out = tmp_path / "yeast.tsv"
    assert _run(["subsets", "extract", str(tiny), "--subset", "yeast", "-o", str(out), "--values", "--truth",
                 str(truth)], capsys)[0] == 0
    records = list(iter_sequence_records(out))
    assert [(r.name, r.sequence) for r in records] == [("y", _seq("GGGG"))]
    assert pd.read_csv(out, sep="\t")["value"].tolist() == [9.5]
    code, _, err = _run(["subsets", "extract", str(tiny), "--subset", "yeast", "-o", str(tmp_path / "n.txt"),
                         "--values"], capsys)
    assert code == 2 and "test index 0" in err


def test_pairs_with_values_and_as_sequences(tiny: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "snvs.tsv"
    assert _run(["subsets", "extract", str(tiny), "--subset", "SNVs", "-o", str(out), "--values"], capsys)[0] == 0
    variants = read_variants(str(out))
    assert variants["names"] == ["s1", "s2"]
    assert variants["alt"] == [_seq("TTTT"), _seq("GGGG")] and variants["ref"] == [_seq("AAAA")] * 2
    assert variants["measured"] == ([1.5, 1.5], [7.0, 0.5])
    # FASTA of a pair subset: its distinct sequences, alt then ref, unique by test index
    fasta = tmp_path / "snvs.fa"
    assert _run(["subsets", "extract", str(tiny), "--subset", "SNVs", "-o", str(fasta)], capsys)[0] == 0
    assert read_fasta(fasta).sequences == [_seq("TTTT"), _seq("AAAA"), _seq("GGGG")]


def test_folder_output_and_names(tiny: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "all"
    code, text, _ = _run(["subsets", "extract", str(tiny), "-o", str(out), "--json"], capsys)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["SNVs.tsv", "high.fa", "yeast.fa"]
    assert {item["subset"]: item["rows"] for item in json.loads(text)} == {"high": 2, "yeast": 1, "SNVs": 2}
    assert read_fasta(out / "high.fa").names == ["h_one", "h2"]      # whitespace in a tag replaced
    code, _, err = _run(["subsets", "extract", str(tiny), "-o", str(out)], capsys)
    assert code == 2 and "exists" in err
    code, text, _ = _run(["subsets", "list", str(tiny), "--json"], capsys)
    listed = {row["subset"]: row for row in json.loads(text)}
    assert listed["high"]["rows"] == 3 and listed["high"]["unique"] == 2 and listed["high"]["values"]
    assert not listed["yeast"]["values"] and listed["SNVs"]["pair"]


@pytest.mark.parametrize("argv, message", [
    (["--subset", "high", "-o", "x.fa", "--values"], "FASTA file holds no values"),
    (["--subset", "high", "-o", "x.bed"], "extension"),
    (["--subset", "nope", "-o", "x.fa"], "unknown subset"),
    (["--subset", "low", "-o", "x.fa"], "low_exp_seqs.csv"),
    (["--subset", "high", "-o", "x.fa", "--n", "0"], "n must be >= 1"),
    (["--subset", "high", "-o", "x.fa", "--seed", "1"], "--seed"),
    (["--subset", "high", "-o", "x.txt", "--truth", "t.json"], "--values"),
])
def test_errors(tiny: Path, tmp_path: Path, capsys, monkeypatch, argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["subsets", "extract", str(tiny), *argv], capsys)
    assert code == 2 and message in err, err
    assert not (tmp_path / "x.fa").exists() and not (tmp_path / "x.txt").exists()


def test_bad_sequence_names_file_line_column(tiny: Path, tmp_path: Path, capsys) -> None:
    (tiny / "low_exp_seqs.csv").write_text(",tag,sequence,pos,exp\n0,a,%s,5,\n1,b,ACGXT,6,\n" % _seq("A"))
    code, _, err = _run(["subsets", "extract", str(tiny), "--subset", "low", "-o", str(tmp_path / "l.fa")], capsys)
    assert code == 2 and "low_exp_seqs.csv" in err and "line 3" in err and "sequence" in err
    assert not (tmp_path / "l.fa").exists()
