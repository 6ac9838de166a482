"""The recorded listing of the packaged architectures (``catalog.json``): what ``seq2exp models`` prints without
importing TensorFlow or building anything, parameter counts included.

The counts are the trainable parameters of each Keras model at the team's default config, recorded by building it;
``tests/models/test_catalog.py`` checks the file against the live registry (every field) and against a build (the
counts). After changing an architecture or registering a new one, regenerate it::

    python -m seq2exp.models.catalog          # builds every model at real size (~1-2 min on a CPU)
"""
from __future__ import annotations

import math
from pathlib import Path

CATALOG_FILE = Path(__file__).resolve().parent / "catalog.json"
FIELDS = ("name", "team", "rank", "params", "paper_params", "paper_params_source", "head", "fidelity", "source",
          "description", "imports")


def load_catalog() -> list[dict]:
    """The recorded rows, in the registry's order (no TensorFlow import)."""
    from seq2exp.jsonio import load_file

    return load_file(CATALOG_FILE, expect=dict)["architectures"]


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


def build_catalog(names: list[str] | None = None, *, count_params: bool = True) -> list[dict]:
    """Rows from the live registry (``names``: default every registered architecture), each model built once to
    count its parameters unless ``count_params`` is false."""
    import keras

    from seq2exp import models

    rows = []
    for name in models.names() if names is None else names:
        row = describe(name, count_params=count_params)
        rows.append({field: row[field] for field in FIELDS})
        if count_params:
            keras.backend.clear_session()
    return rows


def write_catalog(path: Path = CATALOG_FILE) -> Path:
    """Rebuild every packaged architecture and write ``catalog.json``."""
    from seq2exp.jsonio import dumps
    from seq2exp.utils import atomic_write

    rows = build_catalog()
    with atomic_write(path) as handle:
        handle.write(dumps({"architectures": rows}, indent=1, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    print(write_catalog())
