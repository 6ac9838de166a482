"""``seq2exp models``: list the registered architectures with their parameter counts at the default config."""
from __future__ import annotations

import argparse
import json
import math


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--no-params", action="store_true",
                        help="do not build the models (fast; the params column is left empty)")


def describe(name: str, *, count_params: bool = True) -> dict:
    """One architecture as a listing row: name, team, params (trainable, default config), paper_params, ..."""
    from seq2exp import models

    architecture = models.get(name)
    params = None
    if count_params:
        model = architecture.build()
        params = int(sum(math.prod(w.shape) for w in model.trainable_weights))
        del model
    return {"name": name, "team": architecture.team, "rank": architecture.rank, "params": params,
            "paper_params": architecture.paper_params, "paper_params_source": architecture.paper_params_source,
            "head": architecture.head,
            "fidelity": architecture.fidelity, "source": architecture.source,
            "description": architecture.description, "imports": import_format(name)}


def import_format(name: str) -> str | None:
    """The team's checkpoint format ``seq2exp import`` reads for ``name`` (``None``: no importer)."""
    from seq2exp.models.importing import importers

    importer = importers().get(name)
    return importer.format if importer else None


def main(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from seq2exp import models

    rows = []
    for name in models.names():
        rows.append(describe(name, count_params=not args.no_params))
        if not args.no_params:  # this process only lists: free each model's graph state before the next
            import keras

            keras.backend.clear_session()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    header = (f"{'name':<18} {'team':<24} {'params':>12} {'paper':>12} {'head':<10} {'fidelity':<13} "
              "imports (seq2exp import)")
    print(header)
    for row in rows:
        params = f"{row['params']:,}" if row["params"] is not None else "-"
        paper = f"{row['paper_params']:,}" if row["paper_params"] else "-"
        print(f"{row['name']:<18} {row['team'][:24]:<24} {params:>12} {paper:>12} {row['head']:<10} "
              f"{row['fidelity']:<13} {row['imports'] or '-'}")
    return 0
