"""``seq2exp variants``: predicted variant effects (alt - ref), scorable with seq2exp score (see :mod:`seq2exp.interpret.cli`)."""
from seq2exp.interpret.cli import add_variants_arguments as add_arguments  # noqa: F401
from seq2exp.interpret.cli import main_variants as main  # noqa: F401
