"""``seq2exp import bionml``: the team's own model (teams/bionml/code/architecture/new_BioNML_CrossAtt_v3.py with
configs/config39v3.yaml, TF 2.8 Keras 2 code run here under tf-keras 2 with ``TF_USE_LEGACY_KERAS=1``) with random
weights, BatchNorm statistics and Swish betas, saved as run_config_v1.py's ``ModelCheckpoint(save_weights_only=True)``
saves it (``fine_tune_v7_best_weights.h5``: Keras 2 HDF5 weights), imported, and compared with the team's own
prediction path (``PredictDataGen`` -> ``seq_to_one_hot`` -> ``model.predict``, the statements of
``run_config_v1.py --predict_only`` before its rescaling) — in process and through the exported SavedModel on TF
Serving's session path.

``tensorflow_addons`` / ``tensorflow_probability`` (unmaintained / not installed here) are replaced by mock modules in
the team's process: the model uses neither (``tfa.activations.gelu`` appears only in the non-SwiGLU blocks that
config39v3 does not build, ``tfp`` and ``tfa.metrics`` only in the training metrics)."""
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
pytest.importorskip("sklearn")  # seq_to_one_hot's OneHotEncoder

CODE = SHARED / "reference" / "teams" / "bionml" / "code"
# 80 k-mer detectors = 2- and 3-mers (4**2 + 4**3) in a 6-wide kernel: exercises reading the k-mer lengths
SMALL = {"motif_size": 8, "kmer_size": 80, "latent_dim": 16, "encoder_layer_number": 2, "num_heads": 2,
         "representation_dim": 16, "mlp_dim": 16}
WEIGHTS = "fine_tune_v7_best_weights.h5"

_TEAM = r'''
import json, os, sys, types
from unittest import mock
spec = json.loads({spec!r})
code = spec["code"]
sys.modules["tensorflow_addons"] = mock.MagicMock()  # see the test module's docstring
sys.modules["tensorflow_probability"] = mock.MagicMock()
sys.path.insert(0, code)
import utils.train_utils  # run_config_v1.py's first import: 'utils' is the folder, then path_to_pad is appended
sys.path += [os.path.join(code, "architecture"), os.path.join(code, "utils")]
from utils.utils import *
import importlib, yaml
import numpy as np, pandas as pd, tensorflow as tf
params = yaml.safe_load(open(os.path.join(code, "configs", "config39v3.yaml")))
model_params = {{**params["model"], **spec["shape"]}}
model = importlib.import_module("new_BioNML_CrossAtt_v3").build(**model_params)
if spec["mode"] == "save":
    rng = np.random.default_rng(spec["seed"])
    for variable in model.weights:
        shape = variable.shape.as_list()
        name = variable.name
        if "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif not shape:  # a Swish beta
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2 and "pos_embedding" not in name and "repr" not in name.split("/")[-1]:
            value = rng.normal(0, 1.5 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0, 0.3, shape)
        variable.assign(np.asarray(value, "float32"))
    model.save_weights(spec["weights"])  # what ModelCheckpoint(".../*.h5", save_weights_only=True) calls
else:  # run_config_v1.py --predict_only, its statements from load_weights to model.predict
    model.load_weights(spec["weights"])
    preprocessing_params = params["preprocessing"]
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    predict_df = pd.read_csv(spec["test"], header=None, names=["seq", "y"], sep="\t")
    predict_data = tf.data.Dataset.from_generator(
        PredictDataGen(df=predict_df, batch_size=params["batch_size"], **preprocessing_params),
        output_signature=(tf.TensorSpec(shape=(preprocessing_params["fix_length"], 4), dtype=tf.float32)),
    ).with_options(options)
    predict_df["y"] = model.predict(predict_data.batch(params["batch_size"], drop_remainder=False), verbose=0,
                                    steps=np.ceil(predict_df.shape[0] / params["batch_size"]))
    json.dump([float(v) for v in predict_df["y"]], open(spec["out"], "w"))
'''


def run_team(mode: str, workdir: Path, shape: dict, **extra) -> None:
    spec = {"mode": mode, "code": str(CODE), "shape": shape, "seed": 0, "weights": str(workdir / WEIGHTS), **extra}
    run_python(_TEAM.format(spec=json.dumps(spec)),
               env={"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
               cwd=workdir)


def team_predictions(workdir: Path, shape: dict, sequences: list[str]) -> np.ndarray:
    test = workdir / "test_sequences.txt"
    test.write_text("".join(f"{s}\t0\n" for s in sequences))
    run_team("predict", workdir, shape, test=str(test), out=str(workdir / "team.json"))
    return np.asarray(json.loads((workdir / "team.json").read_text()), np.float32)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = demo_rows(demo_train, n_regular)
    started = time.perf_counter()
    run_team("save", tmp_path, shape)
    expected = team_predictions(tmp_path, shape, rows)
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("bionml", tmp_path / WEIGHTS, tmp_path / "run",
                             config={"num_heads": shape.get("num_heads", 16)})
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "bionml")
    assert np.ptp(expected) > 0.05, expected
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(rows),
             "lengths": [min(map(len, rows)), max(map(len, rows))], "team_s": round(team_seconds, 1)}
    print("bionml", shape, json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
    return diffs


def test_imported_bionml_predicts_what_the_teams_code_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=6)


@pytest.mark.slow
def test_the_real_size_bionml_imports_equal_to_the_team(tmp_path, demo_train):
    """config39v3 as the team trained it (78.7M weights; a 300 MB weights file)."""
    check_parity(tmp_path, demo_train, {}, n_regular=6)


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("bionml")
    run_team("save", workdir, SMALL)
    return workdir / WEIGHTS


def _import_fails(weights: Path, out: Path, match: str) -> None:
    assert_import_refused("bionml", weights, out, match, config={"num_heads": 2})


def test_a_missing_tensor_is_named_and_nothing_is_written(small_weights, tmp_path):
    def drop(handle):
        group = handle["Prediction_repr"]
        group.attrs["weight_names"] = [n.encode() for n in h5_weight_names(group) if not n.endswith("bias:0")]
    _import_fails(rewrite_h5(small_weights, tmp_path / "w.h5", drop), tmp_path / "run", "Prediction_repr/bias")


def test_an_unexpected_tensor_is_named(small_weights, tmp_path):
    def add(handle):
        group = handle["Prediction_head"]
        group.create_dataset("Prediction_head/extra:0", data=np.zeros(3, np.float32))
        group.attrs["weight_names"] = [n.encode() for n in h5_weight_names(group) + ["Prediction_head/extra:0"]]
    _import_fails(rewrite_h5(small_weights, tmp_path / "w.h5", add), tmp_path / "run", "Prediction_head/extra")


def test_a_wrong_shape_is_named(small_weights, tmp_path):
    def reshape(handle):
        group = handle["Prediction_head"]
        name = next(n for n in h5_weight_names(group) if n.endswith("kernel:0"))
        del group[name]
        group.create_dataset(name, data=np.zeros((15, 1), np.float32))
    _import_fails(rewrite_h5(small_weights, tmp_path / "w.h5", reshape), tmp_path / "run", "Prediction_head/kernel")


def test_truncated_and_foreign_files_are_one_clear_error(small_weights, tmp_path):
    assert_truncated_and_foreign_h5_refused(small_weights, tmp_path, "bionml", "BioNML", config={"num_heads": 2})
