"""seq2exp.data."""
