"""``seq2exp import bhi``: the team's own DeepGXP (teams/bhi/code/src/net.py) with random weights, saved as
train_full.py saves it, imported, and compared with the team's own infer_txt.py (--tta 5: shifts x strands) and
postprocess_txt.py (normal-CDF flattening) — in process and through the exported SavedModel on TF Serving's session
path. Rows shorter than 110 bp, which the team pads on a random side, are checked against each of its three
paddings (infer_txt.py --tta 1)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.models.team_code import (
    demo_rows, import_team_module, randomize_torch_model, run_team_script, served_expression, team_dir)

torch = pytest.importorskip("torch")

SMALL = {"conv_out_dim": 16, "conv_kernel_sizes": [9, 15], "lstm_hidden_size": 8}


def save_team_model(path: Path, shape: dict, seed: int = 0) -> Path:
    net = import_team_module("bhi", "net", "src")
    model = net.DeepGXP(**shape)
    randomize_torch_model(model, seed)
    torch.save(model.state_dict(), path)
    return path


def team_predictions(weights: Path, sequences: list[str], workdir: Path, tta: int) -> np.ndarray:
    """infer_txt.py as the README runs it (-s 42 -m DeepGXP --tta N), then postprocess_txt.py. Changes: the CPU
    (``.cuda()`` dropped), the input path, ``wandb`` (imported, never used) stubbed. DeepGXP is built with the
    team's defaults, so only the real size can run the script unchanged; smaller shapes patch ``DeepGXP()``'s
    defaults through the ``assign`` of ``model``."""
    src = team_dir("bhi") / "src"
    target = workdir / f"test_sequences_{tta}.txt"
    target.write_text("".join(f"{s}\t0.0\n" for s in sequences))
    raw, final = workdir / f"raw_{tta}.txt", workdir / f"final_{tta}.txt"
    shape = json.loads(weights.with_suffix(".json").read_text())
    run_team_script(src / "infer_txt.py", ["-i", str(weights), "-s", "42", "-m", "DeepGXP", "--tta", str(tta),
                                           "-o", str(raw)],
                    assign={"data_path": repr(str(target)), "model": f"networks.DeepGXP(**{shape!r})"},
                    no_cuda=True, stub_modules=["wandb"], cwd=workdir)
    run_team_script(src / "postprocess_txt.py", ["-i", str(raw), "-o", str(final)], cwd=workdir)
    values = [float(line.split("\t")[1]) for line in final.read_text().splitlines()]
    assert len(values) == len(sequences)
    return np.asarray(values, np.float32)


def predictions_with(run_dir: Path, sequences, workdir: Path, **changes) -> np.ndarray:
    """The imported run's prediction with its run.json changed (``encoding``/``tta`` entries)."""
    import shutil

    from seq2exp.inference.runs import load_run

    copy = workdir / ("run_" + "_".join(f"{k}{v}" for k, v in sorted(changes.items())).replace(" ", ""))
    shutil.copytree(run_dir, copy)
    info = json.loads((copy / "run.json").read_text())
    for key, value in changes.items():
        section, field = key.split("__")
        info[section][field] = value
    (copy / "run.json").write_text(json.dumps(info))
    return load_run(copy).predict(sequences)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int, short_rows: bool = True) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = demo_rows(demo_train, n_regular)
    whole = [s for s in rows if len(s) >= 110]
    short = [s for s in rows if len(s) < 110]
    weights = save_team_model(tmp_path / "our_trained.ckpt", shape)
    weights.with_suffix(".json").write_text(json.dumps(shape))
    started = time.perf_counter()
    expected = team_predictions(weights, whole, tmp_path, tta=5)
    team_short = team_predictions(weights, short, tmp_path, tta=1) if short_rows else None
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("bhi", weights, tmp_path / "run")
    in_process = load_run(run_dir).predict(whole)
    served = served_expression(run_dir, whole, tmp_path / "models", "deepgxp")
    assert np.ptp(expected) > 0.05
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(whole),
             "team_scripts_s": round(team_seconds, 1)}
    assert diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
    if short_rows:  # the team's draw is one of right / left / both-sides vector padding; seq2exp under each of them
        paddings = np.stack([predictions_with(run_dir, short, tmp_path, encoding__pad=pad, tta__shifts=[0])
                             for pad in ("plasmid_right", "plasmid_left", "plasmid_split")])
        nearest = np.min(np.abs(paddings - team_short[None, :]), axis=0)
        assert np.ptp(team_short) > 0.05
        assert np.min(np.ptp(paddings, axis=0)) > 1e-3  # the three paddings differ: the check means something
        diffs.update(short_rows_nearest_padding=float(np.max(nearest)), n_short_rows=len(short))
        assert diffs["short_rows_nearest_padding"] <= 1e-4, diffs
    print("bhi", shape, json.dumps(diffs))
    return diffs


def test_imported_deepgxp_predicts_what_the_teams_scripts_predict(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=8, short_rows=False)


@pytest.mark.slow
def test_rows_shorter_than_110_match_one_of_the_teams_random_paddings(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=8, short_rows=True)


@pytest.mark.slow
def test_the_real_size_deepgxp_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, {}, n_regular=16)


def test_the_bhi_run_records_the_teams_recipe(tmp_path):
    from seq2exp.training import import_weights

    weights = save_team_model(tmp_path / "w.ckpt", {"conv_out_dim": 12, "conv_kernel_sizes": [5, 9, 11],
                                                    "lstm_hidden_size": 6})
    info = json.loads((import_weights("bhi", weights, tmp_path / "run") / "run.json").read_text())
    config = info["model_config"]
    assert config["first"]["kernel_sizes"] == [5, 9, 11] and config["first"]["filters"] == 12
    assert config["core"]["lstm_units"] == 6 and config["strands"] == "forward" and config["input"]["length"] == 110
    assert info["tta"] == {"reverse_complement": True, "shifts": [-2, -1, 0, 1, 2]}
    assert info["postprocess"] == [{"name": "normal_cdf", "loc": 0.06201038511068657, "scale": 1.0}]
