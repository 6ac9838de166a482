"""``seq2exp import autosome``: the team's own SeqNN (teams/autosome/code/model.py) with random weights and BatchNorm
statistics, saved as train.py saves it, imported, and compared with the team's own test.py (its padding, channel
order, reverse-complement averaging and expected bin) — in process and through the exported SavedModel on TF
Serving's session path."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.models.team_code import demo_rows, import_team_module, randomize_torch_model, run_team_script, team_dir

torch = pytest.importorskip("torch")  # the `import` extra (in the dev extra)

SMALL = {"blocks": [32, 16, 16], "ks": 7}
REAL = {"blocks": [256, 128, 128, 64, 64, 64, 64], "ks": 7}  # test.sh


def save_team_model(path: Path, blocks, ks: int, seed: int = 0, single: bool = True) -> Path:
    """The team's SeqNN from its own model.py, randomised, saved as its train.py does."""
    model_module = import_team_module("autosome", "model")
    model = model_module.SeqNN(seqsize=150, use_single_channel=single, block_sizes=list(blocks), ks=ks)
    randomize_torch_model(model, seed)
    with torch.no_grad():  # a sharper head: predictions that spread over the bins make the comparison telling
        model.mapper[0].weight.mul_(10.0)
    torch.save(model.state_dict(), path)
    return path


def team_predictions(weights: Path, sequences: list[str], blocks, ks: int, workdir: Path) -> np.ndarray:
    """The team's test.py (as test.sh calls it) on ``sequences``; its only change: the CPU instead of cuda:0.
    The second column is a non-integer so that test.py's is_singleton is 0, as the team's report says."""
    target = workdir / "test_sequences.txt"
    target.write_text("".join(f"{s}\t0.5\n" for s in sequences))
    output = workdir / "results.txt"
    run_team_script(team_dir("autosome") / "test.py",
                    ["--seed", "42", "--valid_batch_size", "1024", "--valid_workers", "0", "--seqsize", "150",
                     "--use_single_channel", "--singleton_definition", "integer", "--ks", str(ks),
                     "--blocks", *map(str, blocks), "--resize_factor", "4", "--se_reduction", "4", "--final_ch", "18",
                     "--target", str(target), "--delimiter", "tab", "--output_format", "tsv",
                     "--output", str(output), "--model", str(weights)],
                    assign={"device": 'torch.device("cpu")'}, cwd=workdir)
    values = [float(line.split("\t")[1]) for line in output.read_text().splitlines()]
    assert len(values) == len(sequences)
    return np.asarray(values, np.float32)


def served_expression(run_dir: Path, model_base: Path, sequences: list[str]) -> np.ndarray:
    from seq2exp.serving import signatures as names
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import session_run

    export_run(run_dir, model_base, "legnet", 1)
    request = {names.SEQUENCES_INPUT: np.array([s.encode() for s in sequences])}
    (served,) = session_run(model_base / "legnet" / "1", [(names.SERVING_DEFAULT, request)])
    return np.asarray(served[names.EXPRESSION_OUTPUT])


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    sequences = demo_rows(demo_train, n_regular)
    weights = save_team_model(tmp_path / "model_80.pth", shape["blocks"], shape["ks"])
    started = time.perf_counter()
    expected = team_predictions(weights, sequences, shape["blocks"], shape["ks"], tmp_path)
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("autosome", weights, tmp_path / "run")
    run = load_run(run_dir)
    in_process = run.predict(sequences)
    served = served_expression(run_dir, tmp_path / "models", sequences)
    assert np.ptp(expected) > 0.1  # random weights that move the prediction: the comparison means something
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "team_test_py_s": round(team_seconds, 1)}
    print("autosome", shape["blocks"], json.dumps(diffs))
    assert diffs["in_process"] <= 1e-4, diffs
    assert diffs["served"] <= 1e-4, diffs
    return diffs


def test_imported_legnet_predicts_what_the_teams_test_py_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=10)


@pytest.mark.slow
def test_the_real_size_legnet_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, REAL, n_regular=24)


def test_the_run_records_the_teams_recipe_and_the_shapes_read_off_the_file(tmp_path):
    from seq2exp.training import import_weights

    weights = save_team_model(tmp_path / "model.pth", [32, 16, 16], ks=5, single=False)
    info = json.loads((import_weights("autosome", weights, tmp_path / "run") / "run.json").read_text())
    config = info["model_config"]
    assert config["first"] == {"block": "autosome", "filters": 32, "kernel_size": 5}
    assert config["core"]["block_sizes"] == [16, 16] and config["core"]["kernel_size"] == 5
    assert info["encoding"]["onehot_letters"] == "AGCT" and info["encoding"]["singleton_channel"] is False
    assert info["encoding"]["pad"] == "plasmid_left" and info["encoding"]["length"] == 150
    assert info["tta"] == {"reverse_complement": True, "shifts": [0]}
    assert info["imported_from"]["team"] == "Autosome.org" and len(info["imported_from"]["sha256"]) == 64
    assert "LegNet" in info["model_card"]["citation"]
