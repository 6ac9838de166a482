"""seq2exp.inference: the inference core that training, export, serving, the main job and interpretation share.

- ``graph``: :class:`TTA` and :class:`PredictionGraph` (model + encoder + TTA + inverse target transform +
  post-processing as one TensorFlow computation; the exported serving graph is this graph) and
  :class:`EnsembleGraph` (the mean of several runs' graphs, exported and served the same way).
- ``transforms``: :class:`TargetTransform` (measured expression <-> training target) and its fitting.
- ``postprocess``: graph and batch post-processing steps.
- ``runs``: the run-folder layout (``model.keras``, ``run.json``, ...), :func:`load_run`, :func:`load_model_file`,
  atomic model/JSON writes.
- ``onehot``: the ``onehot`` signature's codec (numpy codes -> one-hot, TensorFlow one-hot -> codes).

Names are importable from here; each module is imported on first use, so importing this package does not import
TensorFlow.
"""
from __future__ import annotations

from seq2exp.utils import lazy_exports

_LAZY = {
    "TTA": "graph",
    "PredictionGraph": "graph",
    "EnsembleGraph": "graph",
    "TargetTransform": "transforms",
    "fit_target_transform": "transforms",
    "Run": "runs",
    "load_run": "runs",
    "load_model_file": "runs",
    "codes_to_onehot": "onehot",
    "tf_onehot_to_codes": "onehot",
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, {name: f".{module}" for name, module in _LAZY.items()})
