"""Beam's portable path on one machine: SDK workers as separate processes behind a local worker pool.

Flink, Spark and Dataflow run a pipeline's Python code the same way: a job service hands the pipeline to the runner,
which starts SDK harness processes and talks to them over the Fn API (gRPC). :func:`local_worker_pool` starts
Beam's own worker pool (``apache_beam.runners.worker.worker_pool_main``) on 127.0.0.1, and
:func:`portable_beam_options` gives the ``--beam-option`` values that run ``seq2exp batch`` on the
``PortableRunner`` with Beam's local job service (``job_endpoint=embed``) against it::

    with local_worker_pool() as address:
        run_batch(inputs, out, source, beam_options=portable_beam_options(address))

Everything a worker needs crosses a process boundary: the pickled pipeline steps, the model loaded in the worker,
the input and output files. Beam's local job service runs one SDK worker per pipeline (its Fn API runner ignores
``direct_num_workers`` on this path); a Flink or Spark job service starts as many as their parallelism asks.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from typing import Iterator

from seq2exp.errors import Seq2ExpError

logger = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_worker_pool(port: int = 0, *, start_timeout_s: float = 60.0, env: dict | None = None) -> Iterator[str]:
    """Run Beam's SDK worker pool on 127.0.0.1 (a free port when ``port`` is 0); yields its ``HOST:PORT``.

    The pool starts one SDK harness process per worker the runner asks for, with this Python; it is stopped (and
    its workers with it) when the block ends."""
    port = port or _free_port()
    command = [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise Seq2ExpError(f"Beam worker pool on {address} exited with code {process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise Seq2ExpError(f"Beam worker pool on {address} did not start within {start_timeout_s:.0f} s")
            time.sleep(0.2)
        logger.info("Beam worker pool on %s (pid %d)", address, process.pid)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)  # the pool and the SDK workers it started
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait()


def portable_beam_options(worker_pool: str) -> list[str]:
    """``--beam-option`` values for the PortableRunner, Beam's local job service, and external SDK workers."""
    return ["runner=PortableRunner", "job_endpoint=embed", "environment_type=EXTERNAL",
            f"environment_config={worker_pool}"]
