"""The run folder: its file layout, loading a trained run (model + encoder + prediction graph), atomic saving.

A run folder (written by :func:`seq2exp.training.train`) holds::

    RUN/config.yaml    the training config actually used
    RUN/model.keras    the best model by validation Pearson r
    RUN/run.json       architecture, encoding spec, construct, target transform, tta, postprocess, data sha256, metrics
    RUN/metrics.csv    per-epoch metrics (also RUN/metrics.json)
    RUN/checkpoints/   resumable training state (BackupAndRestore)
    RUN/tensorboard/   TensorBoard logs
"""
from __future__ import annotations

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from seq2exp import jsonio
from seq2exp.errors import ConfigError
from seq2exp.inference import postprocess as postprocess_lib
from seq2exp.inference.graph import TTA, PredictionGraph
from seq2exp.inference.optimize import fold_batchnorm
from seq2exp.inference.transforms import TargetTransform
from seq2exp.utils import atomic_write

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.keras"
RUN_INFO_FILE = "run.json"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"


@dataclass
class Run:
    """A trained run folder, loaded: ``.model``, ``.config``, ``.info`` (run.json), ``.encoder``."""

    path: Path
    model: Any
    config: dict
    info: dict
    encoder: Any = None
    metrics: dict = field(default_factory=dict)
    _graph: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def target_transform(self) -> TargetTransform:
        return TargetTransform.from_dict(self.info.get("target_transform"))

    @property
    def tta(self) -> TTA:
        return TTA.from_dict(self.info.get("tta"))

    @property
    def postprocess(self) -> list[dict]:
        return postprocess_lib.validate_postprocess(self.info.get("postprocess"))

    def prediction_graph(self, *, tta: TTA | Mapping | None = None) -> PredictionGraph:
        """The prediction graph of this run (its recorded TTA unless ``tta`` overrides it).

        The graph is kept and returned again while the model's weights, the encoder and the run's TTA / target
        transform / post-processing stay the same, so repeated predictions reuse its traced function instead of
        tracing the model again (seconds per call); a change to any of them builds a new one."""
        if tta is None:
            tta = self.tta
        elif not isinstance(tta, TTA):
            tta = TTA.from_dict(tta)
        model = fold_batchnorm(self.model)  # the same copy while the weights are unchanged
        recorded = json.dumps([tta.to_dict(), self.info.get("target_transform"), self.info.get("postprocess")],
                              sort_keys=True, default=str)
        kept = self._graph
        if kept is None or kept[0] is not model or kept[1] is not self.encoder or kept[2] != recorded:
            graph = PredictionGraph(model, self.encoder, tta, self.target_transform, self.postprocess)
            self._graph = (model, self.encoder, recorded, graph)  # one per run: an older one holds an older copy
        return self._graph[3]

    def predict(self, sequences: Sequence[str], batch_size: int = 1024,
                orientation: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
        """Predictions of the run's graph (``orientation``: per-row reverse flags, see ``PredictionGraph``)."""
        return self.prediction_graph().predict(sequences, batch_size, orientation)


def load_run(path: str | Path, *, compile: bool = False) -> Run:
    """Load a run folder written by :func:`seq2exp.training.train`."""
    import yaml

    path = Path(path)
    for name in (RUN_INFO_FILE, MODEL_FILE):
        if not (path / name).exists():
            raise ConfigError(f"{path}: not a training run folder ({name} missing)")

    info = jsonio.load_file(path / RUN_INFO_FILE, expect=dict)
    if not isinstance(info.get("encoding"), dict):
        raise ConfigError(f"{path / RUN_INFO_FILE}: not a run record (no 'encoding' object)")
    config = yaml.safe_load((path / CONFIG_FILE).read_text()) if (path / CONFIG_FILE).exists() else {}
    model = load_model_file(path / MODEL_FILE, compile=compile)
    from seq2exp.data.encoding import Encoder

    # a run from before constructs were recorded is DREAM yeast (resolve_construct(None))
    return Run(path=path, model=model, config=config or {}, info=info,
               encoder=Encoder(info["encoding"], construct=info.get("construct")), metrics=info.get("metrics", {}))


def load_model_file(path: str | Path, *, compile: bool = False):
    """``keras.models.load_model`` after importing every registered architecture's custom layers."""
    import keras

    from seq2exp.models import registry

    registry.names()  # imports the zoo: registers the custom layers (a broken zoo module raises, once, loudly)
    _check_keras_archive(path)
    try:
        model = keras.models.load_model(str(path), compile=compile)
        info = registry.build_info(path)
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, TypeError) as error:
        raise ConfigError(f"{path}: not a readable Keras model file ({type(error).__name__}: "
                          f"{' '.join(str(error).split())[:200]})") from None
    if info is not None:  # the model says again which architecture and config built it (and saves it again)
        registry.stamp(model, info["architecture"], info["config"])
    return model


def _check_keras_archive(path: str | Path) -> None:
    """A ``.keras`` file is a zip archive: a truncated or corrupt one is a ``ConfigError`` naming it (checked by
    the zip's CRCs before Keras reads it, so no half-loaded model and no traceback)."""
    path = Path(path)
    if path.suffix != ".keras" or not path.is_file():
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ConfigError(f"{path}: not a readable Keras model file (truncated or corrupt: {error})") from None
    if bad is not None:
        raise ConfigError(f"{path}: not a readable Keras model file (member {bad!r} is corrupt)")


def save_model_atomically(model, path: Path) -> None:
    """``model.save`` to a temporary ``.keras`` file beside ``path``, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomically(path: Path, data: Any) -> None:
    """Strict JSON of ``data`` (:func:`seq2exp.jsonio.dumps`: NaN -> ``null``) to ``path`` through a temporary file
    and a rename."""
    with atomic_write(path) as handle:
        handle.write(jsonio.dumps(data, indent=2, default=float) + "\n")
