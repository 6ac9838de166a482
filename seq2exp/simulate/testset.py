"""The simulated test set, built the way the challenge built its subsets (paper, "Designing the test sequences").

Subsets (sizes at full scale, 71,103 sequences, as in the paper's Table 2; scaled down proportionally):
- ``random`` (6,349): random N80 promoters, like the training library.
- ``high`` / ``low`` (968 / 997): designed by a genetic algorithm that maximises / minimises the expression a
  *previous* model predicts (here the naive additive sum-of-sites model), so they are extreme but imperfectly so.
- ``yeast`` (997): 80 bp fragments of native S. cerevisiae promoters (``seq2exp.simulate.genome``).
- ``challenging`` (1,953): designed to maximise the disagreement between the additive model and the full model
  (the challenge used a CNN vs a biochemical model): interactions, gating and saturation matter most here.
- ``SNVs`` (44,340 pairs): single-nucleotide trajectories (each step one substitution that moves expression up or
  down, as in Vaishnav et al.'s evolution trajectories) and random single mutants of random/native promoters.
- ``motif_perturbation`` (3,287 pairs): Reb1 strong/medium consensus sites (sense/reverse complement, with 0-3
  substitutions) inserted at position 20 of random backgrounds; Hsf1 monomeric (ATGGAACA) and trimeric
  (TTCTAGAANNTTCT) sites tiled 1-10 / 1-5 times from the left or the right. Pairs are (perturbed, background).
- ``motif_tiling`` (2,624 pairs): poly-A (AAAAA), Skn7 (GTCTGGCCC), Mga1 (TTCT), Ume6 (AGCCGCC), Mot3 (GCAGGCACG) and
  Azf1 (TAAAAGAAA) consensus sites at every position of the 80 bp region, both orientations, in three backgrounds.
Every test sequence is 110 bp with the real flanks; identical sequences share one test index.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seq2exp.simulate.genome import native_promoters, promoter_fragments, reverse_complement
from seq2exp.simulate.library import random_promoters
from seq2exp.data.construct import DREAM_YEAST
from seq2exp.simulate.model import FLANK3, FLANK5, PromoterModel, to_codes, to_strings
from seq2exp.simulate.sizes import FULL_TEST_SIZE

VARIABLE_START = len(FLANK5)
VARIABLE_LENGTH = DREAM_YEAST.insert_length  # 80
TEST_LENGTH = 110
# Subset sizes of the real test set (paper Table 2; sequences for singles, pairs for pair subsets).
FULL_SIZES = {"random": 6349, "high": 968, "low": 997, "yeast": 997, "challenging": 1953,
              "SNVs": 44340, "motif_perturbation": 3287, "motif_tiling": 2624}
FULL_SNV_SEQUENCES = 53915          # the sequences left for the SNV subset at full scale
TILING_MOTIFS = {"polyA": "AAAAA", "Skn7": "GTCTGGCCC", "Mga1": "TTCT", "Ume6": "AGCCGCC", "Mot3": "GCAGGCACG",
                 "Azf1": "TAAAAGAAA"}
REB1_SITES = {"s": "TTACCCGG", "m": "TTACCCTA"}   # strong / medium affinity Reb1 consensus
HSF1_MONOMER = "ATGGAACA"
HSF1_TRIMER = "TTCTAGAANNTTCT"
SINGLE_SUBSETS = ("high", "low", "yeast", "random", "challenging")
PAIR_SUBSETS = ("SNVs", "motif_perturbation", "motif_tiling")
_BASES = "ACGT"


@dataclass
class TestSet:
    """Unique test sequences and the subsets' rows (tags + sequences; indices are assigned on output)."""

    sequences: dict[str, int] = field(default_factory=dict)          # sequence -> index in insertion order
    singles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)         # subset -> [(tag, seq)]
    pairs: dict[str, list[tuple[str, str, str, str]]] = field(default_factory=dict)  # -> [(alt_tag, ref_tag, alt, ref)]

    def add(self, seq: str) -> int:
        if len(seq) != TEST_LENGTH or not seq.startswith(FLANK5) or not seq.endswith(FLANK3):
            raise AssertionError(f"test sequence is not 110 bp with the flanks: {seq}")
        return self.sequences.setdefault(seq, len(self.sequences))

    def add_single(self, subset: str, tag: str, seq: str) -> None:
        self.add(seq)
        self.singles.setdefault(subset, []).append((tag, seq))

    def add_pair(self, subset: str, alt_tag: str, ref_tag: str, alt: str, ref: str) -> None:
        self.add(alt)
        self.add(ref)
        self.pairs.setdefault(subset, []).append((alt_tag, ref_tag, alt, ref))


def subset_sizes(n_test: int) -> dict[str, int]:
    """Target size of each subset for a test set of about ``n_test`` sequences (at least a few of each)."""
    scale = n_test / FULL_TEST_SIZE
    return {name: max(int(round(size * scale)), 6) for name, size in FULL_SIZES.items()}


def _variable(seq: str) -> str:
    return seq[VARIABLE_START:VARIABLE_START + VARIABLE_LENGTH]


def _promoter(variable: str) -> str:
    return FLANK5 + variable + FLANK3


def _random_variables(rng: np.random.Generator, n: int) -> list[str]:
    codes, lengths = random_promoters(rng, n, lengths=np.full(n, TEST_LENGTH, dtype=np.int32), width=TEST_LENGTH)
    return to_strings(codes, lengths)


def evolve(rng: np.random.Generator, fitness: Callable[[np.ndarray], np.ndarray], codes: np.ndarray,
           rounds: int, mutants: int = 6) -> np.ndarray:
    """Greedy genetic algorithm on the 80 bp region: each round every sequence proposes ``mutants`` copies with one
    or two substitutions and keeps the fittest of them and itself (vectorised over the population)."""
    codes = codes.copy()
    n = len(codes)
    lengths = np.full(n * (mutants + 1), TEST_LENGTH, dtype=np.int32)
    for _ in range(rounds):
        candidates = np.repeat(codes[:, None, :], mutants + 1, axis=1)       # [n, m+1, L]; slot 0 = unchanged
        for _hit in range(2):
            column = rng.integers(VARIABLE_START, VARIABLE_START + VARIABLE_LENGTH, size=(n, mutants))
            base = rng.integers(0, 4, size=(n, mutants)).astype(np.uint8)
            apply = rng.random((n, mutants)) < (1.0 if _hit == 0 else 0.3)
            rows, slots = np.nonzero(apply)
            candidates[rows, slots + 1, column[rows, slots]] = base[rows, slots]
        scores = fitness(candidates.reshape(-1, TEST_LENGTH), lengths).reshape(n, mutants + 1)
        best = scores.argmax(axis=1)
        codes = candidates[np.arange(n), best]
    return codes


def _substitute(variable: str, position: int, base: str) -> str:
    return variable[:position] + base + variable[position + 1:]


def _insert(variable: str, position: int, site: str) -> str:
    if not 0 <= position <= len(variable) - len(site):
        raise ValueError(f"site {site} does not fit at position {position}")
    return variable[:position] + site + variable[position + len(site):]


def _fill_n(rng: np.random.Generator, site: str) -> str:
    return "".join(_BASES[rng.integers(4)] if c == "N" else c for c in site)


def build_test_set(model: PromoterModel, rng: np.random.Generator, n_test: int) -> TestSet:
    """Design all subsets for a test set of about ``n_test`` unique sequences."""
    sizes = subset_sizes(n_test)
    test = TestSet()
    full = model.predict_log_expression

    def additive(codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return model.predict_log_expression(codes, lengths, additive=True)

    # random
    for i, seq in enumerate(_random_variables(rng, sizes["random"])):
        test.add_single("random", f"rand_HQ_{i}", seq)
    # high / low: designed against the additive (previous-generation) model
    for subset, sign in (("high", 1.0), ("low", -1.0)):
        start, _ = to_codes(_random_variables(rng, sizes[subset]))
        designed = evolve(rng, lambda c, n, s=sign: s * additive(c, n), start, rounds=12)
        for i, seq in enumerate(to_strings(designed, np.full(len(designed), TEST_LENGTH))):
            test.add_single(subset, f"GA.additive.{subset}_{i}", seq)
    # yeast: native promoter fragments
    promoters = native_promoters()
    order = rng.permutation(len(promoters))
    fragments: list[tuple[str, str]] = []
    for gene in order:
        tag, promoter = promoters[gene]
        for k, fragment in enumerate(promoter_fragments(promoter)):
            fragments.append((f"{tag}.{k}", fragment))
        if len(fragments) >= 2 * sizes["yeast"]:      # the second half: native references of SNV pairs
            break
    for tag, fragment in fragments[: sizes["yeast"]]:
        test.add_single("yeast", tag, _promoter(fragment))
    # challenging: maximise the disagreement between the full and the additive model, both ways
    start, _ = to_codes(_random_variables(rng, sizes["challenging"]))
    half = len(start) // 2
    up = evolve(rng, lambda c, n: full(c, n) - additive(c, n), start[:half], rounds=12)
    down = evolve(rng, lambda c, n: additive(c, n) - full(c, n), start[half:], rounds=12)
    for i, seq in enumerate(to_strings(np.concatenate([up, down]), np.full(len(start), TEST_LENGTH))):
        test.add_single("challenging", f"GA.full.vs.additive_{i}", seq)

    _motif_tiling(test, rng, sizes["motif_tiling"])
    _motif_perturbation(test, rng, sizes["motif_perturbation"])
    remaining = max(n_test - len(test.sequences), 2 * sizes["SNVs"] // 3)
    _snvs(test, rng, model, n_sequences=remaining, n_pairs=min(sizes["SNVs"], remaining - 1),
          native=[f for f in fragments[sizes["yeast"]:]])
    top_up = 0
    while len(test.sequences) < n_test:        # duplicates (e.g. a trajectory reverting) cost a few sequences
        ref = _random_variables(rng, 1)[0]
        variable = _variable(ref)
        for pos in rng.choice(VARIABLE_LENGTH, size=min(5, n_test - len(test.sequences)), replace=False):
            base = _BASES[(_BASES.index(variable[pos]) + rng.integers(1, 4)) % 4]
            test.add_pair("SNVs", f"extra{top_up}_{pos}{base}", f"extra{top_up}",
                          _promoter(_substitute(variable, int(pos), base)), ref)
        top_up += 1
    return test


def _motif_tiling(test: TestSet, rng: np.random.Generator, n_pairs: int) -> None:
    """Each tiling motif at every position and orientation in a few backgrounds (subsampled evenly to size)."""
    n_backgrounds = 3 if n_pairs > 600 else 1
    design = []
    for b, background in enumerate(_random_variables(rng, n_backgrounds)):
        ref_tag = f"tilebg{b}"
        variable = _variable(background)
        for name, site in TILING_MOTIFS.items():
            for orientation, oriented in (("", site), (".RC", reverse_complement(site))):
                for position in range(VARIABLE_LENGTH - len(site) + 1):
                    alt = _promoter(_insert(variable, position, oriented))
                    design.append((f"{ref_tag}_{name}{orientation}_{position}", ref_tag, alt, background))
    keep = np.unique(np.linspace(0, len(design) - 1, min(n_pairs, len(design))).round().astype(int))
    for i in keep:
        alt_tag, ref_tag, alt, ref = design[i]
        if alt != ref:
            test.add_pair("motif_tiling", alt_tag, ref_tag, alt, ref)


def _motif_perturbation(test: TestSet, rng: np.random.Generator, n_pairs: int) -> None:
    """Reb1 insertions (with 0-3 substitutions) at position 20 and Hsf1 site tilings, in random backgrounds."""
    n_backgrounds = int(np.clip(round(10 * n_pairs / FULL_SIZES["motif_perturbation"]), 1, 10))
    backgrounds = _random_variables(rng, n_backgrounds)
    per_background = int(np.ceil(n_pairs / n_backgrounds))
    for b, background in enumerate(backgrounds):
        ref_tag = f"pertbg{b}"
        variable = _variable(background)
        design: dict[str, str] = {}                   # alt variable region -> tag (one entry per distinct sequence)

        def add(tag: str, alt_variable: str) -> None:
            if alt_variable != variable:
                design.setdefault(alt_variable, tag)

        for side in ("L", "R"):
            for count in range(1, 11):
                tiled = variable
                for k in range(count):
                    tiled = _insert(tiled, 8 * k if side == "L" else VARIABLE_LENGTH - 8 * (k + 1), HSF1_MONOMER)
                add(f"Hsf1.mono.{side}{count}", tiled)
            for count in range(1, 6):
                tiled = variable
                for k in range(count):
                    position = 1 + 15 * k if side == "L" else VARIABLE_LENGTH - 1 - 15 * (k + 1)
                    tiled = _insert(tiled, position, _fill_n(rng, HSF1_TRIMER))
                add(f"Hsf1.tri.{side}{count}", tiled)
        for position in range(0, VARIABLE_LENGTH - len(HSF1_MONOMER) + 1, 8):
            add(f"Hsf1.mono.at{position}", _insert(variable, position, HSF1_MONOMER))
        reb1 = [(f"Reb1.{strength}{orientation}", oriented) for strength, site in REB1_SITES.items()
                for orientation, oriented in (("", site), (".RC", reverse_complement(site)))]
        for name, site in reb1:                       # canonical sites and every single substitution
            add(f"{name}_20", _insert(variable, 20, site))
            for pos in range(len(site)):
                for base in _BASES.replace(site[pos], ""):
                    add(f"{name}_{pos}{base}_20", _insert(variable, 20, _substitute(site, pos, base)))
        attempts = 0
        while len(design) < per_background and attempts < 20 * per_background:   # then 2-3 substitutions
            attempts += 1
            name, site = reb1[rng.integers(len(reb1))]
            mutated, label = site, []
            for pos in rng.choice(len(site), size=int(rng.integers(2, 4)), replace=False):
                base = _BASES[(_BASES.index(mutated[pos]) + rng.integers(1, 4)) % 4]
                mutated = _substitute(mutated, int(pos), base)
                label.append(f"{pos}{base}")
            add(f"{name}_{'.'.join(label)}_20", _insert(variable, 20, mutated))
        items = list(design.items())
        take = np.sort(rng.permutation(len(items))[:per_background])
        for i in take:
            alt_variable, tag = items[i]
            test.add_pair("motif_perturbation", f"{ref_tag}_{tag}", ref_tag, _promoter(alt_variable), background)


def _snvs(test: TestSet, rng: np.random.Generator, model: PromoterModel, n_sequences: int, n_pairs: int,
          native: list[tuple[str, str]]) -> None:
    """Single-substitution pairs: expression-driven trajectories (2/3) and random mutants around a reference (1/3)."""
    n_groups = max(n_sequences - n_pairs, 1)
    group_size = np.full(n_groups, n_sequences // n_groups)
    group_size[: n_sequences - group_size.sum()] += 1
    n_trajectories = (2 * n_groups) // 3
    # trajectories: each step the best of 4 single mutants for this trajectory's direction
    steps = int(group_size[:n_trajectories].max(initial=1))
    codes = np.zeros((0, TEST_LENGTH), dtype=np.uint8)
    if n_trajectories:
        codes, _ = to_codes(_random_variables(rng, n_trajectories))
    direction = np.where(rng.random(n_trajectories) < 0.5, 1.0, -1.0)
    history = [codes]
    for _ in range(steps - 1):
        codes = _trajectory_step(rng, model, codes, direction)
        history.append(codes)
    strings = [to_strings(h, np.full(len(h), TEST_LENGTH)) for h in history]
    for t in range(n_trajectories):
        for step in range(1, int(group_size[t])):
            test.add_pair("SNVs", f"traj{t}_step{step}", f"traj{t}_step{step - 1}",
                          strings[step][t], strings[step - 1][t])
    # stars: a reference (random or native fragment) and random single mutants of it
    n_stars = n_groups - n_trajectories
    references = _random_variables(rng, n_stars)
    for s in range(n_stars):
        ref, ref_tag = references[s], f"star{s}"
        if native and s % 3 == 0:
            tag, fragment = native[(s // 3) % len(native)]
            ref, ref_tag = _promoter(fragment), f"{tag}.snv"
        variable = _variable(ref)
        positions = rng.choice(VARIABLE_LENGTH, size=int(group_size[n_trajectories + s]) - 1, replace=False)
        for pos in positions:
            base = _BASES[(_BASES.index(variable[pos]) + rng.integers(1, 4)) % 4]
            test.add_pair("SNVs", f"{ref_tag}_{pos}{base}", ref_tag, _promoter(_substitute(variable, int(pos), base)), ref)


def _trajectory_step(rng: np.random.Generator, model: PromoterModel, codes: np.ndarray,
                     direction: np.ndarray, proposals: int = 4) -> np.ndarray:
    """One accepted substitution per trajectory: the best of ``proposals`` random single mutants."""
    n = len(codes)
    if n == 0:
        return codes
    candidates = np.repeat(codes[:, None, :], proposals, axis=1)
    column = rng.integers(VARIABLE_START, VARIABLE_START + VARIABLE_LENGTH, size=(n, proposals))
    shift = rng.integers(1, 4, size=(n, proposals)).astype(np.uint8)
    rows, slots = np.indices((n, proposals))
    candidates[rows, slots, column] = (candidates[rows, slots, column] + shift) % 4
    flat = candidates.reshape(-1, TEST_LENGTH)
    scores = model.predict_log_expression(flat, np.full(len(flat), TEST_LENGTH, dtype=np.int32))
    best = (scores.reshape(n, proposals) * direction[:, None]).argmax(axis=1)
    return candidates[np.arange(n), best]
