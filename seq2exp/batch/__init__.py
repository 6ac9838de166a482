"""Batch inference past one machine: an Apache Beam RunInference pipeline (``seq2exp batch``, ``seq2exp[beam]``).

The pipeline lives in :mod:`seq2exp.batch.pipeline` (it imports ``apache_beam``); this package itself imports
nothing heavy, so ``seq2exp --help`` works without the ``beam`` extra.
"""
