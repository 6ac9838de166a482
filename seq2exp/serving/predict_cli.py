"""``seq2exp predict``: predict a FASTA / TSV / DREAM file, in order, through a server or a SavedModel.

``seq2exp predict INPUT -o OUT (--server H:P --model NAME [--version V | --label L] | --saved-model DIR)``.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="FASTA, DREAM test file (sequence<TAB>value) or TSV with a 'sequence' column")
    parser.add_argument("-o", "--output", required=True, help="predictions file (written atomically)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--server", help="HOST:PORT of TF Serving or `seq2exp serve` (gRPC; http://HOST:PORT "
                                         "with --transport rest)")
    source.add_argument("--saved-model", help="exported version folder M/NAME/V (or M/NAME: its latest version)")
    parser.add_argument("--model", help="model name on the server (with --server)")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--version", type=int, help="model version (default: the server's latest)")
    version.add_argument("--label", help="version label, e.g. stable")
    parser.add_argument("--format", choices=["dream", "tsv"], default="dream",
                        help="dream: sequence<TAB>prediction (default, what `seq2exp score` reads); "
                             "tsv: id, sequence, expression with a header")
    parser.add_argument("--batch-size", type=int, default=1024, help="rows per request / model call")
    parser.add_argument("--chunk-rows", type=int, default=16384, help="rows read, predicted and written at a time")
    parser.add_argument("--transport", choices=["grpc", "rest"], default="grpc",
                        help="with --server: TF Serving's gRPC (default) or REST API")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (with --server)")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT.partial of an interrupted run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seq2exp.errors import ConfigError
    from seq2exp.serving.predict import SavedModelBackend, ServerBackend, check_output_path, iter_records, predict_file

    for flag, value in (("--batch-size", args.batch_size), ("--chunk-rows", args.chunk_rows),
                        ("--concurrency", args.concurrency)):
        if value < 1:
            raise ConfigError(f"{flag} must be >= 1, got {value}")
    if args.version is not None and args.version < 1:
        raise ConfigError(f"--version must be >= 1, got {args.version}")
    check_output_path(Path(args.output))
    first = iter_records(args.input)
    next(first)  # a missing, empty or unreadable input fails before any model is loaded
    first.close()
    if args.server:
        if not args.model:
            raise ConfigError("--server needs --model NAME")
        backend = ServerBackend(args.server, args.model, version=args.version, label=args.label,
                                batch_size=args.batch_size, max_concurrency=args.concurrency,
                                transport=args.transport)
    else:
        if args.model or args.version or args.label:
            raise ConfigError("--model/--version/--label go with --server; --saved-model names its version folder")
        backend = SavedModelBackend(args.saved_model, batch_size=args.batch_size)
    try:
        summary = predict_file(args.input, args.output, backend, output_format=args.format,
                               chunk_rows=args.chunk_rows, resume=args.resume,
                               progress=not args.no_progress and sys.stderr.isatty())
    finally:
        backend.close()
    print(json.dumps({"output": str(summary.output), "rows": summary.rows, "resumed_from": summary.resumed_from,
                      "seconds": round(summary.seconds, 3),
                      "rows_per_s": round((summary.rows - summary.resumed_from) / max(summary.seconds, 1e-9), 1),
                      "model": backend.description, "model_version": summary.model_version}))
    return 0
