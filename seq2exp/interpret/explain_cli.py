"""``seq2exp explain``: attribution, in-silico mutagenesis, motif effects, motif discovery.

The stage's code is in :mod:`seq2exp.interpret.cli`.
"""
from seq2exp.interpret.cli import add_explain_arguments as add_arguments
from seq2exp.interpret.cli import main_explain as main

__all__ = ["add_arguments", "main"]
