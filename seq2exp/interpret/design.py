"""Sequence design: a genetic algorithm (in-silico evolution) towards high, low or a target expression.

Each generation every survivor has children with a few random substitutions (and, with ``crossover``, a one-point
crossover with another survivor); candidates that change a protected position or differ from their seed by more than
the mutation budget are never made. The best ``population`` by fitness survive (elitism). Predictions only, so it
runs against a served model too. ``protected`` defaults to the constant flanks of the model's construct (the
predictor's, :func:`~seq2exp.interpret.predictors.predictor_construct`) when the seeds carry them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.interpret.motif_effects import default_region
from seq2exp.interpret.predictors import Predictor, predictor_construct
from seq2exp.interpret.sequences import BASES, check_sequences, protected_mask

logger = logging.getLogger(__name__)

OBJECTIVES = ("maximize", "minimize", "target")


@dataclass
class DesignResult:
    """The best design per seed, its prediction, its substitutions vs the seed, and the fitness trace."""

    seeds: list[str]
    designs: list[str]
    seed_values: np.ndarray
    values: np.ndarray
    history: list[dict] = field(default_factory=list)

    @property
    def n_mutations(self) -> list[int]:
        return [sum(a != b for a, b in zip(s, d)) for s, d in zip(self.seeds, self.designs)]


def _fitness(values: np.ndarray, objective: str, target: float | None) -> np.ndarray:
    if objective == "maximize":
        return values
    if objective == "minimize":
        return -values
    return -np.abs(values - target)


def design(predictor: Predictor, seeds: Sequence[str], *, objective: str = "maximize", target: float | None = None,
           generations: int = 10, population: int = 20, children: int = 4, mutations: int = 1,
           budget: int | None = None, protected: Sequence[tuple[int, int]] | None = None, crossover: bool = False,
           seed: int = 0, progress: bool = False, construct: Any = None) -> DesignResult:
    """Evolve each seed sequence separately.

    Args:
        objective: ``maximize``, ``minimize`` or ``target`` (get close to ``target``).
        generations, population, children: GA size (``population`` survivors x ``children`` each per generation).
        mutations: substitutions per child.
        budget: most substitutions a design may differ from its seed by (``None``: unlimited).
        protected: 0-based half-open ranges never changed; ``None`` = the construct's constant flanks where a seed
            carries them, ``[]`` = none.
        construct: whose flanks ``protected=None`` keeps (default: the predictor's construct).
        seed: random seed (same seed -> same designs).
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective {objective!r}: valid choices are {list(OBJECTIVES)}")
    if objective == "target" and target is None:
        raise ConfigError("objective 'target' needs a target value")
    for name, value in (("generations", generations), ("population", population), ("children", children),
                        ("mutations", mutations)):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if budget is not None and budget < 1:
        raise ConfigError(f"budget must be >= 1 substitution, got {budget}")
    seeds = check_sequences(seeds, what="seeds", equal_length=False)
    rng = np.random.default_rng(seed)
    construct = predictor_construct(predictor) if construct is None else construct
    designs, seed_values, values, history = [], [], [], []
    for index, start in enumerate(seeds):
        length = len(start)
        if protected is None:
            first, stop = default_region(start, construct)
            ranges = [r for r in ((0, first), (stop, length)) if r[0] < r[1]]
        else:
            ranges = list(protected)
        mask = protected_mask(length, ranges)
        free = np.flatnonzero(~mask)
        if free.size == 0:
            raise ConfigError(f"seed {index}: every position is protected; nothing to design")
        origin = np.frombuffer(start.encode(), np.uint8)
        pool = [start]
        pool_values = predictor.predict(pool)
        seed_values.append(float(pool_values[0]))
        for generation in range(generations):
            candidates = []
            for parent in pool:
                for _ in range(children):
                    child = bytearray(parent.encode())
                    if crossover and len(pool) > 1:
                        other = pool[rng.integers(len(pool))].encode()
                        cut = int(rng.integers(1, length))
                        child[cut:] = other[cut:]
                    for position in rng.choice(free, size=min(mutations, free.size), replace=False):
                        current = chr(child[position])
                        child[position] = ord(rng.choice([b for b in BASES if b != current]))
                    if budget is not None and int((np.frombuffer(bytes(child), np.uint8) != origin).sum()) > budget:
                        continue
                    candidates.append(child.decode())
            candidates = sorted(set(candidates) - set(pool))
            if candidates:
                new_values = predictor.predict(candidates)
                pool = pool + candidates
                pool_values = np.concatenate([pool_values, new_values])
            order = np.argsort(-_fitness(pool_values, objective, target), kind="stable")[:population]
            pool = [pool[i] for i in order]
            pool_values = pool_values[order]
            history.append({"seed": index, "generation": generation + 1, "best": float(pool_values[0]),
                            "evaluated": len(candidates)})
            if progress:
                logger.info("design seed %d generation %d: best %.4f", index, generation + 1, pool_values[0])
        designs.append(pool[0])
        values.append(float(pool_values[0]))
    return DesignResult(seeds, designs, np.array(seed_values, np.float32), np.array(values, np.float32), history)
