"""Keras functional models of the DREAM 2022 architectures, a registry, shared blocks, Prix Fixe composition.

    >>> from seq2exp import models
    >>> models.names()                 # registered architectures
    >>> model = models.build("autosome")  # the team's configuration, real size
"""
from seq2exp.models.registry import Architecture, build, deep_merge, get, names, register

__all__ = ["Architecture", "build", "deep_merge", "get", "names", "register"]
