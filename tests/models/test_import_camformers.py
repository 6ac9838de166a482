"""``seq2exp import camformers``: the team's own CNN (teams/camformers/code/script/camformers_submission.py) with
random weights and BatchNorm statistics, saved as its training saves it, imported, and compared with the team's own
predict_test.py (its OHE padding/cutting, its model settings) — in process and through the exported SavedModel on TF
Serving's session path, on the demo rows the team's OHE accepts (107-113 bp, at most 3 N; the demo has 107-111)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.models.team_code import (
    demo_rows, import_team_module, randomize_torch_model, run_team_script, served_expression, team_dir)

torch = pytest.importorskip("torch")

SMALL = {"out_channels": [16] * 6, "linear_output": [8, 8]}
REAL = {"out_channels": [512] * 6, "linear_output": [256, 256]}  # the script's config block


def team_model(shape: dict, workdir: Path):
    import contextlib
    import sys

    argv, sys.argv = sys.argv, [sys.argv[0], "--cpu"]  # the module parses the command line on import
    try:
        with contextlib.chdir(workdir):  # ... and makes Models/ and Output/ folders where it runs
            module = import_team_module("camformers", "camformers_submission", "script")
    finally:
        sys.argv = argv
    return module.CNN(feature_height=110, feature_width=1, batch_size=256, out_channels=shape["out_channels"],
                      kernels=module.kernels, pool_kernels=module.pool_kernels, paddings=module.paddings,
                      strides=module.strides, pool_strides=module.pool_strides, dropouts=module.dropouts,
                      linear_output=shape["linear_output"], linear_dropouts=module.linear_dropouts)


def team_predictions(weights: Path, shape: dict, sequences: list[str], workdir: Path) -> np.ndarray:
    """predict_test.py (run with --cpu, which its training module reads); its paths and model settings assigned."""
    target = workdir / "test_sequences.txt"
    target.write_text("".join(f"{s}\t0\n" for s in sequences))
    (workdir / "sample.json").write_text(json.dumps({str(i): 0 for i in range(len(sequences))}))
    args = ("feature_height=feature_height, feature_width=feature_width, batch_size=batch_size, print_size=True, "
            f"out_channels={shape['out_channels']!r}, kernels=kernels, pool_kernels=pool_kernels, paddings=paddings, "
            "strides=strides, pool_strides=pool_strides, dropouts=dropouts, "
            f"linear_output={shape['linear_output']!r}, linear_dropouts=linear_dropouts")
    run_team_script(team_dir("camformers") / "script" / "predict_test.py", ["--cpu"],
                    assign={"input_file": repr(str(target)), "model_path": repr(str(weights)),
                            "sub_path": repr(str(workdir / "submission.tsv")),
                            "sample_submission": repr(str(workdir / "sample.json")), "model_args": f"dict({args})"},
                    cwd=workdir)
    lines = (workdir / "submission.tsv").read_text().splitlines()
    assert len(lines) == len(sequences)
    return np.asarray([float(line.split("\t")[1]) for line in lines], np.float32)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = [s for s in demo_rows(demo_train, n_regular) if abs(len(s) - 110) <= 3 and s.count("N") <= 3]
    sequences = [s for s in demo_train.read_text().split() if len(s) > 20]
    rows += [s for s in sequences if len(s) == 111][:3] + [s for s in sequences if len(s) in (107, 108)][:3]
    rows += [s for s in sequences if 0 < s.count("N") <= 3][:1]  # the demo's one row with few enough N
    assert min(map(len, rows)) < 110 < max(map(len, rows)) and any("N" in s for s in rows)
    model = team_model(shape, tmp_path)
    randomize_torch_model(model, seed=0)
    weights = tmp_path / "trained_model.pt"
    torch.save(model.state_dict(), weights)
    started = time.perf_counter()
    expected = team_predictions(weights, shape, rows, tmp_path)
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("camformers", weights, tmp_path / "run")
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "camformers")
    assert np.ptp(expected) > 0.05
    scale = max(1.0, float(np.max(np.abs(expected))))
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "max_abs_prediction": scale,
             "n_rows": len(rows), "team_script_s": round(team_seconds, 1)}
    print("camformers", shape, json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4 * scale and diffs["served"] <= 1e-4 * scale, diffs
    return diffs


def test_imported_camformers_cnn_predicts_what_the_teams_script_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=8)


@pytest.mark.slow
def test_the_real_size_camformers_cnn_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, REAL, n_regular=8)
