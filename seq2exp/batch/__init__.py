"""Batch inference past one machine: an Apache Beam RunInference pipeline (``seq2exp batch``, ``seq2exp[beam]``).

The pipeline lives in :mod:`seq2exp.batch.pipeline` (it imports ``apache_beam``); this package itself imports
nothing heavy, so ``seq2exp --help`` works without the ``beam`` extra.
"""


def import_beam():
    """``import apache_beam`` without its root-logger warning "apitools not found, and bigquery client libraries
    are not available" (an optional GCP client seq2exp does not use), and without the ``logging.basicConfig``
    that warning performs when the root logger has no handler. Other messages pass; returns the module."""
    import logging
    import sys

    if "apache_beam" in sys.modules:
        return sys.modules["apache_beam"]
    root = logging.getLogger()

    def drop_apitools(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found, and bigquery client libraries")

    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)  # logging.warning() would otherwise call basicConfig() on the root logger
    root.addFilter(drop_apitools)
    try:
        import apache_beam
    finally:
        root.removeFilter(drop_apitools)
        if placeholder is not None:
            root.removeHandler(placeholder)
    return apache_beam
