"""The architecture registry: name -> builder, the team's configuration, and what is known about the model.

Architectures register themselves at the bottom of their module in ``seq2exp.models.zoo``::

    register(Architecture(name="autosome", builder=build_autosome, default_config=DEFAULT_CONFIG, ...))

and every module of ``seq2exp.models.zoo`` is imported on first use, so adding a module is all it takes.
"""
from __future__ import annotations

import copy
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from seq2exp.errors import ConfigError

HEADS = ("regression", "bins")
FIDELITIES = ("faithful", "reconstructed")


@dataclass(frozen=True)
class Architecture:
    """One registered architecture.

    Attributes:
        name: registry name (``seq2exp models``, configs' ``model.architecture``).
        builder: ``build_<name>(config: dict) -> keras.Model`` (uncompiled functional model).
        default_config: the team's published configuration (real size), as plain data. Its ``"input"`` entry is
            the ``seq2exp.data.encoding.EncodingSpec`` dict the model consumes.
        smoke_config: overrides (deep-merged into ``default_config``) giving a tiny model for fast tests.
        paper_params: parameter count from the paper's Table 1 or the team's files, if known.
        head: ``"regression"`` (output ``expression``) or ``"bins"`` (outputs ``expression`` and ``bins``).
        team: the team's display name on the leaderboard.
        source: where the specification comes from (paper, report, code files).
        fidelity: ``"faithful"`` (follows the team's files) or ``"reconstructed"`` (gaps filled by assumption).
        rank: leaderboard rank (0 for the reference model), for ordering listings.
        description: one line for listings.
    """

    name: str
    builder: Callable[[dict], Any]
    default_config: Mapping[str, Any]
    smoke_config: Mapping[str, Any] = field(default_factory=dict)
    paper_params: int | None = None
    head: str = "regression"
    team: str = ""
    source: str = ""
    fidelity: str = "faithful"
    rank: int | None = None
    description: str = ""

    def config(self, overrides: Mapping[str, Any] | None = None, *, smoke: bool = False) -> dict:
        """The effective config: defaults, then the smoke overrides (if ``smoke``), then ``overrides``."""
        config = copy.deepcopy(dict(self.default_config))
        if smoke:
            config = deep_merge(config, self.smoke_config)
        if overrides:
            config = deep_merge(config, overrides)
        return config

    def build(self, overrides: Mapping[str, Any] | None = None, *, smoke: bool = False):
        """Build the model from the effective config."""
        return self.builder(self.config(overrides, smoke=smoke))


_REGISTRY: dict[str, Architecture] = {}
_DISCOVERED = False


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """Return ``base`` with ``overrides`` merged in recursively (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def register(architecture: Architecture) -> Architecture:
    """Add an architecture to the registry (a name may be registered once)."""
    if architecture.head not in HEADS:
        raise ValueError(f"{architecture.name}: head must be one of {HEADS}, got {architecture.head!r}")
    if architecture.fidelity not in FIDELITIES:
        raise ValueError(f"{architecture.name}: fidelity must be one of {FIDELITIES}, got {architecture.fidelity!r}")
    existing = _REGISTRY.get(architecture.name)
    if existing is not None and existing.builder is not architecture.builder:
        raise ValueError(f"architecture {architecture.name!r} is registered twice")
    _REGISTRY[architecture.name] = architecture
    return architecture


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    from seq2exp.models import zoo

    for module in pkgutil.iter_modules(zoo.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{zoo.__name__}.{module.name}")


def names() -> list[str]:
    """Registered architecture names, in leaderboard order (then alphabetical)."""
    _discover()
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].rank is None, _REGISTRY[n].rank or 0, n))


def get(name: str) -> Architecture:
    """The registered architecture ``name``; an unknown name raises ``ConfigError`` listing the valid ones."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown architecture {name!r}; choose one of: {', '.join(names())}") from None


def build(name: str, config: Mapping[str, Any] | None = None, *, smoke: bool = False):
    """Build architecture ``name`` with ``config`` overrides merged into its defaults."""
    return get(name).build(config, smoke=smoke)
