"""benchmarks/models.py: the PyTorch peer's first step, read from the peer's own log, and the memory pre-touch that
splits LegNet's first-step overhead into the first touch of memory and the rest."""
from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

from tests.benchmarks import load_benchmark
from tests.conftest import REPO_ROOT


def test_the_torch_peers_first_step_is_read_from_its_own_log(monkeypatch):
    """The real peer at a tiny batch: its result gains the first step it printed (read here token by token)."""
    models = load_benchmark("models.py")
    runs, run = [], subprocess.run

    def recorded_run(*args, **kwargs):
        runs.append(run(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(models.subprocess, "run", recorded_run)
    args = argparse.Namespace(torch_python=sys.executable, batch_size=3, steps=2, phase_budget_s=1.0,
                              phase_timeout_s=300)
    assert models.TORCH_REFERENCE.exists(), f"{models.TORCH_REFERENCE}: the shared folder's PyTorch LegNet peer"
    result = models.run_torch_reference(args)
    assert result is not None and "error" not in result, result
    train = result["train"][0]
    assert train["batch_size"] == 3 and train["timed_steps"] == 2
    steps = {}  # "  train bs=3 step 0 warm 1.23s loss=..." -> {0: 1.23, 1: ..., 2: ...}
    for line in runs[0].stderr.splitlines():
        tokens = line.split()
        if tokens[:3] == ["train", "bs=3", "step"]:
            steps[int(tokens[3])] = float(tokens[5].rstrip("s"))
    assert sorted(steps) == [0, 1, 2]
    assert train["first_step_s"] == steps[0]
    assert models.torch_first_step_s("  train bs=30 step 0 warm 9.50s loss=2.0\n", 3) is None  # the batch counts


def test_pretouched_memory_stays_with_tensorflows_allocator():
    """After the fill is freed, the process keeps it: a first step after it reuses that memory instead of touching
    new pages (the premise of --first-step-split)."""
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO_ROOT / "benchmarks")!r})
        import tensorflow as tf
        import models

        def rss_mib():
            line = next(l for l in open("/proc/self/status") if l.startswith("VmRSS:"))
            return int(line.split()[1]) / 1024

        before = rss_mib()
        touched = models._pretouch(tf, 768)
        print(json.dumps({{**touched, "kept_mib": rss_mib() - before}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert result["pretouch_mib"] == 768
    assert result["kept_mib"] >= 0.9 * 768, result
