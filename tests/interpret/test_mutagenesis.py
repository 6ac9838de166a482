"""ISM and variant effects against a numpy oracle of the fixed-weight motif model, in-process and over gRPC."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.errors import InputFormatError
from seq2exp.interpret.mutagenesis import apply_snvs, ism, variant_effects, window_scan
from seq2exp.interpret.predictors import ServerPredictor
from tests.interpret.conftest import MOTIF, plant, promoters, reference_motif_model


def numpy_ism(sequence: str) -> np.ndarray:
    effects = np.zeros([len(sequence), 4], np.float32)
    ref = reference_motif_model([sequence])[0]
    for p in range(len(sequence)):
        for b, base in enumerate("ACGT"):
            if base != sequence[p]:
                effects[p, b] = reference_motif_model([sequence[:p] + base + sequence[p + 1:]])[0] - ref
    return effects


@pytest.fixture(scope="module")
def planted():
    return [plant(s, MOTIF, p) for s, p in zip(promoters(3, seed=11), (30, 50, 70))]


def test_ism_matches_numpy_oracle_and_peaks_on_the_motif(motif_predictor, planted):
    result = ism(motif_predictor, planted)
    assert result.effects.shape == (3, 110, 4)
    for row, position in enumerate((30, 50, 70)):
        np.testing.assert_allclose(result.effects[row], numpy_ism(planted[row]), atol=1e-4)
        losses = result.effects[row].min(axis=1)  # breaking the site is the largest loss, at every motif base
        assert position <= int(np.argmin(losses)) < position + len(MOTIF)
        assert (losses[position:position + len(MOTIF)] < 0).all()
        assert losses[position:position + len(MOTIF)].max() <= losses.min() / 2
    assert len(result.top_effects(5)) == 5


def test_ism_over_grpc_equals_in_process(motif_predictor, served_motif, planted):
    server, _ = served_motif
    remote = ServerPredictor(server.target, "motif", batch_size=200, max_concurrency=3)
    try:
        over_grpc = ism(remote, planted, chunk_sequences=2)
    finally:
        remote.close()
    np.testing.assert_allclose(over_grpc.effects, ism(motif_predictor, planted).effects, atol=1e-5)


class _Interrupted(Exception):
    pass


class _FailsAfter:
    """The real predictor, interrupted (like a killed job) after ``calls`` prediction calls; its ``task`` (the ISM
    checkpoint records it) is the predictor's."""

    description, supports_gradients = "interrupted", False

    def __init__(self, predictor, calls):
        self.predictor, self.calls, self.task = predictor, calls, getattr(predictor, "task", None)

    def predict(self, sequences):
        if self.calls == 0:
            raise _Interrupted
        self.calls -= 1
        return self.predictor.predict(sequences)


def test_ism_resumes_from_its_checkpoint(motif_predictor, planted, tmp_path):
    checkpoint = tmp_path / "ism.partial.npz"
    with pytest.raises(_Interrupted):
        ism(_FailsAfter(motif_predictor, 2), planted, chunk_sequences=1, checkpoint=checkpoint)
    assert int(np.load(checkpoint)["done"]) == 2
    counting = _FailsAfter(motif_predictor, 1)  # only one call left: the two done sequences are not redone
    resumed = ism(counting, planted, chunk_sequences=1, checkpoint=checkpoint)
    np.testing.assert_allclose(resumed.effects, ism(motif_predictor, planted).effects)
    assert not checkpoint.exists()


def test_variant_deltas_are_alt_minus_ref(motif_predictor, planted):
    alts = apply_snvs(planted, [30, 51, 5], ["T", "T", planted[2][5]], ["G", "C", "A"])
    effects = variant_effects(motif_predictor, planted, alts)
    np.testing.assert_allclose(effects.delta, motif_predictor.predict(alts) - motif_predictor.predict(planted))
    np.testing.assert_allclose(effects.delta, reference_motif_model(alts) - reference_motif_model(planted),
                               atol=1e-4)
    assert effects.delta[0] < 0 and effects.delta[1] < 0
    with pytest.raises(InputFormatError, match="row 0: ref 'A' does not match"):
        apply_snvs(planted[:1], [30], ["A"], ["G"])
    with pytest.raises(InputFormatError, match="row 0: position 110 outside"):
        apply_snvs(planted[:1], [110], ["A"], ["G"])


def test_window_deletions(motif_predictor, planted):
    effects = window_scan(motif_predictor, planted[:1], width=4, kind="delete")
    deleted = [planted[0][:p] + planted[0][p + 4:] for p in range(107)]
    np.testing.assert_allclose(effects[0], reference_motif_model(deleted) - reference_motif_model(planted[:1]),
                               atol=1e-4)


def test_ism_on_rows_of_mixed_length_matches_the_oracle_row_by_row(motif_predictor, served_motif, tmp_path):
    """18% of real DREAM rows are not 110 bp: each row is scanned at its own length (numpy oracle per row), its
    effects are zero past its end, and the gRPC path gives the same maps."""
    rows = [plant(s, MOTIF, p)[:length] for s, p, length in zip(promoters(3, seed=5), (20, 40, 60), (110, 96, 83))]
    result = ism(motif_predictor, rows, chunk_sequences=2)
    assert result.effects.shape == (3, 110, 4) and result.lengths.tolist() == [110, 96, 83]
    for row, sequence in enumerate(rows):
        np.testing.assert_allclose(result.effects[row, :len(sequence)], numpy_ism(sequence), atol=1e-4)
        assert not result.effects[row, len(sequence):].any()
        assert not result.onehot[row, len(sequence):].any() and result.onehot[row, :len(sequence)].sum() == len(sequence)
        assert not result.hypothetical[row, len(sequence):].any()
    for entry in result.top_effects(50, names=["a", "b", "c"]):
        assert entry["position"] < len(rows["abc".index(entry["name"])])
    server, _ = served_motif
    remote = ServerPredictor(server.target, "motif", batch_size=200, max_concurrency=3)
    try:
        np.testing.assert_allclose(ism(remote, rows, chunk_sequences=3).effects, result.effects, atol=1e-5)
    finally:
        remote.close()
    result.save(tmp_path / "ism.npz")
    assert np.load(tmp_path / "ism.npz")["lengths"].tolist() == [110, 96, 83]
