"""``seq2exp import high_schoolers``: the team's own model (teams/high_schoolers/code/Training Code/ModelTraining.py,
TF 2 Keras 2 code run here under tf-keras 2 with ``TF_USE_LEGACY_KERAS=1``; the team hard-codes its one size) with
random weights and BatchNorm statistics, saved by the team's ``model.save('../model.h5')``, imported, and compared
with the team's ``Testing Code/GetPredictions.py`` (its ``load_model`` with the team's custom objects, its
``x_test[:, :111, :4]`` of ``DataProcessing.py``'s ``convert_one_hot``, its ``model.predict``) — in process and
through the exported SavedModel on TF Serving's session path.

``tensorflow_addons`` (unmaintained; its last wheel, 0.23.0, installs but fails to import against Keras 3 /
TF 2.21: ``keras.src.engine``) is a mock module in the team's process: the team uses it only for the ``SWA``
optimizer of its ``model.compile`` cells, which are not run, so the saved file carries no optimizer. The importer
reads only the model weights of the file (h5py), so the published file's ``SWA`` training state does not matter."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.models.team_code import (assert_import_refused, assert_truncated_and_foreign_h5_refused, demo_rows,
                                     h5_weight_names, rewrite_h5, run_python, served_expression)

pytest.importorskip("tf_keras")

CODE = SHARED / "reference" / "teams" / "high_schoolers" / "code"

_TEAM = r'''
import ast, json, os, sys
from unittest import mock
spec = json.loads({spec!r})
sys.modules["tensorflow_addons"] = mock.MagicMock()  # see the test module's docstring
code = spec["code"]
lines = open(os.path.join(code, "Training Code", "ModelTraining.py")).read().split("# In[ ]:")
ns = {{"__name__": "team"}}
for index, cell in enumerate(lines):
    if "import tensorflow as tf" in cell and index < 3:
        exec(cell, ns)  # the imports cell
    elif "class " in cell or "def " in cell and "model.fit" not in cell:
        exec(cell, ns)  # the layer / function definitions
    elif "inputs = keras.layers.Input(shape=(111,4))" in cell:
        exec(cell[: cell.index("opt = tfa.optimizers.SWA")], ns)  # the model, without its SWA compile
model, np = ns["model"], ns["np"]
if spec["mode"] == "save":
    rng = np.random.default_rng(spec["seed"])
    for variable in model.weights:
        shape, name = variable.shape.as_list(), variable.name
        if "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "moving_mean" in name or len(shape) < 2 or "-r_" in name:
            value = rng.normal(0, 0.3, shape)
        else:
            value = rng.normal(0, 1.5 / np.sqrt(np.prod(shape[:-1])), shape)
        variable.assign(value.astype("float32"))
    model.save("../model.h5")  # ModelTraining.py's save
else:
    import h5py, numpy as np
    source = open(os.path.join(code, "Training Code", "DataProcessing.py")).read()
    tree = ast.parse(source)
    ns = {{"np": np}}
    for node in tree.body:  # DataProcessing.py's encoder, as the team wrote it
        if isinstance(node, ast.FunctionDef) and node.name == "convert_one_hot":
            exec(compile(ast.Module([node], []), "DataProcessing.py", "exec"), ns)
    rows = json.load(open(spec["rows"]))
    os.makedirs("../Training Data", exist_ok=True)
    with h5py.File("../Training Data/compressed_dataset_111.h5", "w") as hf:  # DataProcessing.py's file
        hf.create_dataset("x_test", data=ns["convert_one_hot"](rows, max_len=111), dtype="int8", compression="gzip")
    # GetPredictions.py's tf.keras.models.load_model('../model.h5', custom_objects=...) cannot rebuild the nested
    # ProfileModel under tf-keras 2.21 (its from_config calls ProfileModel() without inputs); the same file's weights
    # go into the team's model as ModelTraining.py builds it, then GetPredictions.py runs from its x_test on
    model.load_weights("../model.h5")
    script = open(os.path.join(code, "Testing Code", "GetPredictions.py")).read()
    script = script[script.index("with h5py.File('../Training Data"): script.index("uniform_preds = quantile_transform")]
    scope = {{"model": model, "h5py": h5py, "np": np}}
    exec(script, scope)
    json.dump([float(v) for v in scope["preds"]], open(spec["out"], "w"))
'''


def run_team(mode: str, workdir: Path, **extra) -> None:
    spec = {"mode": mode, "code": str(CODE), "seed": 0, **extra}
    (workdir / "run_here").mkdir(exist_ok=True)  # the team's scripts read and write '../model.h5'
    run_python(_TEAM.format(spec=json.dumps(spec)),
               env={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                    "MPLBACKEND": "Agg"}, cwd=workdir / "run_here")


@pytest.fixture(scope="module")
def team_model(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("high_schoolers")
    run_team("save", workdir)
    return workdir / "model.h5"


def test_imported_model_predicts_what_get_predictions_predicts(team_model, tmp_path, demo_train):
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    every = [line.split("\t")[0] for line in demo_train.read_text().splitlines()]
    rows = [s for s in demo_rows(demo_train, 8) if len(s) <= 111]  # convert_one_hot has no room for longer rows
    rows += [s for s in every if len(s) == 111][:3]
    assert min(map(len, rows)) < 110 < max(map(len, rows))
    workdir = team_model.parent
    (workdir / "rows.json").write_text(json.dumps(rows))
    started = time.perf_counter()
    run_team("predict", workdir, rows=str(workdir / "rows.json"), out=str(workdir / "team.json"))
    team_seconds = time.perf_counter() - started
    expected = np.asarray(json.loads((workdir / "team.json").read_text()), np.float32)
    run_dir = import_weights("high_schoolers", team_model, tmp_path / "run")
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "hs")
    assert np.ptp(expected) > 0.05, expected
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(rows),
             "lengths": [min(map(len, rows)), max(map(len, rows))], "team_s": round(team_seconds, 1)}
    diffs["largest_prediction"] = float(np.max(np.abs(expected)))
    print("high_schoolers", json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs


def _import_fails(weights: Path, out: Path, match: str) -> None:
    assert_import_refused("high_schoolers", weights, out, match)


def test_a_missing_tensor_is_named(team_model, tmp_path):
    def drop(root):
        group = root["layer_normalization_1"]
        group.attrs["weight_names"] = [n.encode() for n in h5_weight_names(group) if "beta" not in n]
    _import_fails(rewrite_h5(team_model, tmp_path / "w.h5", drop, "model_weights"), tmp_path / "run",
                  "layer_normalization_1/beta")


def test_an_unexpected_tensor_is_named(team_model, tmp_path):
    def add(root):
        group = root["dense_7"]
        group.create_dataset("dense_7/extra:0", data=np.zeros(3, np.float32))
        group.attrs["weight_names"] = [n.encode() for n in h5_weight_names(group) + ["dense_7/extra:0"]]
    _import_fails(rewrite_h5(team_model, tmp_path / "w.h5", add, "model_weights"), tmp_path / "run", "dense_7/extra")


def test_a_wrong_shape_is_named(team_model, tmp_path):
    def reshape(root):
        group = root["dense_7"]
        name = next(n for n in h5_weight_names(group) if n.endswith("bias:0"))
        del group[name]
        group.create_dataset(name, data=np.zeros(2, np.float32))
    _import_fails(rewrite_h5(team_model, tmp_path / "w.h5", reshape, "model_weights"), tmp_path / "run", "dense_7/bias")


def test_truncated_and_foreign_files_are_one_clear_error(team_model, tmp_path):
    assert_truncated_and_foreign_h5_refused(team_model, tmp_path, "high_schoolers", "High Schoolers")
