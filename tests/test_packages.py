"""Package front doors and layering: every lazy export resolves, the TF-free packages stay free of TensorFlow,
no import cycles (not even through imports inside functions), and the packages import in DESIGN.md's order."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

LAZY_PACKAGES = ["seq2exp.data", "seq2exp.inference", "seq2exp.simulate", "seq2exp.models", "seq2exp.training",
                 "seq2exp.evaluation", "seq2exp.interpret"]


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names
    missing = {}
    for name in names:
        try:
            getattr(module, name)
        except Exception as error:  # noqa: BLE001 - report every broken export
            missing[name] = repr(error)
    assert not missing, missing


def test_importing_the_data_inference_and_evaluation_packages_imports_no_tensorflow():
    code = ("import sys; import seq2exp.data, seq2exp.inference, seq2exp.evaluation, seq2exp.simulate; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')); "
            "assert not loaded, loaded[:5]")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _import_graph() -> dict[str, set[str]]:
    """module -> the seq2exp modules it imports anywhere in its source (module level or inside functions)."""
    import ast

    root = REPO_ROOT / "seq2exp"
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def test_no_import_cycles_even_through_imports_inside_functions():
    graph = _import_graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, "import cycle: " + " -> ".join(path[path.index(target):] + [target])
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


# DESIGN.md "Layout": data <- models <- inference <- training, serving <- job, batch, interpret; evaluation and simulate use
# data only
FORBIDDEN = {
    "data": {"models", "inference", "training", "serving", "evaluation", "simulate", "job", "batch", "interpret"},
    "evaluation": {"models", "inference", "training", "serving", "job", "batch", "interpret"},
    "simulate": {"models", "inference", "training", "serving", "job", "batch", "interpret"},
    "models": {"inference", "training", "serving", "job", "batch", "interpret"},
    "inference": {"training", "serving", "job", "batch", "interpret"},
    "training": {"serving", "job", "batch", "interpret"},
    "serving": {"training", "job", "batch", "interpret"},
    "interpret": {"training", "job", "batch"},
}


def test_packages_import_in_the_documented_order():
    def part(module: str) -> str:
        return module.split(".")[1] if "." in module else module

    wrong = sorted((module, target) for module, targets in _import_graph().items() for target in targets
                   if part(target) in FORBIDDEN.get(part(module), set()))
    assert not wrong, wrong


@pytest.mark.parametrize("preset", [None, "0"])
def test_importing_seq2exp_asks_for_onednn_unless_the_user_chose(preset):
    """``import seq2exp`` sets TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow loads (TensorFlow's own default leaves
    oneDNN off on e.g. AVX2-only AMD CPUs); a value the user set is kept, and TensorFlow sees the result."""
    import os

    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if preset is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = preset
    code = ("import os, seq2exp; from tensorflow.python.util import _pywrap_util_port as port; "
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    value, enabled = done.stdout.split()
    assert value == ("1" if preset is None else "0")
    assert enabled == ("True" if preset is None else "False")
