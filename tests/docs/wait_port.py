"""``python3 -m tests.docs.wait_port PORT [SECONDS]``: wait until something listens on 127.0.0.1:PORT (exit 1 if not)."""
from __future__ import annotations

import socket
import sys
import time


def wait_port(port: int, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(1.0)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


if __name__ == "__main__":
    sys.exit(0 if wait_port(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 120.0) else 1)
