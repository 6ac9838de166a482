"""The package front door: every lazy name resolves, and importing it (and the stage modules) loads no TensorFlow."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_every_exported_name_resolves():
    from seq2exp import interpret

    assert interpret.__all__
    for name in interpret.__all__:
        getattr(interpret, name)


def test_the_package_and_its_stages_import_no_tensorflow():
    code = ("import sys; import seq2exp.interpret, seq2exp.interpret.explain_cli, seq2exp.interpret.variants_cli, "
            "seq2exp.interpret.design_cli; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')); "
            "assert not loaded, loaded[:5]")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
