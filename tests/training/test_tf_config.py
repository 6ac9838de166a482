"""A hostile ``TF_CONFIG`` (invalid, nested, wrong types) is one ``ConfigError`` naming it, never a traceback."""
from __future__ import annotations

import pytest

from seq2exp.errors import ConfigError
from seq2exp.training.strategy import _tf_config_workers


@pytest.mark.parametrize("raw, pattern", [
    ("{", r"TF_CONFIG.*not valid JSON"), ("[1]", r"expected a JSON object"), ('{"cluster": 3}', r"'cluster' must be"),
    ("[" * 1000 + "]" * 1000, r"nested too deeply"),
    ("\udcff", r"TF_CONFIG.*not UTF-8"),  # an environment variable that is not UTF-8 (surrogate-escaped by Python)
    ('{"cluster": {"worker": 1' + "0" * 5000 + "}}", r"a number JSON cannot hold")])
def test_hostile_tf_config(raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _tf_config_workers({"TF_CONFIG": raw})


def test_tf_config_counts_chief_and_workers():
    assert _tf_config_workers({"TF_CONFIG": '{"cluster": {"chief": ["a"], "worker": ["b", "c"], "ps": ["d"]}}'}) == 3
    assert _tf_config_workers({}) == 0
