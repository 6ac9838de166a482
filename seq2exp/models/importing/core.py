"""Importers: a team's own saved weights -> the seq2exp model they describe, every tensor checked and mapped.

An :class:`Importer` (one per architecture, in ``seq2exp.models.importing.<team>``) says how that team saves its
model (the format and reader), how to read the model's hyper-parameters off the tensors' shapes, which tensor
becomes which Keras weight (and how its layout changes) and the team's inference recipe (encoding and padding,
test-time augmentation, target transform, post-processing). :func:`build_imported_model` reads, checks and maps;
:func:`seq2exp.training.importing.import_weights` writes the run folder (the training layer writes runs).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

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
class ExtraFile:
    """A file besides the weights that the team's model was built with (NAD's GloVe ``vectors.txt``).

    Attributes:
        option: its name in ``files={option: path}`` and the CLI flag ``--<option> FILE``.
        help: what the file is, for messages and ``--help``.
        reader: ``path -> {tensor name: array}``: the tensors it adds to the checkpoint's (checked and mapped like
            the others); raises :class:`CheckpointError` naming the file and the problem.
    """

    option: str
    help: str
    reader: Callable[[Path], dict]


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
        extra_files: files the team's model needs besides the weights (:class:`ExtraFile`), all required.
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
    extra_files: Sequence[ExtraFile] = ()


def dream_citation(team: str) -> str:
    """The DREAM 2022 challenge paper, cited for a participating ``team``'s model card."""
    return ("Rafi AM, et al. Evaluation and optimization of sequence-based gene regulatory deep learning models. "
            f"bioRxiv (2023). doi:10.1101/2023.04.26.538471 (the DREAM 2022 challenge; team {team})")


_IMPORTERS: dict[str, Importer] = {}
# seq2exp.models.importing.<module> registers its importer when imported
_MODULES = ("autosome", "bhi", "bionml", "bugf", "camformers", "high_schoolers", "mt", "nad", "prixfixe_dream",
            "unlock_dna", "wztr")


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


def read_checkpoint(architecture: str, weights: str | os.PathLike,
                    files: Mapping[str, str | os.PathLike] | None = None) -> TensorSource:
    """The tensors of ``weights``, read in the team's format and recognised as this architecture's file, plus those
    of the importer's extra files (``files``: ``{option: path}``, see :class:`ExtraFile`)."""
    importer = get_importer(architecture)
    files = check_extra_files(importer, files)
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
        raise CheckpointError(f"{Path(weights)}: not a checkpoint of {importer.team}'s model ({architecture}; "
                              f"{what}){hint}")
    for extra in importer.extra_files:
        path = Path(files[extra.option])
        for name, value in extra.reader(path).items():
            if name in source:
                raise CheckpointError(f"{path}: its tensor {name!r} is also in {source.describe}")
            source.tensors[name] = value
        source.files[extra.option] = path
    return source


def check_extra_files(importer: Importer, files: Mapping[str, str | os.PathLike] | None) -> dict[str, Path]:
    """``files`` checked against the importer's :class:`ExtraFile` s (each given, none unknown) as paths."""
    files = {str(option): Path(path) for option, path in dict(files or {}).items() if path is not None}
    wanted = {extra.option: extra for extra in importer.extra_files}
    unknown = sorted(set(files) - set(wanted))
    if unknown:
        raise ConfigError(f"{importer.architecture}: the import takes no {unknown[0]} file (--{unknown[0]}); "
                          + (f"it takes: {', '.join('--' + o for o in wanted)}" if wanted else "only the weights"))
    for option, extra in wanted.items():
        if option not in files:
            raise ConfigError(f"{importer.architecture}: the team's model also needs {extra.help}: give it with "
                              f"--{option} FILE")
    return files


def _recognises(importer: Importer, tensors: Mapping[str, Any]) -> bool:
    if isinstance(importer.signature, str):
        return importer.signature in tensors
    return bool(importer.signature(tensors))


def build_imported_model(architecture: str, weights: str | os.PathLike,
                         config: Mapping[str, Any] | None = None,
                         files: Mapping[str, str | os.PathLike] | None = None) -> tuple[Any, dict, TensorSource]:
    """Read ``weights``, build the seq2exp model its shapes describe and set every weight: ``(model, config,
    source)``. ``config``: overrides the checkpoint cannot say (e.g. ``{"input": {"length": 150}}``); ``files``:
    the importer's extra files (``{"embedding": "vectors.txt"}`` for NAD)."""
    from seq2exp.models import registry

    importer = get_importer(architecture)
    source = read_checkpoint(architecture, weights, files)
    overrides = registry.deep_merge(importer.config_from(source), dict(config or {}))
    spec = registry.get(architecture)
    model_config = spec.config(overrides)
    model = spec.build_from(model_config)
    assign_weights(model, source, importer.mapping(source, model_config))
    return model, model_config, source
