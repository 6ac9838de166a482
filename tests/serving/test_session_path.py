"""Every registered architecture exports a version that TensorFlow Serving's own loading path runs.

TF Serving loads with the C++ session loader and answers with ``Session::Run`` by SignatureDef tensor names. This
test uses that path from Python directly (``tf.compat.v1.saved_model.loader.load`` + ``sess.run`` on the names read
from ``meta_graph.signature_def``; not seq2exp's own loader) and replays the warm-up file that
``--enable_model_warmup`` replays, parsed with ``tensorflow_serving.apis.prediction_log_pb2``. The oracle is the
in-process ``PredictionGraph.predict_outputs`` of the same model.
"""
from __future__ import annotations

import stat

import numpy as np
import pytest
import tensorflow as tf

from seq2exp.inference.onehot import codes_to_onehot
from seq2exp.models import registry
from seq2exp.serving import signatures as names

from tests.data.reference_encoding import mt_team_input

from .conftest import random_promoters, session_run

# No TTA here: it doubles the traced graph (and the export time) of each of the ~30 architectures; TTA on the
# session path is covered by the autosome (reverse complement) and BHI (shift) exports of test_export.py.
TTA: dict = {}
# The slowest exports (9-32 s each on the shared 2-core machine; RNN/transformer graphs) run with `-m slow`; the
# other architectures (~130 s together) run in the default suite. A new architecture lands in the default suite.
SLOW = {"drashok_and_friends", "dream_team", "dream_rnn", "ngt4", "dream_cnn", "yuanfang_guan"}
ARCHITECTURES = [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in registry.names()]
# Model inputs made by a transcription of the team's own input code (independent of seq2exp's encoder): the served
# predictions must also be model.predict's on them. mt's model adds the complement half of the team's 12 channels.
TEAM_INPUTS = {"mt": lambda sequences: mt_team_input(sequences)[..., :6]}


def _warmup_feeds(version_dir):
    from tensorflow_serving.apis import prediction_log_pb2

    feeds = {}  # signature key -> its requests' feeds, in file order
    for record in tf.compat.v1.io.tf_record_iterator(str(version_dir / names.WARMUP_FILE)):
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        feeds.setdefault(request.model_spec.signature_name, []).append(
            {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()})
    return feeds.get(names.SERVING_DEFAULT, []), feeds


def _xla_functions(version_dir) -> list[str]:
    """Names of the exported graph's functions and nodes marked for XLA compilation."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    marked = []
    for meta_graph in saved.meta_graphs:
        for function in meta_graph.graph_def.library.function:
            if function.attr["_XlaMustCompile"].b:
                marked.append(function.signature.name)
            marked += [node.name for node in function.node_def if node.attr["_XlaMustCompile"].b]
        marked += [node.name for node in meta_graph.graph_def.node if node.attr["_XlaMustCompile"].b]
    return marked


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_export_runs_on_tf_servings_session_path(tmp_path, architecture):
    import keras

    from seq2exp.data.encoding import Encoder
    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.inference.graph import PredictionGraph
    from seq2exp.serving.export import export_graph

    keras.utils.set_random_seed(0)
    config = registry.get(architecture).config(smoke=True)
    graph = PredictionGraph(registry.build(architecture, smoke=True), Encoder(config["input"]), TTA)
    result = export_graph(graph, tmp_path, architecture, version=1, verify=False)
    version_dir = result.path

    sequences = random_promoters(6, seed=3)
    warmup, by_signature = _warmup_feeds(version_dir)
    oriented = by_signature.get(names.ORIENTED_SIGNATURE, [])  # where the model has an is_reverse channel
    assert len(warmup) == names.N_WARMUP_REQUESTS
    assert set(by_signature) == {names.SERVING_DEFAULT} | ({names.ORIENTED_SIGNATURE} if graph.has_orientation
                                                           else set())
    assert len(oriented) == (names.N_WARMUP_REQUESTS if graph.has_orientation else 0)
    warmup_sequences = [s.decode() for feed in warmup for s in feed[names.SEQUENCES_INPUT]]
    codes, lengths = sequences_to_codes(sequences)
    onehot = codes_to_onehot(codes, lengths, result.metadata["onehot_length"])
    strings = np.array([s.encode() for s in sequences], dtype=object)

    served_onehot, *served = session_run(
        version_dir, [(names.ONEHOT_SIGNATURE, {names.ONEHOT_INPUT: onehot}),
                      (names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: strings})]
        + [(names.SERVING_DEFAULT, feed) for feed in warmup] + [(names.ORIENTED_SIGNATURE, feed) for feed in oriented])
    served, served_oriented = served[:len(served) - len(oriented)], served[len(served) - len(oriented):]
    # the in-process prediction of the same graph (eager: no tracing, the same TensorFlow computation)
    all_codes, all_lengths = sequences_to_codes(sequences + warmup_sequences)
    expected = {key: value.numpy() for key, value in graph.tf_predict_codes(
        tf.constant(all_codes, tf.uint8), tf.constant(all_lengths, tf.int32)).items()}
    n = len(sequences)
    replayed = {key: np.concatenate([outputs[key] for outputs in served[1:]]) for key in served[0]}
    assert set(served[0]) == set(served_onehot) == set(replayed) == set(expected)
    assert np.ptp(expected[names.EXPRESSION_OUTPUT]) > 0  # not a constant model: the comparison means something
    for key, value in expected.items():
        np.testing.assert_allclose(served[0][key], value[:n], atol=1e-5, rtol=0, err_msg=f"{key} serving_default")
        np.testing.assert_allclose(served_onehot[key], value[:n], atol=1e-5, rtol=0, err_msg=f"{key} onehot")
        np.testing.assert_allclose(replayed[key], value[n:], atol=1e-5, rtol=0, err_msg=f"{key} warm-up replay")
    if oriented:  # the serving_oriented warm-up requests, against the graph with the same is_reverse flags
        flags = np.concatenate([feed[names.IS_REVERSE_INPUT] for feed in oriented])
        rows = [s.decode() for feed in oriented for s in feed[names.SEQUENCES_INPUT]]
        assert flags.any() and not flags.all()
        codes_o, lengths_o = sequences_to_codes(rows)
        expected_o = graph.tf_predict_codes(tf.constant(codes_o, tf.uint8), tf.constant(lengths_o, tf.int32),
                                            orientation=tf.constant(flags))
        for key, value in expected_o.items():
            np.testing.assert_allclose(np.concatenate([outputs[key] for outputs in served_oriented]), value.numpy(),
                                       atol=1e-5, rtol=0, err_msg=f"{key} serving_oriented warm-up replay")
    if architecture in TEAM_INPUTS:
        team = graph.model.predict_on_batch(TEAM_INPUTS[architecture](sequences))  # model.predict, one batch
        for key, value in team.items():
            np.testing.assert_allclose(served[0][key], value, atol=1e-5, rtol=0, err_msg=f"{key} team's input")
            np.testing.assert_allclose(served_onehot[key], value, atol=1e-5, rtol=0, err_msg=f"{key} team's input")
    # TensorFlow Serving compiles nothing with XLA unless started with --xla_cpu_compilation_enabled: no function in
    # the export asks for it (the training-only XLA kernels of the fused layers stay out of the serving graph)
    assert not _xla_functions(version_dir)
    # readable by a server running as another uid (the Dockerfile's images)
    for path in [version_dir, *version_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), f"{path}: {oct(mode)}"
    assert result.metadata["tensorflow_version"] == tf.__version__
    assert result.metadata["keras_version"] == keras.__version__
