"""The fast paths of the scoring (bitmap within-sample ranks, the numpy CSV reader, row-unique pairs, a light CLI
start-up) against their plain equivalents: scipy's ranks, the csv-module path, ``np.unique(axis=0)``, scipy."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from seq2exp.data import formats
from seq2exp.data.formats import read_test_subsets, sorted_unique, unique_pairs
from seq2exp.errors import InputFormatError
from seq2exp.evaluation.bootstrap import bootstrap_ranks, sample_blocks

from .conftest import REPO_ROOT


@pytest.mark.parametrize("k", [2, 63, 64, 65, 300, 65537, 71104])
def test_bitmap_ranks_equal_scipy_spearman(k):
    """The compiled kernel's within-sample rho against scipy's, with ties on either side, at bitmap word edges."""
    from seq2exp.evaluation._rank_kernel import sample_spearman

    rng = np.random.default_rng(k)
    truth = np.sort(np.round(rng.normal(size=k), 1 if k > 100 else 3))  # items in truth order, some ties
    models = np.stack([np.round(truth + rng.normal(size=k), 1), truth[::-1] + rng.normal(size=k) * 1e-3,
                       np.full(k, 1.0), np.round(rng.normal(size=k), 2)])
    ordinal, starts, ends = (np.empty(models.shape, np.int32) for _ in range(3))
    for m, values in enumerate(models):
        order = np.argsort(values, kind="stable")
        ordinal[m, order] = np.arange(k)
        ranked = values[order]
        starts[m] = np.searchsorted(ranked, ranked, side="left")  # tie run of each model ordinal, by bisection
        ends[m] = np.searchsorted(ranked, ranked, side="right")
    tied = np.array([np.unique(values).size < k for values in models])
    truth_groups = np.searchsorted(np.unique(truth), truth).astype(np.int32)
    samples = [rng.permutation(k)[:size] for size in (0, 1, 2, min(k, 7), min(k, 500), k)]
    carrier_items = rng.permutation(k)  # column c carries the item of truth ordinal carrier_items[c]
    mask = np.zeros((len(samples), k), np.uint8)
    for s, items in enumerate(samples):
        mask[s, np.argsort(carrier_items)[items]] = 1
    rho = np.empty((len(samples), len(models)))
    sample_spearman(mask, np.arange(k), np.arange(k + 1), carrier_items.astype(np.int32), ordinal, starts, ends,
                    tied, truth_groups, rho)
    for s, items in enumerate(samples):
        for m, values in enumerate(models):
            if len(items) < 2 or np.ptp(values[items]) == 0 or np.ptp(truth[items]) == 0:
                assert np.isnan(rho[s, m])
            else:
                assert abs(rho[s, m] - spearmanr(values[items], truth[items])[0]) < 1e-12


def test_exact_bootstrap_past_16_bit_ordinals_matches_scipy():
    """A subset of 70,000 items (bitmaps over many words); the sample scores are still scipy's."""
    rng = np.random.default_rng(2)
    n = 70_000
    truth = np.round(rng.normal(size=n), 2)  # ties
    predictions = {"a": truth + rng.normal(size=n), "b": np.round(truth + 2 * rng.normal(size=n), 1)}
    result = bootstrap_ranks(predictions, truth, n_samples=3, fraction=0.05, seed=4, block_size=3, threads=1,
                             return_samples=True)
    columns = result["samples"]["columns"]
    _, masks = next(sample_blocks(len(columns), 3, 0.05, 4, 3))
    for sample, mask in enumerate(masks):
        keep = np.sort(columns[mask])
        for model, values in enumerate(predictions.values()):
            rho = spearmanr(values[keep], truth[keep])[0]
            r = pearsonr(values[keep], truth[keep])[0]
            assert abs(result["samples"]["spearman"][sample, model] - rho) < 1e-12
            assert abs(result["samples"]["pearson"][sample, model] - r ** 2) < 1e-12


def _write_subsets(folder, line_end="\n"):
    folder.mkdir()
    singles = [",tag,sequence,pos,exp", "0,t5,ACGT,5,", "1,t2,ACGT,2,1.5", "2,t9,ACGT,9,", "3,t2,ACGT,2,"]
    pairs = [",alt_tag,ref_tag,alt_sequence,ref_sequence,alt_pos,ref_pos,alt_exp,ref_exp",
             "0,a,r,AC,AG,7,3,,", "1,a,r,AC,AG,4,3,,", "2,a,r,AC,AG,7,3,,", "3,a,r,AC,AG,12,0,,"]
    (folder / "high_exp_seqs.csv").write_bytes((line_end.join(singles) + line_end).encode())
    (folder / "all_SNVs_seqs.csv").write_bytes((line_end.join(pairs) + line_end).encode())


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_numpy_csv_path_equals_the_csv_module_path(tmp_path, monkeypatch, line_end):
    _write_subsets(tmp_path / "ids", line_end)
    fast = read_test_subsets(tmp_path / "ids")
    monkeypatch.setattr(formats, "_plain_index_columns", lambda data, columns: None)
    slow = read_test_subsets(tmp_path / "ids")
    assert fast.keys() == slow.keys() == {"high", "SNVs"}
    for name in fast:
        assert fast[name].dtype == slow[name].dtype == np.int64
        assert np.array_equal(fast[name], slow[name])
    assert fast["high"].tolist() == [2, 5, 9] and fast["SNVs"].tolist() == [[4, 3], [7, 3], [12, 0]]


def test_unusual_csv_falls_back_and_bad_input_names_the_line(tmp_path):
    folder = tmp_path / "ids"
    folder.mkdir()
    path = folder / "high_exp_seqs.csv"
    path.write_text(',tag,sequence,pos,exp\n0,"t,5",ACGT,5,\n1,t2,ACGT,2.0,\n')  # quotes, a float index
    assert read_test_subsets(folder)["high"].tolist() == [2, 5]
    path.write_text(",tag,sequence,pos,exp\n0,t5,ACGT,5,\n1,t2,ACGT,x2,\n")
    with pytest.raises(InputFormatError, match=r"line 3.*pos|pos.*line 3") as error:
        read_test_subsets(folder)
    assert "high_exp_seqs.csv" in str(error.value) and "'x2'" in str(error.value)
    path.write_text(",tag,sequence,exp\n0,t5,ACGT,\n")
    with pytest.raises(InputFormatError, match="missing column"):
        read_test_subsets(folder)


def test_unique_pairs_equals_numpy_row_unique():
    rng = np.random.default_rng(0)
    for _ in range(50):
        pairs = rng.integers(0, int(rng.integers(1, 30)), size=(int(rng.integers(0, 40)), 2))
        expected = np.unique(pairs, axis=0) if pairs.size else pairs.reshape(0, 2)
        assert np.array_equal(unique_pairs(pairs), expected)


def test_sorted_unique_equals_numpy_unique_and_never_aliases():
    rng = np.random.default_rng(1)
    cases = [np.arange(0), np.arange(1), np.arange(50), np.arange(50)[::-1], np.array([3, 3, 4]), np.array([1, 5, 2])]
    cases += [rng.integers(0, 40, int(rng.integers(0, 60))) for _ in range(50)]
    cases += [np.sort(rng.choice(10_000, 300, replace=False)) for _ in range(5)]  # the already-sorted fast path
    for values in cases:
        result = sorted_unique(values)
        assert np.array_equal(result, np.unique(values)) and result.dtype == np.unique(values).dtype
        assert not np.shares_memory(result, values)


def test_lazy_export_named_like_its_module_stays_the_function():
    import seq2exp.evaluation as evaluation
    from seq2exp.evaluation import with_ensemble  # noqa: F401 - imports seq2exp.evaluation.ensemble (the module)

    assert callable(evaluation.ensemble) and evaluation.ensemble.__module__ == "seq2exp.evaluation.ensemble"


HEAVY = ("'tensorflow', 'keras', 'scipy', 'pandas', 'matplotlib', 'tqdm'")
STAGES_BUT_SCORE = ("'seq2exp.models', 'seq2exp.serving', 'seq2exp.training', 'seq2exp.interpret', 'seq2exp.simulate', "
                    "'seq2exp.batch', 'seq2exp.job', 'seq2exp.inference'")


@pytest.mark.parametrize("setup", [
    # `seq2exp score ...`: only the score stage is imported
    "import seq2exp.cli as cli; parser = cli.build_parser([cli.requested_stage(['score'])]); "
    "args = parser.parse_args(['score', '--predictions', 'p.txt', '--truth', 't.txt']); "
    "assert args.command == 'score' and callable(args._stage_main)",
    # `seq2exp --help`, and the scoring library itself
    "import seq2exp.cli as cli; cli.build_parser([]); import seq2exp.evaluation.metrics, seq2exp.evaluation.bootstrap",
], ids=["score", "help-and-library"])
def test_score_start_up_imports_no_other_stage_no_tensorflow_no_scipy(setup):
    code = (f"import sys; {setup}; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in ({HEAVY}) "
            f"or m.startswith(({STAGES_BUT_SCORE}))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("keys,width", [(["3", "10", "3", "007"], 1), (["4,3", "12,0", "4,3"], 2),
                                        (["1", " 2"], 1), (["1,2,3", "4"], 2), (["1,", "2,3"], 2), (["1.0"], 1)])
def test_leaderboard_keys_fast_path_equals_the_per_key_path(tmp_path, monkeypatch, keys, width):
    import json

    folder = tmp_path / "public"
    folder.mkdir()
    name = "SNVs" if width == 2 else "high"
    file_name = formats.LEADERBOARD_ID_FILES[name]
    (folder / file_name).write_text(json.dumps({key: 1.0 for key in keys}))

    def read():
        try:
            return formats.read_public_leaderboard_ids(folder)[name].tolist()
        except InputFormatError as error:
            return str(error)

    fast = read()
    monkeypatch.setattr(formats, "_plain_index_keys", lambda keys, width: None)
    assert fast == read()
