"""Tests of the scripts in benchmarks/ (which are scripts, not a package)."""
from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import REPO_ROOT


def load_benchmark(filename: str) -> ModuleType:
    """``benchmarks/<filename>`` imported as a module of its own."""
    path = REPO_ROOT / "benchmarks" / filename
    spec = importlib.util.spec_from_file_location(f"benchmark_{path.stem.lstrip('_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
