"""seq2exp.evaluation."""
