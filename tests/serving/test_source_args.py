"""``seq2exp predict`` and ``seq2exp batch`` take and check the model-source flags the same way."""
from __future__ import annotations

import argparse

import pytest

from seq2exp.batch import cli as batch_cli
from seq2exp.errors import ConfigError
from seq2exp.serving import predict_cli
from seq2exp.serving.source_args import check_model_source

CASES = [
    (["--server", "h:1"], "--server needs --model NAME"),
    (["--saved-model", "m/x/1", "--model", "x"], "go with --server"),
    (["--saved-model", "m/x/1", "--label", "stable"], "go with --server"),
]


def _parse(module, flags: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    positional = ["in.txt"]
    return parser.parse_args([*positional, "-o", "out", *flags])


@pytest.mark.parametrize("module", [predict_cli, batch_cli], ids=["predict", "batch"])
@pytest.mark.parametrize(("flags", "message"), CASES)
def test_both_clis_refuse_the_same_source_combinations(module, flags, message):
    with pytest.raises(ConfigError, match=message):
        check_model_source(_parse(module, flags))


@pytest.mark.parametrize("module", [predict_cli, batch_cli], ids=["predict", "batch"])
@pytest.mark.parametrize("flags", [["--version", "0"], ["--batch-size", "0"], ["--concurrency", "-1"],
                                   ["--version", str(2**63)]])
def test_both_clis_refuse_the_same_numbers_while_parsing(module, flags):
    with pytest.raises(SystemExit):  # seq2exp.argtypes: argparse exits 2 with the flag and the bound
        _parse(module, ["--server", "h:1", "--model", "x", *flags])


@pytest.mark.parametrize("module", [predict_cli, batch_cli], ids=["predict", "batch"])
def test_both_clis_accept_a_server_with_a_label_or_a_saved_model(module):
    check_model_source(_parse(module, ["--server", "h:1", "--model", "x", "--label", "stable"]))
    check_model_source(_parse(module, ["--saved-model", "m/x/1"]))
    with pytest.raises(SystemExit):  # argparse: exactly one source, one of --version / --label
        _parse(module, ["--server", "h:1", "--saved-model", "m/x/1"])
