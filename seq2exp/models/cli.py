"""``seq2exp models``: list the registered architectures with their parameter counts at the default config.

By default the listing is the recorded catalog (:mod:`seq2exp.models.catalog`): no TensorFlow, nothing built, under a
second. ``--build`` builds every model of the live registry and counts its parameters instead (minutes; it also lists
architectures registered at run time); ``--no-params`` lists the live registry without building.
"""
from __future__ import annotations

import argparse

from seq2exp.jsonio import dumps
from seq2exp.models.catalog import describe  # noqa: F401  (the listing row; docs/make_models_table.py uses it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--build", action="store_true",
                        help="build every model of the live registry to count its parameters (slow) instead of "
                             "printing the recorded counts")
    parser.add_argument("--no-params", action="store_true",
                        help="list the live registry without building (the params column is left empty)")


def format_table(rows: list[dict]) -> str:
    """The listing as an aligned text table; columns as wide as their longest cell (long team names fit)."""
    columns = [("name", "name", "<"), ("team", "team", "<"), ("params", "params", ">"), ("paper", "paper_params", ">"),
               ("head", "head", "<"), ("fidelity", "fidelity", "<"), ("imports (seq2exp import)", "imports", "<")]
    cells = [[f"{row[key]:,}" if key.endswith("params") and row[key] else
              ("-" if key.endswith("params") else str(row[key] or "")) for _, key, _ in columns] for row in rows]
    widths = [max([len(title)] + [len(line[i]) for line in cells]) for i, (title, _, _) in enumerate(columns)]
    lines = ["  ".join(f"{title:{align}{width}}" for (title, _, align), width in zip(columns, widths)).rstrip()]
    for line in cells:
        lines.append("  ".join(f"{cell:{align}{width}}" for cell, (_, _, align), width
                               in zip(line, columns, widths)).rstrip())
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> int:
    if args.build or args.no_params:
        from seq2exp.models.catalog import build_catalog

        rows = build_catalog(count_params=args.build)
    else:
        from seq2exp.models.catalog import load_catalog

        rows = load_catalog()
    if args.json:
        print(dumps(rows, indent=1))
        return 0
    print(format_table(rows), end="")
    return 0
