"""Shared building blocks: ``apply_*(x, ..., name=)`` functions (``conv``, ``recurrent``, ``heads``, ``attention``)
and the custom layers they use (``layers``, all registered for ``.keras`` serialisation)."""
from seq2exp.models.blocks import layers  # noqa: F401  (registers the custom layers on import)
