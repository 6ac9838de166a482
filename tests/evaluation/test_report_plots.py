"""The report's plots: what each figure shows is read back from the matplotlib figure before it is saved
(titles, colour bars, lines, printed values) and compared with numpy/scipy computed here."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot  # noqa: E402
import numpy as np
import pytest
from scipy import stats

from seq2exp.evaluation import bootstrap_ranks, prepare, score_data, write_report
from seq2exp.evaluation import report


@pytest.fixture()
def figures(monkeypatch):
    """Every figure the report saves, keyed by file name (the PNG is still written)."""
    captured = {}
    original = report._save

    def save(figure, path):
        captured[Path(path).name] = figure
        original(figure, path)

    monkeypatch.setattr(report, "_save", save)
    monkeypatch.setattr(matplotlib.pyplot, "close", lambda *args: None)
    return captured


@pytest.fixture()
def three_models():
    rng = np.random.default_rng(3)
    n = 400
    truth = rng.normal(10, 2, n)
    predictions = {name: truth + rng.normal(0, noise, n) for name, noise in (("good", 0.5), ("fair", 2.0),
                                                                             ("poor", 4.0))}
    subsets = {"high": np.arange(0, 120), "low": np.arange(120, 260),
               "SNVs": np.stack([np.arange(260, 330), np.arange(330, 400)], axis=1)}
    data = prepare(predictions, truth, subsets)
    scores = {name: score_data(data, i) for i, name in enumerate(data.names)}
    return truth, predictions, subsets, data, scores


def test_normalise_and_gaps_match_numpy() -> None:
    values = np.array([[0.5, 0.2, np.nan, 0.3], [0.7, 0.2, 0.1, np.nan], [0.6, 0.2, 0.4, np.nan]])
    expected = np.array([[0.0, 1.0, np.nan, 1.0], [1.0, 1.0, 0.0, np.nan], [0.5, 1.0, 1.0, np.nan]])
    np.testing.assert_allclose(report.normalise_per_subset(values), expected, equal_nan=True)
    np.testing.assert_allclose(report.subset_gaps(values), [0.2, 0.0, 0.3, np.nan], equal_nan=True)


def test_report_figure_set_for_several_models(tmp_path: Path, figures, three_models) -> None:
    truth, predictions, subsets, data, scores = three_models
    boot = bootstrap_ranks(data, n_samples=60, seed=1)
    written = write_report(tmp_path, scores, data=data, bootstrap=boot)
    for name in ("model_subset_heatmap", "subset_gaps", "prediction_correlations", "bootstrap_intervals"):
        assert written[name].stat().st_size > 1000, name

    # hexbins: a colour bar per panel, r in the title (scipy), the y = x line
    figure = figures["measured_vs_predicted_good.png"]
    panels = {axis.get_title(): axis for axis in figure.axes if axis.get_title()}
    r_all = stats.pearsonr(predictions["good"], truth)[0]
    assert f"all: r = {r_all:.3f}, n = 400" in panels
    pairs = subsets["SNVs"]
    r_snv = stats.pearsonr(predictions["good"][pairs[:, 0]] - predictions["good"][pairs[:, 1]],
                           truth[pairs[:, 0]] - truth[pairs[:, 1]])[0]
    assert f"SNVs (alt - ref): r = {r_snv:.3f}, n = 70" in panels
    for axis in panels.values():
        assert [line.get_label() for line in axis.get_lines()] == ["y = x"]
        x, y = axis.get_lines()[0].get_data()
        np.testing.assert_allclose(x, y)
    colorbars = [axis for axis in figure.axes if axis.get_ylabel() in ("sequences (log)", "pairs (log)")]
    assert len(colorbars) == len(panels) == 4

    # model x subset heatmap: printed values are the scores; colours are min-max per subset
    heatmap = figures["model_subset_heatmap.png"]
    printed = {text.get_text() for text in heatmap.axes[0].texts}
    for name in ("good", "fair", "poor"):
        for subset in ("all", "high", "low", "SNVs"):
            assert f"{scores[name]['subsets'][subset]['pearson']:.3f}" in printed
    shade = heatmap.axes[0].images[0].get_array()
    assert np.allclose(shade[0], 1.0) and np.allclose(shade[2], 0.0)   # good is best, poor worst everywhere

    # best-to-worst gaps, printed on the bars
    gaps = {text.get_text() for text in figures["subset_gaps.png"].axes[0].texts}
    gap_all = abs(stats.pearsonr(predictions["good"], truth)[0] - stats.pearsonr(predictions["poor"], truth)[0])
    assert f"{gap_all:.3f}" in gaps

    # pairwise correlation of the predictions and the truth
    correlations = figures["prediction_correlations.png"].axes[0].images[0].get_array()
    columns = [truth, predictions["good"], predictions["fair"], predictions["poor"]]
    expected = [[stats.pearsonr(a, b)[0] for b in columns] for a in columns]
    np.testing.assert_allclose(correlations, expected, atol=1e-12)

    # ... and in scores.md
    markdown = (tmp_path / "scores.md").read_text()
    low, high = boot["spearman"]["score_95"]["fair"]
    assert f"| fair | {boot['pearson']['mean_score']['fair']:.4f} |" in markdown
    assert f"{low:.4f} – {high:.4f} |" in markdown

    # bootstrap intervals: each model's mean and 95% interval printed
    labels = " ".join(text.get_text() for axis in figures["bootstrap_intervals.png"].axes for text in axis.texts)
    for name in ("good", "fair", "poor"):
        low, high = boot["pearson"]["score_95"][name]
        assert f"{boot['pearson']['mean_score'][name]:.3f}\n[{low:.3f}, {high:.3f}]" in labels


def test_one_model_report_has_no_comparison_plots(tmp_path: Path, three_models) -> None:
    _, _, _, data, scores = three_models
    written = write_report(tmp_path, {"good": scores["good"]})
    assert "model_subset_heatmap" not in written and not (tmp_path / "subset_gaps.png").exists()


def test_ism_heatmap_marks_reference_and_motif_band_is_labelled(tmp_path: Path, monkeypatch) -> None:
    from seq2exp.interpret import plots

    captured = {}
    monkeypatch.setattr(plots, "_save", lambda figure, path: captured.setdefault(Path(path).name, figure) and path)
    sequence = "ACGTTGCAAC"
    plots.plot_ism_heatmap(np.random.default_rng(0).normal(size=(10, 4)), sequence, tmp_path / "ism.png")
    points = captured["ism.png"].axes[0].collections[0].get_offsets()
    np.testing.assert_array_equal(points[:, 0], np.arange(10))
    np.testing.assert_array_equal(points[:, 1], ["ACGT".index(base) for base in sequence])
    plots.plot_motif_curve(np.arange(5), np.zeros((2, 5)), tmp_path / "m.png", "m", np.ones((2, 5)),
                           "± 1 s.d. over 5 backgrounds")
    labels = captured["m.png"].axes[0].get_legend_handles_labels()[1]
    assert "+ strand: ± 1 s.d. over 5 backgrounds" in labels and "- strand: mean effect" in labels
