"""End-to-end tests of ``seq2exp simulate``: files, readers, scorer, determinism, subsets, learnability."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from seq2exp.simulate import simulate
from seq2exp.simulate.core import SUBSET_FILES, write_training_library
from seq2exp.simulate.model import FLANK3, FLANK5, to_codes
from seq2exp.simulate.testset import TILING_MOTIFS
from seq2exp.simulate.genome import native_promoters, reverse_complement

N_TRAIN, N_TEST, SEED = 20_000, 2_000, 7


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, n_train=N_TRAIN, n_test=N_TEST, seed=SEED)
    return out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def test_files_load_through_the_package_readers(sim: Path) -> None:
    from seq2exp.data.formats import read_dream, read_test_subsets

    train = read_dream(sim / "train.txt")
    assert len(train) == N_TRAIN and train.skipped == 0
    assert np.isfinite(train.expression).all()
    assert train.expression.min() >= 0 and train.expression.max() <= 17
    lengths = np.array([len(s) for s in train.sequences])
    assert lengths.min() >= 87 and lengths.max() <= 135 and 0.75 < np.mean(lengths == 110) < 0.9
    assert all(s.startswith(FLANK5) and s.endswith(FLANK3) for s in train.sequences)
    test = read_dream(sim / "test.txt")
    assert abs(len(test) - N_TEST) <= 0.02 * N_TEST
    assert {len(s) for s in test.sequences} == {110}
    assert len(set(test.sequences)) == len(test)                      # one index per unique test sequence
    subsets = read_test_subsets(sim / "test_subset_ids")
    assert set(subsets) == {"high", "low", "yeast", "random", "challenging", "SNVs", "motif_perturbation",
                            "motif_tiling"}
    for name, indices in subsets.items():
        assert len(indices) >= 5, name
        assert indices.min() >= 0 and indices.max() < len(test), name
    truth = json.loads((sim / "ground_truth.json").read_text())
    assert sorted(map(int, truth)) == list(range(len(test)))


def test_scorer_reads_everything_and_truth_tracks_measurement(sim: Path) -> None:
    from seq2exp.evaluation import score

    result = score(sim / "ground_truth.json", sim / "test.txt", sim / "test_subset_ids")
    assert result["missing_subsets"] == []
    assert set(result["subsets"]) == {"all", "high", "low", "yeast", "random", "challenging", "SNVs",
                                      "motif_perturbation", "motif_tiling"}
    # ~100 cells per test sequence: the measured test values follow the noise-free truth closely
    assert result["subsets"]["random"]["pearson"] > 0.95
    assert result["subsets"]["all"]["pearson"] > 0.95


def test_subset_sizes_follow_the_real_proportions(sim: Path) -> None:
    rows = {name: len(_csv_rows(sim / "test_subset_ids" / f)) for name, f in SUBSET_FILES.items()}
    scale = N_TEST / 71103
    assert rows["random"] == pytest.approx(6349 * scale, rel=0.1)
    assert rows["SNVs"] == pytest.approx(44340 * scale, rel=0.15)
    assert rows["SNVs"] > rows["random"] > rows["challenging"] > rows["high"]


def test_snv_pairs_differ_by_exactly_one_base(sim: Path) -> None:
    rows = _csv_rows(sim / "test_subset_ids" / "all_SNVs_seqs.csv")
    for row in rows:
        alt, ref = row["alt_sequence"], row["ref_sequence"]
        assert len(alt) == len(ref) == 110
        assert sum(a != r for a, r in zip(alt, ref)) == 1


def test_tiling_pairs_differ_by_the_motif_placement(sim: Path) -> None:
    rows = _csv_rows(sim / "test_subset_ids" / "motif_tiling_seqs.csv")
    assert {re.match(r"^[^_]+_(\w+?)(\.RC)?_\d+$", r["alt_tag"]).group(1) for r in rows} == set(TILING_MOTIFS)
    for row in rows:
        name, rc, position = re.match(r"^[^_]+_(\w+?)(\.RC)?_(\d+)$", row["alt_tag"]).groups()
        site = reverse_complement(TILING_MOTIFS[name]) if rc else TILING_MOTIFS[name]
        start = len(FLANK5) + int(position)
        alt, ref = row["alt_sequence"], row["ref_sequence"]
        assert alt[start:start + len(site)] == site
        assert alt[:start] == ref[:start] and alt[start + len(site):] == ref[start + len(site):]
        assert alt != ref


def test_perturbation_pairs_change_only_the_inserted_sites(sim: Path) -> None:
    rows = _csv_rows(sim / "test_subset_ids" / "motif_perturbation_seqs.csv")
    assert any("Reb1" in r["alt_tag"] for r in rows) and any("Hsf1" in r["alt_tag"] for r in rows)
    for row in rows:
        alt, ref = row["alt_sequence"], row["ref_sequence"]
        changed = [i for i, (a, r) in enumerate(zip(alt, ref)) if a != r]
        assert changed, row["alt_tag"]
        if "Reb1" in row["alt_tag"]:                 # one 8 bp site at position 20 of the variable region
            assert min(changed) >= len(FLANK5) + 20 and max(changed) < len(FLANK5) + 28
    refs = {r["ref_pos"] for r in rows}
    assert len(refs) < len(rows) / 10                 # a few backgrounds, many perturbations each


def test_yeast_subset_is_native_genome_sequence(sim: Path) -> None:
    rows = _csv_rows(sim / "test_subset_ids" / "yeast_seqs.csv")
    promoters = dict(native_promoters())
    for row in rows[:20]:
        gene, _, k = row["tag"].rpartition(".")
        variable = row["sequence"][len(FLANK5):-len(FLANK3)]
        assert variable in promoters[gene]


def test_designed_subsets_are_extreme(sim: Path) -> None:
    truth = json.loads((sim / "ground_truth.json").read_text())
    mean = {name: np.mean([truth[r["pos"]] for r in _csv_rows(sim / "test_subset_ids" / SUBSET_FILES[name])])
            for name in ("high", "low", "random")}
    assert mean["high"] > mean["random"] + 2 > mean["low"] + 4


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    a = simulate(tmp_path / "a", n_train=3000, n_test=300, seed=5)
    b = simulate(tmp_path / "b", n_train=3000, n_test=300, seed=5)
    c = simulate(tmp_path / "c", n_train=3000, n_test=300, seed=6)
    for name in ("train", "test", "ground_truth"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
        assert getattr(a, name).read_bytes() != getattr(c, name).read_bytes(), name
    for file_name in SUBSET_FILES.values():
        assert (a.subsets / file_name).read_bytes() == (b.subsets / file_name).read_bytes()


def test_training_file_does_not_depend_on_worker_count(tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    two = tmp_path / "two.txt"
    write_training_library(one, 3000, seed=2, workers=1, chunk_rows=1000)
    write_training_library(two, 3000, seed=2, workers=2, chunk_rows=1000, parallel_min_rows=0)
    assert one.read_bytes() == two.read_bytes()


def test_measurement_statistics_match_the_real_assay(sim: Path, demo_train: Path) -> None:
    from seq2exp.simulate.calibrate import calibration_report

    report, markdown = calibration_report(sim / "train.txt", demo_train)
    simulated, real = report["simulated"], report["real"]
    assert abs(simulated["integer_share"] - real["integer_share"]) < 0.04       # 58% integer values
    assert abs(simulated["expression"]["mean"] - real["expression"]["mean"]) < 0.6
    assert abs(simulated["expression"]["sd"] - real["expression"]["sd"]) < 0.5
    assert abs(simulated["length"]["share_110"] - real["length"]["share_110"]) < 0.03
    assert abs(simulated["gc"]["corr_expression"] - real["gc"]["corr_expression"]) < 0.15
    assert report["agreement"]["kmer_spectrum_pearson"] > 0.95
    assert "| integer share |" in markdown


def _kmer_features(sequences: list[str], k: int = 4) -> np.ndarray:
    codes, lengths = to_codes(sequences)
    codes = np.where(codes > 3, 0, codes).astype(np.int64)
    n, width = codes.shape
    ids = np.zeros((n, width - k + 1), dtype=np.int64)
    for j in range(k):
        ids = ids * 4 + codes[:, j:j + width - k + 1]
    valid = np.arange(width - k + 1)[None, :] <= (lengths[:, None] - k)
    flat = (np.arange(n)[:, None] * 4 ** k + ids)[valid]
    return np.bincount(flat, minlength=n * 4 ** k).reshape(n, 4 ** k).astype(np.float64)


def test_learnable_by_a_kmer_ridge_model(sim: Path) -> None:
    """A numpy ridge regression on 4-mer counts of 20k simulated rows predicts the random subset clearly."""
    from seq2exp.data.formats import read_dream
    from seq2exp.evaluation import score

    train, test = read_dream(sim / "train.txt"), read_dream(sim / "test.txt")
    x, y = _kmer_features(train.sequences), train.expression.astype(np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    weights = np.linalg.solve(centred.T @ centred + 10.0 * np.eye(x.shape[1]), centred.T @ (y - y.mean()))
    predictions = (_kmer_features(test.sequences) - mean) @ weights + y.mean()
    result = score({str(i): float(v) for i, v in enumerate(predictions)}, sim / "test.txt", sim / "test_subset_ids")
    assert result["subsets"]["random"]["pearson"] > 0.5
    assert result["subsets"]["all"]["pearson"] > 0.5
    # a random guess is not learnable: shuffled labels give ~0
    shuffled = np.random.default_rng(0).permutation(y)
    null = np.linalg.solve(centred.T @ centred + 10.0 * np.eye(x.shape[1]), centred.T @ (shuffled - y.mean()))
    null_r = np.corrcoef((_kmer_features(test.sequences) - mean) @ null, test.expression)[0, 1]
    assert abs(null_r) < 0.2


def test_cli_writes_files_and_reports_bad_arguments(tmp_path: Path, capsys) -> None:
    from seq2exp.cli import main

    assert main(["simulate", "--out", str(tmp_path / "s"), "--n-train", "500", "--n-test", "200", "--seed", "1",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(printed["train"]).exists() and Path(printed["ground_truth"]).exists()
    assert main(["simulate", "--out", str(tmp_path / "bad"), "--n-test", "10"]) == 2
    assert "n_test" in capsys.readouterr().err
