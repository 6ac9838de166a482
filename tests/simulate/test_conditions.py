"""Multi-condition simulation: per-condition ground truth against an independent numpy computation, condition-specific
sites that change only their own condition, any construct and length, the tables through the package's reader, and
the ``seq2exp simulate --conditions`` checks (exit 2, one line, nothing written)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from seq2exp.data.construct import Construct
from seq2exp.data.formats import read_table
from seq2exp.errors import ConfigError
from seq2exp.simulate import motifs as motif_lib
from seq2exp.simulate import simulate
from seq2exp.simulate.conditions import activity_matrix, resolve_conditions
from seq2exp.simulate.model import PromoterModel, to_codes
from tests.simulate.test_construct_simulator import _direct_occupancy

USER = Construct(name="my_starr", flank5="GATCGATCGGCCAATGCATG", flank3="TTACCA", insert_length=50)


def _oracle_truth(sequences: list[str], activities: dict[str, dict[str, float]], flank5: int, flank3: int,
                  after: str) -> np.ndarray:
    """Expected mean bin per condition, ``[n, T]``, written from the model's description (docs/simulator.md) with
    the TF table's numbers; occupancies from a direct loop over windows."""
    model = PromoterModel()  # only for its site tables and position profiles (the binding oracle's inputs)
    tfs = motif_lib.TF_TABLE
    index = {tf.name: i for i, tf in enumerate(tfs)}
    effect = np.array([tf.effect for tf in tfs])
    saturation = np.array([tf.saturation for tf in tfs])
    quench = np.array([tf.repressor_quench for tf in tfs])
    pioneer = np.array([tf.name in motif_lib.PIONEERS for tf in tfs])
    out = np.zeros((len(sequences), len(activities)))
    for row, seq in enumerate(sequences):
        occupancy = _direct_occupancy(model, seq, flank5, flank3, after)
        dose = saturation * (1 - np.exp(-occupancy / saturation))
        insert = seq[flank5:len(seq) - flank3]
        gc = sum(b in "GC" for b in insert) / len(insert)
        gate = 1 / (1 + np.exp(-(-0.6 + 1.2 * dose[pioneer].sum())))
        for column, activity in enumerate(activities.values()):
            a = np.array([activity.get(tf.name, 1.0) for tf in tfs])
            e = dose * effect * a
            pairs = [g * dose[index[x]] * dose[index[y]] * a[index[x]] * a[index[y]]
                     for x, y, g in motif_lib.INTERACTIONS]
            raw = (2 * gate * (e[e > 0].sum() + sum(p for p in pairs if p > 0)) / (1 + (dose * quench * a).sum())
                   + e[e < 0].sum() + sum(p for p in pairs if p < 0)
                   + 3.5 * (gc - 0.47) - 4.0 * (gc - 0.47) ** 2)
            linear = 11.3 + 3.3 * raw
            x = 16.2 - 0.9 * np.logaddexp(0, (16.2 - linear) / 0.9)
            out[row, column] = norm.cdf((x - np.arange(1, 18)) / 1.25).sum()
    return out


def test_condition_specs_are_validated_as_data():
    two = resolve_conditions(2)
    assert [c.name for c in two] == ["cond1", "cond2"]
    assert [c.name for c in resolve_conditions("dev,hk")] == ["dev", "hk"]
    assert resolve_conditions(None)[0].activity == {} and resolve_conditions(1)[0].name == "expression"
    # every condition-specific activator is active in exactly one condition; the shared TFs in all
    matrix = activity_matrix(two, [tf.name for tf in motif_lib.TF_TABLE])
    specific = (matrix == 0).any(axis=0)
    assert ((matrix[:, specific] > 0).sum(axis=0) == 1).all() and specific.sum() >= 10
    assert (matrix[:, ~specific] == 1).all()
    custom = resolve_conditions([{"name": "dev", "activity": {"GCN4": 3}}, "hk"])
    assert custom[0].activity["GCN4"] == 3.0 and custom[1].activity["GCN4"] == 2.0  # GCN4 is hk's by default
    for bad, match in [(0, "between 1 and 8"), (9, "between 1 and 8"), ("dev,dev", "given twice"),
                       ("dev,", "conditions\\[1\\]"), ("sequence,x", "column of the simulated tables"),
                       ([{"name": "a", "activity": {"NOPE": 1}}], "unknown TF 'NOPE'"),
                       ([{"name": "a", "activity": {"GCN4": -1}}], "GCN4: expected a finite number >= 0"),
                       ([{"name": "a", "colour": 1}], "unknown key"), (2.5, "expected a count")]:
        with pytest.raises(ConfigError, match=match):
            resolve_conditions(bad)


def test_a_condition_specific_site_changes_only_its_condition():
    """Planting a Gcn4 site (cond2's) moves cond2's truth only; an Azf1 site (cond1's) cond1's only; an Abf1 site
    (shared) both. The reference holds the site's bases shuffled (same GC); pairs are kept only where the planted TF is
    the only TF whose binding changed, so nothing else can move the truth."""
    model = PromoterModel()
    conditions = resolve_conditions(2)
    activities = activity_matrix(conditions, model.names)
    rng = np.random.default_rng(4)
    checked = {"GCN4": 0, "AZF1": 0, "ABF1": 0}
    for tf in checked:
        site = model.tables.consensus[tf]
        j = model.names.index(tf)
        for _ in range(400):
            background = "".join(rng.choice(list("ACGT"), 80))
            shuffled = "".join(rng.permutation(list(site)))  # same bases (same GC), no site
            insert, alt_insert = (background[:30] + s + background[30 + len(site):] for s in (shuffled, site))
            rows = [Construct.with_flanks(model.construct, s) for s in (insert, alt_insert)]
            codes, lengths = to_codes(rows)
            occupancy = model.tf_occupancy(codes, lengths)
            others = np.delete(occupancy, j, axis=1)
            gc = model.gc_fraction(codes, lengths)
            if not (np.array_equal(others[0], others[1]) and gc[0] == gc[1] and occupancy[1, j] > occupancy[0, j]):
                continue
            truth = model.predict_conditions(codes, lengths, activities)
            oracle = _oracle_truth(rows, {c.name: c.activity for c in conditions}, 17, 13, "TCTTAATTA")
            from seq2exp.simulate.assay import expected_mean_bin

            np.testing.assert_allclose(expected_mean_bin(truth, 1.25), oracle, rtol=1e-5, atol=1e-6)
            moved = np.abs(truth[1] - truth[0]) > 1e-9
            expected = {"GCN4": [False, True], "AZF1": [True, False], "ABF1": [True, True]}[tf]
            assert moved.tolist() == expected, (tf, truth)
            checked[tf] += 1
            if checked[tf] == 3:
                break
    assert min(checked.values()) == 3, checked


@pytest.mark.parametrize("construct, length", [(None, None), ("genomic", 40), (USER, None), (USER, 70)])
def test_tables_hold_each_conditions_truth(tmp_path: Path, construct, length):
    """The files: header tables read by read_table with the condition names as targets; rows are flank5 + insert
    + flank3 of the asked length; ground_truth.tsv equals the independent computation for every condition."""
    out = simulate(tmp_path / "sim", n_train=150, n_test=100, seed=3, conditions="dev,hk", construct=construct,
                   length=length, planted_sites=2)
    manifest = json.loads(out.manifest.read_text())
    assert manifest["table"] == {"targets": ["dev", "hk"]} and out.subsets is None
    flank5, flank3 = ("TGCATTTTTTTCACATC", "GGTTACGGCTGTT") if construct is None else (
        ("", "") if construct == "genomic" else (USER.flank5, USER.flank3))
    insert = length or (80 if construct is None else USER.insert_length)
    train, test, truth = (read_table(p, manifest["table"]) for p in (out.train, out.test, out.ground_truth))
    assert (len(train), len(test), len(truth)) == (150, 100, 100)
    for table in (train, test, truth):
        assert table.target_names == ["dev", "hk"] and np.isfinite(table.targets).all()
        assert all(len(s) == len(flank5) + insert + len(flank3) and s.startswith(flank5) and s.endswith(flank3)
                   for s in table.sequences)
    assert truth.sequences == test.sequences and truth.ids["id"] == test.ids["id"]
    # measured test values (~100 cells) track the truth in each condition
    for t in range(2):
        assert np.corrcoef(test.targets[:, t], truth.targets[:, t])[0, 1] > 0.9
    after = "TCTTAATTA" if construct is None else "A" * 9  # the yeast vector; none known: A
    rows = slice(0, 12)
    oracle = _oracle_truth(truth.sequences[rows], {c.name: c.activity for c in resolve_conditions("dev,hk")},
                           len(flank5), len(flank3), after)
    np.testing.assert_allclose(truth.targets[rows], oracle, rtol=6e-7, atol=1e-9)  # the file: 7 significant digits


def test_default_simulation_is_untouched_by_the_new_options(tmp_path: Path):
    """No option: the DREAM yeast files (train.txt, test_subset_ids); one condition by name: a one-column table."""
    default = simulate(tmp_path / "a", n_train=50, n_test=150, seed=1)
    assert default.train.name == "train.txt" and default.subsets is not None
    assert not (tmp_path / "a" / "train.tsv").exists()
    named = simulate(tmp_path / "b", n_train=50, n_test=150, seed=1, conditions="dev")
    assert read_table(named.test, {"targets": ["dev"]}).targets.shape == (150, 1)
    with pytest.raises(ConfigError, match="no insert length"):
        simulate(tmp_path / "c", n_train=50, n_test=150, construct="genomic")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("argv, message", [
    (["--conditions", "9"], "argument --conditions: expected between 1 and 8 conditions, got 9"),
    (["--conditions", "dev,dev"], "argument --conditions: 'dev' is given twice"),
    (["--conditions", "a b"], "argument --conditions: conditions[0]: expected a name"),
    (["--length", "5"], "argument --length: must be an integer between 10 and 5000, got '5'"),
    (["--planted-sites", "-1"], "argument --planted-sites: must be an integer between 0 and 20"),
    (["--construct", "mouse"], "argument --construct: invalid choice: 'mouse'"),
    (["--construct", "genomic"], "length: construct 'genomic' (no constant flanks) has no insert length"),
])
def test_cli_refuses_bad_values_with_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    from seq2exp.cli import main

    out = tmp_path / "out"
    try:
        code = main(["simulate", "--out", str(out), "--n-train", "10", "--n-test", "100", *argv])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    assert code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("seq2exp simulate: ")]
    assert len(error_lines) == 1 and message in error_lines[0], error_lines
    assert not out.exists()


def test_cli_writes_the_tables(tmp_path, capsys):
    from seq2exp.cli import main

    out = tmp_path / "out"
    assert main(["simulate", "--out", str(out), "--n-train", "40", "--n-test", "100", "--conditions", "2",
                 "--construct", "genomic", "--length", "30", "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    table = read_table(paths["test"], {"targets": ["cond1", "cond2"]})
    assert {len(s) for s in table.sequences} == {30} and paths["subsets"] is None
