"""seq2exp.training."""
