"""Interpretation in the model's construct: ISM top effects leave the flanks out, design protects them, plots shade
them, backgrounds carry them. Predictors here are plain position-weight functions (the oracle is numpy)."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.data.construct import GENOMIC, Construct
from seq2exp.interpret import plots
from seq2exp.interpret.design import design
from seq2exp.interpret.motif_effects import default_region, make_backgrounds, motif_effects
from seq2exp.interpret.mutagenesis import ism

USER = Construct(name="my_mpra", flank5="ACTGGCCG", flank3="AGATCGGA", insert_length=24)
YEAST5, YEAST3 = "TGCATTTTTTTCACATC", "GGTTACGGCTGTT"


class WeightPredictor:
    """f(s) = sum_i w_i [s_i == 'G']: each position's G is worth its weight (largest in the flanks)."""

    supports_gradients = False
    description = "weights"

    def __init__(self, weights: np.ndarray, construct=None):
        self.weights = np.asarray(weights, np.float64)
        self.construct = construct

    def predict(self, sequences):
        g = np.array([[b == "G" for b in s] for s in sequences], np.float64)
        return (g * self.weights[None, : g.shape[1]]).sum(axis=1).astype(np.float32)

    def close(self):
        pass


def _weights(length: int, n5: int, n3: int) -> np.ndarray:
    weights = np.linspace(0.1, 1.0, length)
    weights[:n5] += 10.0   # the flanks would dominate every ranking
    weights[length - n3:] += 10.0
    return weights


@pytest.mark.parametrize("construct, flank5, flank3", [(USER, USER.flank5, USER.flank3), (None, YEAST5, YEAST3)])
def test_ism_top_effects_leave_the_flanks_out(construct, flank5, flank3):
    rng = np.random.default_rng(0)
    rows = [flank5 + "".join(rng.choice(list("ACGT"), 24)) + flank3 for _ in range(3)]
    rows.append("".join(rng.choice(list("ACGT"), len(rows[0]))))  # no flanks: every position counts
    length = len(rows[0])
    predictor = WeightPredictor(_weights(length, len(flank5), len(flank3)), construct)
    result = ism(predictor, rows)
    # numpy oracle: |effect| of each substitution, flank positions of flanked rows dropped, sorted (stable)
    effects = np.zeros([len(rows), length, 4])
    for i, row in enumerate(rows):
        for p, ref in enumerate(row):
            for b, base in enumerate("ACGT"):
                effects[i, p, b] = predictor.weights[p] * ((base == "G") - (ref == "G"))
    np.testing.assert_allclose(result.effects, effects, atol=1e-4)
    keep = np.ones_like(effects, bool)
    for i in range(3):
        keep[i, : len(flank5)] = keep[i, length - len(flank3):] = False
    candidates = [(abs(effects[i, p, b]), i, p, b) for i, p, b in zip(*np.nonzero(keep & (effects != 0)))]
    want = sorted(candidates, key=lambda c: -c[0])[:40]
    top = result.top_effects(40)
    np.testing.assert_allclose([abs(r["effect"]) for r in top], [c[0] for c in want], atol=1e-4)
    for r in top:  # each row is a kept substitution with the oracle's effect (ties may come in any order)
        i, p, b = int(r["name"]), r["position"], "ACGT".index(r["alt"])
        assert keep[i, p, b] and r["effect"] == pytest.approx(effects[i, p, b], abs=1e-4)
        assert r["ref"] == rows[i][p]
    assert all(len(flank5) <= r["position"] < length - len(flank3) for r in top if r["name"] != "3")
    # with the flanks: the flank substitutions (weights + 10) come first
    with_flanks = result.top_effects(5, include_flanks=True)
    assert all(r["position"] < len(flank5) or r["position"] >= length - len(flank3) for r in with_flanks)


def test_design_protects_the_construct_flanks():
    rng = np.random.default_rng(1)
    seeds = [USER.with_flanks("".join(rng.choice(list("ACT"), 24))) for _ in range(2)]
    length = len(seeds[0])
    predictor = WeightPredictor(_weights(length, len(USER.flank5), len(USER.flank3)), USER)
    result = design(predictor, seeds, generations=6, population=8, children=4, mutations=2, seed=0)
    for seed, designed in zip(seeds, result.designs):
        assert designed[:8] == USER.flank5 and designed[-8:] == USER.flank3
        assert designed != seed and (result.values > result.seed_values).all()
    # the same search without protection does rewrite the flanks (the test can fail)
    free = design(predictor, seeds, generations=6, population=8, children=4, mutations=2, seed=0, protected=[])
    assert any(d[:8] != USER.flank5 or d[-8:] != USER.flank3 for d in free.designs)
    # the yeast default would protect nothing here: USER's flanks are not the yeast flanks
    yeast = design(WeightPredictor(predictor.weights), seeds, generations=6, population=8, children=4,
                   mutations=2, seed=0)
    assert any(d[:8] != USER.flank5 or d[-8:] != USER.flank3 for d in yeast.designs)


def test_backgrounds_and_motif_regions_follow_the_construct():
    rows = make_backgrounds("random", 3, seed=4, construct=USER)
    assert all(r.startswith(USER.flank5) and r.endswith(USER.flank3) and len(r) == 40 for r in rows)
    assert default_region(rows[0], USER) == (8, 32) and default_region(rows[0]) == (0, 40)
    yeast = make_backgrounds("random", 2, seed=4)  # unchanged default: yeast flanks + 80 bp
    assert all(r.startswith(YEAST5) and r.endswith(YEAST3) and len(r) == 110 for r in yeast)
    shuffled = make_backgrounds("shuffled", 2, sequences=rows, seed=1, construct=USER)
    assert all(s[:8] == r[:8] and s[-8:] == r[-8:] for s, r in zip(shuffled, rows))
    effects = motif_effects(WeightPredictor(np.ones(40), USER), "GGG", rows)
    assert effects.positions.tolist() == list(range(8, 32 - 3 + 1))  # the site moves through the insert only


def test_random_backgrounds_of_a_genomic_construct_are_the_models_input_length(caplog):
    human = WeightPredictor(np.ones(230), GENOMIC)
    human.input_length = 230  # a human lentiMPRA model's input (230 bp, no flanks)
    rows = make_backgrounds("random", 3, seed=2, predictor=human)
    assert [len(r) for r in rows] == [230] * 3 and set("".join(rows)) <= set("ACGT")
    assert make_backgrounds("random", 2, seed=2, construct=USER, predictor=human)[0].startswith(USER.flank5)
    assert [len(r) for r in make_backgrounds("random", 2, seed=2, construct=USER, predictor=human)] == [40, 40]
    with caplog.at_level("WARNING"):  # no model to say its length: 80 bp, with a warning naming the construct
        unknown = make_backgrounds("random", 2, seed=2, construct=GENOMIC)
    assert [len(r) for r in unknown] == [80, 80] and "construct genomic has no insert length" in caplog.text


def test_plots_shade_the_flanks(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: saved.append(figure) or path)
    row = USER.with_flanks("ACGT" * 6)
    plots.plot_ism_heatmap(np.zeros([40, 4]), row, tmp_path / "a.png", insert=USER.insert_region(row))
    plots.plot_logo(np.ones([40, 4]), tmp_path / "b.png", insert=(8, 32))
    plots.plot_ism_heatmap(np.zeros([40, 4]), row, tmp_path / "c.png")
    for figure, want in zip(saved, ([(-0.5, 7.5), (31.5, 39.5)], [(-0.5, 7.5), (31.5, 39.5)], [])):
        axis = figure.axes[0]
        spans = [p for p in axis.patches if p.get_facecolor()[:3] == pytest.approx((0.5019, 0.5019, 0.5019), 1e-3)]
        got = sorted((round(p.get_x(), 3), round(p.get_x() + p.get_width(), 3)) for p in spans)
        assert got == want
        labels = axis.get_legend_handles_labels()[1]
        assert labels.count(plots.FLANK_LABEL) == (1 if want else 0)


def test_explain_and_design_cli_use_the_runs_construct(tmp_path, capsys):
    """A run folder recording USER: `explain` names it and keeps its flanks out of top_effects.tsv; `design --random`
    starts from rows of USER and never touches their flanks."""
    import csv
    import json

    from seq2exp.cli import main
    from tests.interpret.conftest import make_smooth_run

    run = make_smooth_run(tmp_path / "run", encoding={"kind": "onehot", "length": 48, "pad": "plasmid_split"})
    info = json.loads((run / "run.json").read_text())
    info["construct"] = USER.to_dict()
    (run / "run.json").write_text(json.dumps(info))
    rng = np.random.default_rng(3)
    rows = [USER.with_flanks("".join(rng.choice(list("ACGT"), 24))) for _ in range(2)]
    fasta = tmp_path / "rows.fa"
    fasta.write_text("".join(f">r{i}\n{r}\n" for i, r in enumerate(rows)))
    out = tmp_path / "ism"
    assert main(["explain", str(run), "--sequences", str(fasta), "-o", str(out), "--top", "60", "--plots", "1"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["construct"] == "my_mpra"
    with open(out / "top_effects.tsv") as handle:
        top = list(csv.DictReader(handle, delimiter="\t"))
    assert len(top) == 60 and all(8 <= int(r["position"]) < 32 for r in top)
    effects = np.load(out / "ism.npz")["effects"]
    assert np.abs(effects[:, :8]).max() > 0  # the flanks were scanned, only left out of the ranking
    designed = tmp_path / "design"
    assert main(["design", str(run), "--random", "2", "-o", str(designed), "--generations", "2",
                 "--population", "4", "--mutations", "3"]) == 0
    with open(designed / "designs.tsv") as handle:
        designs = list(csv.DictReader(handle, delimiter="\t"))
    for row in designs:
        assert row["seed"].startswith(USER.flank5) and row["seed"].endswith(USER.flank3) and len(row["seed"]) == 40
        assert row["design"][:8] == USER.flank5 and row["design"][-8:] == USER.flank3
