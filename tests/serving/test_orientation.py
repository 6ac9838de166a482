"""Orientation reaches the served model: rows measured in reverse orientation (the human lentiMPRA's ``_Reversed:``
ids, or an orientation column) set the model's ``is_reverse`` channel through the export's ``serving_oriented``
signature.

The oracle is independent of the encoder: the model called on a one-hot built here with numpy plus a channel of
ones (reverse) or zeros (forward). The export is read with TF Serving's own session loader, the official
``tensorflow_serving.apis`` gRPC client and plain HTTP; ``serving_default`` and ``onehot`` stay as they were."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import numpy as np
import pytest

from seq2exp.cli import main as cli_main
from seq2exp.serving import signatures as names

from .conftest import random_promoters, session_run
from .tiny_variants import make_tiny_variant_run

ROWS = random_promoters(6, seed=21, variable_lengths=False)  # 110 bp = the model's window: no padding
REVERSE = np.array([False, True, True, False, True, False])
RULE = {"column": "seq_id", "contains": "_Reversed:"}  # the human benchmark configs' data.table.orientation
IDS = [f"s{i}_Reversed:" if flag else f"s{i}_F" for i, flag in enumerate(REVERSE)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run

    root = tmp_path_factory.mktemp("oriented")
    config = {"data": {"table": {"targets": ["mean_value"], "orientation": RULE}}}
    oriented = make_tiny_variant_run(root / "run", rc_channel=True, seed=4, config=config)
    plain = make_tiny_variant_run(root / "plain_run", seed=4, config=config)  # no is_reverse channel
    results = {"human": export_run(oriented, root / "models", "human"),
               "plain": export_run(plain, root / "models", "plain")}
    return root, load_run(oriented), results


def independent(run, flags, rows=ROWS) -> np.ndarray:
    """The model on numpy's one-hot (A, C, G, T) plus a channel of ones where ``flags`` (zeros elsewhere)."""
    onehot = np.eye(4, dtype=np.float32)[[["ACGT".index(c) for c in s] for s in rows]]
    channel = np.broadcast_to(np.asarray(flags, np.float32)[:, None, None], (len(rows), 110, 1))
    return np.asarray(run.model(np.concatenate([onehot, channel], axis=2), training=False)["expression"]).ravel()


def _warmup_records(version_dir) -> list:
    """The warm-up file's records, parsed with TF Serving's own ``PredictionLog`` proto."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    return [prediction_log_pb2.PredictionLog.FromString(record) for record in
            tf.compat.v1.io.tf_record_iterator(str(version_dir / names.WARMUP_FILE))]


def test_warmup_file_warms_the_oriented_signature(exported):
    """The warm-up file of a model with an is_reverse channel also holds ``serving_oriented`` requests; replayed on
    TF Serving's session path each runs, and equals the model on a numpy one-hot + is_reverse channel and the
    in-process oriented prediction. A model without the channel: only the ``serving_default`` requests, as before."""
    import tensorflow as tf

    root, run, results = exported
    plain = _warmup_records(results["plain"].path)
    assert [log.predict_log.request.model_spec.signature_name for log in plain] == \
        [names.SERVING_DEFAULT] * names.N_WARMUP_REQUESTS
    logs = _warmup_records(results["human"].path)
    assert all(log.WhichOneof("log_type") == "predict_log" for log in logs)  # the record form TF Serving replays
    requests = [log.predict_log.request for log in logs]
    assert [r.model_spec.signature_name for r in requests] == \
        [names.SERVING_DEFAULT] * names.N_WARMUP_REQUESTS + ["serving_oriented"] * names.N_WARMUP_REQUESTS
    assert {r.model_spec.name for r in requests} == {"human"}
    for default, other in zip(plain, logs):  # the serving_default records: the plain model's, but for the name
        request = type(default.predict_log.request)()
        request.CopyFrom(default.predict_log.request)
        request.model_spec.name = "human"
        assert request.SerializeToString(deterministic=True) == \
            other.predict_log.request.SerializeToString(deterministic=True)
    oriented = [r for r in requests if r.model_spec.signature_name == "serving_oriented"]
    assert {alias: proto.dtype for alias, proto in oriented[0].inputs.items()} == \
        {"sequences": tf.string.as_datatype_enum, "is_reverse": tf.bool.as_datatype_enum}
    feeds = [(r.model_spec.signature_name, {alias: tf.make_ndarray(proto) for alias, proto in r.inputs.items()})
             for r in requests]
    replayed = session_run(results["human"].path, feeds)  # every request runs, by the SignatureDef's names
    rows = [s.decode() for _, feed in feeds[len(feeds) // 2:] for s in feed["sequences"]]
    flags = np.concatenate([feed["is_reverse"] for _, feed in feeds[len(feeds) // 2:]])
    assert flags.dtype == bool and flags.any() and not flags.all()
    served = np.concatenate([out[names.EXPRESSION_OUTPUT] for out in replayed[len(feeds) // 2:]])
    expected = independent(run, flags, rows)
    print(f"replayed serving_oriented warm-up vs numpy one-hot + is_reverse: max |diff| "
          f"{float(np.max(np.abs(served - expected))):.3g}")
    np.testing.assert_allclose(served, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(served, run.prediction_graph().predict(rows, orientation=flags), atol=1e-5, rtol=0)
    forward = np.concatenate([out[names.EXPRESSION_OUTPUT] for out in replayed[:len(feeds) // 2]])
    np.testing.assert_allclose(forward, independent(run, np.zeros(len(rows)), rows), atol=1e-5, rtol=0)
    assert results["human"].metadata["check"]["warmup_requests_replayed"] == 2 * names.N_WARMUP_REQUESTS
    assert results["plain"].metadata["check"]["warmup_requests_replayed"] == names.N_WARMUP_REQUESTS


def _strings(rows) -> np.ndarray:
    return np.array([s.encode() for s in rows], dtype=object)


def test_export_adds_the_oriented_signature_and_keeps_the_others(exported):
    import tensorflow as tf

    root, _, results = exported
    assert results["human"].metadata["orientation"] == {"signature": "serving_oriented",
                                                        "input": "is_reverse", "rule": RULE}
    assert results["plain"].metadata["orientation"] is None  # no channel: the table's rule is ignored (noted)
    signature_defs = {}
    for name, result in results.items():
        with tf.compat.v1.Session(graph=tf.Graph()) as session:
            signature_defs[name] = dict(tf.compat.v1.saved_model.loader.load(session, ["serve"],
                                                                             str(result.path)).signature_def)
    human, plain = signature_defs["human"], signature_defs["plain"]
    assert set(human) - {"__saved_model_init_op"} == {names.SERVING_DEFAULT, names.ONEHOT_SIGNATURE,
                                                       "serving_oriented"}
    assert set(plain) - {"__saved_model_init_op"} == {names.SERVING_DEFAULT, names.ONEHOT_SIGNATURE}
    for key in (names.SERVING_DEFAULT, names.ONEHOT_SIGNATURE):  # the existing signatures: the same SignatureDefs
        assert human[key].SerializeToString(deterministic=True) == plain[key].SerializeToString(deterministic=True)
    oriented = human["serving_oriented"]
    assert {alias: (info.dtype, [d.size for d in info.tensor_shape.dim]) for alias, info in oriented.inputs.items()} \
        == {"sequences": (tf.string.as_datatype_enum, [-1]), "is_reverse": (tf.bool.as_datatype_enum, [-1])}
    assert set(oriented.outputs) == set(human[names.SERVING_DEFAULT].outputs)
    assert oriented.method_name == names.PREDICT_METHOD_NAME


def test_session_path_equals_the_model_with_a_channel_of_ones(exported):
    root, run, results = exported
    (oriented, default) = session_run(results["human"].path, [
        ("serving_oriented", {"sequences": _strings(ROWS), "is_reverse": REVERSE}),
        (names.SERVING_DEFAULT, {"sequences": _strings(ROWS)})])
    expected, forward = independent(run, REVERSE), independent(run, np.zeros(len(ROWS)))
    worst = float(np.max(np.abs(oriented[names.EXPRESSION_OUTPUT] - expected)))
    print(f"oriented signature vs numpy one-hot + is_reverse channel: max |diff| {worst:.3g}")
    assert worst < 1e-5
    np.testing.assert_allclose(default[names.EXPRESSION_OUTPUT], forward, atol=1e-5, rtol=0)  # still all forward
    gap = np.abs(expected - forward)
    assert gap[REVERSE].min() > 1e-3 and gap[~REVERSE].max() == 0  # reverse rows differ, forward rows do not
    graph = run.prediction_graph()  # the in-process predictor, with the same flags
    np.testing.assert_allclose(graph.predict(ROWS, orientation=REVERSE), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(graph.predict(ROWS), forward, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def server(exported):
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    root, _, _ = exported
    srv = ModelServer(discover_models(root / "models"), port=0, rest_port=0, poll_seconds=0).start()
    yield srv
    srv.stop(grace=1)


def test_official_grpc_client_plain_rest_and_the_tf_free_client(exported, server):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    root, run, _ = exported
    expected = independent(run, REVERSE)
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "human", "serving_oriented"
    request.inputs["sequences"].CopyFrom(tf.make_tensor_proto([s.encode() for s in ROWS], dtype=tf.string))
    request.inputs["is_reverse"].CopyFrom(tf.make_tensor_proto(REVERSE, dtype=tf.bool))
    with grpc.insecure_channel(server.target) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=60)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["expression"]), expected, atol=1e-5, rtol=0)

    body = {"signature_name": "serving_oriented",
            "instances": [{"sequences": s, "is_reverse": bool(f)} for s, f in zip(ROWS, REVERSE)]}
    http = urllib.request.Request(f"{server.rest_url}/v1/models/human:predict", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(http, timeout=60) as answer:
        predictions = json.loads(answer.read())["predictions"]
    np.testing.assert_allclose(predictions, expected, atol=1e-5, rtol=0)

    from seq2exp.serving.client import Client

    for transport, target in (("grpc", server.target), ("rest", server.rest_url)):
        with Client(target, "human", transport=transport, batch_size=4) as client:  # two requests of rows + flags
            np.testing.assert_allclose(client.predict(ROWS, is_reverse=REVERSE), expected, atol=1e-5, rtol=0)
            np.testing.assert_allclose(client.predict(ROWS), independent(run, np.zeros(len(ROWS))), atol=1e-5,
                                       rtol=0)


@pytest.mark.parametrize("flag, accepted", [(True, True), (2, False), (1, False), ("yes", False), (None, False)])
def test_rest_takes_only_json_booleans_for_a_bool_input(exported, server, flag, accepted):
    """TF Serving's JSON reader takes only true/false for a DT_BOOL input (json_tensor.cc: ``val.IsBool()``): 1 and 2
    are a 400 with the input named, as a string is; before, numbers were cast to bool."""
    body = {"signature_name": "serving_oriented", "instances": [{"sequences": ROWS[0], "is_reverse": flag}]}
    http = urllib.request.Request(f"{server.rest_url}/v1/models/human:predict", data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=60) as answer:
            status, payload = answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        status, payload = error.code, json.loads(error.read())
    if accepted:
        assert status == 200 and len(payload["predictions"]) == 1
    else:
        assert status == 400 and "input 'is_reverse' must be DT_BOOL values (true or false)" in payload["error"]


def test_rest_refuses_booleans_for_a_float_input(exported, server):
    """The onehot signature's DT_FLOAT input: JSON numbers only (integers too), as TF Serving (``val.IsNumber()``)."""
    from seq2exp.serving.predict import export_metadata

    width = export_metadata(exported[2]["plain"].path)["onehot_length"]  # the signature's padded length
    onehot = np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in ROWS[0]]].tolist()
    onehot += [[0.0] * 4] * (width - len(onehot))
    for rows, status_wanted in (([onehot], 200), ([[[int(v) for v in row] for row in onehot]], 200),
                                ([[[bool(v) for v in row] for row in onehot]], 400)):
        body = {"signature_name": "onehot", "inputs": rows}
        http = urllib.request.Request(f"{server.rest_url}/v1/models/plain:predict",
                                      data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
                                      method="POST")
        try:
            with urllib.request.urlopen(http, timeout=60) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status, message = error.code, json.loads(error.read())["error"]
            assert "must be DT_FLOAT values (numbers), got true/false" in message
        assert status == status_wanted


def _tsv(path, extra_column: bool = False):
    header = "seq_id\tseq\tmean_value" + ("\tstrand" if extra_column else "")
    rows = [f"{i}\t{s}\t0.5" + (f"\t{'-' if f else '+'}" if extra_column else "")
            for i, s, f in zip(IDS, ROWS, REVERSE)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _predict(args, out, capsys) -> tuple[np.ndarray, dict]:
    capsys.readouterr()
    assert cli_main(["predict", *map(str, args), "-o", str(out), "--format", "tsv", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    lines = out.read_text().splitlines()
    assert lines[0] == "id\tsequence\texpression"
    return np.array([float(line.split("\t")[2]) for line in lines[1:]]), summary


def test_seq2exp_predict_uses_each_rows_orientation(exported, server, tmp_path, capsys):
    root, run, results = exported
    expected, forward = independent(run, REVERSE), independent(run, np.zeros(len(ROWS)))
    table = _tsv(tmp_path / "human.tsv")
    model = ["--saved-model", results["human"].path]
    values, summary = _predict([table, *model], tmp_path / "auto.tsv", capsys)  # the export's recorded rule
    np.testing.assert_allclose(values, expected, atol=2e-6, rtol=1e-6)
    assert summary["rows_reverse"] == int(REVERSE.sum())
    values, summary = _predict([table, *model, "--orientation", "none"], tmp_path / "none.tsv", capsys)
    np.testing.assert_allclose(values, forward, atol=2e-6, rtol=1e-6)
    assert summary["rows_reverse"] == 0
    fasta = tmp_path / "human.fa"  # FASTA: the rule reads the record names
    fasta.write_text("".join(f">{i}\n{s}\n" for i, s in zip(IDS, ROWS)))
    values, _ = _predict([fasta, *model], tmp_path / "fasta.tsv", capsys)
    np.testing.assert_allclose(values, expected, atol=2e-6, rtol=1e-6)
    strand = _tsv(tmp_path / "strand.tsv", extra_column=True)  # an orientation column of its own
    values, _ = _predict([strand, *model, "--orientation", "strand=-"], tmp_path / "strand_out.tsv", capsys)
    np.testing.assert_allclose(values, expected, atol=2e-6, rtol=1e-6)
    for transport, target in (("grpc", server.target), ("rest", server.rest_url)):  # a server has no rule: give it
        values, summary = _predict([table, "--server", target, "--model", "human", "--transport", transport,
                                    "--orientation", "seq_id~_Reversed:"], tmp_path / f"{transport}.tsv", capsys)
        np.testing.assert_allclose(values, expected, atol=2e-6, rtol=1e-6)
        assert summary["rows_reverse"] == int(REVERSE.sum())


def test_a_rule_the_input_cannot_answer_is_refused_or_warned_about(exported, tmp_path, capsys, caplog):
    """A table without the rule's column and without ids, or a DREAM file: an explicit rule is refused (one line,
    exit 2, nothing written); the export's recorded rule (auto) predicts every row forward, with a warning. Before,
    both predicted every row forward in silence."""
    _, run, results = exported
    forward = independent(run, np.zeros(len(ROWS)))
    model = ["--saved-model", results["human"].path]
    no_ids = tmp_path / "no_ids.tsv"  # the human table without its seq_id column
    no_ids.write_text("seq\tmean_value\n" + "".join(f"{s}\t0.5\n" for s in ROWS))
    dream = tmp_path / "rows.txt"
    dream.write_text("".join(f"{s}\t0.5\n" for s in ROWS))
    for source, problem in ((no_ids, r"the table has no column 'seq_id' \(its columns: seq, mean_value\)"),
                            (dream, r"a DREAM file .* has no column or row ids")):
        out = tmp_path / f"{source.stem}.explicit.tsv"
        capsys.readouterr()
        assert cli_main(["predict", str(source), "-o", str(out), *map(str, model), "--format", "tsv",
                         "--orientation", "seq_id~_Reversed:"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(r"--orientation seq_id~_Reversed:: " + problem, err[0]), err
        assert not list(tmp_path.glob(f"{source.stem}.explicit*"))
        caplog.clear()
        with caplog.at_level("WARNING", logger="seq2exp.serving.predict"):
            values, summary = _predict([source, *model], tmp_path / f"{source.stem}.auto.tsv", capsys)
        assert re.search(r"rule the model's export recorded \(seq_id~_Reversed:\) cannot be applied: " + problem,
                         caplog.text), caplog.text
        assert summary["rows_reverse"] == 0
        np.testing.assert_allclose(values, forward, atol=2e-6, rtol=1e-6)
    ids_only = tmp_path / "ids.tsv"  # no seq_id column but an id column: the rule reads the ids, as documented
    ids_only.write_text("id\tseq\n" + "".join(f"{i}\t{s}\n" for i, s in zip(IDS, ROWS)))
    _, summary = _predict([ids_only, *model], tmp_path / "ids.out.tsv", capsys)
    assert summary["rows_reverse"] == int(REVERSE.sum())


def test_a_model_without_the_channel_ignores_or_refuses_orientation(exported, tmp_path, capsys, caplog):
    from seq2exp.errors import ConfigError
    from seq2exp.inference.runs import load_run

    root, _, results = exported
    table = _tsv(tmp_path / "human.tsv")
    model = ["--saved-model", results["plain"].path]
    with caplog.at_level("INFO", logger="seq2exp.serving.predict"):
        values, summary = _predict([table, *model], tmp_path / "auto.tsv", capsys)  # auto: ignored, with a note
    assert summary["rows_reverse"] == 0 and "no is_reverse channel" in caplog.text
    plain = load_run(root / "plain_run")
    np.testing.assert_allclose(values, plain.predict(ROWS), atol=2e-6, rtol=1e-6)
    out = tmp_path / "refused.tsv"
    capsys.readouterr()
    assert cli_main(["predict", str(table), "-o", str(out), *map(str, model), "--format", "tsv",
                     "--orientation", "seq_id~_Reversed:"]) == 2  # asked for explicitly: refused
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no 'serving_oriented' signature" in err[0] and "is_reverse" in err[0], err
    assert not out.exists() and not list(tmp_path.glob("refused.tsv*"))
    assert cli_main(["predict", str(table), "-o", str(out), *map(str, model), "--orientation", "sideways"]) == 2
    with pytest.raises(ConfigError, match="no is_reverse input channel"):
        plain.predict(ROWS, orientation=REVERSE)


def test_resume_is_refused_under_another_orientation_rule(exported, tmp_path, capsys):
    """``seq2exp predict --resume`` records the resolved rule in its fingerprint: the same rule continues the partial
    output (equal to an uninterrupted run), another rule is refused with one line, exit 2, nothing written."""
    from seq2exp.errors import Seq2ExpError
    from seq2exp.serving.predict import SavedModelBackend, predict_file

    root, run, results = exported
    table = _tsv(tmp_path / "human.tsv")
    model = ["--saved-model", str(results["human"].path)]
    full, _ = _predict([table, *model], tmp_path / "full.tsv", capsys)  # auto: the export's seq_id~_Reversed:
    full_text = (tmp_path / "full.tsv").read_text()

    class FailsAfterOneChunk:
        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def __getattr__(self, name):  # oriented, orientation_rule, max_length, ...: the real backend's
            return getattr(self.inner, name)

        def predict(self, sequences, **kwargs):
            self.calls += 1
            if self.calls > 1:
                raise Seq2ExpError("worker went away")
            return self.inner.predict(sequences, **kwargs)

    out = tmp_path / "out.tsv"
    backend = SavedModelBackend(results["human"].path)
    try:
        with pytest.raises(Seq2ExpError, match="worker went away"):
            predict_file(table, out, FailsAfterOneChunk(backend), output_format="tsv", chunk_rows=3, progress=False)
    finally:
        backend.close()
    partial, fingerprint = tmp_path / "out.tsv.partial", tmp_path / "out.tsv.partial.json"
    assert fingerprint.exists(), sorted(p.name for p in tmp_path.iterdir())
    assert json.loads(fingerprint.read_text())["orientation"] == RULE
    before = (partial.read_bytes(), fingerprint.read_bytes())
    assert len(partial.read_text().splitlines()) == 1 + 3  # the header and the first chunk
    for other in ("none", "strand=-", "seq_id~_F"):  # another rule: refused before anything is written
        capsys.readouterr()
        assert cli_main(["predict", str(table), "-o", str(out), *model, "--format", "tsv", "--no-progress",
                         "--resume", "--orientation", other]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--orientation seq_id~_Reversed:, not " + other in err[0], err
        assert (partial.read_bytes(), fingerprint.read_bytes()) == before and not out.exists()
    values, summary = _predict([table, *model, "--resume", "--orientation", "seq_id~_Reversed:"], out, capsys)
    assert summary["resumed_from"] == 3 and summary["rows_reverse"] == int(REVERSE[3:].sum())
    assert out.read_text() == full_text  # the same rule, spelled out: the same file as an uninterrupted run
    np.testing.assert_allclose(values, independent(run, REVERSE), atol=2e-6, rtol=1e-6)
