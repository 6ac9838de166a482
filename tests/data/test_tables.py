"""Tables with a header: named targets, missing values, orientation (data.formats.read_table / iter_table_chunks,
the training cache and the tf.data pipeline), checked against pandas and the Prix Fixe benchmarks' own encoding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seq2exp.data.formats import TableSpec, read_table
from seq2exp.errors import ConfigError, InputFormatError
from tests.conftest import SHARED

BENCH = SHARED / "data" / "dream_benchmarks"
DROSOPHILA = BENCH / "drosophila_starr" / "sample_train.txt"
HUMAN = BENCH / "human_mpra" / "sample_train.txt"
DROSOPHILA_SPEC = {"targets": ["Dev_log2_enrichment", "Hk_log2_enrichment"],
                   "orientation": {"column": "ID", "contains": "-_"}}
HUMAN_SPEC = {"targets": "mean_value", "orientation": {"column": "seq_id", "contains": "_Reversed:"}}


def test_drosophila_table_matches_pandas():
    table = read_table(DROSOPHILA, DROSOPHILA_SPEC)
    frame = pd.read_csv(DROSOPHILA, sep="\t")
    assert table.sequences == frame["Sequence"].str.upper().tolist()
    np.testing.assert_array_equal(table.targets, frame[["Dev_log2_enrichment", "Hk_log2_enrichment"]].to_numpy())
    # the authors' utils.add_rev: df['ID'].str.contains('\-_')
    np.testing.assert_array_equal(table.reverse, frame["ID"].str.contains(r"\-_").to_numpy())
    assert 0 < table.reverse.sum() < len(table)
    assert table.ids["ID"] == frame["ID"].tolist() and table.ids["start"] == frame["start"].astype(str).tolist()
    assert table.target_names == ["Dev_log2_enrichment", "Hk_log2_enrichment"]


def test_human_reverse_rows():
    table = read_table(HUMAN, HUMAN_SPEC)
    frame = pd.read_csv(HUMAN, sep="\t")
    np.testing.assert_array_equal(table.reverse, frame["seq_id"].str.contains("_Reversed:").to_numpy())
    assert table.reverse.sum() == 486  # the README's count
    np.testing.assert_array_equal(table.targets[:, 0], frame["mean_value"].to_numpy())


def test_missing_targets_are_nan_and_bad_rows_name_line_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("name,seq,a,b\nr0,ACGT,1.5,\nr1,acgn,NaN,2\nr2,ACGT,NA,3\n")
    table = read_table(path, {"targets": "a,b"})
    np.testing.assert_array_equal(np.isnan(table.targets), [[False, True], [True, False], [True, False]])
    assert table.sequences[1] == "ACGN" and table.ids == {"name": ["r0", "r1", "r2"]}
    bad = tmp_path / "bad.tsv"
    bad.write_text("seq\ta\tb\nACGT\t1\t2\nACGT\tx\t2\n")
    with pytest.raises(InputFormatError, match=r"line 3.*a|a.*line 3"):
        read_table(bad, {"targets": ["a", "b"]})
    empty = tmp_path / "empty.tsv"
    empty.write_text("seq\ta\tb\nACGT\t\t\n")
    with pytest.raises(InputFormatError, match=r"line 2, field 'a': every target \(a, b\) is missing: .*--set "
                                               r"data.on_invalid=skip"):  # the way out, as train spells it
        read_table(empty, {"targets": ["a", "b"]})
    with pytest.raises(InputFormatError, match="no target column"):
        read_table(bad, {"targets": ["c"]})
    letters = tmp_path / "letters.tsv"
    letters.write_text("seq\ta\nACXT\t1\n")
    with pytest.raises(InputFormatError, match="line 2"):
        read_table(letters, {"targets": ["a"]})
    letters.write_text("seq\ta\nACXT\t1\nACGT\t2\n")
    skipped = read_table(letters, {"targets": ["a"]}, on_invalid="skip")
    assert skipped.sequences == ["ACGT"] and skipped.skipped == 1
    with pytest.raises(ConfigError):
        TableSpec.from_dict({"targets": []})


def test_cache_keeps_tasks_nan_and_orientation(tmp_path):
    from seq2exp.data.cache import build_cache

    path = tmp_path / "t.tsv"
    path.write_text("id\tsequence\ta\tb\tstrand\nx\tACGT\t1\t\t-\ny\tAC\t\t2\t+\n")
    cache = build_cache(path, tmp_path / "cache", table={"targets": ["a", "b"],
                                                        "orientation": {"column": "strand", "values": ["-"]}})
    assert cache.targets.shape == (2, 2) and np.isnan(cache.targets[0, 1]) and np.isnan(cache.targets[1, 0])
    np.testing.assert_array_equal(cache.orientation(np.arange(2)), [True, False])
    assert cache.target_names == ["a", "b"] and cache.meta["missing_targets"] == [1, 1]


def _authors_encoding(sequences: list[str], rev: np.ndarray) -> np.ndarray:
    """prixfixe_benchmarks/human/prixfixe/autosome/utils.Seq2Tensor + dataset.SeqDatasetProb's rev channel, in
    numpy: codes A0 G1 C2 T3 N4, one_hot(5)[:, :4], transposed back to [L, C], then the constant rev channel."""
    codes = {"A": 0, "T": 3, "G": 1, "C": 2, "N": 4}
    out = []
    for sequence, flag in zip(sequences, rev):
        onehot = np.eye(5, dtype=np.float32)[[codes[c] for c in sequence]][:, :4]
        out.append(np.concatenate([onehot, np.full((len(sequence), 1), float(flag), np.float32)], axis=1))
    return np.stack(out)


def test_human_rows_encoded_as_the_authors_dataset(tmp_path):
    """The human sample's rows (reverse orientation included) through the cache and make_dataset with the
    benchmark config's input spec equal the authors' dataset tensors."""
    from seq2exp.data.cache import build_cache
    from seq2exp.data.datasets import make_dataset
    from seq2exp.data.encoding import Encoder
    from seq2exp.training.config import load_config

    config = load_config("training/configs/benchmarks/human_dream_rnn.yaml")
    encoder = Encoder(config["model"]["config"]["input"])
    cache = build_cache(HUMAN, tmp_path / "cache", table=config["data"]["table"])
    rows = np.arange(0, 1000, 7)
    (inputs, targets), = make_dataset(cache, encoder, batch_size=len(rows), indices=rows, shuffle=False).take(1)
    frame = pd.read_csv(HUMAN, sep="\t")
    frame["rev"] = frame["seq_id"].str.contains("_Reversed:").astype(int)  # the authors' add_rev
    expected = _authors_encoding(frame["seq"].iloc[rows].tolist(), frame["rev"].iloc[rows].to_numpy())
    np.testing.assert_array_equal(inputs.numpy(), expected)
    assert 0 < expected[:, 0, 4].sum() < len(rows)
    np.testing.assert_allclose(targets["expression"].numpy(), frame["mean_value"].iloc[rows], rtol=1e-6)
