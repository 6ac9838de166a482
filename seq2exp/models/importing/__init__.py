"""Import the DREAM 2022 teams' own trained weights as seq2exp runs (``seq2exp import``).

    >>> from seq2exp.training import import_weights       # the run folder is written by the training layer
    >>> import_weights("autosome", "model_80.pth", "runs/legnet")   # the team's SeqNN state_dict

See :mod:`seq2exp.models.importing.core` (the flow), :mod:`.checkpoint` (readers, tensor checks) and one module per
team (``autosome``, ...) with that team's tensor mapping and inference recipe.
"""
from __future__ import annotations

from seq2exp.models.importing.checkpoint import (
    CheckpointError,
    read_keras_weights,
    read_tf_checkpoint,
    read_torch_state_dict,
)
from seq2exp.models.importing.core import (
    ExtraFile,
    Importer,
    build_imported_model,
    get_importer,
    importers,
    read_checkpoint,
)

__all__ = ["CheckpointError", "ExtraFile", "Importer", "build_imported_model", "get_importer", "importers",
           "read_checkpoint", "read_keras_weights", "read_tf_checkpoint", "read_torch_state_dict"]
