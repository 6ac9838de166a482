"""``seq2exp serve``: the embedded TF-Serving-compatible gRPC (and, with ``--rest-port``, REST) server.

Serves ``--model-config-file`` (TF Serving's ``models.config``) or every model under ``--model-base-path`` at start
(new versions are loaded while serving, new model folders after a restart); prints
``listening on HOST:PORT`` once ready; SIGTERM / Ctrl-C stop it gracefully (in-flight requests finish).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from seq2exp.argtypes import float_range, nonnegative_float, port_int, positive_int
from seq2exp.serving import signatures as names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-base-path",
                        help="serve every model exported under this folder (M/<name>/<version>): the models found at "
                             "start (a model folder added later is served after a restart), the newest version of "
                             "each (new versions are loaded while serving)")
    source.add_argument("--model-config-file", help="TF Serving models.config (model_config_list)")
    parser.add_argument("--model-name", action="append", default=[],
                        help="with --model-base-path: serve only this model (repeatable)")
    parser.add_argument("--batching-parameters-file", help="TF Serving batching.config (BatchingParameters)")
    parser.add_argument("--host", default=names.DEFAULT_HOST,
                        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the server to the network)")
    parser.add_argument("--port", type=port_int, default=names.DEFAULT_PORT, help="gRPC port (0: any free port)")
    parser.add_argument("--rest-port", type=port_int, default=None,
                        help="also serve TF Serving's REST API on this port (TF Serving's --rest_api_port; "
                             "0: any free port; default: no REST)")
    parser.add_argument("--rest-timeout-seconds", type=float_range(0.0, 86400.0, low_open=True),
                        default=names.DEFAULT_REST_TIMEOUT_SECONDS,
                        help="how long a REST connection may send nothing: a stalled request body is answered 408, "
                             "an idle or stalled connection closed (default 30, as TF Serving's "
                             "--rest_api_timeout_in_ms)")
    parser.add_argument("--poll-seconds", type=nonnegative_float, default=names.DEFAULT_POLL_SECONDS,
                        help="how often to look for new versions (TF Serving's --file_system_poll_wait_seconds)")
    parser.add_argument("--max-message-mib", type=float_range(0.0, 2047.0, low_open=True), default=names.DEFAULT_MAX_MESSAGE_BYTES / 2**20,
                        help="largest request/response accepted, MiB (larger: RESOURCE_EXHAUSTED)")
    parser.add_argument("--grace-seconds", type=nonnegative_float, default=10.0, help="how long in-flight requests may finish")
    parser.add_argument("--max-request-rows", type=positive_int, default=None,
                        help="most rows one Predict request may hold (default 250000; more: RESOURCE_EXHAUSTED)")


def check_flags(args: argparse.Namespace) -> None:
    """Refuse invalid flags at start-up (``ConfigError`` naming the flag), before any model is loaded; the numbers
    are checked by argparse (:mod:`seq2exp.argtypes`)."""
    from seq2exp.errors import ConfigError

    if not args.host.strip():
        raise ConfigError("--host must not be empty")


def main(args: argparse.Namespace) -> int:
    from seq2exp.serving.config import BatchingOptions, discover_models, read_model_config
    from seq2exp.serving.server import ModelServer

    check_flags(args)
    batching = BatchingOptions.read(args.batching_parameters_file) if args.batching_parameters_file else None
    if args.model_config_file:
        models = read_model_config(args.model_config_file)
    else:
        models = discover_models(args.model_base_path, only=args.model_name or None)
    server = ModelServer(models, host=args.host, port=args.port, batching=batching, poll_seconds=args.poll_seconds,
                         max_message_bytes=int(args.max_message_mib * 2**20), max_request_rows=args.max_request_rows,
                         rest_port=args.rest_port, rest_timeout_seconds=args.rest_timeout_seconds)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print(f"listening on {server.target} (models: {', '.join(m.name for m in models)})", flush=True)
    if server.rest_url:
        print(f"REST API on {server.rest_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("shutting down", file=sys.stderr, flush=True)
        server.stop(args.grace_seconds)
    print("stopped", flush=True)
    return 0
