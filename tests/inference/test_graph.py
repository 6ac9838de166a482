"""PredictionGraph: test-time augmentation, inverse target transform and post-processing in one TF graph."""
from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf
import keras

from seq2exp.data.encoding import Encoder
from seq2exp.inference.graph import TTA, PredictionGraph
from seq2exp.inference.transforms import TargetTransform

from tests.data.reference_encoding import reference_encode, reference_window
from tests.training.tiny_arch import build_tiny

SPEC = {"kind": "onehot", "length": 110, "region": "full", "pad": "n_right", "n_value": 0.25}
SEQUENCES = ["TGCATTTTTTTCACATC" + "ACGGTCATGCAAGT" * 5 + "ACGTACGTAC" + "GGTTACGGCTGTT",
             "TGCATTTTTTTCACATC" + "TTTTGGGGCCAA" * 6 + "ACGTACGT" + "GGTTACGGCTGTT",
             "ACGTNACGTTGCA" * 7]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return build_tiny({"input": SPEC, "filters": 6})


def test_tta_is_the_mean_over_strands_and_shifts(model):
    encoder = Encoder(SPEC)
    tta = {"reverse_complement": True, "shifts": [-2, 2]}
    transform = TargetTransform("standardize", {"center": 11.0, "std": 2.5})
    graph = PredictionGraph(model, encoder, tta, transform)
    predicted = graph.predict(SEQUENCES)
    expected = _reference_tta(model, SPEC, SEQUENCES, [-2, 2], True)["expression"] * 2.5 + 11.0
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
    assert TTA.from_dict(tta).variants() == [(-2, False), (-2, True), (0, False), (0, True), (2, False), (2, True)]


def test_strings_codes_and_predict_agree(model):
    graph = PredictionGraph(model, Encoder(SPEC), {"reverse_complement": True}, None,
                            [{"name": "normal_cdf", "loc": 0.1}, {"name": "rank"}])
    from_strings = graph.tf_predict_strings(tf.constant(SEQUENCES))["expression"].numpy()
    outputs = graph.predict_outputs(SEQUENCES, batch_size=2)["expression"]
    np.testing.assert_allclose(from_strings, outputs, rtol=1e-6)
    assert ((outputs > 0) & (outputs < 1)).all()  # normal CDF applied in the graph
    ranks = graph.predict(SEQUENCES)  # rank applied after the graph, over the whole set
    np.testing.assert_allclose(ranks, (np.argsort(np.argsort(outputs))) / len(SEQUENCES))
    assert graph.batch_postprocess == [{"name": "rank"}]


def _reference_tta(model, spec: dict, sequences: list[str], shifts: list[int], reverse_complement: bool) -> dict:
    """TTA written independently of the graph: every (shift, strand) input from the numpy string-level encoder
    (``tests/data/reference_encoding.py``), the model run on each, the outputs averaged in numpy."""
    per_variant = []
    for shift in sorted(set(shifts) | {0}):
        for reverse in ((False, True) if reverse_complement else (False,)):
            inputs = np.stack([reference_encode(reference_window(s, spec, shift=shift, reverse=reverse), spec,
                                                reverse=reverse) for s in sequences])
            per_variant.append({k: np.asarray(v, np.float64) for k, v in model.predict_on_batch(inputs).items()})
    assert len(per_variant) == len(set(shifts) | {0}) * (2 if reverse_complement else 1)
    spread = np.ptp(np.stack([v["expression"] for v in per_variant]), axis=0)
    assert (spread > 1e-6).all(), "the variants agree: the averaging would go unchecked"
    return {name: np.mean([v[name] for v in per_variant], axis=0) for name in per_variant[0]}


def _sequence_model(spec: dict, vocabulary: int, bins: bool = False) -> keras.Model:
    """Integer inputs (tokens / k-mer ids) -> Embedding -> Conv1D -> mean -> expression (or 18 bins)."""
    inputs = keras.Input((spec["length"],), dtype="int32", name="inputs")
    x = keras.layers.Embedding(vocabulary, 6)(inputs)
    x = keras.layers.Conv1D(6, 5, activation="tanh")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    if bins:
        probabilities = keras.layers.Dense(18, activation="softmax", name="bins")(x)
        expression = keras.layers.Lambda(lambda p: keras.ops.sum(p * keras.ops.arange(18, dtype="float32"), -1),
                                         name="expression")(probabilities)
        return keras.Model(inputs, {"bins": probabilities, "expression": expression})
    x = keras.layers.Dense(1)(x)
    return keras.Model(inputs, {"expression": keras.layers.Reshape((), name="expression")(x)})


def test_bins_model_tta_averages_bins_and_expression_like_numpy():
    spec = {**SPEC, "rc_channel": False}
    keras.utils.set_random_seed(5)
    bins_model = build_tiny({"input": spec, "filters": 4, "bins": True})
    graph = PredictionGraph(bins_model, Encoder(spec), {"reverse_complement": True, "shifts": [-1, 2]})
    outputs = graph.predict_outputs(SEQUENCES)
    expected = _reference_tta(bins_model, spec, SEQUENCES, [-1, 2], True)
    assert outputs["bins"].shape == (3, 18)
    np.testing.assert_allclose(outputs["bins"], expected["bins"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(outputs["expression"], expected["expression"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs["bins"].sum(1), 1.0, rtol=1e-5)


def test_token_model_tta_and_inverse_transform_like_numpy():
    spec = {"kind": "tokens", "length": 100, "region": "variable", "pad": "n_both"}  # Unlock_DNA's layout
    keras.utils.set_random_seed(6)
    token_model = _sequence_model(spec, vocabulary=6)
    graph = PredictionGraph(token_model, Encoder(spec), {"reverse_complement": True, "shifts": [-2, 1]},
                            {"name": "standardize", "params": {"center": 11.0, "std": 2.5}})
    expected = _reference_tta(token_model, spec, SEQUENCES, [-2, 1], True)["expression"] * 2.5 + 11.0
    np.testing.assert_allclose(graph.predict(SEQUENCES), expected, rtol=1e-5, atol=1e-5)


def test_kmer_model_tta_and_inverse_transform_like_numpy():
    spec = {"kind": "kmer", "length": 80, "k": 5, "region": "variable", "pad": "n_right"}  # NAD's layout
    keras.utils.set_random_seed(7)
    kmer_model = _sequence_model(spec, vocabulary=4**5 + 1, bins=True)
    transform = {"name": "minmax", "params": {"low": 0.001, "high": 0.999, "min": 0.0, "max": 17.0}}
    graph = PredictionGraph(kmer_model, Encoder(spec), {"reverse_complement": True, "shifts": [1]}, transform)
    reference = _reference_tta(kmer_model, spec, SEQUENCES, [1], True)
    outputs = graph.predict_outputs(SEQUENCES)
    np.testing.assert_allclose(outputs["bins"], reference["bins"], rtol=1e-4, atol=1e-6)
    expected = (reference["expression"] - 0.001) / (0.999 - 0.001) * 17.0  # minmax inverse, by hand
    np.testing.assert_allclose(outputs["expression"], expected, rtol=1e-4, atol=1e-4)


def test_bad_sequence_names_the_row(model):
    graph = PredictionGraph(model, Encoder(SPEC))
    with pytest.raises(tf.errors.InvalidArgumentError, match="row"):
        graph.tf_predict_strings(tf.constant(["ACGT", "ACXGT"]))


def test_one_trace_of_the_model_serves_every_tta_variant_and_export_signature(model):
    """Six TTA variants, the in-process prediction and the export's signatures call one traced model function; the
    predictions are still the independent numpy TTA's."""
    from seq2exp.serving.export import serving_functions

    traces = []

    class Counted(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, inputs, training=False):
            traces.append(inputs.shape)
            return self.inner(inputs, training=training)

    counted = Counted(model)
    graph = PredictionGraph(counted, Encoder(SPEC), {"reverse_complement": True, "shifts": [-1, 1]})
    predicted = graph.predict(SEQUENCES)
    serving_functions(graph, onehot_length=110, max_length=110)
    assert len(traces) == 1, traces
    expected = _reference_tta(model, SPEC, SEQUENCES, [-1, 1], True)["expression"]
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-5)
