"""seq2exp.serving."""
