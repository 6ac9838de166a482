"""PredictionGraph: test-time augmentation, inverse target transform and post-processing in one TF graph."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from seq2exp.data.encoding import Encoder, sequences_to_codes  # noqa: E402
from seq2exp.inference.graph import TTA, PredictionGraph  # noqa: E402
from seq2exp.inference.transforms import TargetTransform  # noqa: E402

from tests.training.tiny_arch import build_tiny  # noqa: E402

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
    codes, lengths = sequences_to_codes(SEQUENCES)
    manual = []
    for shift in (-2, 0, 2):
        for reverse in (False, True):
            inputs = encoder.tf_encode(tf.constant(codes), tf.constant(lengths), reverse=reverse,
                                       shift=shift or None)
            manual.append(model(inputs)["expression"].numpy())
    expected = np.mean(manual, axis=0) * 2.5 + 11.0
    np.testing.assert_allclose(predicted, expected, rtol=1e-5)
    assert TTA.from_dict(tta).variants() == [(-2, False), (-2, True), (0, False), (0, True), (2, False), (2, True)]
    # the variants really differ (else the test above proves nothing)
    assert np.ptp(np.array(manual)[:, 0]) > 1e-6


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


def test_bins_output_averaged(model):
    keras.utils.set_random_seed(5)
    bins_model = build_tiny({"input": SPEC, "filters": 4, "bins": True})
    graph = PredictionGraph(bins_model, Encoder(SPEC), {"reverse_complement": True})
    outputs = graph.predict_outputs(SEQUENCES)
    assert outputs["bins"].shape == (3, 18)
    np.testing.assert_allclose(outputs["bins"].sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(outputs["expression"], outputs["bins"] @ np.arange(18), rtol=1e-4)


def test_bad_sequence_names_the_row(model):
    graph = PredictionGraph(model, Encoder(SPEC))
    with pytest.raises(tf.errors.InvalidArgumentError, match="row"):
        graph.tf_predict_strings(tf.constant(["ACGT", "ACXGT"]))
