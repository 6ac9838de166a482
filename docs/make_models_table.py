"""Regenerate ``docs/models.md``, the table of every registered architecture, from the registry.

    python docs/make_models_table.py            # builds every model at real size to count parameters (~1-2 min)
    python docs/make_models_table.py --no-params

Rows come from ``seq2exp.models.names()`` and ``seq2exp.models.cli.describe`` (the ``seq2exp models`` listing); the
"assumptions" column is the architecture module's ``ASSUMPTIONS`` line when it has one, else its description.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = """# Architectures

Every architecture in the registry (`seq2exp models --json` lists the same rows): the challenge's top ten, the
reference model (`vaishnav`, rank 0) and the other seventeen teams (ranks 11-27). **params** = trainable parameters
of the Keras model at the team's configuration; **paper** = the count a source states, never our model's count, and
**paper source** = where it comes from: the paper's Table 1 (millions, one decimal) or text, the team's report, the
team's code, or a hand count from the team's code (named file; the test that redoes it is named too). Blank where
no source states a count (the modules' docstrings and `../shared/reference/ARCHITECTURES_MORE.md` give hand
estimates from the teams' layer sizes). Where our count differs from the stated one by more than rounding, the
module's docstring says why (pinned in `tests/models/test_registry.py`, `PARAM_COUNT_MISMATCHES`).
**fidelity**: *faithful* = follows the team's code (Keras 3 equivalents of their layers); *reconstructed* = gaps in
the published material filled by assumption, or a deliberate deviation (e.g. external pre-training replaced by
training from scratch, as the challenge's rule 1 requires). Each module's docstring lists its assumptions in full.

Regenerate with `python docs/make_models_table.py`.

| rank | name | team | params | paper | paper source | head | fidelity | source | assumptions / notes |
|---:|---|---|---:|---:|---|---|---|---|---|
"""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(count_params: bool = True) -> str:
    """The markdown text of ``docs/models.md``."""
    from seq2exp import models
    from seq2exp.models.cli import describe

    lines = [HEADER]
    for name in models.names():
        row = describe(name, count_params=count_params)
        module = importlib.import_module(models.get(name).builder.__module__)
        notes = getattr(module, "ASSUMPTIONS", "") or row["description"]
        params = f"{row['params']:,}" if row["params"] is not None else ""
        paper = f"{row['paper_params']:,}" if row["paper_params"] else ""
        rank = row["rank"] if row["rank"] is not None else "-"
        paper_source = _cell(row["paper_params_source"] or "")
        lines.append(f"| {rank} | `{name}` | {_cell(row['team'])} | {params} | {paper} | {paper_source} | "
                     f"{row['head']} | {row['fidelity']} | {_cell(row['source'])} | {_cell(notes)} |\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-params", action="store_true", help="do not build the models (params column empty)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "models.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    from seq2exp.utils import atomic_write

    text = table(count_params=not args.no_params)
    with atomic_write(args.out) as handle:
        handle.write(text)
    print(f"wrote {args.out} ({text.count(chr(10)) - HEADER.count(chr(10))} architectures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
