"""The architecture registry: name -> builder, the team's configuration, and what is known about the model.

Architectures register themselves at the bottom of their module in ``seq2exp.models.zoo``::

    register(Architecture(name="autosome", builder=build_autosome, default_config=DEFAULT_CONFIG, ...))

and every module of ``seq2exp.models.zoo`` is imported on first use, so adding a module is all it takes.

Overrides of a model config are checked here, for every architecture, against its ``default_config`` (one
mechanism: a key the defaults do not have is a ``ConfigError`` naming it and the valid ones; a Prix Fixe section
with a ``"block"`` is checked against that block's options). Every model built through :meth:`Architecture.build`
carries the architecture name and effective config that built it, saved in its ``.keras`` file
(:func:`build_info` reads it back from a model or a ``.keras`` file alone).
"""
from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import zipfile
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from seq2exp.errors import ConfigError

HEADS = ("regression", "bins")
FIDELITIES = ("faithful", "reconstructed")
# Where a ``paper_params`` count may come from (``paper_params_source`` starts with one of these), never our own
# model's count: the paper's Table 1 (millions, one decimal), the paper's text, the team's report, a count the
# team's code prints or states, or a hand count (layer by layer, from the sizes in the team's files).
PAPER_PARAMS_SOURCES = ("paper Table 1", "paper text", "team report", "team code", "hand count from")


@dataclass(frozen=True)
class Architecture:
    """One registered architecture.

    Attributes:
        name: registry name (``seq2exp models``, configs' ``model.architecture``).
        builder: ``build_<name>(config: dict) -> keras.Model`` (uncompiled functional model).
        default_config: the team's published configuration (real size), as plain data. Its ``"input"`` entry is
            the ``seq2exp.data.encoding.EncodingSpec`` dict the model consumes.
        smoke_config: overrides (deep-merged into ``default_config``) giving a tiny model for fast tests.
        paper_params: the parameter count a source states (``None`` where none does); never our model's count.
        paper_params_source: where ``paper_params`` comes from; starts with one of ``PAPER_PARAMS_SOURCES``
            (e.g. ``"paper Table 1 (4.7M)"``, ``"team report"``, ``"hand count from teams/mt/code/....py"``).
        head: ``"regression"`` (output ``expression``) or ``"bins"`` (outputs ``expression`` and ``bins``).
        team: the team's display name on the leaderboard.
        source: where the specification comes from (paper, report, code files).
        fidelity: ``"faithful"`` (follows the team's files) or ``"reconstructed"`` (gaps filled by assumption).
        rank: leaderboard rank (0 for the reference model), for ordering listings.
        description: one line for listings.
        fit: ``"module:function"`` of a closed-form trainer used instead of gradient training (the k-mer ridge
            baseline: ``function(setup) -> summary``); ``None`` = trained with ``model.fit``.
    """

    name: str
    builder: Callable[[dict], Any]
    default_config: Mapping[str, Any]
    smoke_config: Mapping[str, Any] = field(default_factory=dict)
    paper_params: int | None = None
    paper_params_source: str | None = None
    head: str = "regression"
    team: str = ""
    source: str = ""
    fidelity: str = "faithful"
    rank: int | None = None
    description: str = ""
    fit: str | None = None

    def config(self, overrides: Mapping[str, Any] | None = None, *, smoke: bool = False) -> dict:
        """The effective config: defaults, then the smoke overrides (if ``smoke``), then ``overrides``."""
        config = copy.deepcopy(dict(self.default_config))
        if smoke:
            check_overrides(self.name, config, self.smoke_config, "smoke_config")
            config = deep_merge(config, self.smoke_config)
        overrides = dict(overrides or {})
        tasks = overrides.pop(TASKS_KEY, None)  # every architecture's key: the task names (see build_from)
        if overrides:
            check_overrides(self.name, config, overrides)
            config = deep_merge(config, overrides)
        if tasks is not None:
            config[TASKS_KEY] = check_tasks(tasks)
        return config

    def build(self, overrides: Mapping[str, Any] | None = None, *, smoke: bool = False):
        """Build the model from the effective config (stamped with this architecture and config)."""
        return self.build_from(self.config(overrides, smoke=smoke))

    def build_from(self, config: Mapping[str, Any]):
        """``builder(config)`` for an already effective config, stamped (see :func:`build_info`)."""
        config = copy.deepcopy(dict(config))
        tasks = config.pop(TASKS_KEY, None)
        if tasks is None:
            return stamp(self.builder(config), self.name, config)
        from seq2exp.models.blocks.heads import building_tasks

        tasks = check_tasks(tasks)
        if len(tasks) > 1 and self.name in SINGLE_TASK:
            raise ConfigError(f"model.config.tasks: {self.name} predicts one task only: {SINGLE_TASK[self.name]}")
        with building_tasks(len(tasks)):
            model = self.builder(config)
        shape = tuple(model.output["expression"].shape if isinstance(model.output, dict) else model.output.shape)
        expected = (None,) if len(tasks) == 1 else (None, len(tasks))
        if shape != expected:  # a head that does not follow n_tasks(): never a silently single-task model
            raise ConfigError(f"model.config.tasks: {self.name} cannot predict {len(tasks)} tasks (its expression "
                              f"output is {shape}, expected {expected})")
        return stamp(model, self.name, {**config, TASKS_KEY: tasks})


BUILD_INFO_KEY = "seq2exp"
TASKS_KEY = "tasks"  # a model config's task names: expression [B] for one task (or none), [B, T] for T tasks
# architectures whose design has one output only, with the reason (a ConfigError at build time for T > 1)
SINGLE_TASK: dict[str, str] = {
    "kmer_ridge": "a closed-form ridge fit of one target column",
    "kircherlab": "its 18 linear bin scores are decoded into one weighted bin mean",
    "sysu_sail": "one regressor per reading frame, averaged by MeanOverFrames into one value",
    "zeta": "one softmax over the 18 integer expression classes",
}


def check_tasks(tasks: Any) -> list[str]:
    """Task names: a list of distinct non-empty strings (``ConfigError`` otherwise)."""
    if (not isinstance(tasks, (list, tuple)) or not tasks or not all(isinstance(t, str) and t for t in tasks)
            or len(set(tasks)) != len(tasks)):
        raise ConfigError(f"model.config.tasks: expected a list of distinct task names, got {tasks!r}")
    return list(tasks)


def stamp(model, architecture: str, config: Mapping[str, Any]):
    """Make ``model`` say which architecture and config built it: ``model.seq2exp_build`` and, through its
    ``get_config``, the ``.keras`` file's ``config.json`` (so the file alone tells what it is)."""
    info = {"architecture": architecture, "config": json.loads(json.dumps(config, default=str))}
    base_get_config = type(model).get_config

    def get_config():
        return {**base_get_config(model), BUILD_INFO_KEY: info}

    model.get_config = get_config
    model.seq2exp_build = info
    return model


def build_info(model_or_path) -> dict | None:
    """``{"architecture", "config"}`` of a stamped model, or read from a ``.keras`` file without loading it."""
    if isinstance(model_or_path, (str, Path)):
        with zipfile.ZipFile(model_or_path) as archive:
            config = json.loads(archive.read("config.json"))
        return (config.get("config") or {}).get(BUILD_INFO_KEY)
    return getattr(model_or_path, "seq2exp_build", None)


# Section kind (e.g. Prix Fixe's "first"/"core"/"final") -> block name -> that block's option names. Filled by the
# module that owns the blocks (seq2exp.models.prixfixe), so the registry never imports it (no import cycle).
_BLOCK_OPTIONS: dict[str, Callable[[str], Iterable[str]]] = {}


def register_block_options(kind: str, options: Callable[[str], Iterable[str]]) -> None:
    """Let :func:`check_overrides` validate config sections of ``kind`` that name a ``"block"``."""
    _BLOCK_OPTIONS[kind] = options


def check_overrides(name: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any],
                    where: str = "model.config") -> None:
    """Raise ``ConfigError`` for an override key that ``defaults`` (the architecture's config) does not have.

    Nested dicts are checked recursively; a value whose default is ``None`` or not a dict may be anything; a section
    that names a Prix Fixe ``"block"`` is checked against that block's options.
    """
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: expected a mapping of config keys for {name!r}, got {type(overrides).__name__}")
    block = overrides.get("block", defaults.get("block")) if "block" in defaults or "block" in overrides else None
    if block is not None:
        kind = where.rsplit(".", 1)[-1]
        if kind in _BLOCK_OPTIONS:
            valid = {"block", *_BLOCK_OPTIONS[kind](block)}
            unknown = sorted(set(overrides) - valid)
            if unknown:
                raise ConfigError(f"{where}: unknown key(s) {unknown} for {kind} block {block!r} of {name!r}; "
                                  f"valid: {', '.join(sorted(valid))}")
            return
    unknown = sorted(k for k in overrides if k not in defaults)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for architecture {name!r}; "
                          f"valid: {', '.join(sorted(defaults))}")
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(defaults.get(key), Mapping) and key != "input":
            check_overrides(name, defaults[key], value, f"{where}.{key}")


_REGISTRY: dict[str, Architecture] = {}
_DISCOVERED = False
_DISCOVERY_ERROR: Exception | None = None


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
    source = architecture.paper_params_source
    if (architecture.paper_params is None) != (source is None):
        raise ValueError(f"{architecture.name}: paper_params and paper_params_source go together "
                         f"(got {architecture.paper_params!r} and {source!r})")
    if source is not None and not source.startswith(PAPER_PARAMS_SOURCES):
        raise ValueError(f"{architecture.name}: paper_params_source must start with one of "
                         f"{PAPER_PARAMS_SOURCES}, got {source!r}")
    existing = _REGISTRY.get(architecture.name)
    if existing is not None and existing.builder is not architecture.builder:
        raise ValueError(f"architecture {architecture.name!r} is registered twice")
    _REGISTRY[architecture.name] = architecture
    return architecture


def _discover() -> None:
    """Import every zoo module once. A module that fails to import is an error, raised now and on every later
    use (never a silently partial registry)."""
    global _DISCOVERED, _DISCOVERY_ERROR
    if _DISCOVERY_ERROR is not None:
        raise _DISCOVERY_ERROR
    if _DISCOVERED:
        return
    from seq2exp.models import zoo

    for module in pkgutil.iter_modules(zoo.__path__):
        if not module.name.startswith("_"):
            qualified = f"{zoo.__name__}.{module.name}"
            try:
                importlib.import_module(qualified)
            except Exception as error:
                _DISCOVERY_ERROR = ImportError(f"model zoo module {qualified} failed to import "
                                               f"({type(error).__name__}: {error}); the registry is unusable")
                _DISCOVERY_ERROR.__cause__ = error
                raise _DISCOVERY_ERROR from error
    _DISCOVERED = True


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
