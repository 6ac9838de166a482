"""``seq2exp configs list`` / ``seq2exp configs show NAME``: the registered training recipes.

The teams' configs are installed with the package; ``seq2exp train NAME`` trains one by name (``seq2exp train
autosome --data train.txt --out runs/a``). ``show`` prints a recipe's YAML, comments included, to copy and edit::

    seq2exp configs show autosome > my_autosome.yaml
    seq2exp train my_autosome.yaml --data train.txt --out runs/mine
"""
from __future__ import annotations

import argparse

from seq2exp.jsonio import dumps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="<action>", required=True)
    listing = actions.add_parser("list", help="the recipe names with a one-line description each",
                                 description="the recipe names with a one-line description each")
    listing.add_argument("--json", action="store_true", help="one JSON object (name -> {description, path})")
    show = actions.add_parser("show", help="print a recipe's YAML (to copy and edit)",
                              description="print a recipe's YAML (to copy and edit)")
    show.add_argument("name", help="a recipe name from `seq2exp configs list` (e.g. autosome)")
    show.add_argument("--path", action="store_true", help="print the installed file's path instead of its text")


def main(args: argparse.Namespace) -> int:
    from seq2exp.training.recipes import recipe_description, recipe_names, recipe_path

    if args.action == "list":
        if not recipe_names():
            from seq2exp.errors import ConfigError

            raise ConfigError("no recipes installed (seq2exp/training/configs/ holds no YAML: a broken install)")
        rows = {name: {"description": recipe_description(recipe_path(name)), "path": str(recipe_path(name))}
                for name in recipe_names()}
        if args.json:
            print(dumps(rows, indent=2))
            return 0
        width = max(len(name) for name in rows)
        for name, row in rows.items():
            print(f"{name:<{width}}  {row['description']}")
        print("\ntrain one: seq2exp train NAME --data TRAIN --out RUN;  copy one: seq2exp configs show NAME > my.yaml")
        return 0
    path = recipe_path(args.name)
    if args.path:
        print(path)
    else:
        print(path.read_text(encoding="utf-8"), end="")
    return 0
