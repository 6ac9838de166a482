"""Running the teams' own code (``../shared/reference/teams/<team>/code``) as the oracle of ``seq2exp import``.

Nothing here is copied from the teams: their files are read from ../shared and executed as they are, in a child
process, with only the substitutions listed by each caller (e.g. ``device = torch.device("cpu")`` where the team's
script hard-codes a CUDA device).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from tests.conftest import SHARED, require_shared

TEAMS = SHARED / "reference" / "teams"

_RUNNER = r"""
import ast, json, sys
spec = json.loads(sys.argv[1])
source = open(spec["script"]).read()
tree = ast.parse(source)
replaced = set()
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        name = node.targets[0].id
        if name in spec["assign"]:
            node.value = ast.parse(spec["assign"][name], mode="eval").body
            replaced.add(name)
missing = set(spec["assign"]) - replaced
if missing:
    raise SystemExit(f"the team's script has no assignment to {sorted(missing)}")
if spec["no_cuda"]:  # x.cuda() -> x: the team's GPU-only scripts on the CPU
    class NoCuda(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, ast.Attribute) and node.func.attr == "cuda" and not node.args:
                return node.func.value
            return node
    tree = NoCuda().visit(tree)
import types
for name in spec["stub_modules"]:  # modules the script imports but never needs here (e.g. wandb)
    sys.modules[name] = types.ModuleType(name)
sys.path.insert(0, spec["code_dir"])
sys.argv = [spec["script"], *spec["argv"]]
exec(compile(ast.fix_missing_locations(tree), spec["script"], "exec"), {"__name__": "__main__"})
"""


def team_dir(team: str) -> Path:
    return require_shared(TEAMS / team / "code")


def run_team_script(script: Path, argv: Sequence[str], *, assign: Mapping[str, str] | None = None,
                    no_cuda: bool = False, stub_modules: Sequence[str] = (), cwd: Path | None = None,
                    timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the team's ``script`` with ``argv`` in a child process; ``assign``: ``{variable: python expression}``
    replacing the value of the script's assignments to those names (each must exist); ``no_cuda``: every
    ``x.cuda()`` becomes ``x``; ``stub_modules``: empty modules for imports the run never uses (``wandb``)."""
    spec = {"script": str(script), "code_dir": str(script.parent), "argv": list(argv), "assign": dict(assign or {}),
            "no_cuda": no_cuda, "stub_modules": list(stub_modules)}
    result = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(spec)], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"the team's {script.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def import_team_module(team: str, module: str, relative: str = ""):
    """Import ``module`` from the team's code folder (``relative``: a sub-folder) in this process."""
    import importlib

    folder = str(team_dir(team) / relative)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(module)


def parse_ok(path: Path) -> bool:
    """Whether the team's file parses (a guard for the AST substitution)."""
    ast.parse(path.read_text())
    return True


def randomize_torch_model(model, seed: int = 0) -> None:
    """Random weights AND random BatchNorm statistics (so a transposed kernel or a swapped statistic shows).

    Kernels get ``N(0, 1.5 / sqrt(fan_in))`` so that a deep model's activations stay finite and the comparison
    is not drowned in saturated softmaxes; vectors (biases, CP weights) ``N(0, 0.3)``; BatchNorm scales U(0.5, 1.5),
    running means N(0, 0.3), running variances U(0.5, 2).
    """
    import math

    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _name, parameter in model.named_parameters():
            if parameter.dim() > 1:
                scale = 1.5 / math.sqrt(math.prod(parameter.shape[1:]))
            else:
                scale = 0.3
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) * 1.5 + 0.5)
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
    model.eval()


def demo_rows(demo_train: Path, n_regular: int = 10) -> list[str]:
    """Real demo sequences: the 4 shortest and 4 longest rows, 3 with ``N``, and ``n_regular`` of 110 bp."""
    sequences = [line.split("\t")[0] for line in demo_train.read_text().splitlines() if line.strip()]
    by_length = sorted(range(len(sequences)), key=lambda i: (len(sequences[i]), i))
    chosen = by_length[:4] + by_length[-4:]
    chosen += [i for i, s in enumerate(sequences) if "N" in s][:3]
    chosen += [i for i, s in enumerate(sequences) if len(s) == 110 and "N" not in s][:n_regular]
    rows = [sequences[i] for i in dict.fromkeys(chosen)]
    assert min(map(len, rows)) < 110 < max(map(len, rows))
    return rows


def notebook_cells(path: Path) -> dict[int, str]:
    """The code cells of a team notebook reduced to ``# %% [cell N]`` blocks: ``{N: source}``."""
    import re

    cells, current, lines = {}, None, []
    for line in path.read_text().splitlines():
        match = re.match(r"# %% \[cell (\d+)\]", line)
        if match:
            if current is not None:
                cells[current] = "\n".join(lines)
            current, lines = int(match.group(1)), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        cells[current] = "\n".join(lines)
    return cells


def run_python(code: str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python (e.g. under ``TF_USE_LEGACY_KERAS=1``: a team's TF 2.x Keras 2 code)."""
    import os

    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **dict(env or {})})
    if result.returncode != 0:
        raise AssertionError(f"the team's code failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


def rewrite_h5(source: Path, target: Path, edit, group: str | None = None) -> Path:
    """A copy of a Keras HDF5 weights/model file with ``edit`` applied to its root (or to ``group`` in it, e.g. a
    whole-model file's ``model_weights``): how the import tests make a bad checkpoint from a good one."""
    import shutil

    import h5py

    shutil.copy(source, target)
    with h5py.File(target, "r+") as handle:
        edit(handle if group is None else handle[group])
    return target


def h5_weight_names(group) -> list[str]:
    """A Keras HDF5 layer group's ``weight_names`` attribute as text."""
    return [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]


def assert_import_refused(architecture: str, weights: Path, out: Path, match: str,
                          config: Mapping | None = None) -> None:
    """``import_weights`` refuses ``weights`` with a CheckpointError matching ``match`` and writes no ``out``."""
    import pytest

    from seq2exp.models.importing import CheckpointError
    from seq2exp.training import import_weights

    with pytest.raises(CheckpointError, match=match):
        import_weights(architecture, weights, out, config=config)
    assert not out.exists()


def assert_truncated_and_foreign_h5_refused(weights: Path, tmp_path: Path, architecture: str, team: str,
                                            config: Mapping | None = None) -> None:
    """A Keras HDF5 importer refuses the first 4 KiB of ``weights`` and another model's weights file, each with one
    clear error naming what is wrong (the team for the foreign file)."""
    import keras

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(weights.read_bytes()[:4096])
    assert_import_refused(architecture, truncated, tmp_path / "run1", "not a readable Keras HDF5", config)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense_out")])
    other.save_weights(tmp_path / "other.weights.h5")
    assert_import_refused(architecture, tmp_path / "other.weights.h5", tmp_path / "run2",
                          f"not a checkpoint of {team}", config)


def served_expression(run_dir: Path, rows: Sequence[str], model_base: Path, name: str):
    """``export_run`` of an imported run as ``model_base/name/1``, then its ``expression`` for ``rows`` through TF
    Serving's session path (``loader.load`` + ``Session.run`` by the ``serving_default`` SignatureDef's tensor
    names): the served side of every import parity test."""
    import numpy as np

    import seq2exp.serving.signatures as names
    from seq2exp.serving.export import export_run
    from tests.serving.conftest import session_run

    export_run(run_dir, model_base, name, 1)
    (served,) = session_run(model_base / name / "1",
                            [(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: np.array([s.encode() for s in rows])})])
    return np.asarray(served[names.EXPRESSION_OUTPUT])
