"""Export: signatures, names and dtypes (saved_model_cli), warm-up requests, metadata, invalid input, versions."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from seq2exp.errors import ConfigError
from seq2exp.serving import signatures as names
from seq2exp.serving.config import list_versions
from seq2exp.inference.onehot import codes_to_onehot
from seq2exp.serving.export import export_run, next_version

REPO = Path(__file__).resolve().parents[2]


def _check_show_all(shown: str, bins: bool) -> None:
    default = shown[shown.index(f"signature_def['{names.SERVING_DEFAULT}']"):]
    default = default[:default.index("Method name is")]
    assert f"inputs['{names.SEQUENCES_INPUT}'] tensor_info:" in default
    assert "dtype: DT_STRING" in default and "shape: (-1)" in default
    assert f"outputs['{names.EXPRESSION_OUTPUT}'] tensor_info:" in default
    assert (f"outputs['{names.BINS_OUTPUT}'] tensor_info:" in default) == bins
    assert (f"shape: (-1, {names.N_BINS})" in default) == bins
    onehot = shown[shown.index(f"signature_def['{names.ONEHOT_SIGNATURE}']"):]
    onehot = onehot[:onehot.index("Method name is")]
    assert f"inputs['{names.ONEHOT_INPUT}'] tensor_info:" in onehot
    assert "dtype: DT_FLOAT" in onehot and f", {names.ONEHOT_CHANNELS})" in onehot
    assert shown.count(f"Method name is: {names.PREDICT_METHOD_NAME}") >= 2


@pytest.mark.parametrize("architecture, bins", [("autosome", True), ("bhi", False)])
def test_saved_model_cli_show_all_lists_the_documented_names(model_base, capsys, architecture, bins):
    """The code of `saved_model_cli show --all`, run in-process (the command itself: the slow test below)."""
    from tensorflow.python.tools import saved_model_cli

    saved_model_cli._show_all(str(model_base / architecture / "1"))
    _check_show_all(capsys.readouterr().out, bins)


@pytest.mark.slow
def test_saved_model_cli_command(model_base):
    shown = subprocess.run(["saved_model_cli", "show", "--dir", str(model_base / "autosome" / "1"), "--all"],
                           capture_output=True, text=True, check=True).stdout
    _check_show_all(shown, True)


def test_warmup_requests_and_metadata(model_base):
    from tensorflow_serving.apis import prediction_log_pb2

    version_dir = model_base / "autosome" / "1"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(str(version_dir / names.WARMUP_FILE))]
    meta = json.loads((version_dir / names.METADATA_FILE).read_text())
    oriented = names.ORIENTED_SIGNATURE in meta["signatures"]  # LegNet's is_reverse channel: its requests follow
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == \
        [names.SERVING_DEFAULT] * names.N_WARMUP_REQUESTS + [names.ORIENTED_SIGNATURE] * (names.N_WARMUP_REQUESTS
                                                                                           if oriented else 0)
    request = logs[0].predict_log.request
    assert request.model_spec.name == "autosome"
    assert request.model_spec.signature_name == names.SERVING_DEFAULT
    assert tf.make_ndarray(request.inputs[names.SEQUENCES_INPUT]).shape == (2,)
    meta = json.loads((version_dir / names.METADATA_FILE).read_text())
    assert meta["architecture"] == "autosome"
    assert meta["data_sha256"] == "0" * 64
    assert meta["validation_metrics"]["val_pearson"] == 0.5
    assert meta["config"]["tta"] == {"reverse_complement": True}
    assert meta["tta"] == {"reverse_complement": True, "shifts": [0]}
    assert meta["max_sequence_length"] >= 110 and meta["version"] == 1
    tiny = json.loads((model_base / "tiny" / "1" / names.METADATA_FILE).read_text())
    assert tiny["check"]["max_abs_diff_vs_in_process"] <= 1e-5  # the export's own reload-and-compare


@pytest.mark.parametrize("architecture", ["autosome", "bhi"])
def test_both_signatures_equal_the_in_process_prediction(model_base, loaded_runs, expected_outputs, sequences,
                                                         architecture):
    from seq2exp.data.alphabet import sequences_to_codes

    from .conftest import BIN_MODELS

    """On TF Serving's loading path (session loader + Session.run by SignatureDef names), with the run's TTA."""
    expected = expected_outputs[architecture]
    codes, lengths = sequences_to_codes(sequences)
    length = loaded_runs[architecture].encoder.max_sequence_length
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(model_base / architecture / "1"))

        def run(key, value):
            signature = meta_graph.signature_def[key]
            (input_info,) = signature.inputs.values()
            return session.run({k: v.name for k, v in signature.outputs.items()}, {input_info.name: value})

        served = run(names.SERVING_DEFAULT, [s.encode() for s in sequences])
        served_onehot = run(names.ONEHOT_SIGNATURE, codes_to_onehot(codes, lengths, length))
    outputs = {names.EXPRESSION_OUTPUT} | ({names.BINS_OUTPUT} if architecture in BIN_MODELS else set())
    assert set(served) == set(served_onehot) == set(expected) == outputs
    for key, value in expected.items():
        np.testing.assert_allclose(served[key], value, atol=1e-5, rtol=0)
        np.testing.assert_allclose(served_onehot[key], value, atol=1e-5, rtol=0)
    assert np.ptp(expected[names.EXPRESSION_OUTPUT]) > 0  # not a constant model: the comparison means something


@pytest.fixture(scope="module")
def tiny_saved(model_base):
    from seq2exp.serving.session import SessionModel

    with SessionModel(model_base / "tiny" / "1") as model:
        yield model


@pytest.mark.parametrize("bad, reason", [(["ACGTX"], "letter"), (["A" * 1000], "longer"), ([""], "empty"),
                                         ([b"AC\xffGT"], "letter")])
def test_invalid_sequences_fail_with_invalid_argument(tiny_saved, bad, reason):
    with pytest.raises(tf.errors.InvalidArgumentError, match=reason):
        tiny_saved.run(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: np.array(["ACGT"] + bad, dtype=object)})


def test_invalid_onehot_fails_with_invalid_argument(tiny_saved):
    length = tiny_saved.signatures[names.ONEHOT_SIGNATURE].inputs[names.ONEHOT_INPUT].shape[1]
    empty = np.zeros([2, length, 4], np.float32)
    empty[0, :5, 0] = 1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty"):
        tiny_saved.run(names.ONEHOT_SIGNATURE, {names.ONEHOT_INPUT: empty})
    negative = np.zeros([1, length, 4], np.float32)
    negative[0, :5, 1] = -1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative"):
        tiny_saved.run(names.ONEHOT_SIGNATURE, {names.ONEHOT_INPUT: negative})


def test_session_model_uses_tf_servings_wording(tiny_saved):
    from seq2exp.serving.session import SignatureError

    with pytest.raises(SignatureError, match='Serving signature key "nope" not found.'):
        tiny_saved.run("nope", {})
    with pytest.raises(SignatureError, match=r"input tensor alias not found in signature: seqs\. Inputs expected "
                                             r"to be in the set \{sequences\}\."):
        tiny_saved.run(names.SERVING_DEFAULT, {"seqs": np.array([b"ACGT"], dtype=object)})
    with pytest.raises(SignatureError, match="Missing but required: {sequences}"):
        tiny_saved.run(names.SERVING_DEFAULT, {})


def test_versions_are_immutable_and_numbered_max_plus_one(tmp_path, runs):
    base = tmp_path / "M"
    (base / "tiny" / "7").mkdir(parents=True)  # an integer folder (even incomplete) takes its number
    (base / "tiny" / ".8.tmp-abc").mkdir()  # the temporary folder of an export in progress is not a version
    assert next_version(base / "tiny") == 8 and next_version(base / "new") == 1
    assert list_versions(base / "tiny") == []  # no saved_model.pb: not a servable version
    with pytest.raises(ConfigError, match="already exists"):
        export_run(runs["tiny"], base, "tiny", version=7)
    with pytest.raises(ConfigError, match="model name"):
        export_run(runs["tiny"], base, "bad name")


def test_leftovers_of_a_killed_export_are_never_served(model_base, server, sequences):
    """What SIGKILL leaves at the worst moment (a complete SavedModel in the temporary folder, not yet renamed) is
    not a version: the server keeps serving v1 and the next export number ignores it."""
    import shutil

    from seq2exp.serving.client import Client

    model_dir = model_base / "tiny"
    leftover = model_dir / ".2.tmp-killed"
    shutil.copytree(model_dir / "1", leftover)
    try:
        with Client(server.target, "tiny") as client:
            before = client.predict(sequences[:10])
            assert server.manager.wait_for_polls(2)  # two complete scans saw the leftover folder
            assert client.status() == [{"version": 1, "state": "AVAILABLE", "error_code": 0, "error_message": ""}]
            np.testing.assert_array_equal(client.predict(sequences[:10]), before)
        assert list_versions(model_dir) == [1] and next_version(model_dir) == 2
    finally:
        shutil.rmtree(leftover)


def test_failed_export_removes_its_temporary_folder(tmp_path, runs, monkeypatch):
    from seq2exp.serving import export

    def fail(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C after the SavedModel was written

    monkeypatch.setattr(export, "write_warmup_requests", fail)
    with pytest.raises(KeyboardInterrupt):
        export_run(runs["tiny"], tmp_path / "M", "tiny", verify=False)
    assert list(tmp_path.iterdir()) == []  # nor the M/tiny folders this export created
    (tmp_path / "M" / "tiny").mkdir(parents=True)
    with pytest.raises(KeyboardInterrupt):
        export_run(runs["tiny"], tmp_path / "M", "tiny", verify=False)
    assert list((tmp_path / "M" / "tiny").iterdir()) == []  # a model folder that was there stays


@pytest.mark.slow
def test_kill_during_export_leaves_the_previous_version_served(runs, model_base, server, sequences):
    """SIGKILL an export mid-write: no new version appears, the server keeps serving v1, the next export is v2."""
    from seq2exp.serving.client import Client

    model_dir = model_base / "tiny"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "seq2exp.cli", "export", str(runs["tiny"]), "--model-base-path",
               str(model_base), "--name", "tiny"]
    with Client(server.target, "tiny") as client:
        before = client.predict(sequences[:20])
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        try:  # kill as soon as the temporary version folder has content (SavedModel being written)
            while time.monotonic() < deadline and process.poll() is None:
                temporary = [p for p in model_dir.iterdir() if p.name.startswith(".")]
                if temporary and any(temporary[0].iterdir()):
                    break
                time.sleep(0.002)
            assert process.poll() is None, "the export finished before it could be killed"
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
        assert server.manager.wait_for_polls(2)  # two complete scans saw the half-written folder
        assert [p.name for p in model_dir.iterdir() if p.name.startswith(".")], "no half-written folder was left"
        assert list_versions(model_dir) == [1]
        assert [s["version"] for s in client.status() if s["state"] == "AVAILABLE"] == [1]
        np.testing.assert_array_equal(client.predict(sequences[:20]), before)
    assert next_version(model_dir) == 2  # the dead temporary folder does not take a number


def test_export_fails_when_the_onehot_signature_disagrees(tmp_path, monkeypatch):
    """The self-check compares the ``onehot`` signature too: a graph whose one-hot decoding swaps A and T (the
    strings path untouched) must fail the export and leave no version folder, nor a temporary one."""
    import tensorflow as tf

    from seq2exp.errors import Seq2ExpError
    from seq2exp.serving import export as export_module
    from tests.serving.conftest import make_tiny_run

    run = make_tiny_run(tmp_path / "run", seed=21)
    real = export_module.tf_onehot_to_codes
    monkeypatch.setattr(export_module, "tf_onehot_to_codes",
                        lambda onehot: real(tf.gather(onehot, [3, 1, 2, 0], axis=-1)))
    base = tmp_path / "M"
    with pytest.raises(Seq2ExpError, match="disagrees with the in-process prediction"):
        export_module.export_run(run, base, "swapped", 1)
    assert not (base / "swapped" / "1").exists()
    leftovers = list((base / "swapped").iterdir()) if (base / "swapped").exists() else []
    assert leftovers == []  # no temporary folder either



def _serve_onehot(version_dir: Path, run, sequences: list[str], layer_name: str) -> tuple[dict, set[str]]:
    """``sequences`` through TF Serving's own loading path (``loader.load`` + ``Session.run`` of the ``onehot``
    signature by tensor names), and the names of the saved graph's Conv2D nodes of ``layer_name``."""
    from seq2exp.data.alphabet import sequences_to_codes

    codes, lengths = sequences_to_codes(sequences)
    onehot = codes_to_onehot(codes, lengths, run.encoder.max_sequence_length)
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version_dir))
        signature = meta_graph.signature_def[names.ONEHOT_SIGNATURE]
        (input_info,) = signature.inputs.values()
        served = session.run({k: v.name for k, v in signature.outputs.items()}, {input_info.name: onehot})
    convolutions = {node.name for function in meta_graph.graph_def.library.function for node in function.node_def
                    if node.op == "Conv2D" and layer_name in node.name}
    return served, convolutions


def test_chunked_grouped_convolutions_run_on_tf_servings_loading_path(tmp_path, sequences, monkeypatch):
    """LegNet with a 512-wide first stage (2 KiB per position: with oneDNN's AVX-512 kernels and no GPU its grouped
    convolution runs in 4 chunks of 128 channels, folded with its BatchNorm): the export holds the chunked
    convolutions, and TF Serving's session loader runs them to the numbers of the unfolded Keras model with its
    grouped convolution in one piece."""
    import keras

    from seq2exp.inference.runs import load_run
    from seq2exp.models.blocks import layers

    from .conftest import make_run

    run_dir = make_run(tmp_path / "run", "autosome", {}, seed=3, overrides={"core": {"block_sizes": [128, 8]}})
    run = load_run(run_dir)
    model = run.model
    assert model.get_layer("core_stage0_grouped_conv").kernel.shape[1] == 512  # [k, in_channels, 2]
    rng = np.random.default_rng(0)  # BatchNorms that are not the identity, so the fold changes the weights
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape))
            layer.beta.assign(rng.normal(0, 0.2, layer.beta.shape))
            layer.moving_mean.assign(rng.normal(0, 0.2, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    model.save(run_dir / "model.keras")
    monkeypatch.setattr(layers, "onednn_avx512", lambda: True)  # chunked on AVX2-only CPUs too
    chunks = 4 if layers.onednn_enabled() and not layers.gpu_visible() else 1
    export_run(run_dir, tmp_path / "models", "legnet512", verify=False)
    served, convolutions = _serve_onehot(tmp_path / "models" / "legnet512" / "1", run, sequences[:64],
                                         "stage0_grouped_conv")
    assert len(convolutions) == chunks

    monkeypatch.setattr(layers, "grouped_convolution_chunks", lambda *args: 1)  # the oracle: one grouped convolution
    expected = model(run.encoder.encode(sequences[:64]), training=False)
    for key in (names.EXPRESSION_OUTPUT, names.BINS_OUTPUT):
        np.testing.assert_allclose(served[key], np.asarray(expected[key]), atol=2e-5, rtol=1e-4)
    assert np.ptp(served[names.EXPRESSION_OUTPUT]) > 0


def test_long_kernels_in_halves_run_on_tf_servings_loading_path(tmp_path, sequences, monkeypatch):
    """DREAM-RNN with a 64-wide BiLSTM output, so that its 15-tap core convolution runs in two halves with oneDNN's
    AVX-512 kernels and no GPU: the export holds both halves, and TF Serving's session loader runs them to the
    numbers of the Keras model with that convolution whole."""
    from seq2exp.inference.runs import load_run
    from seq2exp.models.blocks import layers

    from .conftest import make_run

    run_dir = make_run(tmp_path / "run", "dream_rnn", {}, seed=4, overrides={"core": {"lstm_units": 32}})
    run = load_run(run_dir)
    model = run.model
    conv = model.get_layer("core_convs_branch1_conv")
    assert type(conv) is layers.LongKernelConv1D and conv.kernel.shape[:2] == (15, 64)
    monkeypatch.setattr(layers, "onednn_avx512", lambda: True)  # in halves on AVX2-only CPUs too
    halves = 2 if layers.onednn_enabled() and not layers.gpu_visible() else 1
    export_run(run_dir, tmp_path / "models", "rnn64", verify=False)
    served, convolutions = _serve_onehot(tmp_path / "models" / "rnn64" / "1", run, sequences[:64],
                                         "core_convs_branch1_conv")
    assert len(convolutions) == halves

    monkeypatch.setattr(layers, "onednn_avx512", lambda: False)  # the oracle: the convolution whole
    expected = model(run.encoder.encode(sequences[:64]), training=False)
    np.testing.assert_allclose(served[names.EXPRESSION_OUTPUT], np.asarray(expected[names.EXPRESSION_OUTPUT]),
                               atol=2e-5, rtol=1e-4)
    assert np.ptp(served[names.EXPRESSION_OUTPUT]) > 0
