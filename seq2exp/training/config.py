"""Training configs (``training/configs/<team>.yaml``): loading, smoke overrides and validation.

Every check runs before any training starts; a bad config raises :class:`seq2exp.errors.ConfigError` naming the
field and, where it applies, the valid choices. Layout (all keys but ``model``, ``loss``, ``optimizer``,
``batch_size``, ``epochs`` optional)::

    name: autosome                     # run name
    model: {architecture: autosome, config: {...}, init_from: RUN}   # registry name + overrides of the team's
                                       # model config; init_from: start from a trained run's weights (fine-tuning)
    data: {train: PATH, val: PATH, val_fraction: 0.1, split_seed: 0, on_invalid: error, cache_dir: PATH,
           filter: {length: 110, no_n: true} (optional: keep only such rows)}
    target: {transform: standardize, center: 11.0}   # seq2exp.inference.transforms
    loss: {name: huber, delta: 1.0}                   # seq2exp.training.losses
    optimizer: {name: adamw, learning_rate: 0.0015, weight_decay: 0.01}
    schedule: {name: cosine}                          # seq2exp.training.optimizers
    sam: {rho: 0.1, alpha: 0.05}                      # SAM/GSAM wrapper (NAD), seq2exp.training.sam
    batch_size: 512                                   # global batch (split across replicas)
    epochs: 15
    steps_per_epoch: null                             # null = one pass over the training rows
    augment: {reverse_complement: false, shift: 0, conjoined_rc: true,
              label_noise: {std: 0.05, clip: [0.0, 1.0]} (optional: noise on the training targets)}
    tta: {reverse_complement: true, shifts: [-2, -1, 0, 1, 2]}
    postprocess: [{name: normal_cdf, loc: 0.062, scale: 1.0}]
    callbacks: {early_stopping: {patience: 5, monitor: val_loss}, best_model: {monitor: val_pearson},
                reduce_lr_on_plateau: {patience: 1, factor: 0.1}, swa: {...}}
    precision: float32                                # auto | float32 | mixed_float16 | mixed_bfloat16
    jit_compile: false
    seed: 0
    checkpoint_every: 100                             # optimiser steps between resumable checkpoints
    smoke: {batch_size: 16, epochs: 1, steps_per_epoch: 2}   # merged in by --smoke (with the model's smoke config);
                                      # config fields, checked as the config's are (with or without --smoke);
                                      # --set smoke.KEY=V changes them, a top-level --set KEY=V beats them
    construct: dream_yeast                            # or genomic, or inline {name, flank5, flank3, upstream,
                                                      # downstream, insert_length} (seq2exp.data.construct)
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from seq2exp.errors import ConfigError
from seq2exp.models.registry import deep_merge
from seq2exp.training.recipes import config_path

# field -> (allowed types, required)
FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "name": ((str,), False),
    "team": ((str,), False),
    "description": ((str,), False),
    "source": ((str,), False),
    "model": ((dict,), True),
    "data": ((dict,), False),
    "target": ((dict,), False),
    "loss": ((dict, str), False),       # required except for closed-form baselines (kmer_ridge)
    "optimizer": ((dict,), False),      # required except for closed-form baselines (kmer_ridge)
    "schedule": ((dict,), False),
    "sam": ((dict,), False),
    "batch_size": ((int,), True),
    "epochs": ((int,), True),
    "steps_per_epoch": ((int, type(None)), False),
    "validation_steps": ((int, type(None)), False),
    "augment": ((dict,), False),
    "tta": ((dict, type(None)), False),
    "postprocess": ((list, type(None)), False),
    "callbacks": ((dict,), False),
    "precision": ((str,), False),
    "jit_compile": ((bool, str), False),
    "seed": ((int,), False),
    "checkpoint_every": ((int,), False),
    "smoke": ((dict,), False),
    "construct": ((str, dict), False),  # seq2exp.data.construct: a built-in name or an inline definition
}
SUBFIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "model": {"architecture": (str,), "config": (dict,), "init_from": (str,)},
    "data": {"train": (str,), "val": (str,), "val_fraction": (float, int), "split_seed": (int,),
             "on_invalid": (str,), "cache_dir": (str,), "sample_weight": (dict, type(None)),
             "filter": (dict, type(None)), "table": (dict, type(None))},
    "augment": {"reverse_complement": (bool,), "shift": (int,), "conjoined_rc": (bool,),
                "label_noise": (dict, type(None))},
    "callbacks": {"early_stopping": (dict, type(None)), "best_model": (dict, type(None)),
                  "reduce_lr_on_plateau": (dict, type(None)),
                  "swa": (dict, type(None)), "tensorboard": (bool,)},
    "sam": {"rho": (float, int), "alpha": (float, int), "adaptive": (bool,)},
}
CALLBACK_PARAMS = {
    "early_stopping": {"patience", "min_delta", "monitor"},
    "best_model": {"monitor"},  # which epoch's weights become RUN/model.keras (default: early_stopping's monitor)
    "reduce_lr_on_plateau": {"monitor", "factor", "patience", "min_lr", "mode"},
    "swa": {"start_step", "period"},
}
SAMPLE_WEIGHTS = {
    # BUGF (pytorch_xla_train.py): 1 - |n - 80| / 64 with n the variable region's length (= row length - 30)
    "length_triangle": {"center": 110, "scale": 64.0, "normalize": "batch"},
    # BioNML (utils.add_sample_weights): sklearn "balanced" weights of the rounded expression classes,
    # divided by the smallest and capped at ``cap`` (config39v3.yaml: sample_weight_limit 2)
    "class_balanced": {"cap": 2.0, "normalize": None},
}


MONITORS = ("val_pearson", "val_spearman", "val_pearson_plus_spearman", "val_loss", "loss")
DEFAULTS: dict[str, Any] = {
    "data": {"val_fraction": 0.1, "split_seed": 0, "on_invalid": "error"},
    "target": {"transform": "identity"},
    "schedule": {"name": "constant"},
    "steps_per_epoch": None,
    "augment": {"reverse_complement": False, "shift": 0, "conjoined_rc": False},
    "tta": {},
    "postprocess": [],
    "callbacks": {"early_stopping": None, "reduce_lr_on_plateau": None, "swa": None, "tensorboard": True},
    "precision": "float32",
    "jit_compile": False,
    "seed": 0,
    "checkpoint_every": 200,
}


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check_type(field: str, value: Any, types: tuple[type, ...]) -> None:
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise ConfigError(f"{field}: expected {_type_names(types)}, got {type(value).__name__} {value!r}")


def yaml_load(text: str) -> Any:
    """``yaml.safe_load`` that also reads ``1e-3`` as a float (YAML 1.1 alone wants ``1.0e-3``)."""
    import re

    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."))
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str | Path) -> dict:
    """Read a YAML config (no validation yet): a path, or the name of a registered recipe (``autosome``)."""
    import yaml

    path = config_path(path)
    try:
        data = yaml_load(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a YAML config (not UTF-8 text)") from None
    except (yaml.YAMLError, RecursionError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or (str(error).splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {reason}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of fields, got {type(data).__name__}")
    return data


def resolve_config(config: Mapping[str, Any], *, smoke: bool = False,
                   overrides: Mapping[str, Any] | None = None) -> dict:
    """Defaults, the config with ``overrides`` merged in (so ``--set smoke.KEY=...`` changes the smoke section
    before it is read), its ``smoke`` section (if ``smoke``), then ``overrides`` again (an override beats the smoke
    section too); validated."""
    config = deep_merge(config, overrides or {})
    smoke_section = config.get("smoke", {}) if smoke else {}
    if smoke:
        _check_type("smoke", smoke_section, (dict,))
    resolved = deep_merge(DEFAULTS, config)
    if smoke_section:
        validate_config(resolved)  # a bad value of the full config is an error even where the smoke section masks it
        resolved = deep_merge(resolved, smoke_section)
    if overrides:
        resolved = deep_merge(resolved, overrides)
    resolved["_smoke"] = bool(smoke)
    validate_config(resolved)
    return resolved


def _check_fields(config: Mapping[str, Any], section: str | None = None) -> None:
    """Every field known and of its type, and so every key of the :data:`SUBFIELDS` sections. ``section``: the
    name of a partial config inside the config (``smoke``), whose fields are named ``smoke.KEY``."""
    prefix = f"{section}." if section else ""
    valid = [name for name in FIELDS if name != section]
    unknown = sorted(k for k in config if k not in valid and (section or not k.startswith("_")))
    if unknown and section:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field; valid: {', '.join(valid)}")
    if unknown:
        raise ConfigError(f"unknown field(s) {unknown}; valid fields: {', '.join(FIELDS)}")
    for field, (types, required) in FIELDS.items():
        if field not in config:
            if required and not section:
                raise ConfigError(f"{field}: missing required field")
            continue
        _check_type(prefix + field, config[field], types)
    for name, subfields in SUBFIELDS.items():
        values = config.get(name) or {}
        for key, value in values.items():
            if key not in subfields:
                raise ConfigError(f"{prefix}{name}.{key}: unknown field; valid: {', '.join(subfields)}")
            _check_type(f"{prefix}{name}.{key}", value, subfields[key])


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` on the first problem (field named, valid choices listed)."""
    from seq2exp.models import registry
    from seq2exp.inference import postprocess
    from seq2exp.training import losses, optimizers, strategy
    from seq2exp.inference.graph import TTA

    _check_fields(config)
    _check_fields(config.get("smoke") or {}, "smoke")  # checked with or without --smoke: a typo there is an error
    for field in ("batch_size", "epochs", "checkpoint_every"):
        if field in config and config[field] < 1:
            raise ConfigError(f"{field}: must be at least 1, got {config[field]}")
    if config.get("steps_per_epoch") is not None and config["steps_per_epoch"] < 1:
        raise ConfigError(f"steps_per_epoch: must be at least 1 or null, got {config['steps_per_epoch']}")
    if "architecture" not in config["model"]:
        raise ConfigError(f"model.architecture: missing; choose one of: {', '.join(registry.names())}")
    architecture = config["model"]["architecture"]
    if "construct" in config:
        from seq2exp.data.construct import resolve_construct

        resolve_construct(config["construct"])
    if architecture not in registry.names():
        raise ConfigError(f"model.architecture: unknown architecture {architecture!r}; "
                          f"choose one of: {', '.join(registry.names())}")
    architecture_info = registry.get(architecture)
    architecture_info.config(config["model"].get("config"), smoke=bool(config.get("_smoke")))  # unknown keys
    data = config.get("data", {})
    fraction = data.get("val_fraction", 0.1)
    if not 0.0 <= float(fraction) < 1.0:
        raise ConfigError(f"data.val_fraction: must be at least 0 and below 1, got {fraction} "
                          "(0 = train on every row for the fixed epoch budget; the last epoch is kept)")
    if float(fraction) == 0.0 and not data.get("val"):
        stopping = (config.get("callbacks") or {}).get("early_stopping") or {}
        if stopping.get("patience") is not None:
            raise ConfigError("callbacks.early_stopping: needs validation rows (data.val_fraction is 0 and no "
                              "data.val file); remove early_stopping or set a validation split")
    weight = data.get("sample_weight")
    if weight:
        if weight.get("name") not in SAMPLE_WEIGHTS:
            raise ConfigError(f"data.sample_weight.name: unknown weighting {weight.get('name')!r}; "
                              f"choose one of: {', '.join(SAMPLE_WEIGHTS)}")
        unknown = sorted(set(weight) - {"name", *SAMPLE_WEIGHTS[weight["name"]]})
        if unknown:
            raise ConfigError(f"data.sample_weight: unknown parameter(s) {unknown} for {weight['name']!r}; "
                              f"valid: {sorted(SAMPLE_WEIGHTS[weight['name']])}")
    row_filter = data.get("filter") or {}
    unknown = sorted(set(row_filter) - {"length", "no_n"})
    if unknown:
        raise ConfigError(f"data.filter: unknown key(s) {unknown}; valid: length, no_n")
    noise = (config.get("augment") or {}).get("label_noise")
    if noise:
        if set(noise) - {"std", "clip"} or not isinstance(noise.get("std"), (int, float)) or noise["std"] <= 0:
            raise ConfigError(f"augment.label_noise: expected {{std: > 0, clip: [low, high] or null}}, got {noise!r}")
    if data.get("table") is not None:  # a file with a header and named target columns
        from seq2exp.data.formats import TableSpec

        TableSpec.from_dict(data["table"])
    if data.get("on_invalid", "error") not in ("error", "skip"):
        raise ConfigError(f"data.on_invalid: unknown choice {data['on_invalid']!r}; choose one of: error, skip")
    if config.get("augment", {}).get("shift", 0) < 0:
        raise ConfigError("augment.shift: must be >= 0 (the largest shift in bp)")
    if architecture_info.fit is not None:  # a closed-form baseline: no loss, optimiser or schedule
        return
    for field in ("loss", "optimizer"):
        if field not in config:
            raise ConfigError(f"{field}: missing required field")
    loss = losses.get_loss(config["loss"])
    if loss.output == "bins" and architecture_info.head != "bins":
        raise ConfigError(f"loss.name: {loss.name!r} trains the 'bins' output but architecture {architecture!r} "
                          f"has a {architecture_info.head!r} head; choose a regression loss "
                          f"({', '.join(k for k, v in losses.LOSSES.items() if v[0] == 'expression')})")
    optimizers.validate_optimizer(config["optimizer"], config.get("schedule"))
    rate = config["optimizer"].get("learning_rate")
    if isinstance(rate, bool) or (isinstance(rate, (int, float)) and not (math.isfinite(rate) and rate > 0)):
        raise ConfigError(f"optimizer.learning_rate: must be a positive number, got {rate}")
    TTA.from_dict(config.get("tta"))
    postprocess.validate_postprocess(config.get("postprocess"))
    precision = config.get("precision", "float32")
    if precision not in strategy.PRECISIONS:
        raise ConfigError(f"precision: unknown policy {precision!r}; choose one of: {', '.join(strategy.PRECISIONS)}")
    for name, params in (config.get("callbacks") or {}).items():
        if name in CALLBACK_PARAMS and params is not None:
            unknown = sorted(set(params) - CALLBACK_PARAMS[name])
            if unknown:
                raise ConfigError(f"callbacks.{name}: unknown parameter(s) {unknown}; "
                                  f"valid: {sorted(CALLBACK_PARAMS[name])}")
            monitor = params.get("monitor")
            if monitor is not None and monitor not in MONITORS:
                raise ConfigError(f"callbacks.{name}.monitor: unknown metric {monitor!r}; "
                                  f"choose one of: {', '.join(MONITORS)}")
    transform = dict(config.get("target") or {})
    from seq2exp.inference.transforms import TRANSFORMS

    if transform.get("transform", "identity") not in TRANSFORMS:
        raise ConfigError(f"target.transform: unknown transform {transform['transform']!r}; "
                          f"choose one of: {', '.join(TRANSFORMS)}")

