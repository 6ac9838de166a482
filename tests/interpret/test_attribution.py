"""Gradient attribution: peaks on the only motif a fixed-weight model sees; IG completeness against predictions of
the real prediction graph (with TTA); gradients refused for predictors that only predict."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.interpret.attribution import attribute, baselines
from seq2exp.interpret.sequences import from_onehot, onehot
from tests.interpret.conftest import MOTIF, plant, promoters

POSITIONS = (20, 45, 80)


@pytest.mark.parametrize("method", ["saliency", "grad_x_input", "integrated_gradients"])
def test_attribution_is_on_the_motif(motif_predictor, method):
    sequences = [plant(s, MOTIF, p) for s, p in zip(promoters(3, seed=1), POSITIONS)]
    result = attribute(motif_predictor, sequences, method, steps=16)
    magnitude = np.abs(result.scores).sum(axis=-1)
    for row, position in enumerate(POSITIONS):
        inside = magnitude[row, position:position + len(MOTIF)].sum()
        assert inside > 0
        assert inside >= 0.999 * magnitude[row].sum()
        if method != "saliency":  # the observed motif bases carry the attribution, each the same
            observed = result.contributions[row, position:position + len(MOTIF)]
            assert np.allclose(observed, observed[0]) and observed[0] > 0
    np.testing.assert_allclose(result.hypothetical.sum(axis=-1), 0.0, atol=1e-5)


def test_gradient_values_are_the_prediction_graphs(smooth_predictor):
    """The differentiable re-encoding (TTA: reverse complement + 1-bp shift, plasmid padding, RC channel) computes
    exactly what the prediction graph predicts from strings."""
    sequences = [s[:96] for s in promoters(5, seed=2)]
    values, _ = smooth_predictor.value_and_gradient(sequences)
    np.testing.assert_allclose(values, smooth_predictor.predict(sequences), rtol=1e-5, atol=1e-6)


def test_gradient_inputs_follow_the_encoders_letter_channels(letters_predictor):
    """With ``onehot_letters: AGCTNP`` (mt) the differentiable re-encoding puts the one-hot point's A, C, G, T into
    the model's A, G, C, T channels (complemented for the RC variant) and keeps N / P: at the sequences' own point and
    at a point one base away it gives the prediction graph's value for the corresponding sequence."""
    sequences = [s[:96] for s in promoters(3, seed=6)]  # shorter than 110: padded positions (P)
    sequences[0] = sequences[0][:40] + "N" + sequences[0][41:]
    mutated = [s[:60] + {"A": "C", "C": "G", "G": "T", "T": "A"}[s[60]] + s[61:] for s in sequences]
    values, grads = letters_predictor.value_and_gradient(sequences)
    np.testing.assert_allclose(values, letters_predictor.predict(sequences), rtol=1e-5, atol=1e-6)
    assert np.abs(grads[:, 60]).sum() > 0
    moved, _ = letters_predictor.value_and_gradient(sequences, onehot(mutated, 0.0))
    np.testing.assert_allclose(moved, letters_predictor.predict(mutated), rtol=1e-5, atol=1e-6)
    assert np.abs(moved - values).max() > 1e-4


@pytest.mark.parametrize("baseline", ["zeros", "uniform", "shuffle"])
def test_integrated_gradients_completeness(smooth_predictor, baseline):
    sequences = promoters(4, seed=3)
    result = attribute(smooth_predictor, sequences, "integrated_gradients", baseline=baseline, steps=64, seed=5)
    total = result.scores.sum(axis=(1, 2))
    if baseline == "shuffle":  # baselines are real sequences: f(baseline) from the string prediction graph
        shuffled = baselines(sequences, "shuffle", np.random.default_rng(5), 4)
        base = np.array([smooth_predictor.predict(from_onehot(b)).mean() for b in shuffled])
    else:
        base = result.baseline_values
    expected = smooth_predictor.predict(sequences) - base
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(total, expected, rtol=0.02, atol=2e-3)


def test_expected_integrated_gradients_shape_and_sign(smooth_predictor):
    sequences = promoters(2, seed=4)
    result = attribute(smooth_predictor, sequences, "expected_integrated_gradients", steps=32)
    assert result.scores.shape == (2, 110, 4) and np.isfinite(result.scores).all()
    np.testing.assert_allclose(result.hypothetical.sum(axis=-1), 0.0, atol=1e-5)


def test_gradients_need_the_model_in_process(served_motif):
    from seq2exp.interpret.predictors import GradientsUnavailableError, SavedModelPredictor, ServerPredictor

    server, saved = served_motif
    for predictor in (ServerPredictor(server.target, "motif"), SavedModelPredictor(saved)):
        with pytest.raises(GradientsUnavailableError, match="needs the model's gradients.*ism"):
            attribute(predictor, promoters(1), "saliency")
        predictor.close()


class _CubicPredictor:
    """f(x) = sum(w * x^3) over the one-hot [L, 4]: df/dx = 3 w x^2, so integrated gradients from the zero baseline
    is, per entry, x * integral_0^1 3 w (a x)^2 da; the midpoint rule with k points gives 3 w x^3 * mean((j+1/2)/k)^2.
    Records the path points it is asked for."""

    supports_gradients = True
    description = "cubic"

    def __init__(self, length: int):
        from types import SimpleNamespace

        self.w = np.linspace(-1.0, 2.0, length * 4, dtype=np.float64).reshape(length, 4)
        self.encoder = SimpleNamespace(spec=SimpleNamespace(n_value=0.25))
        self.points: list[np.ndarray] = []

    def value_and_gradient(self, sequences, onehot=None):
        from seq2exp.interpret.sequences import onehot as to_onehot

        x = to_onehot(list(sequences), 0.25) if onehot is None else np.asarray(onehot, np.float64)
        if onehot is not None:
            self.points.append(np.array(x))
        return (self.w * x**3).sum(axis=(1, 2)).astype(np.float32), (3 * self.w * x**2).astype(np.float32)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_integrated_gradients_uses_the_midpoint_rule(steps):
    from seq2exp.interpret.attribution import attribute

    sequences = ["ACGTNACG", "TTGACAAC"]
    predictor = _CubicPredictor(len(sequences[0]))
    result = attribute(predictor, sequences, "integrated_gradients", baseline="zeros", steps=steps)
    x = result.onehot.astype(np.float64)
    alphas = (np.arange(steps) + 0.5) / steps
    expected = 3 * predictor.w * x**3 * np.mean(alphas**2)  # closed form of the midpoint sum
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5, atol=1e-7)
    # the path points asked for: a * x for each midpoint a (zero baseline), per sequence
    path = predictor.points[0]  # one chunk: every path point of both sequences (the baselines' call comes later)
    want = np.concatenate([alphas[:, None, None] * x[i] for i in range(len(sequences))])
    np.testing.assert_allclose(path, want, rtol=1e-6)
    # and the exact integral is approached as 1 - 1/(4 k^2) of it (the midpoint rule's known error on a^2)
    exact = (predictor.w * x**3).sum(axis=(1, 2))
    np.testing.assert_allclose(result.scores.sum(axis=(1, 2)), exact * (1 - 1 / (4 * steps**2)), rtol=1e-5)
