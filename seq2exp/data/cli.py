"""``seq2exp data``: download the challenge data, build the training cache, validate data files.

    seq2exp data download --dest D [--files NAME,...] [--base-url URL] [--url NAME=URL] [--sha256 NAME=HEX] [--list]
    seq2exp data verify D [--sha256 NAME=HEX]
    seq2exp data cache TRAIN --out CACHE [--on-invalid error|skip] [--max-length N] [--force]
    seq2exp data validate FILE_OR_FOLDER [--format auto|dream|fasta|subsets|plasmid] [--on-invalid ...] [--json]

No TensorFlow is imported by any of these.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from seq2exp.argtypes import positive_float, positive_int
from seq2exp.data.formats import DEFAULT_MAX_SEQUENCE_LENGTH
from seq2exp.errors import Seq2ExpError
from seq2exp.jsonio import dumps


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    result = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise Seq2ExpError(f"{option}: expected NAME=VALUE, got {item!r}")
        result[name] = value
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of the ``data`` stage."""
    sub = parser.add_subparsers(dest="data_command", metavar="<command>")
    sub.required = True

    download = sub.add_parser("download", help="download the challenge's data record (Zenodo 10633252)")
    download.add_argument("--dest", "--out", dest="out", metavar="DIR", default="data/dream2022",
                          help="destination folder; an interrupted download resumes from its NAME.part file "
                               "(default: %(default)s)")
    download.add_argument("--files", help="comma-separated file names (default: all of the manifest)")
    download.add_argument("--base-url", help="mirror to fetch from instead of Zenodo (http(s):// or file://)")
    download.add_argument("--url", action="append", metavar="NAME=URL", help="URL of one file (repeatable)")
    download.add_argument("--sha256", action="append", metavar="NAME=HEX", help="expected checksum (repeatable)")
    download.add_argument("--force", action="store_true", help="download again even when the file exists")
    download.add_argument("--timeout", type=positive_float, default=60.0, help="network timeout in seconds")
    download.add_argument("--list", action="store_true", help="only list the manifest")

    verify = sub.add_parser("verify", help="re-check downloaded files against their recorded checksums")
    verify.add_argument("folder", help="folder written by `seq2exp data download`")
    verify.add_argument("--sha256", action="append", metavar="NAME=HEX", help="expected checksum (repeatable)")

    cache = sub.add_parser("cache", help="parse a DREAM training file into a memory-mapped training cache")
    cache.add_argument("train", help="DREAM training file (sequence<TAB>expression; .gz accepted)")
    cache.add_argument("--out", required=True, help="cache folder")
    cache.add_argument("--on-invalid", choices=("error", "skip"), default="error",
                       help="bad rows stop with an error naming the line (default) or are skipped and counted")
    cache.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_SEQUENCE_LENGTH,
                       help="sequences longer than this are invalid rows (default: %(default)s)")
    cache.add_argument("--force", action="store_true", help="rebuild even if an up-to-date cache exists")

    validate = sub.add_parser("validate", help="check a data file (or subset folder) and summarise it")
    validate.add_argument("path", help="data file or test_subset_ids folder to check")
    validate.add_argument("--format", choices=("auto", "dream", "fasta", "subsets", "leaderboard", "plasmid"),
                          default="auto", help="the file's format (auto: detected)")
    validate.add_argument("--on-invalid", choices=("error", "skip"), default="error", help="bad rows stop with an error naming the line, or are skipped and counted")
    validate.add_argument("--max-length", type=positive_int, default=DEFAULT_MAX_SEQUENCE_LENGTH,
                          help="longest sequence accepted, bp (default %(default)s, as the readers)")
    validate.add_argument("--json", action="store_true", help="print the summary as JSON")


def main(args: argparse.Namespace) -> int:
    """Run one ``data`` sub-command; returns the exit code."""
    command = args.data_command
    if command == "download":
        return _download(args)
    if command == "verify":
        from seq2exp.data.download import verify_dataset

        report = verify_dataset(args.folder, _pairs(args.sha256, "--sha256"))
        if not report:
            raise Seq2ExpError(f"{args.folder}: no recorded checksums (nothing downloaded there yet?)")
        for name, status in report.items():
            print(f"{status:9s} {name}")
        return 0 if all(status == "ok" for status in report.values()) else 1
    if command == "cache":
        from seq2exp.data.cache import build_cache

        cache = build_cache(args.train, args.out, on_invalid=args.on_invalid, max_length=args.max_length,
                            force=args.force)
        print(dumps({"cache": str(cache.path), "rows": cache.n, "width": cache.width,
                     "skipped": cache.meta.get("skipped", 0), "stats": cache.meta.get("stats", {})}, indent=2))
        return 0
    if command == "validate":
        summary = validate_path(args.path, fmt=args.format, on_invalid=args.on_invalid, max_length=args.max_length)
        if args.json:
            print(dumps(summary, indent=2))
        else:
            for key, value in summary.items():
                print(f"{key}: {value}")
        return 0
    raise Seq2ExpError(f"unknown data command {command!r}")


def _download(args: argparse.Namespace) -> int:
    from seq2exp.data.download import MANIFEST, download_dataset, read_checksums

    if args.list:
        recorded = read_checksums(args.out) if Path(args.out).exists() else {}
        for entry in MANIFEST:
            if entry.sha256:
                checksum = f"sha256={entry.sha256} (manifest)"
            elif recorded.get(entry.name, {}).get("sha256"):
                checksum = f"sha256={recorded[entry.name]['sha256']} (recorded)"
            else:
                checksum = "unverified"
            print(f"{entry.name}\t{checksum}\t{entry.description}")
        return 0
    names = [name.strip() for name in args.files.split(",") if name.strip()] if args.files else None
    paths = download_dataset(args.out, names=names, base_url=args.base_url, urls=_pairs(args.url, "--url"),
                             expected_sha256=_pairs(args.sha256, "--sha256"), force=args.force,
                             timeout=args.timeout)
    recorded = read_checksums(args.out)
    for name, path in paths.items():
        print(f"{path}\tsha256={recorded[name]['sha256']}\t({recorded[name]['checked_against']})")
    return 0


def validate_path(path: str, *, fmt: str = "auto", on_invalid: str = "error",
                  max_length: int | None = None) -> dict[str, Any]:
    """Read a data file or folder with the project's readers and return a summary (raises on invalid input)."""
    from seq2exp.data import formats
    from seq2exp.data.plasmid import read_plasmid_json

    target = Path(path)
    if fmt == "auto":
        if target.is_dir():
            fmt = "leaderboard" if any(target.glob("*_indices.json")) else "subsets"
        elif target.suffix == ".json":
            fmt = "plasmid"
        else:
            fmt = "fasta" if formats.sniff_is_fasta(target) else "dream"
    summary: dict[str, Any] = {"path": str(target), "format": fmt}
    if fmt in ("subsets", "leaderboard"):
        reader = formats.read_test_subsets if fmt == "subsets" else formats.read_public_leaderboard_ids
        subsets = reader(target)
        if not subsets:
            raise Seq2ExpError(f"{target}: none of the expected files is there")
        summary["subsets"] = {name: int(len(values)) for name, values in subsets.items()}
        summary["max_index"] = int(max(int(values.max()) for values in subsets.values() if len(values)))
        return summary
    if fmt == "plasmid":
        plasmid = read_plasmid_json(target)
        summary.update(length=len(plasmid), insert_start=plasmid.find("N" * 80))
        return summary
    if fmt == "fasta":
        table = formats.read_fasta(target, on_invalid=on_invalid, max_length=max_length)
        expression = None
    else:
        dream = formats.read_dream(target, on_invalid=on_invalid, max_length=max_length)
        table = formats.SequenceTable([], dream.sequences, dream.line_numbers, dream.skipped, dream.expression)
        expression = dream.expression
    lengths = np.fromiter((len(s) for s in table.sequences), dtype=np.int64, count=len(table.sequences))
    summary.update(rows=len(table), skipped=table.skipped)
    if len(table):
        summary.update(length_min=int(lengths.min()), length_max=int(lengths.max()),
                       length_mean=round(float(lengths.mean()), 3),
                       rows_with_n=sum("N" in s for s in table.sequences))
    if expression is not None:
        known = expression[np.isfinite(expression)]
        summary["rows_with_expression"] = int(known.size)
        if known.size:
            summary.update(expression_min=float(known.min()), expression_max=float(known.max()),
                           expression_mean=round(float(known.mean()), 4))
    return summary
