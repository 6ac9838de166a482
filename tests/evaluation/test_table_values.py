"""Scoring a single-task model on a table: ``seq2exp predict --format tsv``'s ``id, sequence, expression`` file
against a benchmark's own test table (the human lentiMPRA ``sample_test.txt``: ``seq_id, seq, mean_value, fold``)
with ``--truth-column``. The oracle is scipy on the columns read with pandas."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, spearmanr

from seq2exp.errors import InputFormatError
from seq2exp.evaluation import read_values
from tests.conftest import SHARED
from tests.reliability.conftest import assert_one_line_error, run_cli

HUMAN_TEST = SHARED / "data" / "dream_benchmarks" / "human_mpra" / "sample_test.txt"


@pytest.fixture
def predictions(tmp_path):
    """A predict --format tsv file for the human test rows: a noisy copy of the truth (so r is neither 0 nor 1),
    with the table's empty and NA spellings in a second copy."""
    truth = pd.read_csv(HUMAN_TEST, sep="\t")
    noise = np.random.default_rng(5).normal(scale=0.8, size=len(truth))
    values = truth["mean_value"].to_numpy() + noise
    path = tmp_path / "human_test.tsv"
    rows = [f"{i}\t{s}\t{float(v)!r}\n" for i, s, v in zip(truth["seq_id"], truth["seq"], values)]
    path.write_text("id\tsequence\texpression\n" + "".join(rows))
    return path, truth, values


def test_a_tsv_prediction_file_against_the_benchmark_table(predictions, capsys):
    path, truth, values = predictions
    code, out, err = run_cli(["score", "--predictions", path, "--truth", HUMAN_TEST, "--truth-column", "mean_value",
                              "--json"], capsys)
    assert code == 0, err
    scored = json.loads(out)["subsets"]["all"]
    assert scored["n"] == len(truth) == 1000
    assert scored["pearson"] == pytest.approx(pearsonr(values, truth["mean_value"])[0], rel=1e-9)
    assert scored["spearman"] == pytest.approx(spearmanr(values, truth["mean_value"])[0], rel=1e-9)


def test_the_truth_column_must_exist_and_a_table_needs_one(predictions, capsys):
    path, _, _ = predictions
    assert_one_line_error(run_cli(["score", "--predictions", path, "--truth", HUMAN_TEST], capsys), "score",
                          r"sample_test\.txt, line 1: no value column 'expression' \(its columns: seq_id, seq, "
                          r"mean_value, fold\).*--truth-column")
    assert_one_line_error(run_cli(["score", "--predictions", path, "--truth", HUMAN_TEST, "--truth-column",
                                   "activity"], capsys), "score", r"no value column 'activity'")


def test_table_values_read_missing_values_as_absent_and_refuse_bad_ones(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("seq,Expression\nACGT,1.5\nacgg,\nAGGT,NA\nTTTT,-2\n")
    values = read_values(table)
    assert values.values[[0, 3]].tolist() == [1.5, -2.0] and values.present.tolist() == [True, False, False, True]
    assert values.sequences.tolist() == [b"ACGT", b"ACGG", b"AGGT", b"TTTT"] and values.ordered
    table.write_text("seq,Expression\nACGT,1.5\nACGG,big\n")
    with pytest.raises(InputFormatError, match=r"t\.csv, line 3, field 'Expression': 'big' is not a number"):
        read_values(table)
    table.write_text("seq,Expression\nACGT,1.5\nACGG,inf\n")
    with pytest.raises(InputFormatError, match=r"line 3, field 'Expression': test index 1 has the non-finite"):
        read_values(table)
    assert read_values(table, nonfinite="drop").present.tolist() == [True, False]
    dream = tmp_path / "d.txt"
    dream.write_text("ACGT\t1.5\n")
    with pytest.raises(InputFormatError, match=r"a value column \('mean_value'\) was named, but this is not a table"):
        read_values(dream, column="mean_value")


def test_a_dream_file_with_a_sequence_expression_header_reads_as_the_plain_file(tmp_path):
    rows = "ACGT\t1.5\nGGCA\t\nTTAA\t-0.25\n"
    plain, headed = tmp_path / "plain.txt", tmp_path / "headed.txt"
    plain.write_text(rows)
    headed.write_text("sequence\texpression\n" + rows)
    a, b = read_values(plain), read_values(headed)
    assert np.array_equal(a.values, b.values, equal_nan=True) and a.present.tolist() == b.present.tolist()
    assert a.sequences.tolist() == b.sequences.tolist() and a.ordered and b.ordered
