"""``import_weights``: a team's own saved weights -> a seq2exp run folder that predicts what the team's code predicts.

An :class:`Importer` (one per architecture, in ``seq2exp.models.importing.<team>``) says how that team saves its
model (the format and reader), how to read the model's hyper-parameters off the tensors' shapes, which tensor
becomes which Keras weight (and how its layout changes) and the team's inference recipe (encoding and padding,
test-time augmentation, target transform, post-processing). :func:`import_weights` checks everything before it
writes anything, then writes the run folder at once (``model.keras``, ``run.json``, ``config.yaml``: the layout
``seq2exp train`` writes, so ``export``, ``serve``, ``predict``, ``score`` and ``explain`` take it unchanged).
"""
from __future__ import annotations

import datetime
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from seq2exp.errors import ConfigError
from seq2exp.models.importing.checkpoint import (
    CheckpointError,
    TensorSource,
    assign_weights,
    read_keras_weights,
    read_tf_checkpoint,
    read_torch_state_dict,
)

logger = logging.getLogger(__name__)

READERS: dict[str, tuple[Callable[[str | os.PathLike], dict], str]] = {
    "pytorch_state_dict": (read_torch_state_dict, "PyTorch state_dict (torch.save(model.state_dict()))"),
    "keras_h5": (read_keras_weights, "Keras HDF5 weights (model.save_weights)"),
    "tf_checkpoint": (read_tf_checkpoint, "TensorFlow checkpoint (Keras save_weights / ModelCheckpoint)"),
}


@dataclass(frozen=True)
class Importer:
    """How one team's saved model becomes a seq2exp architecture.

    Attributes:
        architecture: the seq2exp architecture it fills.
        format: a key of :data:`READERS`.
        team: the team, as the challenge names it.
        source: where the team's code defines the model and how it is saved (``teams/<team>/code/...``).
        signature: a tensor name every file of this team has (tells another team's file apart), or a predicate
            on the tensor names (formats whose names depend on the session, e.g. Keras 2's auto-named layers).
        config_from: ``TensorSource -> model config overrides`` read off the tensors' shapes.
        mapping: ``(TensorSource, model config) -> [(keras weight path, team tensor name, layout)]``.
        recipe: ``model config -> {"tta", "target_transform", "postprocess", "notes"}``: the team's inference.
        card: model-card fields every import of this architecture carries (citation, code licence, ...).
    """

    architecture: str
    format: str
    team: str
    source: str
    signature: str | Callable[[Any], bool]
    config_from: Callable[[TensorSource], dict]
    mapping: Callable[[TensorSource, dict], list]
    recipe: Callable[[dict], dict]
    card: Mapping[str, Any] = field(default_factory=dict)


_IMPORTERS: dict[str, Importer] = {}
_MODULES = ("autosome", "bhi", "camformers", "mt", "unlock_dna")  # seq2exp.models.importing.<module> registers its importer on import


def register_importer(importer: Importer) -> Importer:
    """Add ``importer`` (one per architecture)."""
    if importer.format not in READERS:
        raise ValueError(f"{importer.architecture}: unknown checkpoint format {importer.format!r}")
    _IMPORTERS[importer.architecture] = importer
    return importer


def importers() -> dict[str, Importer]:
    """Every architecture that can import a team's weights -> its :class:`Importer`."""
    import importlib

    for module in _MODULES:
        importlib.import_module(f"seq2exp.models.importing.{module}")
    return dict(sorted(_IMPORTERS.items()))


def get_importer(architecture: str) -> Importer:
    """The importer of ``architecture`` (a ``ConfigError`` listing the importable architectures otherwise)."""
    known = importers()
    if architecture not in known:
        raise ConfigError(f"no importer for architecture {architecture!r}; architectures that import a team's "
                          f"weights: {', '.join(known)}")
    return known[architecture]


def read_checkpoint(architecture: str, weights: str | os.PathLike) -> TensorSource:
    """The tensors of ``weights``, read in the team's format and recognised as this architecture's file."""
    importer = get_importer(architecture)
    reader, what = READERS[importer.format]
    tensors = reader(weights)
    source = TensorSource(tensors, f"{Path(weights).name} ({importer.team} {what.split(' (')[0]})")
    if not _recognises(importer, tensors):
        others = [other.architecture for other in importers().values()
                  if other.architecture != architecture and other.format == importer.format
                  and _recognises(other, tensors)]
        hint = (f"; it looks like a {' or '.join(others)} checkpoint (seq2exp import {others[0]} ...)"
                if others else "")
        what = (f"no tensor {importer.signature!r}" if isinstance(importer.signature, str)
                else f"none of its {importer.team} layers")
        raise CheckpointError(f"{Path(weights)}: not a {importer.team} {architecture} checkpoint ({what}){hint}")
    return source


def _recognises(importer: Importer, tensors: Mapping[str, Any]) -> bool:
    if isinstance(importer.signature, str):
        return importer.signature in tensors
    return bool(importer.signature(tensors))


def build_imported_model(architecture: str, weights: str | os.PathLike,
                         config: Mapping[str, Any] | None = None) -> tuple[Any, dict, TensorSource]:
    """Read ``weights``, build the seq2exp model its shapes describe and set every weight: ``(model, config,
    source)``. ``config``: overrides the checkpoint cannot say (e.g. ``{"input": {"length": 150}}``)."""
    from seq2exp.models import registry

    importer = get_importer(architecture)
    source = read_checkpoint(architecture, weights)
    overrides = registry.deep_merge(importer.config_from(source), dict(config or {}))
    spec = registry.get(architecture)
    model_config = spec.config(overrides)
    model = spec.build_from(model_config)
    assign_weights(model, source, importer.mapping(source, model_config))
    return model, model_config, source


def import_weights(architecture: str, weights: str | os.PathLike, out: str | os.PathLike, *,
                   config: Mapping[str, Any] | None = None, card: Mapping[str, Any] | None = None) -> Path:
    """Import a team's saved weights as the run folder ``out`` (which must not exist yet, or be empty).

    Args:
        architecture: the seq2exp architecture (``seq2exp import --list`` / :func:`importers`).
        weights: the team's file, in the team's own format (e.g. autosome's ``model_80.pth``).
        out: the run folder to write.
        config: model config overrides the file cannot tell (read off the tensors otherwise).
        card: model-card fields (provenance, training data, licence, reported scores) stored in ``run.json``.

    Returns the run folder. Raises :class:`CheckpointError` (a file that does not fit) or ``ConfigError`` before
    anything is written.
    """
    import yaml

    from seq2exp import __version__
    from seq2exp.inference.graph import TTA
    from seq2exp.inference.runs import CONFIG_FILE, MODEL_FILE, RUN_INFO_FILE, write_json_atomically
    from seq2exp.inference.transforms import TargetTransform
    from seq2exp.utils import atomic_dir

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: already exists and is not an empty folder; choose a new --out")
    importer = get_importer(architecture)
    model, model_config, _source = build_imported_model(architecture, weights, config)
    recipe = importer.recipe(model_config)
    tta = TTA.from_dict(recipe.get("tta")).to_dict()
    target_transform = TargetTransform.from_dict(recipe.get("target_transform")).to_dict()
    weights = Path(weights)
    imported = {"architecture": architecture, "team": importer.team, "format": importer.format,
                "team_code": importer.source, "file": str(weights.resolve()), "file_name": weights.name,
                "sha256": fingerprint(weights), "size": _size(weights),
                "recipe_notes": recipe.get("notes", ""),
                "imported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    model_card = {**dict(importer.card), **dict(card or {}), "weights_sha256": imported["sha256"]}
    info = {
        "architecture": architecture,
        "model_config": model_config,
        "encoding": model_config["input"],
        "target_transform": target_transform,
        "tta": tta,
        "postprocess": recipe.get("postprocess") or [],
        "loss": None,
        "data": {"train": None, "train_sha256": None, "note": model_card.get("training_data")
                 or "trained by the team (see model_card)"},
        "imported_from": imported,
        "model_card": model_card,
        "seq2exp_version": __version__,
        "metrics": {},
    }
    run_config = {"model": {"architecture": architecture, "config": model_config}, "tta": tta,
                  "postprocess": info["postprocess"], "imported_from": imported}
    if out.exists():
        out.rmdir()  # empty (checked above): atomic_dir renames the finished folder onto it
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the run from a server running as another user
        model.save(str(tmp / MODEL_FILE))
        write_json_atomically(tmp / RUN_INFO_FILE, info)
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(json.loads(json.dumps(run_config, default=str)),
                                                      sort_keys=False))
    logger.info("imported %s (%s) as %s", weights, architecture, out)
    return out


def fingerprint(path: Path) -> str:
    """SHA-256 of a weights file; of a checkpoint folder, over its files' relative names and contents."""
    import hashlib

    from seq2exp.utils import sha256_file

    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _size(path: Path) -> int:
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
