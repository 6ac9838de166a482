"""Two-replica ``MirroredStrategy`` checks of every packaged architecture, in a process of their own.

Two replicas on one CPU need two logical CPU devices, which must be configured before TensorFlow starts and then
hold for the whole process; running the checks here keeps that setting out of the pytest session.
``python -m tests.models.two_replicas [NAME ...]`` (default: every packaged architecture) prints one JSON line
``{"replicas": 2, "checked": [...], "failures": {...}}`` and exits 1 if any architecture failed.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from tests.models import harness


def main(argv: list[str]) -> int:
    """Split the CPU, then build and run each architecture's smoke model under a two-replica strategy."""
    harness.split_cpu(2)
    from seq2exp import models
    from tests.conftest import DEMO_DIR

    names = argv or [name for name in models.names() if models.get(name).builder.__module__.startswith("seq2exp.")]
    replicas = harness.two_replica_strategy().num_replicas_in_sync
    sequences, _ = harness.demo_examples(DEMO_DIR / "demo_train.txt", 4, seed=0)
    checked, failures = [], {}
    for name in names:
        try:
            rows = harness.encode(models.get(name).config(smoke=True), sequences)
            harness.assert_builds_under_strategy(models.get(name), np.concatenate([rows, rows]))
            checked.append(name)
        except Exception as error:  # noqa: BLE001 - report every failing architecture
            failures[name] = f"{type(error).__name__}: {error}"[:2000]
    print(json.dumps({"replicas": replicas, "checked": checked, "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
