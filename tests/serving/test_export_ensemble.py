"""``seq2exp export RUN RUN ...``: one SavedModel serving the mean of several runs' predictions.

Proven on TensorFlow Serving's loading path (session loader + ``Session.run`` by SignatureDef tensor names) against
the member Keras models called directly on a numpy one-hot encoding (not through the prediction graph).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from seq2exp.errors import ConfigError
from seq2exp.serving import signatures as names

from .conftest import make_tiny_run, random_promoters, session_run


def _numpy_onehot(sequences: list[str]) -> np.ndarray:
    index = {"A": 0, "C": 1, "G": 2, "T": 3}
    return np.stack([np.eye(4, dtype=np.float32)[[index[letter] for letter in s]] for s in sequences])


def test_cli_ensemble_serves_the_mean_of_the_member_models(tmp_path):
    import keras

    from seq2exp.cli import main

    members = [make_tiny_run(tmp_path / f"run{seed}", seed=seed) for seed in (1, 2, 3)]
    base = tmp_path / "models"
    assert main(["export", *map(str, members), "--model-base-path", str(base), "--name", "tiny_ensemble"]) == 0
    version = base / "tiny_ensemble" / "1"
    sequences = random_promoters(64, seed=3, variable_lengths=False)
    onehot = _numpy_onehot(sequences)
    per_member = [np.asarray(keras.models.load_model(path / "model.keras")(onehot)["expression"]).reshape(-1)
                  for path in members]
    metadata = json.loads((version / names.METADATA_FILE).read_text())
    padded = np.zeros([len(sequences), metadata["onehot_length"], 4], np.float32)  # padding = all zeros
    padded[:, :onehot.shape[1]] = onehot
    served, served_onehot = session_run(version, [
        (names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: np.array([s.encode() for s in sequences], object)}),
        (names.ONEHOT_SIGNATURE, {names.ONEHOT_INPUT: padded}),
    ])
    expected = np.mean(per_member, axis=0)
    np.testing.assert_allclose(served[names.EXPRESSION_OUTPUT], expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(served_onehot[names.EXPRESSION_OUTPUT], expected, atol=1e-5, rtol=0)
    assert min(np.ptp(value - expected) for value in per_member) > 1e-3  # the members differ: the mean matters
    assert metadata["ensemble"]["members"] == 3 and len(metadata["members"]) == 3
    assert [m["run"] for m in metadata["members"]] == [str(path.resolve()) for path in members]


def test_ensemble_of_two_architectures_averages_their_graphs(tmp_path, runs, expected_outputs, sequences):
    """autosome (RC TTA, bins) + bhi (shift TTA, no bins): each member keeps its own TTA; no bins in the mean."""
    from seq2exp.serving.export import export_run

    result = export_run([runs["autosome"], runs["bhi"]], tmp_path, "mixed", verify=True)
    assert result.metadata["check"]["max_abs_diff_vs_in_process"] <= 1e-5
    (served,) = session_run(result.path, [(names.SERVING_DEFAULT, {
        names.SEQUENCES_INPUT: np.array([s.encode() for s in sequences], object)})])
    assert set(served) == {names.EXPRESSION_OUTPUT}
    expected = (expected_outputs["autosome"]["expression"] + expected_outputs["bhi"]["expression"]) / 2
    np.testing.assert_allclose(served[names.EXPRESSION_OUTPUT], expected, atol=1e-5, rtol=0)


def test_members_with_different_batch_steps_are_refused(loaded_runs):
    from seq2exp.inference.graph import EnsembleGraph, PredictionGraph

    tiny = loaded_runs["tiny"]
    plain = tiny.prediction_graph()
    ranked = PredictionGraph(tiny.model, tiny.encoder, postprocess=[{"name": "rank"}])
    with pytest.raises(ConfigError, match="batch post-processing"):
        EnsembleGraph([plain, ranked])
    with pytest.raises(ConfigError, match="at least two"):
        EnsembleGraph([plain])
