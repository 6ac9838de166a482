"""Motif effects: a motif written into backgrounds at every position and orientation (the challenge's motif tiling),
and motif pairs at given spacings (cooperativity). Predictions only: in-process or against a served model.

A site replaces the background bases it covers (as the challenge's tiling designs did). Backgrounds are random,
dinucleotide shuffles of given sequences, or given sequences; by default the motif moves through the insert (the
80-bp variable region of DREAM yeast) when the backgrounds carry the model's construct's constant flanks, else
through the whole sequence. The construct is the predictor's
(:func:`~seq2exp.interpret.predictors.predictor_construct`) unless one is given. Random backgrounds are the
construct's flanks around an insert as long as the construct's, or, for a construct without flanks (``genomic``),
as the model's input (:func:`random_length`); ``seq2exp design --random`` starts from the same backgrounds.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from seq2exp.data.construct import resolve_construct
from seq2exp.errors import ConfigError
from seq2exp.interpret.predictors import Predictor, predictor_construct, predictor_input_length
from seq2exp.interpret.sequences import (
    Motif,
    check_sequences,
    dinucleotide_shuffle,
    parse_motif,
    random_sequences,
)

logger = logging.getLogger(__name__)

BACKGROUND_KINDS = ("random", "shuffled", "given")
ORIENTATIONS = ("+", "-")


DEFAULT_INSERT_LENGTH = 80  # random inserts when neither the construct nor the model says (the yeast insert)


def random_length(construct: Any = None, predictor: Predictor | None = None) -> int:
    """Bases of a random background's insert: the construct's ``insert_length``; for a construct without flanks
    or insert length (``genomic``) the model's input length, its encoding's length
    (:func:`~seq2exp.interpret.predictors.predictor_input_length`: 230 bp for the human lentiMPRA models, 249 bp
    for the Drosophila STARR-seq ones); else 80."""
    construct = resolve_construct(construct)
    if construct.insert_length:
        return int(construct.insert_length)
    if not construct.has_flanks:
        length = predictor_input_length(predictor)
        if length:
            return length
        logger.warning("construct %s has no insert length and the model's input length is unknown: random "
                       "backgrounds are %d bp", construct.name, DEFAULT_INSERT_LENGTH)
    return DEFAULT_INSERT_LENGTH


def make_backgrounds(kind: str, n: int = 10, *, sequences: Sequence[str] | None = None,
                     variable_length: int | None = None, seed: int = 0, construct: Any = None,
                     predictor: Predictor | None = None) -> list[str]:
    """``random``: the construct's flanks + ``n`` random inserts of ``variable_length`` bp (default:
    :func:`random_length`: the construct's insert length; a ``genomic`` model's input length; else 80);
    ``shuffled``: ``n`` dinucleotide shuffles of the inserts of ``sequences`` (cycled); ``given``: ``sequences``
    as they are. ``construct`` defaults to the ``predictor``'s, else ``dream_yeast``."""
    if kind not in BACKGROUND_KINDS:
        raise ConfigError(f"background kind {kind!r}: valid choices are {list(BACKGROUND_KINDS)}")
    if construct is None and predictor is not None:
        construct = predictor_construct(predictor)
    construct = resolve_construct(construct)
    rng = np.random.default_rng(seed)
    if kind == "random":
        size = variable_length or random_length(construct, predictor)
        return [construct.with_flanks(middle) for middle in random_sequences(n, size, rng)]
    if not sequences:
        raise ConfigError(f"background kind {kind!r} needs sequences")
    sequences = check_sequences(sequences, what="backgrounds")
    if kind == "given":
        return sequences
    out = []
    for i in range(n):
        s = sequences[i % len(sequences)]
        start, stop = default_region(s, construct)
        out.append(s[:start] + dinucleotide_shuffle(s[start:stop], rng) + s[stop:])
    return out


def default_region(sequence: str, construct: Any = None) -> tuple[int, int]:
    """The insert between the construct's flanks (``dream_yeast``, the default: ``[17, L - 13)``) when ``sequence``
    carries them, else the whole of it."""
    return resolve_construct(construct).insert_region(sequence)


def insert(sequence: str, site: str, position: int) -> str:
    """``sequence`` with ``site`` written over the bases at ``position`` (0-based)."""
    return sequence[:position] + site + sequence[position + len(site):]


@dataclass
class MotifEffects:
    """``effects [n_backgrounds, 2, n_positions]`` (orientation ``+``, ``-``) = f(with site) - f(background)."""

    motif: Motif
    site: str
    positions: np.ndarray
    effects: np.ndarray
    background_values: np.ndarray

    @property
    def curve(self) -> np.ndarray:
        """Mean effect over backgrounds, ``[2, n_positions]``."""
        return self.effects.mean(axis=0)

    def rows(self) -> list[dict]:
        """``{position, orientation, mean, sd}`` rows of the effect curve."""
        sd = self.effects.std(axis=0)
        return [{"position": int(p), "orientation": ORIENTATIONS[o], "mean": float(self.curve[o, j]),
                 "sd": float(sd[o, j])} for o in range(2) for j, p in enumerate(self.positions)]


def _region(backgrounds: Sequence[str], region: tuple[int, int] | None, width: int,
            construct: Any = None) -> tuple[int, int]:
    length = len(backgrounds[0])
    start, stop = region if region is not None else default_region(backgrounds[0], construct)
    if not (0 <= start < stop <= length) or stop - start < width:
        raise ConfigError(f"motif region {start}-{stop} must lie inside the {length}-bp backgrounds and hold the "
                          f"{width}-bp site")
    return start, stop


def motif_effects(predictor: Predictor, motif: str | Motif, backgrounds: Sequence[str], *,
                  region: tuple[int, int] | None = None, step: int = 1, construct: Any = None) -> MotifEffects:
    """Effect of the motif's consensus site at every position (every ``step`` bp) and orientation of each
    background (by default through the insert of ``construct``, the predictor's when not given)."""
    motif = parse_motif(motif)
    backgrounds = check_sequences(backgrounds, what="backgrounds")
    site = motif.consensus
    reverse = motif.reverse_complement().consensus
    construct = predictor_construct(predictor) if construct is None else construct
    start, stop = _region(backgrounds, region, len(site), construct)
    positions = np.arange(start, stop - len(site) + 1, step)
    batch = list(backgrounds)
    for background in backgrounds:
        for oriented in (site, reverse):
            batch.extend(insert(background, oriented, int(p)) for p in positions)
    values = predictor.predict(batch)
    base = values[:len(backgrounds)]
    effects = values[len(backgrounds):].reshape(len(backgrounds), 2, len(positions)) - base[:, None, None]
    return MotifEffects(motif, site, positions, effects.astype(np.float32), base)


@dataclass
class PairEffects:
    """Per spacing: mean effects of A alone, B alone, both, and ``interaction`` = both - A - B."""

    spacings: np.ndarray
    a: np.ndarray
    b: np.ndarray
    both: np.ndarray

    @property
    def interaction(self) -> np.ndarray:
        return self.both - self.a - self.b

    def rows(self) -> list[dict]:
        return [{"spacing": int(s), "a": float(a), "b": float(b), "both": float(ab), "interaction": float(i)}
                for s, a, b, ab, i in zip(self.spacings, self.a, self.b, self.both, self.interaction)]


def motif_pair_effects(predictor: Predictor, motif_a: str | Motif, motif_b: str | Motif,
                       backgrounds: Sequence[str], spacings: Sequence[int], *, anchor: int | None = None,
                       construct: Any = None) -> PairEffects:
    """A at ``anchor`` (default: the start of the insert of ``construct``, the predictor's when not given), B
    ``spacing`` bp after A's end, both forward; effects averaged over backgrounds."""
    site_a, site_b = parse_motif(motif_a).consensus, parse_motif(motif_b).consensus
    backgrounds = check_sequences(backgrounds, what="backgrounds")
    length = len(backgrounds[0])
    construct = predictor_construct(predictor) if construct is None else construct
    anchor = default_region(backgrounds[0], construct)[0] if anchor is None else anchor
    spacings = np.asarray(list(spacings), int)
    if (spacings < 0).any() or anchor < 0 or anchor + len(site_a) + spacings.max() + len(site_b) > length:
        raise ConfigError(f"motif pair: anchor {anchor} and spacings up to {spacings.max()} do not fit in the "
                          f"{length}-bp backgrounds")
    batch = list(backgrounds)
    for background in backgrounds:
        with_a = insert(background, site_a, anchor)
        for spacing in spacings:
            position_b = anchor + len(site_a) + int(spacing)
            batch.extend([with_a, insert(background, site_b, position_b), insert(with_a, site_b, position_b)])
    values = predictor.predict(batch)
    base = values[:len(backgrounds)]
    grid = values[len(backgrounds):].reshape(len(backgrounds), len(spacings), 3) - base[:, None, None]
    mean = grid.mean(axis=0)
    return PairEffects(spacings, mean[:, 0], mean[:, 1], mean[:, 2])
