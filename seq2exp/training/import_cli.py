"""``seq2exp import``: a team's own trained weights -> a seq2exp run folder (export / serve / predict / score it).

    seq2exp import autosome model_80.pth --out runs/legnet          # a file you have, in the team's format
    seq2exp import nad best.pth --embedding vectors.txt --out runs/nad   # NAD's model + its GloVe vectors
    seq2exp import --list                                            # published checkpoints and importers
    seq2exp import autosome-dream2022 --fetch --out runs/legnet      # download a published one, then import it
"""
from __future__ import annotations

import argparse

from seq2exp.jsonio import dumps


def _print_columns(rows: list[list[str]]) -> None:
    """Rows as left-aligned columns as wide as their longest cell, indented by two spaces."""
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))] if rows else []
    for row in rows:
        print("  " + "  ".join(f"{cell!s:<{width}}" for cell, width in zip(row, widths)).rstrip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", help="an architecture (seq2exp import --list) or a published "
                                                  "checkpoint's name")
    parser.add_argument("weights", nargs="?", help="the team's saved weights (e.g. autosome's model_80.pth)")
    parser.add_argument("--out", help="the run folder to write (must not exist yet)")
    parser.add_argument("--list", action="store_true",
                        help="list the architectures that import a team's weights and the published checkpoints")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.add_argument("--fetch", action="store_true",
                        help="download the published checkpoint TARGET (resumable, checksum-verified) and import it")
    parser.add_argument("--download-dir", help="where --fetch keeps downloads (default $SEQ2EXP_CHECKPOINTS or "
                                               "~/.cache/seq2exp/checkpoints)")
    parser.add_argument("--url", help="with --fetch: download from this URL instead (a mirror, file://)")
    parser.add_argument("--sha256", help="with --fetch: the checksum the file must have")
    parser.add_argument("--embedding", help="nad: the GloVe vectors file the team's model was built with (its "
                                            "data/vectors.txt, as GloVe writes it)")
    parser.add_argument("--config", help="model config overrides the file cannot tell, as JSON "
                                         "(e.g. '{\"input\": {\"length\": 150}}')")


def listing() -> dict:
    """Importable architectures (with the team's format) and published checkpoints."""
    from seq2exp.models.importing import importers
    from seq2exp.models.importing.published import load_registry

    return {
        "importers": [{"architecture": name, "team": importer.team, "format": importer.format,
                       "team_code": importer.source} for name, importer in importers().items()],
        "published": [{"name": entry.name, "architecture": entry.architecture, "url": entry.url,
                       "checksum": entry.status if entry.sha256 is None else entry.sha256,
                       "licence": entry.entry.get("licence")} for entry in load_registry().values()],
    }


def main(args: argparse.Namespace) -> int:
    from seq2exp.errors import ConfigError

    if args.list:
        rows = listing()
        if args.json:
            print(dumps(rows, indent=1))
            return 0
        print("architectures that import a team's weights:")
        _print_columns([[row["architecture"], row["team"], row["format"]] for row in rows["importers"]])
        print("published checkpoints (seq2exp import NAME --fetch --out RUN):")
        _print_columns([[row["name"], row["architecture"], f"sha256: {row['checksum']}", row["url"]]
                        for row in rows["published"]])
        return 0
    if not args.target or not args.out:
        raise ConfigError("usage: seq2exp import ARCHITECTURE WEIGHTS --out RUN | seq2exp import NAME --fetch "
                          "--out RUN | seq2exp import --list")
    overrides = None
    if args.config:
        from seq2exp.jsonio import loads

        overrides = loads(args.config, "--config", expect=dict)  # a JSON object of model config overrides
    from pathlib import Path

    from seq2exp.training.importing import import_weights
    from seq2exp.models.importing.published import (
        default_download_dir,
        fetch_checkpoint,
        get_published,
        load_registry,
    )

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):  # before any download
        raise ConfigError(f"{out}: already exists and is not an empty folder; choose a new --out")
    published = load_registry().get(args.target)
    if args.fetch:
        if args.weights:
            raise ConfigError("--fetch downloads the weights: give a published name and no WEIGHTS file")
        published = get_published(args.target)
        weights = fetch_checkpoint(published, args.download_dir or default_download_dir(), url=args.url,
                                   expected_sha256=args.sha256)
    elif not args.weights:
        raise ConfigError(f"no WEIGHTS file given (seq2exp import {args.target} WEIGHTS --out RUN, or --fetch "
                          "for a published checkpoint)")
    else:
        weights = Path(args.weights)
    architecture = published.architecture if published else args.target
    files = {"embedding": args.embedding} if args.embedding else None
    run = import_weights(architecture, weights, out, config=overrides, card=published.card() if published else None,
                         files=files)
    print(dumps({"run": str(run), "architecture": architecture, "weights": str(weights),
                 "checkpoint": published.name if published else None}))
    return 0
