"""``seq2exp import bugf``: the team's own TransformerNet (teams/bugf/code/nndef_exp_alibi.py: one encoder layer
shared ``depth`` times) with random weights, saved as its training saves it (a ``state_dict`` listing the tied layer
once per depth), imported, and compared with the team's own pytorch_challenge.py (its ``seq[17:-13]`` tokens padded
with 5 to 112, its expected bin) — in process and through the exported SavedModel on TF Serving's session path, on
real demo rows shorter and longer than 110 bp and rows with N. A file whose layer copies differ is refused."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.models.team_code import (
    demo_rows, import_team_module, randomize_torch_model, run_team_script, served_expression, team_dir)

torch = pytest.importorskip("torch")
pytest.importorskip("einops")  # the team's nndef_exp_alibi.py imports it (README: einops 0.4.1)

SMALL = {"width": 32, "depth": 3, "heads": 16}
REAL = {"width": 512, "depth": 16, "heads": 16}  # pytorch_challenge.py: TransformerNet(512, 16, 16)
SCALE = 1000  # the script prints 3 decimals: its bin values [0..17] x 1000 carry 6


def save_team_model(path: Path, shape: dict, seed: int = 0) -> Path:
    module = import_team_module("bugf", "nndef_exp_alibi")
    model = module.TransformerNet(shape["width"], shape["depth"], shape["heads"])
    randomize_torch_model(model, seed)
    with torch.no_grad():  # the mean over 112 positions evens rows out: larger embeddings and a softer bin head
        model.embed.weight.mul_(4)  # keep the rows apart (the softmax unsaturated, biases non-zero)
        model.to_exp.weight.mul_(0.3)
        model.to_exp.bias.mul_(0.3)
    torch.save(model.state_dict(), path)  # xm.save(network.state_dict(), ...) moves to the CPU, then torch.save
    return path


def team_predictions(workdir: Path, shape: dict, sequences: list[str]) -> np.ndarray:
    """pytorch_challenge.py test_sequences.txt -q, reading FINAL_exp_model.pt in its folder. Changes: the CPU for
    the TPU (``torch_xla`` stubbed, ``device``), the model's size, its bin values scaled by ``SCALE``."""
    target = workdir / "test_sequences.txt"
    target.write_text("".join(f"{s}\t0\n" for s in sequences))
    result = run_team_script(team_dir("bugf") / "pytorch_challenge.py", [str(target), "-q"],
                             assign={"device": "torch.device('cpu')",
                                     "network": f"TransformerNet({shape['width']}, {shape['depth']}, "
                                                f"{shape['heads']}).to(device)",
                                     "binvals": f"torch.arange(18, device=device).unsqueeze(0) * {SCALE}.0"},
                             stub_modules=["torch_xla", "torch_xla.core", "torch_xla.core.xla_model"], cwd=workdir)
    values = [float(line) / SCALE for line in result.stdout.split()]
    assert len(values) == len(sequences)
    return np.asarray(values, np.float32)


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = demo_rows(demo_train, n_regular)
    assert any("N" in s for s in rows)
    weights = save_team_model(tmp_path / "FINAL_exp_model.pt", shape)
    started = time.perf_counter()
    expected = team_predictions(tmp_path, shape, rows)
    team_seconds = time.perf_counter() - started
    run_dir = import_weights("bugf", weights, tmp_path / "run", config={"heads": shape["heads"]})
    in_process = load_run(run_dir).predict(rows)
    served = served_expression(run_dir, rows, tmp_path / "models", "bugf")
    scale = max(1.0, float(np.max(np.abs(expected))))
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "max_abs_prediction": scale,
             "n_rows": len(rows), "row_lengths": [min(map(len, rows)), max(map(len, rows))],
             "team_script_s": round(team_seconds, 1)}
    print("bugf", shape, json.dumps(diffs))
    assert np.ptp(expected) > 0.2  # rows told apart (0.39 at the real size, 0.9 small)
    assert diffs["in_process"] <= 1e-4 * scale and diffs["served"] <= 1e-4 * scale, diffs
    return diffs


def test_imported_bugf_transformer_predicts_what_the_teams_script_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=6)


def test_a_state_dict_whose_layer_copies_differ_is_not_bugfs_tied_model(tmp_path):
    from seq2exp.models.importing.checkpoint import CheckpointError
    from seq2exp.training import import_weights

    weights = save_team_model(tmp_path / "FINAL_exp_model.pt", SMALL)
    tensors = torch.load(weights, weights_only=True)
    tensors = {name: value.clone() for name, value in tensors.items()}  # untie the copies
    tensors["seqencoder.2.attn.to_key.weight"] += 0.01
    torch.save(tensors, weights)
    with pytest.raises(CheckpointError, match=r"'seqencoder\.2\.attn\.to_key\.weight' differs from 'seqencoder\.0"):
        import_weights("bugf", weights, tmp_path / "run", config={"heads": 16})
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_real_size_bugf_transformer_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, REAL, n_regular=6)
