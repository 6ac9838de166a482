"""Plots of interpretation results: attribution logos (``logomaker``), ISM heatmaps, motif effect curves, and a
Markdown index linking one PNG per sequence / motif. Per-position plots shade the construct's constant flanks (the
positions outside ``insert``, grey, labelled "constant flank")."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from seq2exp.interpret.sequences import BASES

logger = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:80] or "item"


def _save(figure, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    figure.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _pyplot().close(figure)
    return path


FLANK_LABEL = "constant flank"


def mark_flanks(axis, length: int, insert: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Shade the positions of a per-position plot outside ``insert`` (0-based half-open; ``None``: no flanks) and
    return the shaded ``(start, stop)`` ranges."""
    if insert is None:
        return []
    start, stop = insert
    spans = [span for span in ((0, start), (stop, length)) if span[0] < span[1]]
    for i, (first, end) in enumerate(spans):
        axis.axvspan(first - 0.5, end - 0.5, color="grey", alpha=0.25, lw=0, label=FLANK_LABEL if i == 0 else None)
    return spans


def plot_logo(scores: np.ndarray, path: str | Path, title: str = "", insert: tuple[int, int] | None = None) -> Path:
    """A sequence logo of one attribution map ``[L, 4]`` (letter heights = attribution, negative below 0); the
    positions outside ``insert`` (the construct's flanks) are shaded."""
    import logomaker
    import pandas as pd

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(max(6.0, len(scores) / 10), 2.2))
    logomaker.Logo(pd.DataFrame(np.asarray(scores, float), columns=list(BASES)), ax=axis, color_scheme="classic")
    axis.axhline(0, color="grey", lw=0.5)
    mark_flanks(axis, len(scores), insert)
    axis.set_xlabel("position (0-based)")
    axis.set_ylabel("attribution")
    axis.set_title(title)
    return _save(figure, Path(path))


def plot_ism_heatmap(effects: np.ndarray, sequence: str, path: str | Path, title: str = "",
                     insert: tuple[int, int] | None = None) -> Path:
    """Heatmap of one ISM map ``[L, 4]`` (alt base x position, diverging colours; the reference base is 0 and
    marked with a dot); the positions outside ``insert`` (the construct's flanks) are shaded."""
    plt = _pyplot()
    limit = float(np.abs(effects).max()) or 1.0
    figure, axis = plt.subplots(figsize=(max(6.0, len(sequence) / 10), 1.9))
    image = axis.imshow(np.asarray(effects).T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                        interpolation="nearest")
    positions = [i for i, base in enumerate(sequence.upper()) if base in BASES]
    axis.scatter(positions, [BASES.index(sequence[i].upper()) for i in positions], s=4, c="black", marker="o",
                 linewidths=0, label="reference base")
    axis.set_yticks(range(4), list(BASES))
    mark_flanks(axis, len(sequence), insert)
    axis.set_ylabel("alt base")
    axis.set_xlabel("position (0-based)")
    axis.set_title(title or "ISM: predicted alt - ref")
    axis.legend(loc="upper left", bbox_to_anchor=(0, -0.35), fontsize="x-small", frameon=False)
    figure.colorbar(image, ax=axis, fraction=0.02, pad=0.01, label="alt - ref")
    return _save(figure, Path(path))


def plot_motif_curve(positions: np.ndarray, curve: np.ndarray, path: str | Path, title: str = "",
                     spread: np.ndarray | None = None, spread_label: str = "± 1 s.d. over backgrounds") -> Path:
    """Effect curve ``[2, P]`` (orientations +, -) by position; ``spread`` ``[2, P]`` is drawn as a labelled band
    (``spread_label``) around each curve."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3))
    for o, label in enumerate(("+ strand", "- strand")):
        (line,) = axis.plot(positions, curve[o], label=f"{label}: mean effect")
        if spread is not None:
            axis.fill_between(positions, curve[o] - spread[o], curve[o] + spread[o], alpha=0.2,
                              color=line.get_color(), label=f"{label}: {spread_label}")
    axis.axhline(0, color="grey", lw=0.5)
    axis.set_xlabel("site start (0-based)")
    axis.set_ylabel("predicted effect (with - without)")
    axis.set_title(title)
    axis.legend(fontsize="x-small")
    return _save(figure, Path(path))


def write_index(folder: str | Path, title: str, entries: Sequence[tuple[str, str]], text: str = "") -> Path:
    """``index.md``: a heading, optional text, and each ``(caption, png file name)`` as an image."""
    from seq2exp.utils import atomic_write

    path = Path(folder) / "index.md"
    with atomic_write(path) as handle:
        handle.write(f"# {title}\n\n{text}\n\n" if text else f"# {title}\n\n")
        for caption, file_name in entries:
            handle.write(f"## {caption}\n\n![{caption}]({file_name})\n\n")
    return path
