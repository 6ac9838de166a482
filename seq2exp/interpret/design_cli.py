"""``seq2exp design``: sequence design by a genetic algorithm.

The stage's code is in :mod:`seq2exp.interpret.cli`.
"""
from seq2exp.interpret.cli import add_design_arguments as add_arguments
from seq2exp.interpret.cli import main_design as main

__all__ = ["add_arguments", "main"]
