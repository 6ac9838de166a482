"""Keras functional models of the DREAM 2022 architectures, a registry, shared blocks, Prix Fixe composition.

    >>> from seq2exp import models
    >>> models.names()                 # registered architectures
    >>> model = models.build("autosome")  # the team's configuration, real size
"""
from seq2exp.models.registry import Architecture, build, deep_merge, get, names, register

__all__ = ["Architecture", "build", "deep_merge", "get", "import_weights", "names", "register"]


def import_weights(architecture: str, weights, out, **kwargs):
    """Import a team's own saved weights as a seq2exp run folder (``seq2exp import``; see
    :func:`seq2exp.models.importing.import_weights`)."""
    from seq2exp.models.importing import import_weights as _import_weights

    return _import_weights(architecture, weights, out, **kwargs)
