"""Models whose layers read the first four one-hot channels as A, C, G, T refuse another letter order."""
from __future__ import annotations

import pytest

from seq2exp import models
from seq2exp.errors import ConfigError


@pytest.mark.parametrize("name", ["kmer_ridge", "wen_group", "drashok_and_friends"])
def test_other_onehot_letters_are_refused_by_name(name):
    with pytest.raises(ConfigError, match="onehot_letters.*AGCT"):
        models.build(name, {"input": {"onehot_letters": "AGCT"}}, smoke=True)
    assert models.build(name, {"input": {"onehot_letters": "ACGT"}}, smoke=True) is not None
