"""``import_weights``: a team's own saved weights -> a seq2exp run folder that predicts what the team's code predicts.

The importer of the architecture (:mod:`seq2exp.models.importing`) reads, checks and maps the checkpoint; this writes
the run folder at once (``model.keras``, ``run.json``, ``config.yaml``: the layout ``seq2exp train`` writes, so
``export``, ``serve``, ``predict``, ``score`` and ``explain`` take it unchanged), with the team's inference recipe
and a model card in ``run.json``. Nothing is written unless everything fits.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from seq2exp.errors import ConfigError
from seq2exp.models.importing.core import build_imported_model, get_importer

logger = logging.getLogger(__name__)


def import_weights(architecture: str, weights: str | os.PathLike, out: str | os.PathLike, *,
                   config: Mapping[str, Any] | None = None, card: Mapping[str, Any] | None = None,
                   files: Mapping[str, str | os.PathLike] | None = None) -> Path:
    """Import a team's saved weights as the run folder ``out`` (which must not exist yet, or be empty).

    Args:
        architecture: the seq2exp architecture (``seq2exp import --list`` / :func:`importers`).
        weights: the team's file, in the team's own format (e.g. autosome's ``model_80.pth``).
        out: the run folder to write.
        config: model config overrides the file cannot tell (read off the tensors otherwise).
        card: model-card fields (provenance, training data, licence, reported scores) stored in ``run.json``.
        files: the files besides the weights that the importer needs, ``{option: path}`` (NAD:
            ``{"embedding": "vectors.txt"}``, the GloVe vectors its model was built with); recorded with their
            SHA-256 in ``run.json``.

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
    model, model_config, source = build_imported_model(architecture, weights, config, files)
    recipe = importer.recipe(model_config)
    tta = TTA.from_dict(recipe.get("tta")).to_dict()
    target_transform = TargetTransform.from_dict(recipe.get("target_transform")).to_dict()
    weights = Path(weights)
    imported = {"architecture": architecture, "team": importer.team, "format": importer.format,
                "team_code": importer.source, "file": str(weights.resolve()), "file_name": weights.name,
                "sha256": fingerprint(weights), "size": _size(weights),
                "recipe_notes": recipe.get("notes", ""),
                "files": {option: {"file": str(path.resolve()), "file_name": path.name, "sha256": fingerprint(path),
                                   "size": _size(path)} for option, path in source.files.items()},
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
