"""The encoder's ``sources`` map (what gradient attribution is built on): the window's bases are the row's bases
at the mapped columns (complemented for reverse-complement variants), for every padding, region, shift and strand."""
from __future__ import annotations

import numpy as np
import pytest

from tests.interpret.conftest import promoters

COMPLEMENT = np.array([3, 2, 1, 0, 4, 5])


@pytest.mark.parametrize("encoding", [
    {"length": 110, "pad": "n_right"},
    {"length": 150, "pad": "plasmid_split", "rc_channel": True},
    {"length": 80, "region": "variable", "pad": "plasmid_random"},
    {"length": 100, "pad": "zero_right", "trim": "center"},
])
@pytest.mark.parametrize("shift, reverse", [(None, False), (None, True), (2, False), (-3, True)])
def test_sources_point_at_the_bases_in_the_window(encoding, shift, reverse):
    import tensorflow as tf

    from seq2exp.data.alphabet import sequences_to_codes
    from seq2exp.data.encoding import Encoder

    encoder = Encoder(encoding)
    sequences = [s[:n] for s, n in zip(promoters(4, seed=5), (110, 104, 96, 110))]
    codes, lengths = sequences_to_codes(sequences, max_length=encoder.max_sequence_length)
    codes, lengths = tf.constant(codes), tf.constant(lengths)
    window = encoder.tf_window_codes(codes, lengths, reverse=reverse, shift=shift).numpy()
    sources = encoder.tf_window_codes(codes, lengths, reverse=reverse, shift=shift, sources=True).numpy()
    rows = codes.numpy().astype(int)
    assert (sources >= 0).sum(axis=1).min() > 50  # most of the window comes from the row
    for r in range(len(sequences)):
        inside = sources[r] >= 0
        taken = rows[r, sources[r, inside]]
        expected = COMPLEMENT[taken] if reverse else taken
        np.testing.assert_array_equal(window[r, inside], expected)
        assert (sources[r, inside] < int(lengths[r])).all()
