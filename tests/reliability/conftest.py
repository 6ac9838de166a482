"""Shared helpers of the bad-input and fault corpus: run a CLI stage in-process, generated inputs, a tiny export."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from tests.serving.conftest import make_tiny_run, random_promoters

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``seq2exp ARGV`` in this process: (exit code, stdout, stderr). An uncaught exception fails the test."""
    from seq2exp.cli import main

    capsys.readouterr()
    try:
        code = main([str(item) for item in argv])
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    captured = capsys.readouterr()
    return int(code), captured.out, captured.err


def assert_one_line_error(result: tuple[int, str, str], stage: str, pattern: str) -> None:
    """Exit 2, no traceback, exactly one ``seq2exp STAGE: error:`` line matching ``pattern``, and nothing else on
    stderr but argparse's usage lines before it (a number refused by :mod:`seq2exp.argtypes` while parsing)."""
    import re

    code, _out, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    errors = [line for line in lines if line.startswith(f"seq2exp {stage}") and ": error: " in line]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    others = [line for line in lines[:-1] if not line.startswith(("usage:", " "))]
    assert not others, err
    assert re.search(pattern, lines[-1]), (pattern, lines[-1])


def dream_text(sequences: list[str], values: list[float] | None = None) -> str:
    values = values if values is not None else [float(i) / 7 for i in range(len(sequences))]
    return "".join(f"{s}\t{v!r}\n" for s, v in zip(sequences, values))


def truncated_gzip(path: Path, text: str) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture(scope="session")
def promoters() -> list[str]:
    return random_promoters(40, seed=3)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """``M/tiny/1`` of a small Conv1D model, exported by ``export_run`` into a model folder that holds a stale and a
    fresh temporary folder of interrupted exports (the export must remove only the stale one)."""
    from seq2exp.serving.config import STALE_EXPORT_SECONDS
    from seq2exp.serving.export import export_run

    root = tmp_path_factory.mktemp("reliability")
    run = make_tiny_run(root / "run", seed=11)
    base = root / "models"
    stale, fresh = base / "tiny" / ".1.tmp-stale", base / "tiny" / ".2.tmp-fresh"
    for folder in (stale, fresh):
        (folder / "variables").mkdir(parents=True)
        (folder / "variables" / "part").write_text("half-written")
    old = os.path.getmtime(stale) - 2 * STALE_EXPORT_SECONDS
    for path in (stale / "variables" / "part", stale / "variables", stale):
        os.utime(path, (old, old))
    export_run(run, base, "tiny", verify=False)
    return base
