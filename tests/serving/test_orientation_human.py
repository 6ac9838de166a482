"""The human lentiMPRA sample end to end with orientation: smoke training of the DREAM-RNN human benchmark config
(is_reverse channel, ``_Reversed:`` ids) -> export (the ``serving_oriented`` signature and the table's rule in the
metadata) -> TF Serving's session path and ``seq2exp predict``, equal to the trained Keras model called on a one-hot
built here with numpy (A, G, C, T; N all zero; padded with N to 230 bp) plus the is_reverse channel."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seq2exp.serving import signatures as names
from tests.conftest import SHARED

from .conftest import session_run

DATA = SHARED / "data" / "dream_benchmarks" / "human_mpra"
CONFIG = "training/configs/benchmarks/human_dream_rnn.yaml"

pytestmark = pytest.mark.slow  # a smoke training, an export: ~1-2 min on 2 cores


def numpy_input(sequences, flags) -> np.ndarray:
    """Seq2Tensor's encoding, rebuilt here: one-hot in the order A, G, C, T, N all zero, 230 bp, + is_reverse."""
    x = np.zeros([len(sequences), 230, 5], np.float32)
    for row, sequence in enumerate(sequences):
        for position, letter in enumerate(sequence[:230]):
            if letter in "AGCT":
                x[row, position, "AGCT".index(letter)] = 1.0
    x[:, :, 4] = np.asarray(flags, np.float32)[:, None]
    return x


def test_human_sample_reverse_rows_reach_the_served_model(tmp_path, capsys):
    from seq2exp.cli import main as cli_main
    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run
    from seq2exp.training import train

    train(CONFIG, data=DATA / "sample_train.txt", val=DATA / "sample_valid.txt", out=tmp_path / "run", smoke=True)
    result = export_run(tmp_path / "run", tmp_path / "models", "human")
    assert result.metadata["orientation"] == {"signature": names.ORIENTED_SIGNATURE, "input": "is_reverse",
                                              "rule": {"column": "seq_id", "contains": "_Reversed:"}}
    frame = pd.read_csv(DATA / "sample_test.txt", sep="\t").iloc[:32]
    test = tmp_path / "test.tsv"
    frame.to_csv(test, sep="\t", index=False)
    sequences = frame["seq"].tolist()
    flags = frame["seq_id"].str.contains("_Reversed:", regex=False).to_numpy()
    assert 0 < flags.sum() < len(flags)
    model = load_run(tmp_path / "run").model
    expected = np.asarray(model(numpy_input(sequences, flags), training=False)["expression"]).ravel()
    forward = np.asarray(model(numpy_input(sequences, np.zeros(len(flags))), training=False)["expression"]).ravel()
    (served,) = session_run(result.path, [(names.ORIENTED_SIGNATURE, {
        "sequences": np.array([s.encode() for s in sequences], dtype=object), "is_reverse": flags})])
    worst = float(np.max(np.abs(served[names.EXPRESSION_OUTPUT] - expected)))
    print(f"human sample, serving_oriented vs numpy input: max |diff| {worst:.3g}; reverse rows move by "
          f"{np.abs(expected - forward)[flags].min():.3g} .. {np.abs(expected - forward)[flags].max():.3g}")
    assert worst < 1e-4
    assert np.abs(expected - forward)[flags].min() > 0 and np.abs(expected - forward)[~flags].max() == 0

    capsys.readouterr()
    assert cli_main(["predict", str(test), "--saved-model", str(result.path), "--format", "tsv", "-o",
                     str(tmp_path / "pred.tsv"), "--no-progress"]) == 0  # the recorded rule, no option
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows_reverse"] == int(flags.sum())
    written = pd.read_csv(tmp_path / "pred.tsv", sep="\t")
    assert written["id"].tolist() == frame["seq_id"].tolist()
    np.testing.assert_allclose(written["expression"].to_numpy(), expected, atol=1e-4, rtol=1e-5)
