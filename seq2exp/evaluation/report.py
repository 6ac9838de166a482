"""The score report: ``scores.json``, ``scores.md`` and PNG plots (matplotlib, Agg backend), written atomically."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from seq2exp.evaluation.metrics import ScoringData
from seq2exp.evaluation.subsets import PAIR_SUBSETS, SUBSET_NAMES, SUBSET_WEIGHTS
from seq2exp.jsonio import dumps, jsonable  # noqa: F401  (re-exported: seq2exp.evaluation.dumps)
from seq2exp.utils import atomic_write


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def bootstrap_interval_table(bootstrap: dict, order: list[str] | None = None) -> str:
    """Markdown: each model's bootstrap mean score and 95% interval (2.5th-97.5th percentile over the samples)."""
    order = list(bootstrap["models"]) if order is None else order
    text = (f"\n## Bootstrap 95% intervals\n\n{bootstrap['n_samples']} samples of {bootstrap['fraction']:.1%} of "
            "the test set; each score's mean over the samples and its 95% interval (2.5th to 97.5th percentile).\n\n"
            "| model | Pearson score | Pearson 95% interval | Spearman score | Spearman 95% interval |\n"
            "|---|---|---|---|---|\n")
    for name in order:
        cells = [name]
        for metric in ("pearson", "spearman"):
            low, high = bootstrap[metric]["score_95"][name]
            cells += [_number(bootstrap[metric]["mean_score"][name]), f"{_number(low)} – {_number(high)}"]
        text += "| " + " | ".join(cells) + " |\n"
    return text


def markdown_table(scores: Mapping[str, dict], bootstrap: dict | None = None) -> str:
    """Markdown: one row per model (scores, then r^2 / rho per subset), plus, with ``bootstrap``, each model's 95%
    interval and (two models or more) the bootstrap ranking."""
    present = [name for name in SUBSET_NAMES if any(name in result["subsets"] for result in scores.values())]
    header = ["model", "Pearson score", "Spearman score"] + [f"{name} r² / ρ (n)" for name in present]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, result in scores.items():
        cells = [model, _number(result["pearson_score"]), _number(result["spearman_score"])]
        for name in present:
            entry = result["subsets"].get(name)
            if entry is None:
                cells.append("missing")
            else:
                r = entry["pearson"]
                r2 = None if r is None or math.isnan(r) else r * r
                cells.append(f"{_number(r2)} / {_number(entry['spearman'])} ({entry['n']})")
        lines.append("| " + " | ".join(cells) + " |")
    text = "# Scores\n\nWeights: " + ", ".join(f"{k} {v}" for k, v in SUBSET_WEIGHTS.items()) + \
        " (renormalised over the subsets present).\n\n" + "\n".join(lines) + "\n"
    missing = sorted({name for result in scores.values() for name in result["missing_subsets"]},
                     key=SUBSET_NAMES.index)
    if set(missing) == set(SUBSET_NAMES) - {"all"}:  # no subsets at all: other data, or no --subsets
        text += "\nOnly `all` is scored (no test subsets: seq2exp score --subsets names a challenge " \
                "test_subset_ids folder).\n"
    elif missing:
        text += f"\nMissing subsets (not scored, weights renormalised): {', '.join(missing)}.\n"
    if bootstrap:
        order = sorted(bootstrap["models"], key=lambda name: bootstrap["mean_rank"][name])
        text += bootstrap_interval_table(bootstrap, order)
    if bootstrap and len(order) > 1:  # one model: every rank is 1, the interval above is what there is to say
        text += (f"\n## Bootstrap ranking\n\n{bootstrap['n_samples']} samples of {bootstrap['fraction']:.1%} of the "
                 f"test set; Spearman ranks: {bootstrap['spearman_ranks']}. Rank 1 = best.\n\n"
                 "| model | mean rank (both) | Pearson mean rank | P(Pearson rank 1) | Spearman mean rank | "
                 "P(Spearman rank 1) |\n|---|---|---|---|---|---|\n")
        for name in order:
            text += (f"| {name} | {bootstrap['mean_rank'][name]:.3f} | "
                     f"{bootstrap['pearson']['mean_rank'][name]:.3f} | "
                     f"{bootstrap['pearson']['rank_fractions'][name][0]:.3f} | "
                     f"{bootstrap['spearman']['mean_rank'][name]:.3f} | "
                     f"{bootstrap['spearman']['rank_fractions'][name][0]:.3f} |\n")
        for metric in ("pearson", "spearman"):
            beats = bootstrap[metric]["beats"]
            text += (f"\nFraction of samples in which the row model has a higher {metric.capitalize()} score than "
                     f"the column model:\n\n| | " + " | ".join(order) + " |\n|---|" + "---|" * len(order) + "\n")
            for row in order:
                cells = ["—" if row == column else f"{beats[row][column]:.4f}" for column in order]
                text += f"| {row} | " + " | ".join(cells) + " |\n"
    return text


def _save(figure: Any, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110, bbox_inches="tight")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "model"


def plot_subset_bars(scores: Mapping[str, dict], path: Path) -> None:
    """Grouped bars: Pearson r^2 and Spearman rho per subset, one bar per model."""
    import matplotlib.pyplot as plt

    subsets = [name for name in SUBSET_NAMES if any(name in result["subsets"] for result in scores.values())]
    models = list(scores)
    width = 0.8 / max(1, len(models))
    figure, axes = plt.subplots(2, 1, figsize=(max(6, 1.2 * len(subsets) + 2), 7), sharex=True)
    for axis, metric, label in ((axes[0], "pearson", "Pearson r²"), (axes[1], "spearman", "Spearman ρ")):
        for m, model in enumerate(models):
            values = []
            for name in subsets:
                entry = scores[model]["subsets"].get(name)
                value = math.nan if entry is None or entry[metric] is None else entry[metric]
                values.append(value ** 2 if metric == "pearson" else value)
            axis.bar(np.arange(len(subsets)) + (m - (len(models) - 1) / 2) * width, values, width, label=model)
        axis.set_ylabel(label)
        axis.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(np.arange(len(subsets)), subsets, rotation=30, ha="right")
    axes[0].legend(fontsize="small", ncol=min(4, len(models)))
    axes[0].set_title("Score per test subset")
    _save(figure, path)
    plt.close(figure)


def plot_measured_vs_predicted(data: ScoringData, model: int, path: Path) -> None:
    """Hexbin of measured vs predicted per subset (pair subsets: alt - ref differences) for one model."""
    import matplotlib.pyplot as plt

    present = data.scorable(model)
    panels = []
    for name in SUBSET_NAMES:
        if name in data.subsets:
            items = data.subset_items(name, present)
            if len(items) >= 2:
                panels.append((name, *data.vectors(name, items, [model])))
    columns = 3
    rows = max(1, math.ceil(len(panels) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.6 * rows), squeeze=False)
    for axis in axes.ravel()[len(panels):]:
        axis.axis("off")
    for axis, (name, measured, predicted) in zip(axes.ravel(), panels):
        predicted = predicted[:, 0]
        cells = axis.hexbin(predicted, measured, gridsize=40, mincnt=1, bins="log", cmap="viridis")
        figure.colorbar(cells, ax=axis, label="sequences (log)" if name not in PAIR_SUBSETS else "pairs (log)")
        low = float(min(predicted.min(), measured.min()))
        high = float(max(predicted.max(), measured.max()))
        axis.plot([low, high], [low, high], color="red", linestyle="--", linewidth=0.8, label="y = x")
        r = _pearson(predicted, measured)
        suffix = " (alt - ref)" if name in PAIR_SUBSETS else ""
        axis.set_title(f"{name}{suffix}: r = {r:.3f}, n = {len(measured)}", fontsize="small")
        axis.set_xlabel("predicted", fontsize="small")
        axis.set_ylabel("measured", fontsize="small")
        axis.legend(loc="upper left", fontsize="x-small")
    figure.suptitle(f"{data.names[model]}: measured vs predicted")
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two vectors (NaN when either is constant), for plot titles."""
    x, y = np.asarray(x, np.float64) - np.mean(x), np.asarray(y, np.float64) - np.mean(y)
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denominator if denominator > 0 else math.nan


def subset_matrix(scores: Mapping[str, dict], metric: str) -> tuple[list[str], list[str], np.ndarray]:
    """``(models, subsets, values [models, subsets])``: each model's Pearson r (``metric="pearson"``) or Spearman
    rho per subset, NaN where a model has no score for a subset; subsets in the challenge's order."""
    models = list(scores)
    subsets = [name for name in SUBSET_NAMES if any(name in result["subsets"] for result in scores.values())]
    values = np.full((len(models), len(subsets)), np.nan)
    for i, model in enumerate(models):
        for j, name in enumerate(subsets):
            entry = scores[model]["subsets"].get(name)
            if entry is not None and entry.get(metric) is not None:
                values[i, j] = entry[metric]
    return models, subsets, values


def normalise_per_subset(values: np.ndarray) -> np.ndarray:
    """Min-max normalise each column (subset) over the rows (models): best 1, worst 0; a column whose models
    all score the same is 1; NaN stays NaN."""
    values = np.asarray(values, np.float64)
    missing = np.isnan(values)
    low = np.where(missing, np.inf, values).min(axis=0)
    high = np.where(missing, -np.inf, values).max(axis=0)
    span = high - low
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 1.0)
    return np.where(missing, np.nan, result)


def subset_gaps(values: np.ndarray) -> np.ndarray:
    """Best-to-worst gap per subset (column): max - min over the models that have a score (NaN if fewer than 2)."""
    values = np.asarray(values, np.float64)
    missing = np.isnan(values)
    gaps = np.where(missing, -np.inf, values).max(axis=0) - np.where(missing, np.inf, values).min(axis=0)
    return np.where((~missing).sum(axis=0) >= 2, gaps, np.nan)


def plot_model_subset_heatmap(scores: Mapping[str, dict], path: Path) -> None:
    """The paper's model x subset heatmap: colour = score min-max normalised per subset, text = the score."""
    import matplotlib.pyplot as plt

    panels = [("pearson", "Pearson r"), ("spearman", "Spearman ρ")]
    models, subsets, _ = subset_matrix(scores, "pearson")
    figure, axes = plt.subplots(1, 2, figsize=(2.5 + 1.5 * len(subsets), 1.8 + 0.45 * len(models)), squeeze=False)
    for axis, (metric, label) in zip(axes[0], panels):
        _, _, values = subset_matrix(scores, metric)
        shade = normalise_per_subset(values)
        image = axis.imshow(np.ma.masked_invalid(shade), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(len(models)):
            for j in range(len(subsets)):
                if not np.isnan(values[i, j]):
                    axis.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", fontsize="x-small",
                              color="black" if shade[i, j] > 0.6 else "white")
        axis.set_xticks(range(len(subsets)), subsets, rotation=35, ha="right", fontsize="small")
        axis.set_yticks(range(len(models)), models if metric == "pearson" else [], fontsize="small")
        axis.set_title(f"{label} per subset")
    figure.colorbar(image, ax=axes[0].tolist(), fraction=0.03, label="normalised per subset (best = 1)")
    _save(figure, path)
    plt.close(figure)


def plot_subset_gaps(scores: Mapping[str, dict], path: Path) -> None:
    """Best-to-worst gap per subset: how much the choice of model matters on each kind of sequence."""
    import matplotlib.pyplot as plt

    _, subsets, pearson = subset_matrix(scores, "pearson")
    _, _, spearman = subset_matrix(scores, "spearman")
    width = 0.38
    figure, axis = plt.subplots(figsize=(max(6, 1.1 * len(subsets) + 2), 3.6))
    for k, (values, label) in enumerate(((pearson, "Pearson r"), (spearman, "Spearman ρ"))):
        gaps = subset_gaps(values)
        bars = axis.bar(np.arange(len(subsets)) + (k - 0.5) * width, gaps, width, label=label)
        axis.bar_label(bars, fmt="%.3f", fontsize="x-small")
    axis.set_xticks(np.arange(len(subsets)), subsets, rotation=30, ha="right")
    axis.set_ylabel("best - worst model")
    axis.set_title(f"Best-to-worst gap per subset ({len(scores)} models)")
    axis.legend(fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    _save(figure, path)
    plt.close(figure)


def prediction_correlations(data: ScoringData) -> tuple[list[str], np.ndarray]:
    """``(labels, r)``: Pearson r between every pair of the models' predictions and the truth ("measured", first),
    over the test sequences every model predicted and the truth has."""
    present = data.truth_present.copy()
    for row in range(len(data.names)):
        present &= ~np.isnan(data.predictions[row])
    columns = np.vstack([data.truth[present], data.predictions[:, present]])
    return ["measured", *data.names], np.corrcoef(columns)


def plot_prediction_correlations(data: ScoringData, path: Path) -> None:
    """Heatmap of the pairwise Pearson r of the models' predictions and the measured values."""
    import matplotlib.pyplot as plt

    labels, matrix = prediction_correlations(data)
    count = len(labels)
    figure, axis = plt.subplots(figsize=(2.5 + 0.7 * count, 1.8 + 0.6 * count))
    image = axis.imshow(matrix, vmin=min(0.0, float(np.nanmin(matrix))), vmax=1, cmap="viridis")
    for i in range(count):
        for j in range(count):
            axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                      color="black" if matrix[i, j] > 0.7 else "white")
    axis.set_xticks(range(count), labels, rotation=35, ha="right", fontsize="small")
    axis.set_yticks(range(count), labels, fontsize="small")
    n = int(np.count_nonzero(data.truth_present & ~np.isnan(data.predictions).any(axis=0)))
    axis.set_title(f"Pearson r between predictions and the truth (n = {n})")
    figure.colorbar(image, ax=axis, fraction=0.046, label="Pearson r")
    _save(figure, path)
    plt.close(figure)


def plot_bootstrap_intervals(bootstrap: dict, path: Path) -> None:
    """Each model's bootstrap mean score with its 95% interval, per metric (the weighted Pearson and Spearman
    scores), models ordered by mean rank."""
    import matplotlib.pyplot as plt

    models = sorted(bootstrap["models"], key=lambda name: bootstrap["mean_rank"][name])
    figure, axes = plt.subplots(1, 2, figsize=(5 + 0.9 * len(models), 3.4), squeeze=False)
    for axis, metric, label in zip(axes[0], ("pearson", "spearman"), ("Pearson score", "Spearman score")):
        mean = np.array([bootstrap[metric]["mean_score"][name] for name in models], np.float64)
        interval = np.array([bootstrap[metric]["score_95"][name] for name in models], np.float64).reshape(-1, 2)
        axis.errorbar(range(len(models)), mean, yerr=[mean - interval[:, 0], interval[:, 1] - mean], fmt="o",
                      capsize=6, label="mean, 95% interval")
        for x, (value, (low, high)) in enumerate(zip(mean, interval)):
            axis.annotate(f"{value:.3f}\n[{low:.3f}, {high:.3f}]", (x, high), textcoords="offset points",
                          xytext=(0, 4), ha="center", fontsize="x-small")
        axis.set_xticks(range(len(models)), models, rotation=30, ha="right")
        axis.set_xlim(-0.6, len(models) - 0.4)
        axis.set_ylabel(label)
        axis.margins(y=0.25)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize="x-small", loc="lower left")
    figure.suptitle(f"Bootstrap: {bootstrap['n_samples']} samples of {bootstrap['fraction']:.0%} of the test set")
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def plot_bootstrap_ranks(bootstrap: dict, path: Path) -> None:
    """Heatmaps of each model's rank distribution over the bootstrap samples (Pearson and Spearman scores)."""
    import matplotlib.pyplot as plt

    models = sorted(bootstrap["models"], key=lambda name: bootstrap["mean_rank"][name])
    count = len(models)
    figure, axes = plt.subplots(1, 2, figsize=(4 + 1.1 * count, 1.5 + 0.5 * count), squeeze=False)
    for axis, metric in zip(axes[0], ("pearson", "spearman")):
        matrix = np.array([bootstrap[metric]["rank_fractions"][name] for name in models])
        image = axis.imshow(matrix, vmin=0, vmax=1, cmap="magma_r", aspect="auto")
        for i in range(count):
            for j in range(count):
                if matrix[i, j] >= 0.005:
                    axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                              color="white" if matrix[i, j] > 0.5 else "black")
        axis.set_xticks(range(count), [str(r + 1) for r in range(count)])
        axis.set_yticks(range(count), models if metric == "pearson" else [])
        axis.set_xlabel("rank")
        axis.set_title(f"{metric.capitalize()} score ranks")
    figure.colorbar(image, ax=axes[0].tolist(), fraction=0.03, label="fraction of samples")
    figure.suptitle(f"Bootstrap: {bootstrap['n_samples']} samples of {bootstrap['fraction']:.0%} of the test set",
                    y=1.06)
    _save(figure, path)
    plt.close(figure)


def write_report(
    out_dir: str | os.PathLike,
    scores: Mapping[str, dict],
    *,
    data: ScoringData | None = None,
    bootstrap: dict | None = None,
    ensemble_info: dict | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``scores.json``, ``scores.md`` and the plots into ``out_dir``; returns ``{what: path}``.

    ``scores`` is ``{model: contract JSON object}``; ``data`` (for the hexbin plots) and ``bootstrap`` (for the
    rank heatmap) are optional.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    document: dict[str, Any] = {"models": dict(scores), "weights": SUBSET_WEIGHTS}
    if bootstrap is not None:
        document["bootstrap"] = {key: value for key, value in bootstrap.items() if key != "samples"}
    if ensemble_info is not None:
        document["ensemble"] = ensemble_info
    with atomic_write(out / "scores.json") as handle:
        handle.write(dumps(document, indent=2) + "\n")
    written["json"] = out / "scores.json"
    with atomic_write(out / "scores.md") as handle:
        handle.write(markdown_table(scores, document.get("bootstrap")))
    written["markdown"] = out / "scores.md"
    if plots:
        plot_subset_bars(scores, out / "subset_scores.png")
        written["subset_scores"] = out / "subset_scores.png"
        if data is not None:
            for row, name in enumerate(data.names):
                path = out / f"measured_vs_predicted_{_safe(name)}.png"
                plot_measured_vs_predicted(data, row, path)
                written[f"hexbin:{name}"] = path
        if bootstrap is not None:
            plot_bootstrap_ranks(bootstrap, out / "bootstrap_ranks.png")
            written["bootstrap_ranks"] = out / "bootstrap_ranks.png"
            plot_bootstrap_intervals(bootstrap, out / "bootstrap_intervals.png")
            written["bootstrap_intervals"] = out / "bootstrap_intervals.png"
        if len(scores) >= 2:  # the paper's figure set for several models
            plot_model_subset_heatmap(scores, out / "model_subset_heatmap.png")
            written["model_subset_heatmap"] = out / "model_subset_heatmap.png"
            plot_subset_gaps(scores, out / "subset_gaps.png")
            written["subset_gaps"] = out / "subset_gaps.png"
        if data is not None and len(data.names) >= 2:
            plot_prediction_correlations(data, out / "prediction_correlations.png")
            written["prediction_correlations"] = out / "prediction_correlations.png"
    return written
