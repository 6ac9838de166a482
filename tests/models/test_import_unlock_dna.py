"""``seq2exp import unlock_dna``: the team's own ``Regressor`` (teams/unlock_dna/code/mode_training.py, a TF 2.6
Keras notebook, run here under tf-keras 2 with ``TF_USE_LEGACY_KERAS=1``) with random weights, saved as its
``ModelCheckpoint(save_weights_only=True)`` saves it (a TensorFlow checkpoint in ``tf_ckpts/``), imported, and
compared with the notebook's own prediction cells (flank cutting, N padding, reverse-complement tokens) — in process
and through the exported SavedModel on TF Serving's session path."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.models.team_code import demo_rows, run_python, served_expression

pytest.importorskip("tf_keras")  # the team's Keras 2 code runs on tf-keras (dev extra)

NOTEBOOK = SHARED / "reference" / "teams" / "unlock_dna" / "code" / "mode_training.py"
SMALL = {"embedding_dim": 16, "n_blocks": 2, "kmer": 10, "num_heads": 2, "num_projectors": 4, "kernel_size": 15}

_TEAM = r'''
import gzip, json, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from tests.models.team_code import notebook_cells
spec = json.loads({spec!r})
cells = notebook_cells(Path(spec["notebook"]))
ns = {{}}
exec("import tensorflow as tf\nimport numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
     "import pandas as pd\nimport re\nfrom Bio.Seq import Seq\nRUNTIME = 'msi'\n"
     "import types\nplt = types.SimpleNamespace(hist=lambda *a, **k: None)\n", ns)  # the notebook's histograms
for n in (12, 23, 26, 29, 36, 39, 52):  # ARGS and the layer / model classes, as the notebook defines them
    exec(cells[n], ns)
tf, np = ns["tf"], ns["np"]
ARGS = ns["ARGS"]
ARGS["local_checkpoint_dir"] = spec["checkpoint"]
shape = spec["shape"]
ns["input_dim"] = 6
model = ns["Regressor"](n_positions=ARGS["max_width"] * 2, embedding_dim=shape["embedding_dim"],  # cell 55
                        n_blocks=shape["n_blocks"], kmer=shape["kmer"], input_dim=6, strides=ARGS["strides"],
                        ratio=ARGS["mask_ratio"], num_heads=shape["num_heads"], rate=ARGS["dropout_rate"],
                        num_projectors=shape["num_projectors"], kernel_size=shape["kernel_size"])
ns["model"] = model
if spec["mode"] == "save":
    model({{"seq": tf.zeros((1, ARGS["max_width"] * 2), tf.uint8)}})
    rng = np.random.default_rng(spec["seed"])
    for variable in model.weights:
        shape_ = variable.shape.as_list()
        if "gamma" in variable.name:
            value = rng.uniform(0.5, 1.5, shape_)
        elif len(shape_) >= 2 and "embedding" not in variable.name:
            value = rng.normal(0, 1.5 / np.sqrt(np.prod(shape_[:-1])), shape_)
        else:
            value = rng.normal(0, 0.3, shape_)
        variable.assign(value.astype("float32"))
    model.save_weights(spec["checkpoint"])  # what ModelCheckpoint(save_weights_only=True) calls (cell 59)
else:
    ARGS["local_test_data"] = spec["test_data"]
    import types
    import pandas as pd

    def array_split(values, sections):  # numpy 1.x split a Series into Series (cell 74 calls .apply on them)
        if isinstance(values, pd.Series):
            return [values.iloc[part] for part in np.array_split(np.arange(len(values)), sections)]
        return np.array_split(values, sections)

    numpy_1 = types.SimpleNamespace(**{{**vars(np), "array_split": array_split}})
    for n in (65, 68, 69, 70, 71, 73, 74, 75, 76, 78, 79, 80):  # read, cut flanks, assert, pad + RC, predict
        if n == 74:
            scope = {{**ns, "np": numpy_1}}
            exec(cells[n], scope)
            ns["dna"] = scope["dna"]
        else:
            exec(cells[n], ns)
    json.dump([float(v) for v in ns["df"]["expression"]], open(spec["out"], "w"))
'''


def run_team(mode: str, workdir: Path, shape: dict, **extra) -> None:
    spec = {"mode": mode, "notebook": str(NOTEBOOK), "checkpoint": str(workdir / "tf_ckpts") + "/", "shape": shape,
            "seed": 0, **extra}
    run_python(_TEAM.format(repo=str(Path(__file__).resolve().parents[2]), spec=json.dumps(spec)),
               env={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
               cwd=workdir)


def team_predictions(workdir: Path, shape: dict, sequences: list[str]) -> np.ndarray:
    import gzip

    test_data = workdir / "test_sequences.txt.gz"
    with gzip.open(test_data, "wt") as handle:
        handle.write("".join(f"{s}\t0\n" for s in sequences))
    run_team("predict", workdir, shape, test_data=str(test_data), out=str(workdir / "team.json"))
    return np.asarray(json.loads((workdir / "team.json").read_text()), np.float32)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = [s for s in demo_rows(demo_train, n_regular) if len(s) - 30 <= 100]  # cell 70 asserts <= 100 bp
    assert min(map(len, rows)) < 110 < max(map(len, rows))
    started = time.perf_counter()
    run_team("save", tmp_path, shape)
    expected = team_predictions(tmp_path, shape, rows)
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("unlock_dna", tmp_path / "tf_ckpts", tmp_path / "run",
                             config={"num_projectors": shape["num_projectors"]})
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "unlock")
    assert np.ptp(expected) > 0.05
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(rows),
             "team_notebook_s": round(team_seconds, 1)}
    print("unlock_dna", shape, json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
    return diffs


def test_imported_regressor_predicts_what_the_teams_notebook_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=8)


@pytest.mark.slow
def test_the_real_size_regressor_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, {"embedding_dim": 512, "n_blocks": 4, "kmer": 10, "num_heads": 8,
                                        "num_projectors": 32, "kernel_size": 15}, n_regular=8)
