"""The registered training recipes: the teams' configs, installed with the package as
``seq2exp/training/configs/<name>.yaml`` (``training/configs/`` in a source checkout is the readable copy; a test
keeps the two byte-equal). Light: no TensorFlow, so ``seq2exp configs`` starts at once."""
from __future__ import annotations

from pathlib import Path

from seq2exp.errors import ConfigError

RECIPE_DIR = Path(__file__).resolve().parent / "configs"
"""The registered recipes: the teams' configs, installed with the package (``training/configs/`` is the copy a
source checkout shows; a test keeps the two byte-equal)."""


def _recipe_files() -> dict[str, Path]:
    """name -> YAML: the teams' recipes, and the benchmark recipes in ``benchmarks/`` (names are unique)."""
    return {path.stem: path for path in sorted(RECIPE_DIR.rglob("*.yaml"))}


def recipe_names() -> list[str]:
    """The registered recipe names (``autosome``, ``bhi``, ..., ``kmer_ridge``, ``drosophila_dream_rnn``), sorted."""
    return sorted(_recipe_files())


def recipe_path(name: str) -> Path:
    """The installed YAML of a registered recipe; ``ConfigError`` naming the close matches otherwise."""
    path = _recipe_files().get(name)
    if path is not None and path.is_file():
        return path
    import difflib

    close = difflib.get_close_matches(name, recipe_names(), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `seq2exp configs list` shows them"
    raise ConfigError(f"no recipe named {name!r}{hint}")


def recipe_description(path: str | Path) -> str:
    """A recipe's one-line description: its first comment line (without the ``#``)."""
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def config_path(name_or_path: str | Path) -> Path:
    """A config's file: an existing file as given, else a registered recipe name (``autosome``; a folder of that
    name, such as a run folder, does not hide the recipe)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    if path.suffix or "/" in text or "\\" in text or not text:
        raise ConfigError(f"config file not found: {path} (a recipe name such as 'autosome' also works; "
                          "`seq2exp configs list` shows them)")
    return recipe_path(text)
