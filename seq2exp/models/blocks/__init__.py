"""seq2exp.models.blocks."""
