"""Shared fixtures. Real demo data is read from ../shared (never copied into the repo)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEQ2EXP_SHARED", REPO_ROOT.parent / "shared"))
DEMO_DIR = SHARED / "data" / "dream_demo"


def require_shared(path: Path) -> Path:
    """``path`` under ../shared, or a loud test failure: CI always has ../shared, so a missing file is an error
    (set ``SEQ2EXP_SHARED`` to point elsewhere), never a reason to skip."""
    if not path.exists():
        pytest.fail(f"{path} not found: the tests need the shared folder (../shared, or SEQ2EXP_SHARED)",
                    pytrace=False)
    return path


def copy_first_lines(source: Path, path: Path, n: int) -> Path:
    """Write the first ``n`` lines of ``source`` (e.g. real demo rows for a small training file) to ``path``."""
    with open(source) as handle:
        path.write_text("".join(line for _, line in zip(range(n), handle)))
    return path


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The real DREAM demo data folder (a test failure, not a skip, if ../shared is not there)."""
    require_shared(DEMO_DIR / "demo_train.txt")
    return DEMO_DIR


@pytest.fixture(scope="session")
def demo_train(demo_dir: Path) -> Path:
    return demo_dir / "demo_train.txt"


@pytest.fixture(scope="session")
def demo_subsets(demo_dir: Path) -> Path:
    return demo_dir / "test_subset_ids"


@pytest.fixture(scope="session")
def demo_plasmid(demo_dir: Path) -> Path:
    return demo_dir / "plasmid.json"
