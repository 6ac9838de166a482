"""``seq2exp import wztr``: the team's own ``Hybrid_CNN`` (teams/wztr/code/seq2exp/models.py, a
``pytorch_lightning.LightningModule``) with random weights and BatchNorm statistics, saved as the team saves it —
Lightning's checkpoint (``trainer.save_checkpoint``: what ``ModelCheckpoint`` writes, the team's published
``best_checkpoint.ckpt``) and ``trainner.py``'s ``torch.save(model.state_dict())`` — imported, and compared with the
team's own prediction path (``data.load_data(test_mode=True)`` -> ``trainer.predict(ckpt_path=...)`` ->
``tools.generate_submission_txt``), in process and through the exported SavedModel on TF Serving's session path.

The team named its package ``seq2exp`` too: its code runs in a child process with its folder first on ``sys.path``,
without PYTHONPATH, and with every path entry and import hook that could give this project's ``seq2exp`` removed;
the child checks that ``seq2exp`` is the team's folder."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED
from tests.models.team_code import demo_rows, randomize_torch_model, served_expression

pytest.importorskip("torch")
pytest.importorskip("pytorch_lightning")  # the team's models.py imports it (team-code extra)
pytest.importorskip("einops")  # the team's layers.py imports it

CODE = SHARED / "reference" / "teams" / "wztr" / "code"
# train_model.py's arguments (kernel_length 5, kernel_size 3, pooling avg 2, dilation_list 1 2 4 6, relu) with
# fewer / narrower layers; filter_number and hidden_size are Hybrid_CNN's own defaults (256) at real size
SMALL = {"kernel_number": 16, "conv_layers": 2, "conv_repeat": 2, "filter_number": 8, "hidden_size": 8}
REAL = {"kernel_number": 1024, "conv_layers": 6, "conv_repeat": 3}

_TEAM = r'''
import json, os, sys
spec = json.loads(sys.argv[1])
# this project's seq2exp must not be importable here: the team's package has the same name
sys.path = [p for p in sys.path if not os.path.isfile(os.path.join(p or os.getcwd(), "seq2exp", "__init__.py"))]
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in repr(finder).lower()]
sys.path_hooks = [hook for hook in sys.path_hooks if "editable" not in repr(hook).lower()]
sys.path_importer_cache.clear()
sys.path.insert(0, spec["code"])
import seq2exp
team_package = os.path.realpath(os.path.join(spec["code"], "seq2exp"))
assert [os.path.realpath(p) for p in seq2exp.__path__] == [team_package], seq2exp.__path__
from seq2exp import data, models, tools, trainner
import numpy as np, torch
import pytorch_lightning as pl
exec(spec["randomize"])
arguments = dict(pooling_size=2, padding="same", kernel_length=5, pooling_type="avg", kernel_size=3, dropout=0.2,
                 mixup=False, loss="mse", first_conv_activation="relu", dilation_list=[1, 2, 4, 6])  # train_model.py
model = models.Hybrid_CNN(**{**arguments, **spec["shape"]})
trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=False)
if spec["mode"] == "save":
    randomize_torch_model(model, seed=spec["seed"])
    with torch.no_grad():  # random weights, but an output bias that keeps most rows above the final ReLU's zero,
        generator = torch.Generator().manual_seed(1)
        bases = torch.nn.functional.one_hot(torch.randint(0, 4, (64, 110), generator=generator), 4).float()
        probe = torch.nn.functional.pad(bases, (0, 0, 0, 32))  # DF2array's 142, zeros on the right
        # BatchNorm statistics: each layer's statistics on random sequences, then randomised around them (scaled
        # variances, shifted means), so that 18 residual blocks keep their activations near 1 instead of ~1e5
        norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative: the probe batch's own statistics
        model.train()
        model(probe)
        model.eval()
        for norm in norms:
            norm.momentum = 0.1
            norm.running_var.mul_(torch.rand(norm.running_var.shape, generator=generator) * 1.5 + 0.5)
            norm.running_mean.add_(torch.randn(norm.running_mean.shape, generator=generator) * 0.3
                                   * norm.running_var.sqrt())
        captured = []
        hook = model.out[0].register_forward_hook(lambda module, inputs, output: captured.append(output))
        model(probe)
        hook.remove()
        # and an output layer scaled to unit spread
        out = model.out[0]
        spread = captured[0].std()
        out.weight.div_(spread)
        out.bias.div_(spread)
        out.bias.add_(3 - (captured[0] / spread).median())
    trainer.strategy.connect(model)
    trainer.save_checkpoint(spec["ckpt"])  # what ModelCheckpoint writes (best_checkpoint.ckpt)
    trainner.Trainner(model, None, None, "cpu", None, None)._save_model(spec["pt"])  # torch.save(state_dict)
else:  # train_model.py's prediction statements
    testloader = data.load_data(spec["test"], batch_size=512, sample_rate=1, num_workers=0, test_mode=True)
    prediction = trainer.predict(model, ckpt_path=spec["ckpt"], dataloaders=testloader)
    prediction = torch.cat(prediction, dim=0).cpu().numpy()
    tools.generate_submission_txt(prediction, spec["test"], spec["out"])
'''


def run_team(mode: str, workdir: Path, shape: dict, **extra) -> None:
    spec = {"mode": mode, "code": str(CODE), "shape": shape, "seed": 0, "ckpt": str(workdir / "best_checkpoint.ckpt"),
            "pt": str(workdir / "model.pt"), "randomize": inspect.getsource(randomize_torch_model), **extra}
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", _TEAM, json.dumps(spec)], cwd=workdir, capture_output=True,
                            text=True, timeout=900, env={**env, "CUDA_VISIBLE_DEVICES": ""})
    if result.returncode != 0:
        raise AssertionError(f"the team's code failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def check_parity(tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    rows = demo_rows(demo_train, n_regular)
    test = tmp_path / "test_sequences.txt"
    test.write_text("".join(f"{s}\t0\n" for s in rows))
    started = time.perf_counter()
    run_team("save", tmp_path, shape)
    run_team("predict", tmp_path, shape, test=str(test), out=str(tmp_path / "final_prediction.txt"))
    team_seconds = time.perf_counter() - started
    lines = (tmp_path / "final_prediction.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == rows
    expected = np.asarray([float(line.split("\t")[1]) for line in lines], np.float32)
    assert np.ptp(expected) > 0.05 and np.mean(expected > 0) > 0.5, expected  # the ReLU output is not all zeros
    diffs = {"n_rows": len(rows), "team_s": round(team_seconds, 1)}
    for kind, weights in (("ckpt", "best_checkpoint.ckpt"), ("state_dict", "model.pt")):
        run_dir = import_weights("wztr", tmp_path / weights, tmp_path / f"run_{kind}")
        in_process = load_run(run_dir).predict(rows)
        diffs[f"{kind}_in_process"] = float(np.max(np.abs(in_process - expected)))
    served = served_expression(tmp_path / "run_ckpt", rows, tmp_path / "models", "wztr")
    diffs["served"] = float(np.max(np.abs(served - expected)))
    print("wztr", shape, json.dumps(diffs))
    assert max(value for key, value in diffs.items() if key.endswith(("process", "served"))) <= 1e-4, diffs
    return diffs


def test_imported_hybrid_cnn_predicts_what_the_teams_code_predicts(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, SMALL, n_regular=6)


@pytest.mark.slow
def test_the_real_size_hybrid_cnn_imports_equal_to_the_team(tmp_path, demo_train):
    check_parity(tmp_path, demo_train, REAL, n_regular=6)


@pytest.fixture(scope="module")
def small_state_dict(tmp_path_factory) -> dict:
    import torch

    workdir = tmp_path_factory.mktemp("wztr")
    run_team("save", workdir, SMALL)
    return torch.load(workdir / "model.pt", weights_only=True)


def _import_fails(state: dict | bytes, tmp_path: Path, match: str) -> None:
    import torch

    from seq2exp.models.importing import CheckpointError
    from seq2exp.training import import_weights

    path = tmp_path / "bad.pt"
    if isinstance(state, bytes):
        path.write_bytes(state)
    else:
        torch.save(state, path)
    with pytest.raises(CheckpointError, match=match):
        import_weights("wztr", path, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_missing_tensor_is_named(small_state_dict, tmp_path):
    state = dict(small_state_dict)
    del state["convlayers.1.fn.layers.2.1.running_var"]
    _import_fails(state, tmp_path, "convlayers.1.fn.layers.2.1.running_var")


def test_an_unexpected_tensor_is_named(small_state_dict, tmp_path):
    import torch

    _import_fails({**small_state_dict, "fclayers.0.2.weight": torch.zeros(3)}, tmp_path, "fclayers.0.2.weight")


def test_a_wrong_shape_is_named(small_state_dict, tmp_path):
    import torch

    _import_fails({**small_state_dict, "out.0.weight": torch.zeros(1, 9)}, tmp_path, "out.0.weight")


def test_other_dilations_than_the_files_branches_are_refused(small_state_dict, tmp_path):
    import torch

    from seq2exp.models.importing import CheckpointError
    from seq2exp.training import import_weights

    torch.save(small_state_dict, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="dilated branches"):
        import_weights("wztr", tmp_path / "model.pt", tmp_path / "run", config={"core": {"dilation_rates": [1, 2]}})
    assert not (tmp_path / "run").exists()


def test_truncated_and_foreign_files_are_one_clear_error(small_state_dict, tmp_path):
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(small_state_dict, buffer)
    _import_fails(buffer.getvalue()[:2000], tmp_path, "not a readable PyTorch state_dict")
    _import_fails({"conv0.weight": torch.zeros(2, 4, 3)}, tmp_path, "not a checkpoint of wztr")
