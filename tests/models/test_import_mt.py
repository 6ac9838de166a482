"""``seq2exp import mt``: the team's own model (teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py, a TF 2 Keras
notebook, run here under tf-keras 2 with ``TF_USE_LEGACY_KERAS=1``) with random weights and BatchNorm statistics,
saved as its ``ModelCheckpoint("sub_model.{epoch}.h5")`` saves it (a whole Keras 2 HDF5 model), imported, and
compared with the notebook's own ``make_prediction`` (cell 37: P padding, AGCTNP one-hot + complement strand) — in
process and through the exported SavedModel on TF Serving's session path."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.models.team_code import demo_rows, run_python, served_expression

pytest.importorskip("tf_keras")

NOTEBOOK = SHARED / "reference" / "teams" / "mt" / "code" / "250_pandas_final_1_bis_bc-0.745-Copy1.py"
SMALL = {"gru_hidden_dim": 8, "mlp_units": [8, 8], "filters1": 8, "filters2": 8, "filters3": 8}
ROWS = 10_000  # make_prediction splits the file into 10,000 batches: it needs at least that many rows

_TEAM = r'''
import json, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from tests.models.team_code import notebook_cells
spec = json.loads({spec!r})
cells = notebook_cells(Path(spec["notebook"]))
ns = {{}}
exec("import numpy as np\nimport pandas as pd\nimport tensorflow as tf\nfrom tensorflow import keras\n"
     "from tensorflow.keras import layers\nimport keras.backend as K\nmax_seq_len = 142\n", ns)  # cells 2, 7
for n in (16, 18, 21, 27, 29, 31, 32):  # encoding, metrics, DataGenerator, gru_layer, build_model, config
    exec(cells[n], ns)
np = ns["np"]
if spec["mode"] == "save":
    config = {{**ns["config"], **spec["shape"]}}
    model = ns["build_model"](input_shape=(142, 12), **config)  # cell 33's input: [max_seq_len, 12]
    rng = np.random.default_rng(spec["seed"])
    for variable in model.weights:
        shape = variable.shape.as_list()
        if "gamma" in variable.name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_variance" in variable.name:
            value = rng.uniform(0.5, 2.0, shape)
        elif len(shape) >= 2:
            value = rng.normal(0, 1.5 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0, 0.3, shape)
        variable.assign(value.astype("float32"))
    model.save("sub_model.11.h5")  # what cell 36's ModelCheckpoint("sub_model.{{epoch}}.h5") writes
elif spec["mode"] == "predict":
    exec(cells[11], ns)  # X_predict = test_sequences.txt
    ns["model_name"] = "sub_model"
    exec(cells[37], ns)  # make_prediction(11, model_name=model_name) -> sub_model.11.csv
else:  # make_prediction's statements with one batch instead of 10,000 (the batching does not change the values)
    exec(cells[11], ns)
    exec("model = tf.keras.models.load_model('sub_model.11.h5', custom_objects={{'rmse': rmse, "
         "'pearson_r': pearson_r, 'coeff_det': coeff_det}})\n"
         "out_1 = model.predict(DataGenerator(X_predict, num_batches=1, random_select=1, shuffle=False))\n"
         "X_predict['preds'] = out_1.max(axis=1).squeeze()\n"
         "X_predict[['seq', 'preds']].to_csv('sub_model.11.csv', header=False, index=False, sep='\\t')\n", ns)
'''


def run_team(mode: str, workdir: Path, shape: dict) -> None:
    spec = {"mode": mode, "notebook": str(NOTEBOOK), "shape": shape, "seed": 0}
    run_python(_TEAM.format(repo=str(Path(__file__).resolve().parents[2]), spec=json.dumps(spec)),
               env={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                    "MPLBACKEND": "Agg"}, cwd=workdir)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, whole_notebook: bool) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = demo_rows(demo_train, 8)
    every = [line.split("\t")[0] for line in demo_train.read_text().splitlines()]
    filler = (every * (ROWS // len(every) + 1))[: ROWS - len(rows)] if whole_notebook else []
    (tmp_path / "test_sequences.txt").write_text("".join(f"{s}\t0\n" for s in rows + filler))
    (tmp_path / "sample_submission.json").write_text(json.dumps({str(i): 0 for i in range(len(rows))}))
    started = time.perf_counter()
    run_team("save", tmp_path, shape)
    run_team("predict" if whole_notebook else "predict_one_batch", tmp_path, shape)
    team_seconds = time.perf_counter() - started
    lines = (tmp_path / "sub_model.11.csv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines[: len(rows)]] == rows
    expected = np.asarray([float(line.split("\t")[1]) for line in lines[: len(rows)]], np.float32)
    run_dir = import_weights("mt", tmp_path / "sub_model.11.h5", tmp_path / "run")
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "mt")
    assert np.ptp(expected) > 0.01
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(rows),
             "team_notebook_s": round(team_seconds, 1)}
    print("mt", shape, json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
    return diffs


def test_imported_mt_model_predicts_what_the_teams_notebook_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, whole_notebook=False)


@pytest.mark.slow
def test_through_the_teams_whole_make_prediction(tmp_path, demo_train):
    """make_prediction itself (10,000 one-row batches: about 5 minutes here)."""
    check_parity(tmp_path, demo_train, SMALL, whole_notebook=True)


@pytest.mark.slow
def test_the_real_size_mt_model_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, {}, whole_notebook=False)
