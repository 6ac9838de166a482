"""``seq2exp import dream_cnn`` / ``dream_rnn`` / ``dream_attn`` (and the two-task Drosophila benchmark DREAM-RNN,
against the benchmark notebook's own prediction cells): the authors' own PrixFixeNet (``../shared/reference/prixfixe``, built
as DREAMNets_BuildModel_Train_and_Predict.py builds it) with random weights and BatchNorm statistics, saved as their
Trainer saves it (``torch.save(model.state_dict())``), imported, and compared with their own ``AutosomePredictor``
(plasmid padding, A/G/C/T one-hot, is_reverse channel, reverse-complement averaging, expected bin) — in process and
through the exported SavedModel on TF Serving's session path. The authors' code runs in a child process."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED, require_shared
from tests.models.team_code import demo_rows, run_python

torch = pytest.importorskip("torch")

REFERENCE = SHARED / "reference"

# the oracle: the authors' blocks, PrixFixeNet, Trainer's save, AutosomePredictor.predict (cwd holds data/plasmid.json)
_ORACLE = r"""
import json, sys
import torch
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["reference"])
from prixfixe.autosome import AutosomeCoreBlock, AutosomeFinalLayersBlock, AutosomePredictor
from prixfixe.bhi import BHIFirstLayersBlock, BHICoreBlock
from prixfixe.prixfixe import PrixFixeNet
from prixfixe.unlockdna import UnlockDNACoreBlock
from tests.models.team_code import randomize_torch_model

generator = torch.Generator()
generator.manual_seed(2147483647)
if spec["net"] == "dream_attn":
    from prixfixe.autosome import AutosomeFirstLayersBlock
    first = AutosomeFirstLayersBlock(in_channels=6, out_channels=spec["first"], seqsize=150)
else:
    first = BHIFirstLayersBlock(in_channels=6, out_channels=spec["first"], seqsize=150, kernel_sizes=[9, 15],
                                pool_size=1, dropout=0.2)
if spec["net"] == "dream_attn":  # as the notebook builds it (num_heads=8, which the Conformer layer ignores: 4)
    core = UnlockDNACoreBlock(in_channels=first.out_channels, out_channels=first.out_channels, seqsize=150,
                              n_blocks=spec["n_blocks"], kernel_size=15, rate=0.1, num_heads=8)
elif spec["net"] == "dream_cnn":
    core = AutosomeCoreBlock(in_channels=first.out_channels, out_channels=spec["core_out"],
                             seqsize=first.infer_outseqsize())
else:
    core = BHICoreBlock(in_channels=first.out_channels, out_channels=spec["core_out"],
                        seqsize=first.infer_outseqsize(), lstm_hidden_channels=spec["lstm"], kernel_sizes=[9, 15],
                        pool_size=1, dropout1=0.2, dropout2=0.5)
final = AutosomeFinalLayersBlock(in_channels=core.out_channels, seqsize=core.infer_outseqsize())
model = PrixFixeNet(first=first, core=core, final=final, generator=generator)
randomize_torch_model(model, spec["seed"])
with torch.no_grad():  # a sharper head: predictions spread over the bins, so the comparison means something
    model.final.mapper[0].weight.mul_(spec["head_scale"])
torch.save(model.state_dict(), spec["weights"])
predictor = AutosomePredictor(model=model, model_pth=spec["weights"], device=torch.device("cpu"))
with torch.no_grad():
    values = [predictor.predict(s) for s in spec["sequences"]]
json.dump(values, open(spec["output"], "w"))
"""

SMALL = {"dream_cnn": {"first": 16, "core_out": 16}, "dream_rnn": {"first": 16, "core_out": 8, "lstm": 8},
         "dream_attn": {"first": 16, "n_blocks": 2, "head_scale": 1.0}}
REAL = {"dream_cnn": {"first": 320, "core_out": 64, "head_scale": 3.0}, "dream_rnn": {"first": 320, "core_out": 320, "lstm": 320},
        "dream_attn": {"first": 256, "n_blocks": 4, "head_scale": 3.0}}  # DREAMNets_BuildModel_Train_and_Predict.py


def authors_model_and_predictions(net: str, shape: dict, sequences: list[str], workdir: Path, seed: int = 0,
                                  head_scale: float = 10.0) -> tuple[Path, np.ndarray]:
    """Build, randomise and save the authors' PrixFixeNet; their AutosomePredictor's predictions on ``sequences``."""
    require_shared(REFERENCE / "prixfixe" / "autosome" / "predictor.py")
    (workdir / "data").mkdir(exist_ok=True)
    plasmid = workdir / "data" / "plasmid.json"
    if not plasmid.exists():
        os.symlink(require_shared(REFERENCE / "data" / "plasmid.json"), plasmid)
    weights, output = workdir / f"{net}_model_best.pth", workdir / f"{net}_predictions.json"
    spec = {"reference": str(REFERENCE), "net": net, "seed": seed, "head_scale": head_scale, **shape,
            "weights": str(weights), "output": str(output), "sequences": sequences}
    repo = str(Path(__file__).resolve().parents[2])
    run_python(_ORACLE.replace("spec = json.loads(sys.argv[1])", f"spec = json.loads({json.dumps(spec)!r})"),
               env={"PYTHONPATH": repo}, cwd=workdir)
    return weights, np.asarray(json.loads(output.read_text()), np.float32)


def served_expression(run_dir: Path, model_base: Path, sequences: list[str]) -> np.ndarray:
    from seq2exp.serving import signatures as names
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import session_run

    export_run(run_dir, model_base, "dream", 1)
    request = {names.SEQUENCES_INPUT: np.array([s.encode() for s in sequences])}
    (served,) = session_run(model_base / "dream" / "1", [(names.SERVING_DEFAULT, request)])
    return np.asarray(served[names.EXPRESSION_OUTPUT])


def check_parity(net: str, tmp_path: Path, demo_train: Path, shape: dict, n_regular: int) -> dict:
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    sequences = demo_rows(demo_train, n_regular)
    started = time.perf_counter()
    weights, expected = authors_model_and_predictions(net, shape, sequences, tmp_path)
    authors_seconds = time.perf_counter() - started
    run_dir = import_weights(net, weights, tmp_path / "run")
    in_process = load_run(run_dir).predict(sequences)
    served = served_expression(run_dir, tmp_path / "models", sequences)
    diffs = {"in_process": float(np.max(np.abs(in_process - expected))),
             "served": float(np.max(np.abs(served - expected))), "n_rows": len(sequences),
             "authors_predictor_s": round(authors_seconds, 1)}
    print(net, shape, json.dumps(diffs), "spread", float(np.ptp(expected)))
    # rows whose predictions differ by 200x the tolerance: the comparison means something (deep random nets at the
    # real size pool most of the row-to-row variation away; the head scale keeps the softmax off saturation)
    assert np.ptp(expected) > 0.02
    assert diffs["in_process"] <= 1e-4, diffs
    assert diffs["served"] <= 1e-4, diffs
    return diffs


@pytest.mark.parametrize("net", ["dream_cnn", "dream_rnn", "dream_attn"])
def test_imported_dream_net_predicts_what_the_authors_predictor_predicts(net, tmp_path, demo_train):
    check_parity(net, tmp_path, demo_train, SMALL[net], n_regular=6)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["dream_cnn", "dream_rnn", "dream_attn"])
def test_the_real_size_dream_net_imports_equal_to_the_authors(net, tmp_path, demo_train):
    check_parity(net, tmp_path, demo_train, REAL[net], n_regular=16)


@pytest.fixture(scope="module")
def small_rnn_file(tmp_path_factory, demo_train) -> Path:
    """The authors' small DREAM-RNN, saved as their Trainer saves it."""
    workdir = tmp_path_factory.mktemp("dream_rnn")
    weights, _ = authors_model_and_predictions("dream_rnn", SMALL["dream_rnn"], demo_rows(demo_train, 1)[:2], workdir)
    return weights


def refused(tmp_path: Path, capsys, architecture: str, weights: Path) -> str:
    """``seq2exp import`` refuses: exit 2, one error line, no run folder (nor a temporary one) written."""
    from seq2exp import cli

    out = tmp_path / "run"
    code = cli.main(["import", architecture, str(weights), "--out", str(out)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("seq2exp import: error:"), err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]
    return lines[0]


def test_a_dream_rnn_file_given_as_dream_cnn_is_one_clear_error(tmp_path, capsys, small_rnn_file):
    line = refused(tmp_path, capsys, "dream_cnn", small_rnn_file)
    assert "not a checkpoint of Prix Fixe DREAM-CNN's model" in line and "dream_rnn" in line, line
    line = refused(tmp_path, capsys, "dream_attn", small_rnn_file)
    assert "not a checkpoint of Prix Fixe DREAM-Attn's model" in line and "dream_rnn" in line, line


def test_a_missing_or_unexpected_dream_rnn_tensor_is_named(tmp_path, capsys, small_rnn_file):
    state = torch.load(small_rnn_file)
    missing = dict(state)
    del missing["core.lstm.bias_hh_l0_reverse"]
    torch.save(missing, tmp_path / "missing.pth")
    line = refused(tmp_path, capsys, "dream_rnn", tmp_path / "missing.pth")
    assert "missing tensor 'core.lstm.bias_hh_l0_reverse'" in line, line
    torch.save(dict(state, **{"core.lstm.weight_ih_l1": state["core.lstm.weight_ih_l0"]}), tmp_path / "extra.pth")
    line = refused(tmp_path, capsys, "dream_rnn", tmp_path / "extra.pth")
    assert "unexpected tensor 'core.lstm.weight_ih_l1'" in line, line


def test_the_dream_run_records_the_authors_recipe(tmp_path, small_rnn_file):
    from seq2exp.models.cli import describe
    from seq2exp.training import import_weights

    info = json.loads((import_weights("dream_rnn", small_rnn_file, tmp_path / "run") / "run.json").read_text())
    config = info["model_config"]
    assert config["first"]["filters"] == 16 and config["first"]["kernel_sizes"] == [9, 15]
    assert config["core"]["lstm_units"] == 8 and config["core"]["filters"] == 8
    assert info["encoding"]["onehot_letters"] == "AGCT" and info["encoding"]["n_value"] == 0.0
    assert info["encoding"]["pad"] == "plasmid_left" and info["encoding"]["length"] == 150
    assert info["encoding"]["rc_channel"] is True and info["encoding"]["singleton_channel"] is True
    assert info["tta"]["reverse_complement"] is True and info["postprocess"] == []
    assert "Prix Fixe" in info["imported_from"]["team"]
    for net in ("dream_cnn", "dream_rnn", "dream_attn"):
        assert describe(net, count_params=False)["imports"] == "pytorch_state_dict"


# ------------------------------------------------------------------------------- the Drosophila benchmark (2 tasks)
_BENCHMARK_ORACLE = r"""
import json, sys
import numpy as np, pandas as pd, torch
from tqdm import tqdm
spec = json.loads(SPEC)
sys.path.insert(0, spec["reference"])
from prixfixe.autosome import AutosomeFinalLayersBlock
from prixfixe.bhi import BHIFirstLayersBlock, BHICoreBlock
from prixfixe.prixfixe import PrixFixeNet
from tests.models.team_code import randomize_torch_model

first = BHIFirstLayersBlock(in_channels=5, out_channels=spec["first"], seqsize=249, kernel_sizes=[9, 15],
                            pool_size=1, dropout=0.2)
core = BHICoreBlock(in_channels=first.out_channels, out_channels=spec["core_out"], seqsize=first.infer_outseqsize(),
                    lstm_hidden_channels=spec["lstm"], kernel_sizes=[9, 15], pool_size=1, dropout1=0.2, dropout2=0.5)
final = AutosomeFinalLayersBlock(in_channels=core.out_channels)
model = PrixFixeNet(first=first, core=core, final=final, generator=torch.Generator().manual_seed(42))
randomize_torch_model(model, spec["seed"])
torch.save(model.state_dict(), "model_weight/model_best_MSE.pth")  # what the notebook's cell 16 loads
TEST_DATA_PATH, MODEL_LOG_DIR, device = spec["test"], "model_weight", torch.device("cpu")
notebook = json.load(open(spec["notebook"]))
for index in (16, 17):  # the notebook's prediction cells, as they are
    exec("".join(notebook["cells"][index]["source"]))
json.dump({"dev": [v[0] for v in pred_expr_dev], "hk": [v[0] for v in pred_expr_hk]}, open("predictions.json", "w"))
"""


def test_the_drosophila_two_task_dream_rnn_imports_equal_to_the_benchmark_notebook(tmp_path):
    from seq2exp.inference.runs import load_run
    from seq2exp.training import import_weights

    bench = REFERENCE / "prixfixe_benchmarks" / "drosophila"
    notebook = require_shared(bench / "DREAMNets_buildModel_Train_Predict.ipynb")
    table = require_shared(SHARED / "data" / "dream_benchmarks" / "drosophila_starr" / "sample_test.txt")
    lines = table.read_text().splitlines()
    header = lines[0].split("\t")
    plus = [line for line in lines[1:] if "_+_" in line.split("\t")[header.index("ID")]][:12]
    (tmp_path / "test.txt").write_text("\n".join([lines[0], *plus]) + "\n")
    (tmp_path / "model_weight").mkdir()
    spec = {"reference": str(bench), "first": 16, "core_out": 8, "lstm": 8, "seed": 0,
            "test": str(tmp_path / "test.txt"), "notebook": str(notebook)}
    repo = str(Path(__file__).resolve().parents[2])
    run_python(_BENCHMARK_ORACLE.replace("SPEC", repr(json.dumps(spec))), env={"PYTHONPATH": repo}, cwd=tmp_path)
    authors = json.loads((tmp_path / "predictions.json").read_text())
    expected = np.stack([authors["dev"], authors["hk"]], axis=1).astype(np.float32)

    run_dir = import_weights("dream_rnn", tmp_path / "model_weight" / "model_best_MSE.pth", tmp_path / "run")
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model_config"]["tasks"] == ["y1", "y2"] and info["encoding"]["length"] == 249
    assert info["encoding"]["singleton_channel"] is False and info["tta"]["reverse_complement"] is False
    sequences = [line.split("\t")[header.index("Sequence")] for line in plus]
    got = np.asarray(load_run(run_dir).predict(sequences))
    served = served_expression(run_dir, tmp_path / "models", sequences)
    assert got.shape == served.shape == expected.shape == (len(plus), 2)
    diffs = {"in_process": float(np.max(np.abs(got - expected))), "served": float(np.max(np.abs(served - expected))),
             "n_rows": len(plus), "spread": float(np.min(np.ptp(expected, axis=0)))}
    print("drosophila dream_rnn", json.dumps(diffs))
    assert diffs["spread"] > 0.02 and diffs["in_process"] <= 1e-4 and diffs["served"] <= 1e-4, diffs
