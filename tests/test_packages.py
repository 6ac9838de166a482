"""Package front doors: every lazily exported name resolves, and the TF-free packages stay free of TensorFlow."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

LAZY_PACKAGES = ["seq2exp.data", "seq2exp.inference", "seq2exp.simulate", "seq2exp.models", "seq2exp.training",
                 "seq2exp.evaluation"]


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
