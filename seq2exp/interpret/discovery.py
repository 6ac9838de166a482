"""Motif discovery: TF-MoDISco (``modisco-lite``) on attribution maps, patterns matched to JASPAR's fungi motifs
with a Tomtom comparison (``memelite``), reporting the known TFs found.

Input: one-hot ``[n, L, 4]`` and hypothetical contributions ``[n, L, 4]`` (mean-normalised gradients from
:func:`seq2exp.interpret.attribution.attribute`, or ISM effects via ``ISMResult.hypothetical``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.interpret.sequences import BASES, Motif, jaspar_fungi_motifs

logger = logging.getLogger(__name__)


@dataclass
class Pattern:
    """One TF-MoDISco pattern: its sign, trimmed PPM and contribution, support, and best JASPAR matches."""

    name: str
    sign: str                  # "+" (raises expression) or "-"
    ppm: np.ndarray            # [w, 4], trimmed
    contribution: np.ndarray   # [w, 4], mean contribution (trimmed)
    n_seqlets: int
    matches: list[dict] = field(default_factory=list)  # {"motif", "tf", "p_value", "q_value"}, best first

    @property
    def consensus(self) -> str:
        return "".join(BASES[i] for i in self.ppm.argmax(axis=1))

    def as_dict(self) -> dict:
        return {"name": self.name, "sign": self.sign, "consensus": self.consensus, "n_seqlets": self.n_seqlets,
                "matches": self.matches}


def _trim(ppm: np.ndarray, contribution: np.ndarray, threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """The span of positions whose |contribution| is at least ``threshold`` x the largest."""
    score = np.abs(contribution).sum(axis=1)
    keep = np.flatnonzero(score >= threshold * score.max())
    if keep.size == 0:
        return ppm, contribution
    return ppm[keep[0]:keep[-1] + 1], contribution[keep[0]:keep[-1] + 1]


def run_modisco(onehot: np.ndarray, hypothetical: np.ndarray, *, max_seqlets: int = 2000, window: int = 15,
                flank: int = 5, min_cluster: int = 20, **options) -> list[Pattern]:
    """TF-MoDISco patterns (positive and negative metaclusters) of the attribution maps."""
    try:
        from modiscolite import tfmodisco
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ConfigError("motif discovery needs 'modisco-lite': pip install 'seq2exp[interpret]'") from error
    onehot = np.asarray(onehot, np.float32)
    hypothetical = np.asarray(hypothetical, np.float32)
    if onehot.shape != hypothetical.shape or onehot.ndim != 3 or onehot.shape[-1] != 4:
        raise ConfigError(f"modisco: one-hot {onehot.shape} and hypothetical {hypothetical.shape} must both be "
                          "[n, L, 4]")
    positive, negative = tfmodisco.TFMoDISco(
        one_hot=onehot, hypothetical_contribs=hypothetical, sliding_window_size=window, flank_size=flank,
        max_seqlets_per_metacluster=max_seqlets, min_metacluster_size=min_cluster,
        final_min_cluster_size=min_cluster, trim_to_window_size=window + 2 * flank, **options)
    patterns = []
    for sign, found in (("+", positive or []), ("-", negative or [])):
        for i, pattern in enumerate(found):
            ppm, contribution = _trim(np.asarray(pattern.sequence), np.asarray(pattern.contrib_scores))
            patterns.append(Pattern(f"{'pos' if sign == '+' else 'neg'}_pattern_{i}", sign, ppm, contribution,
                                    len(pattern.seqlets)))
    logger.info("TF-MoDISco: %d patterns", len(patterns))
    return patterns


def information_content(ppm: np.ndarray) -> float:
    """Total information content (bits) of a PPM ``[w, 4]``."""
    p = np.clip(np.asarray(ppm, float), 1e-9, None)
    p = p / p.sum(axis=1, keepdims=True)
    return float((2.0 + (p * np.log2(p)).sum(axis=1)).sum())


def match_patterns(patterns: Sequence[Pattern], motifs: Sequence[Motif] | None = None, *, top: int = 3,
                   max_q: float = 0.5, min_bits: float = 3.0) -> list[Pattern]:
    """Attach each pattern's best ``top`` JASPAR matches (Tomtom p-values, Benjamini-Hochberg q-values over the
    targets) with ``q <= max_q``; ``motifs`` defaults to the JASPAR CORE fungi collection. Patterns with less than
    ``min_bits`` of information (near-flat PPMs, whose Tomtom p-values mean nothing) get no matches."""
    if not patterns:
        return list(patterns)
    from memelite import tomtom

    motifs = list(motifs) if motifs is not None else jaspar_fungi_motifs()
    queries = [np.clip(p.ppm, 1e-3, None).T / np.clip(p.ppm, 1e-3, None).sum(axis=1) for p in patterns]
    p_values = np.asarray(tomtom(queries, [m.probs.T for m in motifs])[0])
    for pattern, row in zip(patterns, p_values):
        if information_content(pattern.ppm) < min_bits:
            pattern.matches = []
            continue
        q_values = _benjamini_hochberg(row)
        pattern.matches = [{"motif": motifs[j].name, "tf": motifs[j].name.split(" (")[0],
                            "p_value": float(row[j]), "q_value": float(q_values[j])}
                           for j in np.argsort(row)[:top] if q_values[j] <= max_q]
    return list(patterns)


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


def discover(onehot: np.ndarray, hypothetical: np.ndarray, **options) -> tuple[list[Pattern], list[str]]:
    """TF-MoDISco + JASPAR matching; returns the patterns and the sorted names of the known TFs found."""
    patterns = match_patterns(run_modisco(onehot, hypothetical, **options))
    found = sorted({p.matches[0]["tf"] for p in patterns if p.matches})
    return patterns, found
