"""Start-up noise for Python users: TensorFlow's C++ start-up block shown once (not twice), and Beam's
"apitools not found" warning (and the logging.basicConfig it performs) gone; other output untouched."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq2exp.utils import unique_lines

from tests.conftest import REPO_ROOT

ENV = {key: value for key, value in os.environ.items() if not key.startswith(("TF_CPP", "SEQ2EXP_RAW"))}
ENV["PYTHONPATH"] = str(REPO_ROOT)
BANNER = "All log messages before absl::InitializeLog() is called are written to STDERR"


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=ENV,
                          cwd=REPO_ROOT)


def test_unique_lines_drops_the_repeated_block_ignoring_glog_prefixes():
    text = (f"WARNING: {BANNER}\n"
            "I0000 00:00:1796574648.229309   21638 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1796574648.238316   21638 cudart_stub.cc:31] Could not find cuda drivers\n"
            "a Python warning\n"
            f"WARNING: {BANNER}\n"
            "I0000 00:00:1796574653.688418   21638 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1796574653.694541   21638 cudart_stub.cc:31] Could not find cuda drivers\n"
            "E0000 00:00:1796574653.694541   21638 cuda_platform.cc:52] failed call to cuInit\n")
    assert unique_lines(text).splitlines() == text.splitlines()[:4] + text.splitlines()[-1:]


@pytest.mark.slow  # two TensorFlow start-ups in fresh processes (~20 s)
def test_tensorflow_start_up_block_is_shown_once_after_import_seq2exp():
    plain = _python("import tensorflow")
    ours = _python("import seq2exp; import tensorflow as tf; print(tf.reduce_sum(tf.ones(3)).numpy())")
    assert ours.returncode == 0 and ours.stdout.strip() == "3.0", ours.stderr
    assert ours.stderr.count(BANNER) == min(plain.stderr.count(BANNER), 1), (plain.stderr, ours.stderr)
    assert "tensorflow" not in _python("import seq2exp, sys; print(sorted(sys.modules))").stdout  # still lazy


def test_beam_import_has_no_apitools_warning_and_leaves_logging_unconfigured():
    pytest.importorskip("apache_beam")
    code = ("import logging, sys; from seq2exp.batch import import_beam; beam = import_beam(); "
            "import seq2exp.batch.pipeline; print(len(logging.getLogger().handlers), beam.__name__)")
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "apache_beam"]
    assert "apitools" not in result.stderr
