"""Conditions of a multi-condition simulation: one TF-activity profile per condition (a task of the model).

A real multi-task data set measures the same library in several conditions (the Drosophila STARR-seq data's
developmental and housekeeping activity, cell types, stimuli): the sequences and their binding sites are the same,
the TFs that act on them differ. Here every condition scales each TF's effect by an *activity* (``0``: the TF binds
but does nothing in that condition; ``1``: as in the single-condition model; above 1: stronger). Binding, the
pioneers' chromatin gate and the GC term are shared (``seq2exp.simulate.model.PromoterModel.raw_activity``).

The default design (:func:`default_conditions`): the general regulatory factors, the pioneers, the repressors and the
poly-dA:dT term are *shared* (activity 1 everywhere); the other activators are *condition-specific*: split round-robin
between the conditions (the cooperating pairs Mcm1-Fkh2, Hsf1-Skn7, Cbf1-Met32 stay together, so each pair's
interaction is specific too), active with :data:`SPECIFIC_ACTIVITY` in their own condition and 0 in the others. A
condition given as a mapping ``{name: dev, activity: {GCN4: 3.0, HSF1: 0}}`` overrides single TFs of that design.

:func:`resolve_conditions` is the one validator of what a caller or a config gives (``2``, ``"dev,hk"``,
``["dev", "hk"]``, a list of mappings): a bad value raises ``ConfigError`` naming the field. TensorFlow-free.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from seq2exp.errors import ConfigError
from seq2exp.simulate import motifs as motif_lib

MAX_CONDITIONS = 8
SPECIFIC_ACTIVITY = 2.0          # a condition-specific activator's activity in its own condition
# Units of condition-specific activators, dealt round-robin to the conditions (a cooperating pair is one unit).
SPECIFIC_UNITS: tuple[tuple[str, ...], ...] = (
    ("MCM1", "FKH2"), ("HSF1", "SKN7"), ("CBF1", "MET32"), ("GCN4",), ("MGA1",), ("MSN2",), ("AZF1",), ("SFP1",),
    ("GAT1",), ("SWI4",), ("PHO4",),
)
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
RESERVED_NAMES = frozenset({"id", "sequence", "seq"})   # the table's other columns


@dataclass(frozen=True)
class Condition:
    """One condition: its name (the target column of the simulated tables) and each TF's activity."""

    name: str
    activity: Mapping[str, float] = field(default_factory=dict)

    def vector(self, names: Sequence[str]) -> np.ndarray:
        """The activities in the order of ``names`` (the model's TFs); a TF not listed has activity 1."""
        return np.array([float(self.activity.get(name, 1.0)) for name in names], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "activity": dict(self.activity)}


def default_names(n: int) -> tuple[str, ...]:
    """``cond1``, ``cond2``, ... (``expression`` for one condition)."""
    return ("expression",) if n == 1 else tuple(f"cond{i + 1}" for i in range(n))


def default_conditions(names: Sequence[str]) -> tuple[Condition, ...]:
    """The default design for these condition names (see the module docstring)."""
    n = len(names)
    if n == 1:
        return (Condition(names[0], {}),)
    specific = {tf: i % n for i, unit in enumerate(SPECIFIC_UNITS) for tf in unit}
    return tuple(Condition(name, {tf: (SPECIFIC_ACTIVITY if owner == c else 0.0) for tf, owner in specific.items()})
                 for c, name in enumerate(names))


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{where}: expected a name of letters, digits, '_', '.', '-' starting with a letter "
                          f"(at most 64 characters), got {name!r}")
    if name.lower() in RESERVED_NAMES:
        raise ConfigError(f"{where}: {name!r} is a column of the simulated tables; choose another name")
    return name


def _check_activity(values: Any, where: str) -> dict[str, float]:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping TF -> activity, got {values!r}")
    known = [tf.name for tf in motif_lib.TF_TABLE]
    checked = {}
    for tf, value in values.items():
        if tf not in known:
            raise ConfigError(f"{where}: unknown TF {tf!r}; the simulator's TFs are {known}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}.{tf}: expected a finite number >= 0, got {value!r}")
        checked[tf] = float(value)
    return checked


def resolve_conditions(value: Any) -> tuple[Condition, ...]:
    """What ``conditions`` means: ``None`` or ``1`` -> one condition; ``N`` -> ``cond1..condN``; ``"dev,hk"`` or
    ``["dev", "hk"]`` -> named; a list of mappings ``{name, activity}`` -> named, with activity overrides.

    Raises ``ConfigError`` (naming ``conditions``) for anything else: a count outside 1..8, a repeated or bad name.
    """
    if value is None:
        value = 1
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",")]
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
        raise ConfigError(f"conditions: expected a count, comma-separated names or a list, got {value!r}")
    if isinstance(value, int):
        if not 1 <= value <= MAX_CONDITIONS:
            raise ConfigError(f"conditions: expected between 1 and {MAX_CONDITIONS} conditions, got {value}")
        return default_conditions(default_names(value))
    if not 1 <= len(value) <= MAX_CONDITIONS:
        raise ConfigError(f"conditions: expected between 1 and {MAX_CONDITIONS} conditions, got {len(value)}")
    names, overrides = [], []
    for i, item in enumerate(value):
        where = f"conditions[{i}]"
        if isinstance(item, Mapping):
            unknown = sorted(set(item) - {"name", "activity"})
            if unknown:
                raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys are ['activity', 'name']")
            names.append(_check_name(item.get("name"), f"{where}.name"))
            overrides.append(_check_activity(item.get("activity", {}), f"{where}.activity"))
        else:
            names.append(_check_name(item, where))
            overrides.append({})
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"conditions: {repeated[0]!r} is given twice")
    return tuple(Condition(c.name, {**c.activity, **extra})
                 for c, extra in zip(default_conditions(names), overrides))


def activity_matrix(conditions: Sequence[Condition], names: Sequence[str]) -> np.ndarray:
    """``[T, n_tfs]``: each condition's activities in the order of the model's TFs."""
    return np.stack([condition.vector(names) for condition in conditions])
