"""One module per architecture. Every module here registers itself with ``seq2exp.models.registry``."""
