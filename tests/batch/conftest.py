"""Batch-pipeline fixtures: the tiny model exported once, input files with good and bad rows, the embedded server."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

try:
    import apache_beam  # noqa: F401
except ImportError:  # the dev extra installs Beam: a missing one is a broken install, not a reason to skip
    raise ImportError('tests/batch need apache-beam: pip install -e ".[dev]" (or "seq2exp[beam]")') from None

from tests.serving.conftest import make_tiny_run, random_promoters


def assert_same_rows(ours: list[list[str]], reference: list[list[str]]) -> None:
    """Prediction rows (``id, sequence, value...``) with the same ids and sequences in the same order, and the same
    values up to float32 rounding: ``seq2exp batch`` and ``seq2exp predict`` group rows into different batches, and
    oneDNN's AVX2 kernels can round a row differently in another batch size (its last printed digit)."""
    assert [row[:2] for row in ours] == [row[:2] for row in reference]
    np.testing.assert_allclose(np.array([row[2:] for row in ours], dtype=float),
                               np.array([row[2:] for row in reference], dtype=float), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("batch_runs") / "tiny", seed=11)


@pytest.fixture(scope="session")
def tiny_model_base(tmp_path_factory, tiny_run) -> Path:
    """``M/tiny/1`` written by ``export_run`` (its own self-check on)."""
    from seq2exp.serving.export import export_run

    base = tmp_path_factory.mktemp("batch_models")
    export_run(tiny_run, base, "tiny")
    return base


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> dict:
    """Three inputs in three formats, plus what each should give.

    ``a.fasta`` and ``b.txt.gz`` (DREAM, gzip) hold only good rows; ``c.tsv`` (TSV with id/sequence columns) mixes
    good rows with bad ones: a bad letter, an empty sequence, an over-long one, and a line without a sequence column
    (refused by the reader) before the last good row; ``d.txt`` (DREAM) has a bad letter and a line with too many
    fields in the middle (both refused by the reader's block parser)."""
    folder = tmp_path_factory.mktemp("batch_inputs")
    a = random_promoters(150, seed=1)
    (folder / "a.fasta").write_text("".join(f">a{i} some description\n{s[:60]}\n{s[60:]}\n" for i, s in enumerate(a)))
    b = random_promoters(230, seed=2)
    with gzip.open(folder / "b.txt.gz", "wt") as handle:
        handle.write("".join(f"{s}\t{i * 0.5}\n" for i, s in enumerate(b)))
    c = random_promoters(90, seed=3)
    rows = [(f"c{i}", s) for i, s in enumerate(c)]
    bad = {10: ("c_badletter", c[10][:20] + "X" + c[10][21:]), 40: ("c_empty", ""), 41: ("c_long", "A" * 300)}
    good_rows = [r for i, r in enumerate(rows) if i not in bad]
    for i, row in bad.items():
        rows[i] = row
    lines = ["id\tsequence"] + [f"{name}\t{seq}" for name, seq in rows[:-1]] + ["c_noseq"] + \
        [f"{name}\t{seq}" for name, seq in rows[-1:]]
    (folder / "c.tsv").write_text("\n".join(lines) + "\n")
    (folder / "c_good.tsv").write_text("id\tsequence\n" + "".join(f"{n}\t{s}\n" for n, s in good_rows))
    d = random_promoters(120, seed=4)  # DREAM rows refused by the reader itself, mid-file: reading goes on
    d_rows = list(d)
    d_rows[30] = d[30][:5] + "Q" + d[30][6:]
    d_rows[31] = d[31] + "\t1.0\textra"
    (folder / "d.txt").write_text("".join(f"{s}\n" for s in d_rows))
    (folder / "d_good.txt").write_text("".join(f"{s}\n" for i, s in enumerate(d) if i not in (30, 31)))
    return {"folder": folder, "a": folder / "a.fasta", "b": folder / "b.txt.gz", "c": folder / "c.tsv",
            "c_good": folder / "c_good.tsv", "d": folder / "d.txt", "d_good": folder / "d_good.txt",
            "bad_lines": {i + 2: name for i, (name, _) in bad.items()}, "d_bad_lines": [31, 32],
            "noseq_line": len(lines) - 1}


@pytest.fixture(scope="session")
def tiny_server(tiny_model_base):
    """The embedded server with ``tiny`` on a free loopback port."""
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.server import ModelServer

    server = ModelServer(discover_models(tiny_model_base), port=0, poll_seconds=0.5).start()
    yield server
    server.stop(grace=1)
