"""Run the embedded server as ``seq2exp serve`` does, then cap its address space (``RLIMIT_AS``) at what it uses
once loaded plus ``--headroom-mib``: every request after that must fit in the headroom (the memory test).

Usage: ``python -m tests.reliability.limited_server MODEL_BASE_PATH --headroom-mib N [--max-batch-size B]``; prints
``listening on HOST:PORT vm_mib=V limit_mib=L`` once ready and serves until SIGTERM/SIGKILL.
"""
from __future__ import annotations

import argparse
import resource
import signal
import threading


def _vm_bytes() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_base_path")
    parser.add_argument("--headroom-mib", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=None)
    args = parser.parse_args()
    from seq2exp.serving.config import BatchingOptions, discover_models
    from seq2exp.serving.server import ModelServer

    batching = BatchingOptions(max_batch_size=args.max_batch_size) if args.max_batch_size else None
    server = ModelServer(discover_models(args.model_base_path), port=0, poll_seconds=0, batching=batching).start()
    vm = _vm_bytes()
    limit = vm + args.headroom_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    print(f"listening on {server.target} vm_mib={vm >> 20} limit_mib={limit >> 20}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(1)


if __name__ == "__main__":
    main()
