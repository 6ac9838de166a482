"""seq2exp.simulate."""
