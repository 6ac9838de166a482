"""``seq2exp train CONFIG --data TRAIN [--val VAL] --out RUN [--strategy auto]``: train with model.fit; resumable.

Restarting the same command on the same ``--out`` resumes an interrupted run. ``--smoke`` trains the tiny version
of the config (the architecture's smoke size and the config's ``smoke`` section); ``--set key=value`` overrides
any config field (dotted keys, YAML values), e.g. ``--set epochs=3 --set optimizer.learning_rate=0.001``; ``--set
smoke.epochs=3`` changes the smoke section before ``--smoke`` reads it.
``CONFIG`` is a registered recipe name (``seq2exp configs list``: ``autosome``, ``bhi``, ..., ``kmer_ridge``) or the
path of a YAML config (``seq2exp configs show autosome > my.yaml`` gives one to edit). The k-mer ridge baseline is a
recipe too: ``seq2exp train kmer_ridge --data ... --out ...``.
"""
from __future__ import annotations

import argparse

from seq2exp.jsonio import dumps

STRATEGY_CHOICES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe name (`seq2exp configs list`, e.g. autosome) or a config YAML path")
    parser.add_argument("--data", help="DREAM training file (sequence<TAB>expression); default: the config's data.train")
    parser.add_argument("--val", help="separate validation file; default: a seeded data.val_fraction split of --data")
    parser.add_argument("--out", required=True, help="run folder (created; an existing one is resumed)")
    parser.add_argument("--strategy", default="auto", choices=STRATEGY_CHOICES,
                        help="tf.distribute strategy (auto: TPU > multi-worker TF_CONFIG > several GPUs > one GPU > CPU)")
    parser.add_argument("--smoke", action="store_true", help="tiny model and a few steps (tests, quick checks)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field (dotted key, YAML value); repeatable")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress output")
    parser.add_argument("--restart", action="store_true",
                        help="discard the --out folder's training state and start afresh (instead of resuming; "
                             "needed to reuse a folder with another config or other data)")


def parse_overrides(items: list[str]) -> dict:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML)."""
    from seq2exp.errors import ConfigError
    from seq2exp.models.registry import deep_merge
    from seq2exp.training.config import yaml_load

    merged: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        nested: dict = {}
        cursor = nested
        parts = key.split(".")
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = yaml_load(value)
        merged = deep_merge(merged, nested)
    return merged


def main(args: argparse.Namespace) -> int:
    import sys

    from seq2exp.training.driver import train

    verbose = 0 if args.quiet else (1 if sys.stderr.isatty() else 2)
    run = train(args.config, data=args.data, val=args.val, out=args.out, strategy=args.strategy, smoke=args.smoke,
                overrides=parse_overrides(args.overrides), verbose=verbose, restart=args.restart)
    metrics = run.info.get("metrics", {})
    print(dumps({"run": str(run.path), "architecture": run.info["architecture"],
                 "optimizer_steps": run.info.get("optimizer_steps"),
                 "val_pearson": metrics.get("val_pearson"), "val_spearman": metrics.get("val_spearman")}))
    return 0
