"""``seq2exp design``: sequence design by a genetic algorithm (see :mod:`seq2exp.interpret.cli`)."""
from seq2exp.interpret.cli import add_design_arguments as add_arguments  # noqa: F401
from seq2exp.interpret.cli import main_design as main  # noqa: F401
