"""DREAM / FASTA / subset readers and writers, on the real demo data and on hand-made bad files."""
from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from seq2exp.data.formats import (
    DreamChunk,
    read_dream,
    read_fasta,
    read_public_leaderboard_ids,
    read_sequences,
    read_test_subsets,
    write_dream,
    write_fasta,
)
from seq2exp.errors import InputFormatError


def _reference_rows(path):
    """Plain-Python parse of a DREAM file (the format as the challenge's own scorer reads it)."""
    with open(path, newline="") as handle:
        return [line.rstrip("\r\n").split("\t") for line in handle if line.strip()]


def test_read_dream_demo_matches_a_plain_python_parse(demo_train):
    table = read_dream(demo_train)
    rows = _reference_rows(demo_train)
    assert len(table) == len(rows) == 6370
    assert table.sequences == [row[0].upper() for row in rows]
    np.testing.assert_array_equal(table.expression, np.array([float(row[1]) for row in rows], np.float32))
    np.testing.assert_array_equal(table.line_numbers, np.arange(1, 6371))
    assert table.skipped == 0 and table.has_expression


@pytest.mark.parametrize("chunk_bytes", [997, 65536])
def test_block_boundaries_do_not_change_the_result(demo_train, chunk_bytes):
    from seq2exp.data.formats import iter_dream_chunks

    parts = list(iter_dream_chunks(demo_train))
    whole = DreamChunk(
        codes=np.concatenate([np.pad(p.codes, ((0, 0), (0, 140 - p.codes.shape[1])), constant_values=5) for p in parts]),
        lengths=np.concatenate([p.lengths for p in parts]),
        expression=np.concatenate([p.expression for p in parts]),
        line_numbers=np.concatenate([p.line_numbers for p in parts]))
    pieces = list(iter_dream_chunks(demo_train, chunk_bytes=chunk_bytes))
    assert len(pieces) > 1
    np.testing.assert_array_equal(np.concatenate([p.lengths for p in pieces]), whole.lengths)
    np.testing.assert_array_equal(np.concatenate([p.expression for p in pieces]), whole.expression)
    np.testing.assert_array_equal(np.concatenate([p.line_numbers for p in pieces]), whole.line_numbers)
    for piece in pieces:
        rows = piece.line_numbers - 1
        np.testing.assert_array_equal(piece.codes, whole.codes[rows, : piece.codes.shape[1]])


@pytest.mark.parametrize("chunk_bytes", [5, 33, 250, 1 << 20])
def test_small_blocks_with_blank_tail_and_crlf(tmp_path, chunk_bytes):
    from seq2exp.data.formats import iter_dream_chunks

    path = tmp_path / "t.txt"
    path.write_bytes(b"ACGT\t1.5\r\nacgtn\t2\nGGGGGGGGGGGGGGGG\t\nTT\n\n \n")
    chunks = list(iter_dream_chunks(path, chunk_bytes=chunk_bytes))
    lengths = np.concatenate([c.lengths for c in chunks])
    values = np.concatenate([c.expression for c in chunks])
    lines = np.concatenate([c.line_numbers for c in chunks])
    np.testing.assert_array_equal(lengths, [4, 5, 16, 2])
    np.testing.assert_array_equal(lines, [1, 2, 3, 4])
    np.testing.assert_allclose(values[:2], [1.5, 2.0])
    assert np.isnan(values[2]) and np.isnan(values[3])


@pytest.mark.parametrize(
    "content, line, field, message",
    [
        (b"ACGT\t1\nACGX\t2\n", 2, "sequence", "letter 'X' at position 4"),
        (b"ACGT\t1\n\t2\n", 2, "sequence", "empty sequence"),
        (b"ACGT\t1\n\nACGT\t2\n", 2, "sequence", "empty line"),
        (b"ACGT\t1\nACGT\t2\t3\n", 2, None, "expected 2 tab-separated fields"),
        (b"ACGT\t1\nACGT\tabc\n", 2, "expression", "'abc' is not a finite number"),
        (b"ACGT\t1\nACGT\tinf\n", 2, "expression", "not a finite number"),
        (b"sequence\texpression\nACGT\t1\n", 1, "sequence", "no header line"),
        (b"ACGT\t1\nACGTACGTAC\t1\n", 2, "sequence", "longer than the maximum 8"),
        (b"ACGT 1\n", 1, "sequence", "letter ' '"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, content, line, field, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=message) as caught:
        read_dream(path, max_length=8)
    assert caught.value.line == line and caught.value.field == field and caught.value.path == str(path)
    assert f"line {line}" in str(caught.value)


def test_skip_mode_drops_and_counts_bad_rows(tmp_path, caplog):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"ACGT\t1\nACGX\t2\n\tx\nCCCC\t3\nAC\tnope\nGGGG\n")
    table = read_dream(path, on_invalid="skip")
    assert table.sequences == ["ACGT", "CCCC", "GGGG"]
    assert table.skipped == 3
    np.testing.assert_array_equal(table.line_numbers, [1, 4, 6])
    assert "line 2" in caplog.text


def test_missing_file_and_gzip(tmp_path):
    with pytest.raises(InputFormatError, match="file not found"):
        read_dream(tmp_path / "absent.txt")
    path = tmp_path / "t.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"ACGT\t1\nTTTT\t2")
    assert read_dream(path).sequences == ["ACGT", "TTTT"]


def test_write_dream_round_trip_keeps_values_exactly(tmp_path):
    values = np.array([15.1823836007871, 12.0, np.nan, 0.1])
    sequences = ["ACGT", "acgtn", "TTTT", "G"]
    write_dream(tmp_path / "o.txt", sequences, values)
    table = read_dream(tmp_path / "o.txt")
    assert table.sequences == ["ACGT", "ACGTN", "TTTT", "G"]
    assert (tmp_path / "o.txt").read_text().splitlines()[2] == "TTTT\t"
    np.testing.assert_array_equal(table.expression, values.astype(np.float32))
    exact = read_dream(tmp_path / "o.txt", expression_dtype=np.float64).expression
    np.testing.assert_array_equal(exact, values)
    with pytest.raises(ValueError, match="row 1"):
        write_dream(tmp_path / "bad.txt", ["ACGT", "AC-T"], [1, 2])
    assert not (tmp_path / "bad.txt").exists()


def test_fasta_round_trip_and_errors(tmp_path):
    write_fasta(tmp_path / "a.fa", ["s1", "s2"], ["ACGT" * 30, "nnac"], width=50)
    table = read_fasta(tmp_path / "a.fa")
    assert table.names == ["s1", "s2"] and table.sequences == ["ACGT" * 30, "NNAC"]
    np.testing.assert_array_equal(table.line_numbers, [1, 5])
    (tmp_path / "b.fa").write_text(">x desc\nACGT\n>y\n\n>z\nAC\n")
    with pytest.raises(InputFormatError, match="record 'y': empty sequence") as caught:
        read_fasta(tmp_path / "b.fa")
    assert caught.value.line == 3
    assert read_fasta(tmp_path / "b.fa", on_invalid="skip").names == ["x", "z"]
    (tmp_path / "c.fa").write_text("ACGT\n>x\nAC\n")
    with pytest.raises(InputFormatError, match="before the first '>'"):
        read_fasta(tmp_path / "c.fa")


def test_read_sequences_detects_the_format(tmp_path, demo_train):
    write_fasta(tmp_path / "a.fa", ["q"], ["ACGT"])
    assert read_sequences(tmp_path / "a.fa").names == ["q"]
    table = read_sequences(demo_train)
    assert table.names[:3] == ["0", "1", "2"] and len(table) == 6370 and table.expression is not None


def test_read_test_subsets_matches_the_challenge_definition(demo_subsets):
    subsets = read_test_subsets(demo_subsets)
    assert set(subsets) == {"high", "low", "yeast", "random", "challenging", "motif_perturbation", "motif_tiling"}
    with open(demo_subsets / "yeast_seqs.csv", newline="") as handle:
        positions = [int(row["pos"]) for row in csv.DictReader(handle)]
    np.testing.assert_array_equal(subsets["yeast"], np.unique(positions))
    assert len(subsets["high"]) == 968 and len(subsets["yeast"]) == 578
    with open(demo_subsets / "motif_tiling_seqs.csv", newline="") as handle:
        pairs = {(int(row["alt_pos"]), int(row["ref_pos"])) for row in csv.DictReader(handle)}
    assert {tuple(row) for row in subsets["motif_tiling"].tolist()} == pairs
    assert subsets["motif_tiling"].shape == (len(pairs), 2)


def test_read_test_subsets_errors(tmp_path):
    with pytest.raises(InputFormatError, match="not found"):
        read_test_subsets(tmp_path / "nope")
    (tmp_path / "high_exp_seqs.csv").write_text("tag,position\nx,1\n")
    with pytest.raises(InputFormatError, match=r"missing column\(s\) \['pos'\]"):
        read_test_subsets(tmp_path)
    (tmp_path / "high_exp_seqs.csv").write_text("tag,pos\nx,1\ny,-4\n")
    with pytest.raises(InputFormatError, match="line 3, field 'pos'"):
        read_test_subsets(tmp_path)
    (tmp_path / "high_exp_seqs.csv").write_text("tag,pos\nx,7\ny,3.0\nz,7\n")
    np.testing.assert_array_equal(read_test_subsets(tmp_path)["high"], [3, 7])


def test_read_public_leaderboard_ids(tmp_path):
    (tmp_path / "high_exp_indices.json").write_text(json.dumps({"5": 1.0, "2": 3.0}))
    (tmp_path / "SNVs_exp_indices.json").write_text(json.dumps({"10,11": 0.5, "12,11": 0.1}))
    ids = read_public_leaderboard_ids(tmp_path)
    np.testing.assert_array_equal(ids["high"], [2, 5])
    np.testing.assert_array_equal(ids["SNVs"], [[10, 11], [12, 11]])
    (tmp_path / "low_exp_indices.json").write_text(json.dumps({"1,2": 0}))
    with pytest.raises(InputFormatError, match="1 comma-separated"):
        read_public_leaderboard_ids(tmp_path)
