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


# The default run hands test files (and test classes) to two pytest-xdist workers one at a time, in collection order
# (pytest.ini: ``--dist loadscope --no-loadscope-reorder``; xdist's own order, most tests first, handed out files
# of few but long tests last, and one worker then sat idle 39 s while the other finished them). These take 20 s or
# more of one worker on 2 cores; handed out first, longest first, the two workers finish together.
LONG_SCOPES_FIRST = (
    "tests/models/test_registry.py",
    "tests/models/test_registry_smoke.py::TestSmokeSecondOfPairs",
    "tests/models/test_registry_smoke.py::TestSmokeFirstOfPairs",
    "tests/training/test_distributed.py",
    "tests/serving/test_session_path.py",
    "tests/test_job.py",
    "tests/models/test_import_prixfixe.py",
    "tests/models/test_import_bhi.py",
    "tests/docs/test_code_blocks.py",
    "tests/models/test_import_bionml.py",
    "tests/models/test_layers_blocks.py",
    "tests/models/test_import_nad.py",
    "tests/training/test_real_data_learning.py",
    "tests/models/test_import_mt.py",
    "tests/models/test_import_high_schoolers.py",
    "tests/models/test_import_unlock_dna.py",
    "tests/models/test_import_wztr.py",
    "tests/benchmarks/test_models.py",
    "tests/serving/test_server.py",
)


def long_scope_rank(nodeid: str) -> int:
    """Where a test's file or class stands in ``LONG_SCOPES_FIRST`` (after them all if it is not there)."""
    return next((rank for rank, scope in enumerate(LONG_SCOPES_FIRST) if nodeid.startswith(scope + "::")),
                len(LONG_SCOPES_FIRST))


def pytest_collection_modifyitems(config, items):
    """The long files and classes first (a stable sort: every file keeps its own order, the rest theirs)."""
    items.sort(key=lambda item: long_scope_rank(item.nodeid))


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
