"""``seq2exp variants``: predicted variant effects (alt - ref), scorable by seq2exp score.

The stage's code is in :mod:`seq2exp.interpret.cli`.
"""
from seq2exp.interpret.cli import add_variants_arguments as add_arguments
from seq2exp.interpret.cli import main_variants as main

__all__ = ["add_arguments", "main"]
