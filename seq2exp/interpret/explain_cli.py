"""``seq2exp explain``: attribution, in-silico mutagenesis, motif effects and motif discovery (see :mod:`seq2exp.interpret.cli`)."""
from seq2exp.interpret.cli import add_explain_arguments as add_arguments  # noqa: F401
from seq2exp.interpret.cli import main_explain as main  # noqa: F401
