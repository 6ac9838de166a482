"""``seq2exp predict``: predict a FASTA / TSV / DREAM file, in order, through a server or a SavedModel.

``seq2exp predict INPUT -o OUT (--server H:P --model NAME [--version V | --label L] | --saved-model DIR)``.
"""
from __future__ import annotations

import argparse
import sys

from seq2exp.argtypes import positive_int
from seq2exp.jsonio import dumps
from seq2exp.serving.source_args import add_model_source_arguments, check_model_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="FASTA, DREAM test file (sequence<TAB>value) or TSV with a 'sequence' column")
    parser.add_argument("-o", "--output", required=True, help="predictions file (written atomically)")
    add_model_source_arguments(
        parser, server_help="HOST:PORT of TF Serving or `seq2exp serve` (gRPC; http://HOST:PORT with --transport rest)",
        saved_model_help="exported version folder M/NAME/V (or M/NAME: its latest version)",
        version_help="model version (default: the server's latest)")
    parser.add_argument("--format", choices=["dream", "tsv"], default="dream",
                        help="dream: sequence<TAB>prediction (default, what `seq2exp score` reads); "
                             "tsv: id, sequence, expression with a header")
    parser.add_argument("--batch-size", type=positive_int, default=1024, help="rows per request / model call")
    parser.add_argument("--chunk-rows", type=positive_int, default=16384, help="rows read, predicted and written at a time")
    parser.add_argument("--transport", choices=["grpc", "rest"], default="grpc",
                        help="with --server: TF Serving's gRPC (default) or REST API")
    parser.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight (with --server)")
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT.partial of an interrupted run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--orientation", metavar="RULE", default="auto",
                        help="rows measured in reverse orientation, for models with an is_reverse channel: auto "
                             "(default: the rule the export recorded from its training table; none with --server), "
                             "none (every row forward), COLUMN~TEXT (the TSV column, or the row id, contains TEXT, "
                             "e.g. 'seq_id~_Reversed:') or COLUMN=V1,V2 (e.g. strand=-)")
    parser.add_argument("--sequence-column", metavar="NAME",
                        help="a table's sequence column (default: the export's training table's, else 'sequence' or "
                             "'seq', any case)")
    parser.add_argument("--construct", metavar="NAME",
                        help="with --server: warn about rows that lack this construct's flanks (a built-in name, e.g. "
                             "dream_yeast; TF Serving's metadata does not say). An export records its own")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seq2exp.serving.predict import (SavedModelBackend, ServerBackend, check_input, check_output_path,
                                         export_metadata, iter_records, parse_orientation, predict_file,
                                         resolve_saved_model_dir, sequence_columns_of)

    check_model_source(args)
    orientation = parse_orientation(args.orientation)  # a malformed rule fails before anything runs
    if args.construct:
        from seq2exp.data.construct import resolve_construct
        from seq2exp.errors import ConfigError

        if not args.server:
            raise ConfigError("--construct is for --server: an exported model records its construct")
        construct = resolve_construct(args.construct)  # an unknown name fails before anything runs
    check_output_path(Path(args.output), args.input)
    meta = {} if args.server else export_metadata(resolve_saved_model_dir(args.saved_model))  # no model load
    columns = (args.sequence_column,) if args.sequence_column else sequence_columns_of(meta)
    first = iter_records(args.input, sequence_columns=columns)
    next(first)  # a missing, empty or unreadable input fails before the server is asked or the model read
    first.close()
    if args.server:
        backend = ServerBackend(args.server, args.model, version=args.version, label=args.label,
                                batch_size=args.batch_size, max_concurrency=args.concurrency,
                                transport=args.transport)
        if args.construct:
            backend.construct = construct
        checked_rows = check_input(args.input, backend.max_length, sequence_columns=columns)  # before predicting
    else:  # every row, before the SavedModel is loaded
        checked_rows = check_input(args.input, meta.get("max_sequence_length"), sequence_columns=columns)
        backend = SavedModelBackend(args.saved_model, batch_size=args.batch_size)
    backend.sequence_columns = columns
    try:
        summary = predict_file(args.input, args.output, backend, output_format=args.format,
                               chunk_rows=args.chunk_rows, resume=args.resume,
                               progress=not args.no_progress and sys.stderr.isatty(), orientation=orientation,
                               checked_rows=checked_rows)
    finally:
        backend.close()
    print(dumps({"output": str(summary.output), "rows": summary.rows, "resumed_from": summary.resumed_from,
                 "seconds": round(summary.seconds, 3),
                 "rows_per_s": round((summary.rows - summary.resumed_from) / max(summary.seconds, 1e-9), 1),
                 "model": backend.description, "model_version": summary.model_version,
                 "rows_missing_flanks": summary.rows_missing_flanks, "rows_trimmed": summary.rows_trimmed,
                 "rows_reverse": summary.rows_reverse}))
    return 0
