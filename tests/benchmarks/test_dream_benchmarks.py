"""benchmarks/dream_benchmarks.py's pieces against independent computations: the paired bootstrap over test rows
(several seeds a side) against scipy on the same resamples; the authors' own data encoding (their ``SeqDatasetProb``
via ``benchmarks/_prixfixe.py``, and the notebook's prediction cell) against a plain one-hot; the benchmark's batched
predictions of the authors' net against the notebook's row-by-row prediction loop."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import pearsonr

from tests.benchmarks import load_benchmark
from tests.conftest import REPO_ROOT, SHARED, require_shared

BENCH = SHARED / "data" / "dream_benchmarks"
REFERENCE = SHARED / "reference" / "prixfixe_benchmarks"


@pytest.fixture(scope="module")
def dream_benchmarks():
    return load_benchmark("dream_benchmarks.py")


def test_paired_bootstrap_over_seeds_matches_scipy(dream_benchmarks):
    rng = np.random.default_rng(5)
    measured = rng.normal(size=150)
    ours = np.stack([measured + rng.normal(scale=s, size=150) for s in (0.7, 0.9, 1.1)])  # 3 seeds
    theirs = np.stack([measured + rng.normal(scale=s, size=150) for s in (1.3, 1.6)])  # 2 seeds
    result = dream_benchmarks.interval(measured, ours, theirs, samples=300)
    replay = np.random.default_rng(0)  # the benchmark's seed: the same resampled rows for both sides
    rows = replay.integers(0, 150, size=(300, 150))
    difference = np.array([np.mean([pearsonr(p[r], measured[r])[0] for p in ours])
                           - np.mean([pearsonr(p[r], measured[r])[0] for p in theirs]) for r in rows])
    assert result["ci95"] == pytest.approx([np.quantile(difference, 0.025), np.quantile(difference, 0.975)],
                                           abs=1e-12)
    assert result["p_not_above_zero"] == pytest.approx(np.mean(difference <= 0))
    point = np.mean([pearsonr(p, measured)[0] for p in ours]) - np.mean([pearsonr(p, measured)[0] for p in theirs])
    assert result["difference"] == pytest.approx(point, abs=1e-12)
    assert result["ci95"][0] > 0  # ours is the better predictor here


def test_seed_spread_and_verdict(dream_benchmarks):
    ours, theirs = dream_benchmarks.spread([0.30, 0.34, 0.32]), dream_benchmarks.spread([0.31, 0.29])
    assert ours["sd"] == pytest.approx(np.std([0.30, 0.34, 0.32], ddof=1)) and ours["min"] == 0.30
    assert dream_benchmarks.verdict(ours, theirs) == "within the seed-to-seed spread"
    far = dream_benchmarks.spread([0.50, 0.52])
    assert dream_benchmarks.verdict(far, theirs).startswith("outside the seed-to-seed spread (ours better")
    assert dream_benchmarks.verdict(dream_benchmarks.spread([0.3]), theirs).startswith("n/a")


_ENCODE = r"""
import json, sys
import numpy as np
import pandas as pd
specs = json.loads(sys.argv[1])
sys.path.insert(0, specs[0]["benchmarks"])
import _prixfixe
for spec in specs:  # both benchmarks in one process: load() swaps the two 'prixfixe' packages
    x, y = _prixfixe.encode_rows(spec["benchmark"], spec["file"])
    # the notebook's own prediction encoding (its one_hot_encode cell, as it is) on the same rows
    notebook = json.load(open(spec["notebook"]))
    cell = next("".join(c["source"]) for c in notebook["cells"] if "def one_hot_encode" in "".join(c["source"]))
    names = {}
    exec(cell[cell.index("def one_hot_encode"):], names)
    frame = pd.read_csv(spec["file"], sep="\t")
    onehot = np.array([names["one_hot_encode"](s) for s in frame[spec["column"]]], np.float32)
    np.save(spec["out"] + "_x.npy", x); np.save(spec["out"] + "_y.npy", y); np.save(spec["out"] + "_nb.npy", onehot)
    # predictions: the benchmark's batched predict against the notebook's row-by-row loop (pred[0], pred[1] per task)
    import torch
    model = _prixfixe.build_net(spec["benchmark"], "rnn", torch.Generator().manual_seed(0),
                                {"first": 16, "lstm": 8, "core": 8})
    model.eval()
    rows = []
    for one in x:
        pred = model(torch.tensor(one[None], dtype=torch.float32))
        heads = [pred[0], pred[1]] if spec["benchmark"] == "drosophila" else [pred]
        rows.append([h.detach().cpu().flatten().tolist()[0] for h in heads])
    np.save(spec["out"] + "_loop.npy", np.array(rows)); np.save(spec["out"] + "_pred.npy", _prixfixe.predict(model, x))
"""
# name: (folder, id column, sequence column, targets, the id mark of a reverse-orientation row in the authors' add_rev)
CASES = {"drosophila": ("drosophila_starr", "ID", "Sequence", ["Dev_log2_enrichment", "Hk_log2_enrichment"], "-_"),
         "human": ("human_mpra", "seq_id", "seq", ["mean_value"], "_Reversed:")}


@pytest.fixture(scope="module")
def authors_encoding(tmp_path_factory):
    """Three reverse and three forward test rows of each benchmark, encoded by the authors' code (own process)."""
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("authors_encoding")
    specs, rows = [], {}
    for name, (sub, id_column, sequence_column, _, mark) in CASES.items():
        lines = require_shared(BENCH / sub / "sample_test.txt").read_text().splitlines()
        header = lines[0].split("\t")
        marked = [line for line in lines[1:] if mark in line.split("\t")[header.index(id_column)]]
        plain = [line for line in lines[1:] if mark not in line.split("\t")[header.index(id_column)]]
        rows[name] = (header, marked[:3] + plain[:3])
        (folder / f"{name}.txt").write_text("\n".join([lines[0], *rows[name][1]]) + "\n")
        notebook = require_shared(REFERENCE / name / "DREAMNets_buildModel_Train_Predict.ipynb")
        specs.append({"benchmarks": str(REPO_ROOT / "benchmarks"), "benchmark": name,
                      "file": str(folder / f"{name}.txt"), "notebook": str(notebook), "column": sequence_column,
                      "out": str(folder / name)})
    subprocess.run([sys.executable, "-c", _ENCODE, json.dumps(specs)], check=True, cwd=folder)
    return {name: (rows[name], *(np.load(folder / f"{name}_{part}.npy") for part in ("x", "y", "nb", "loop", "pred")))
            for name in CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_the_authors_encoding_is_a_plain_one_hot_with_the_orientation_channel(authors_encoding, name):
    _, id_column, sequence_column, targets, mark = CASES[name]
    (header, rows), x, y, notebook_onehot, _, _ = authors_encoding[name]
    # independent: A, G, C, T columns (N all zero), then 1.0 on every position of a reverse-orientation row
    letters = {"A": 0, "G": 1, "C": 2, "T": 3}
    fields = [line.split("\t") for line in rows]
    expected = np.zeros((len(rows), 5, len(fields[0][header.index(sequence_column)])), np.float32)
    for i, field in enumerate(fields):
        for position, letter in enumerate(field[header.index(sequence_column)]):
            if letter in letters:
                expected[i, letters[letter], position] = 1.0
        expected[i, 4, :] = float(mark in field[header.index(id_column)])
    np.testing.assert_array_equal(x, expected)
    assert expected[:3, 4].all() and not expected[3:, 4].any()
    np.testing.assert_allclose(y, [[float(f[header.index(t)]) for t in targets] for f in fields], rtol=1e-6)
    # the notebook's test-time one_hot_encode gives the same four channels
    np.testing.assert_array_equal(notebook_onehot.transpose(0, 2, 1), expected[:, :4])


@pytest.mark.parametrize("name", list(CASES))
def test_batched_predictions_equal_the_notebooks_row_by_row_loop(authors_encoding, name):
    *_, loop, predicted = authors_encoding[name]
    assert predicted.shape == (6, len(CASES[name][3]))  # [rows, tasks], tasks in the file's order
    np.testing.assert_allclose(predicted, loop, rtol=1e-5, atol=1e-9)
    assert np.ptp(loop, axis=0).min() > 0  # rows differ: the comparison sees each row
