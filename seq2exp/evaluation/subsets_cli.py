"""``seq2exp subsets``: the challenge's test subsets as sequence files (no TensorFlow import).

    seq2exp subsets list FOLDER
    seq2exp subsets extract FOLDER --subset NAME -o FILE [--format auto|fasta|dream|tsv] [--values [--truth T]]
                                   [--n N [--seed S]]
    seq2exp subsets extract FOLDER -o DIR [...]        # every subset in the folder: DIR/<subset>.fa|.tsv
"""
from __future__ import annotations

import argparse
from pathlib import Path

from seq2exp.jsonio import dumps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of the ``subsets`` stage."""
    sub = parser.add_subparsers(dest="subsets_command", metavar="<command>")
    sub.required = True
    listing = sub.add_parser("list", help="the subsets of a test_subset_ids folder, with their row counts")
    listing.add_argument("folder", help="test_subset_ids folder (the challenge's CSVs, or a simulated one)")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    extract = sub.add_parser(
        "extract", help="write a subset's sequences as FASTA, DREAM or a variants TSV",
        description="Write one subset (--subset) to a file, or every subset of the folder into a folder, as FASTA, "
                    "DREAM (sequence<TAB>value) or TSV. Pair subsets (SNVs, motif_perturbation, motif_tiling) as "
                    "TSV are variant tables (name alt_index ref_index ref alt [ref_value alt_value]) that "
                    "`seq2exp variants --variants` reads; as FASTA/DREAM they hold their distinct sequences. Rows "
                    "are unique by test index, in file order.")
    extract.add_argument("folder", help="test_subset_ids folder (the challenge's CSVs, or a simulated one)")
    extract.add_argument("--subset", metavar="NAME",
                         help="subset name as in the score JSON: high, low, yeast, random, challenging, SNVs, "
                              "motif_perturbation, motif_tiling (default: every subset in FOLDER, -o is a folder)")
    extract.add_argument("-o", "--output", required=True, metavar="PATH",
                         help="output file (with --subset) or a new folder (without)")
    extract.add_argument("--format", choices=("auto", "fasta", "dream", "tsv"), default="auto",
                         help="output format; auto: from the extension (.fa/.fasta FASTA, .txt DREAM, .tsv TSV), "
                              "and in a folder FASTA for single subsets, TSV for pairs and with --values "
                              "(default: %(default)s)")
    extract.add_argument("--values", action="store_true",
                         help="include measured values: from --truth, else the CSV's exp columns (empty in the "
                              "challenge's public files)")
    extract.add_argument("--truth", metavar="T",
                         help="with --values: test values by test index (a DREAM test file or JSON {\"index\": v})")
    extract.add_argument("--n", type=int, metavar="N", help="keep N rows (default: all)")
    extract.add_argument("--seed", type=int,
                         help="with --n: a seeded random sample of N rows instead of the first N (default: first N)")
    extract.add_argument("--json", action="store_true", help="print what was written as JSON")


def main(args: argparse.Namespace) -> int:
    """Run one ``subsets`` sub-command; returns the exit code."""
    from seq2exp.errors import ConfigError, InputFormatError
    from seq2exp.evaluation import extract as ex

    if not Path(args.folder).is_dir():
        raise InputFormatError("test subset folder not found", path=args.folder)
    if args.subsets_command == "list":
        import numpy as np

        from seq2exp.data.formats import SUBSET_FILES, read_subset_records

        rows = []
        for name in ex.present_subsets(args.folder):
            records = read_subset_records(args.folder, name)
            keys = records.positions.reshape(len(records), -1)
            rows.append({"subset": name, "file": SUBSET_FILES[name], "rows": len(records),
                         "unique": int(len({tuple(k) for k in keys.tolist()})), "pair": records.is_pair,
                         "values": bool(len(records)) and not bool(np.isnan(records.values).all())})
        if args.json:
            print(dumps(rows, indent=1))
        else:
            print(f"{'subset':<20} {'rows':>7} {'unique':>7}  kind    values  file")
            for row in rows:
                print(f"{row['subset']:<20} {row['rows']:>7} {row['unique']:>7}  {'pairs' if row['pair'] else 'single':<7} "
                      f"{'yes' if row['values'] else 'no':<7} {row['file']}")
        return 0

    if args.truth and not args.values:
        raise ConfigError("--truth gives measured values: add --values")
    if args.seed is not None and args.n is None:
        raise ConfigError("--seed samples --n rows: add --n")
    out = Path(args.output)
    if args.subset:
        if out.is_dir():
            raise ConfigError(f"-o {args.output} is a folder; with --subset, -o names the output file")
        fmt = ex.format_for(out, args.format)
        jobs = [(args.subset, out, fmt)]
    else:
        if out.exists():
            raise ConfigError(f"-o {args.output} exists; without --subset, -o names a new folder")
        names = ex.present_subsets(args.folder)
        if not names:
            raise InputFormatError("no subset CSV found", path=args.folder)
        suffix = {"fasta": ".fa", "dream": ".txt", "tsv": ".tsv"}
        jobs = []
        for name in names:
            fmt = args.format if args.format != "auto" else ex.default_format(name, args.values)
            jobs.append((name, out / f"{name}{suffix[fmt]}", fmt))
    for _, _, fmt in jobs:
        if fmt == "fasta" and args.values:
            raise ConfigError("a FASTA file holds no values: write .txt (DREAM) or .tsv, or leave --values out")
    # read and check everything before writing anything
    extracted = [(ex.extract(args.folder, name, values=args.values, truth=args.truth, n=args.n, seed=args.seed),
                  path, fmt) for name, path, fmt in jobs]
    written = []
    if args.subset:
        rows, path, fmt = extracted[0]
        ex.write(rows, path, fmt)
        written.append({"subset": rows.name, "path": str(path), "format": fmt, "rows": len(rows)})
    else:
        from seq2exp.utils import atomic_dir

        with atomic_dir(out) as tmp:
            for rows, path, fmt in extracted:
                ex.write(rows, tmp / path.name, fmt)
                written.append({"subset": rows.name, "path": str(path), "format": fmt, "rows": len(rows)})
    if args.json:
        print(dumps(written, indent=1))
    else:
        for item in written:
            print(f"{item['path']}: {item['rows']} {item['subset']} rows ({item['format']})")
    return 0
