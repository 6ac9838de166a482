"""``seq2exp batch`` with a model that has an ``is_reverse`` channel: each row's orientation (the export's recorded
rule, ``_Reversed:`` ids) reaches the model as in ``seq2exp predict``, row for row, in both modes; the rows' values
equal the model on a numpy one-hot plus a channel of ones (reverse) or zeros (forward)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seq2exp.cli import main as cli_main
from tests.serving.test_orientation import IDS, REVERSE, ROWS, RULE, independent
from tests.serving.tiny_variants import make_tiny_variant_run

OPTIONS = ["--format", "tsv", "--batch-size", "4", "--shard-rows", "4"]  # two chunks, two shards


@pytest.fixture(scope="module")
def oriented(tmp_path_factory):
    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run

    root = tmp_path_factory.mktemp("batch_oriented")
    run = make_tiny_variant_run(root / "run", rc_channel=True, seed=4,
                                config={"data": {"table": {"targets": ["mean_value"], "orientation": RULE}}})
    export_run(run, root / "models", "human")
    table = root / "human.tsv"
    table.write_text("seq_id\tseq\n" + "".join(f"{i}\t{s}\n" for i, s in zip(IDS, ROWS)))
    return root, load_run(run), table


def _values(out) -> tuple[list[str], np.ndarray]:
    lines = [line for shard in sorted(out.glob("predictions-00000-*.tsv")) for line in shard.read_text().splitlines()
             if not line.startswith("id\t")]
    return [line.split("\t")[0] for line in lines], np.array([float(line.split("\t")[2]) for line in lines])


def test_batch_feeds_each_rows_orientation_in_both_modes(oriented, tmp_path, capsys):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    root, run, table = oriented
    expected, forward = independent(run, REVERSE), independent(run, np.zeros(len(ROWS)))
    local = tmp_path / "local"
    assert cli_main(["batch", str(table), "-o", str(local), "--saved-model", str(root / "models" / "human"),
                     *OPTIONS]) == 0
    ids, values = _values(local)
    assert ids == IDS
    np.testing.assert_allclose(values, expected, atol=2e-6, rtol=1e-6)
    assert json.loads((local / "manifest.json").read_text())["model"]["orientation"] == RULE
    predicted = tmp_path / "predict.tsv"  # seq2exp predict, same rule: the same rows byte for byte
    assert cli_main(["predict", str(table), "-o", str(predicted), "--saved-model", str(root / "models" / "human"),
                     "--format", "tsv", "--no-progress"]) == 0
    assert [line for shard in sorted(local.glob("predictions-00000-*.tsv")) for line in
            shard.read_text().splitlines()[1:]] == predicted.read_text().splitlines()[1:]
    none = tmp_path / "none"
    assert cli_main(["batch", str(table), "-o", str(none), "--saved-model", str(root / "models" / "human"),
                     "--orientation", "none", *OPTIONS]) == 0
    np.testing.assert_allclose(_values(none)[1], forward, atol=2e-6, rtol=1e-6)

    server = ModelServer(discover_models(root / "models"), port=0, poll_seconds=0).start()
    try:
        remote = tmp_path / "remote"
        assert cli_main(["batch", str(table), "-o", str(remote), "--server", server.target, "--model", "human",
                         "--orientation", "seq_id~_Reversed:", *OPTIONS]) == 0
    finally:
        server.stop(grace=1)
    np.testing.assert_allclose(_values(remote)[1], expected, atol=2e-6, rtol=1e-6)


def test_an_explicit_rule_for_a_model_without_the_channel_is_refused(tiny_model_base, oriented, tmp_path, capsys):
    root, _, table = oriented
    out = tmp_path / "out"
    capsys.readouterr()
    assert cli_main(["batch", str(table), "-o", str(out), "--saved-model", str(tiny_model_base / "tiny"),
                     "--orientation", "seq_id~_Reversed:"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "serving_oriented" in err[0], err
    assert not out.exists()


def test_an_input_that_cannot_answer_the_rule_is_warned_about(oriented, tmp_path, caplog):
    """A DREAM file (no ids) under the export's rule: a warning naming the file, and its rows predicted forward (as
    ``seq2exp predict`` does with ``--orientation auto``)."""
    root, run, _ = oriented
    dream = tmp_path / "rows.txt"
    dream.write_text("".join(f"{s}\t0.5\n" for s in ROWS))
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="seq2exp.batch.pipeline"):
        assert cli_main(["batch", str(dream), "-o", str(out), "--saved-model", str(root / "models" / "human"),
                         *OPTIONS]) == 0
    assert "rows.txt: the orientation rule seq_id~_Reversed: cannot be applied: a DREAM file" in caplog.text
    np.testing.assert_allclose(_values(out)[1], independent(run, np.zeros(len(ROWS))), atol=2e-6, rtol=1e-6)
