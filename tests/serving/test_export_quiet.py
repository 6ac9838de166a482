"""An export logs no TensorFlow noise of seq2exp's making: no "renamed to unknown_N" lines about the variable
captures, no deprecated TensorFlow call in the warm-up replay; a rename of a real input would still show."""
from __future__ import annotations

import logging

import pytest

from seq2exp.serving import signatures as names

from .conftest import make_tiny_run


def test_export_logs_no_capture_renaming_and_replays_warmup_without_deprecated_calls(tmp_path, caplog,
                                                                                      monkeypatch):
    import tensorflow as tf

    from seq2exp.serving.export import export_run

    def deprecated(*args, **kwargs):
        raise AssertionError("tf.compat.v1.io.tf_record_iterator is deprecated; seq2exp must not call it")

    monkeypatch.setattr(tf.compat.v1.io, "tf_record_iterator", deprecated)
    run = make_tiny_run(tmp_path / "run", seed=2)
    caplog.set_level(logging.DEBUG, logger="absl")  # whatever an earlier test left absl's level at: INFO records reach us
    with caplog.at_level(logging.DEBUG):
        result = export_run(run, tmp_path / "models", "tiny")
    assert result.metadata["check"]["warmup_requests_replayed"] == names.N_WARMUP_REQUESTS
    shown = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in shown if "renamed to unknown" in m or "unsupported characters" in m], shown
    assert not [m for m in shown if "deprecated" in m], shown
    # the record was there to drop: seq2exp logs a one-line DEBUG note in its place
    assert any("renamed" in r.getMessage() and r.name == "seq2exp.serving.export" for r in caplog.records)


def _record(names_: str) -> logging.LogRecord:
    return logging.LogRecord("absl", logging.INFO, __file__, 1,
                             "Function `%s` contains input name(s) %s with unsupported characters which will be "
                             "renamed to %s in the SavedModel.", ("serve", names_, "unknown, unknown_0"), None)


@pytest.mark.parametrize("inputs, dropped", [("2732, 2734", True), ("my input, 2734", False), ("seq-1", False)])
def test_only_renamed_captures_are_dropped(inputs, dropped):
    from seq2exp.serving.export import _renames_only_captures

    assert _renames_only_captures(_record(inputs)) is dropped
    assert _renames_only_captures(logging.LogRecord("absl", logging.INFO, __file__, 1, "other", (), None)) is False
