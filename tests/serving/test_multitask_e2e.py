"""The Drosophila benchmark sample end to end: smoke training of the DREAM-RNN benchmark config (two tasks) ->
export -> TF Serving's session path -> the embedded server's REST API and the TF-free client with two named
outputs, all equal to the in-process prediction; then predict --format tsv and per-task scoring."""
from __future__ import annotations

import json
import urllib.request

import numpy as np
import pandas as pd
import pytest

from seq2exp.serving import signatures as names
from tests.conftest import SHARED

from .conftest import session_run

DATA = SHARED / "data" / "dream_benchmarks" / "drosophila_starr"
CONFIG = "training/configs/benchmarks/drosophila_dream_rnn.yaml"
TASKS = ["Dev_log2_enrichment", "Hk_log2_enrichment"]

pytestmark = pytest.mark.slow  # ~80 s on 2 cores: a smoke training, an export and a server


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from seq2exp.inference.runs import load_run
    from seq2exp.serving.export import export_run
    from seq2exp.training import train

    root = tmp_path_factory.mktemp("drosophila")
    train(CONFIG, data=DATA / "sample_train.txt", val=DATA / "sample_val.txt", out=root / "run", smoke=True)
    result = export_run(root / "run", root / "models", "drosophila")
    return root, load_run(root / "run"), result


def test_run_records_tasks_and_per_task_metrics(exported):
    root, run, _ = exported
    info = json.loads((root / "run" / "run.json").read_text())
    assert info["tasks"] == TASKS and info["model_config"]["tasks"] == TASKS
    assert set(info["metrics"]["tasks"]) == set(TASKS)
    header = (root / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "val_pearson_Dev_log2_enrichment" in header and "val_pearson_Hk_log2_enrichment" in header


def test_session_path_rest_and_client_equal_in_process(exported):
    from seq2exp.serving.client import Client
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    root, run, result = exported
    frame = pd.read_csv(DATA / "sample_test.txt", sep="\t")
    sequences = frame["Sequence"].tolist()[:24]
    in_process = run.prediction_graph().predict_outputs(sequences)["expression"]
    assert in_process.shape == (24, 2) and np.ptp(in_process[:, 0] - in_process[:, 1]) > 0
    metadata = json.loads((result.path / names.METADATA_FILE).read_text())
    assert metadata["tasks"] == TASKS

    (served,) = session_run(result.path, [(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: np.array(
        [s.encode() for s in sequences], dtype=object)})])
    np.testing.assert_allclose(served[names.EXPRESSION_OUTPUT], in_process, atol=1e-5, rtol=0)
    for column, task in enumerate(TASKS):
        np.testing.assert_allclose(served[names.task_output(task)], in_process[:, column], atol=1e-5, rtol=0)

    server = ModelServer(discover_models(root / "models"), port=0, rest_port=0, poll_seconds=0).start()
    try:
        request = urllib.request.Request(f"{server.rest_url}/v1/models/drosophila:predict",
                                         data=json.dumps({"inputs": {"sequences": sequences}}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            outputs = json.loads(response.read())["outputs"]
        assert {names.task_output(task) for task in TASKS} <= set(outputs)
        np.testing.assert_allclose(outputs[names.EXPRESSION_OUTPUT], in_process, atol=1e-5, rtol=0)
        for column, task in enumerate(TASKS):  # two named outputs
            np.testing.assert_allclose(outputs[f"expression_{task}"], in_process[:, column], atol=1e-5, rtol=0)
        for transport, target in (("grpc", server.target), ("rest", server.rest_url)):
            with Client(target, "drosophila", transport=transport) as client:
                named = client.predict_tasks(sequences)
                assert list(named) == TASKS
                for column, task in enumerate(TASKS):
                    np.testing.assert_allclose(named[task], in_process[:, column], atol=1e-5, rtol=0)
    finally:
        server.stop(grace=1)


def test_predict_tsv_and_per_task_score(exported, tmp_path):
    from seq2exp.evaluation.tasks import score_tasks
    from seq2exp.serving.predict import SavedModelBackend, predict_file

    root, run, result = exported
    test = tmp_path / "test.tsv"
    frame = pd.read_csv(DATA / "sample_test.txt", sep="\t").iloc[:40]
    frame.loc[3, "Hk_log2_enrichment"] = np.nan  # a missing measurement: left out of that task only
    frame.to_csv(test, sep="\t", index=False)
    backend = SavedModelBackend(result.path)
    predict_file(test, tmp_path / "pred.tsv", backend, output_format="tsv", progress=False)
    backend.close()
    written = pd.read_csv(tmp_path / "pred.tsv", sep="\t")
    assert list(written.columns) == ["id", "sequence", *TASKS]
    assert written["id"].tolist() == frame["ID"].tolist()
    # the config's orientation rule (ID contains "-_"), applied here with pandas: predict reads it from the export
    reverse = frame["ID"].str.contains("-_", regex=False).to_numpy()
    assert 0 < reverse.sum() < len(reverse)
    graph = run.prediction_graph()
    in_process = graph.predict_outputs(frame["Sequence"].tolist(), orientation=reverse)["expression"]
    np.testing.assert_allclose(written[TASKS].to_numpy(), in_process, atol=2e-6, rtol=1e-6)
    all_forward = graph.predict_outputs(frame["Sequence"].tolist())["expression"]
    assert np.abs(written[TASKS].to_numpy() - all_forward)[reverse].max(axis=1).min() > 1e-5  # each reverse row moved
    scores = score_tasks(tmp_path / "pred.tsv", test)
    from scipy.stats import pearsonr, spearmanr

    for column, task in enumerate(TASKS):
        keep = frame[task].notna().to_numpy()
        got = scores["tasks"][task]["subsets"]["all"]
        assert got["n"] == keep.sum()
        assert got["pearson"] == pytest.approx(pearsonr(written[task][keep], frame[task][keep])[0], abs=1e-9)
        assert got["spearman"] == pytest.approx(spearmanr(written[task][keep], frame[task][keep])[0], abs=1e-9)
