"""``seq2exp batch``: batch inference over many files as an Apache Beam pipeline, sharded outputs.

``seq2exp batch INPUT... -o OUT_DIR (--saved-model DIR | --server H:P --model NAME) [--beam-option K=V ...]``.

Batch inference as an Apache Beam pipeline (``pip install "seq2exp[beam]"``): the DirectRunner by default, Flink,
Spark or Dataflow through ``--beam-option runner=...``. See :mod:`seq2exp.batch.pipeline` for the outputs.
"""
from __future__ import annotations

import argparse

from seq2exp.argtypes import nonnegative_int, positive_float, positive_int
from seq2exp.jsonio import dumps
from seq2exp.serving.source_args import add_model_source_arguments, check_model_source

BEAM_HELP = ("a Beam pipeline option KEY=VALUE (repeatable), e.g. direct_num_workers=2 "
             "direct_running_mode=multi_processing; runner=FlinkRunner flink_master=HOST:8081; "
             "runner=SparkRunner spark_master_url=spark://HOST:7077; runner=DataflowRunner project=P region=R "
             "temp_location=gs://B/tmp sdk_container_image=IMAGE (the Dockerfile's beam-worker target)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="FASTA, DREAM or TSV files (gzip ok) or globs ('data/*.fa.gz'); read by every worker")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (local or a Beam filesystem such as gs://): shards, dead letters, "
                             "manifest.json (written last)")
    add_model_source_arguments(
        parser, server_help="HOST:PORT of TF Serving or `seq2exp serve` (remote-model mode)",
        saved_model_help="exported version folder M/NAME/V (or M/NAME: its latest version), loaded in every worker "
                         "the way TF Serving loads it",
        version_help="model version on the server (default: its latest, pinned at launch for the whole run)")
    parser.add_argument("--format", choices=["dream", "tsv"], default="dream",
                        help="row format of the shards, as `seq2exp predict` writes it (default dream)")
    parser.add_argument("--batch-size", type=positive_int, default=1024, help="rows per model call (and per pipeline element)")
    parser.add_argument("--shard-rows", type=positive_int, default=1_000_000, help="rows per output shard at most")
    parser.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight per worker (with --server)")
    parser.add_argument("--max-outage", type=positive_float, default=120.0, metavar="SECONDS",
                        help="with --server: once the server has been unreachable this long, the remaining rows "
                             "become dead letters at once instead of each chunk waiting out its retries (default 120)")
    parser.add_argument("--intra-op-threads", type=nonnegative_int, default=0,
                        help="TensorFlow threads per worker model (0: TensorFlow's default)")
    parser.add_argument("--orientation", metavar="RULE", default="auto",
                        help="rows measured in reverse orientation, for models with an is_reverse channel, as "
                             "`seq2exp predict --orientation`: auto (the export's recorded rule; none with --server), "
                             "none, COLUMN~TEXT or COLUMN=V1,V2")
    parser.add_argument("--beam-option", action="append", default=[], metavar="KEY=VALUE", help=BEAM_HELP)


def main(args: argparse.Namespace) -> int:
    import logging

    from seq2exp.errors import ConfigError

    if not getattr(args, "verbose", False):  # Beam relays every worker's INFO lines; keep seq2exp's own
        logging.getLogger("apache_beam").setLevel(logging.WARNING)

    try:
        from seq2exp.batch import import_beam

        import_beam()
    except ImportError:
        raise ConfigError('seq2exp batch needs Apache Beam: pip install "seq2exp[beam]"') from None
    from seq2exp.batch.pipeline import run_batch, saved_model_source, server_source
    from seq2exp.serving.predict import parse_orientation

    check_model_source(args)
    orientation = parse_orientation(args.orientation)
    if args.intra_op_threads < 0:
        raise ConfigError(f"--intra-op-threads must be >= 0, got {args.intra_op_threads}")
    if args.server:
        source = server_source(args.server, args.model, version=args.version, label=args.label,
                               batch_size=args.batch_size, concurrency=args.concurrency, orientation=orientation,
                               max_outage_s=args.max_outage)
    else:
        source = saved_model_source(args.saved_model, intra_op_threads=args.intra_op_threads,
                                    orientation=orientation)
    summary = run_batch(args.inputs, args.output, source, output_format=args.format, batch_size=args.batch_size,
                        shard_rows=args.shard_rows, beam_options=args.beam_option)
    manifest = summary.manifest
    print(dumps({"output": summary.output_dir, "rows_in": manifest["rows_in"], "rows_out": manifest["rows_out"],
                 "rows_rejected": manifest["rows_rejected"], "shards": len(manifest["shards"]),
                 "seconds": round(summary.seconds, 3),
                 "rows_per_s": round(manifest["rows_in"] / max(summary.seconds, 1e-9), 1),
                 "model": f"{manifest['model']['name']}:{manifest['model']['version']}",
                 "runner": manifest["runner"]}))
    return 0
