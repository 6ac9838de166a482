"""The one place CLI numbers are checked: argparse ``type=`` validators used by every stage.

A bad value is refused by argparse while the command line is parsed, so before any folder is created or any model
loaded: exit code 2 and ``seq2exp STAGE: error: argument --top: must be an integer >= 1, got '-5'`` (after the
usage line). Each validator is also a plain function usable outside argparse (``positive_int("3") == 3``).
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

INT64_MAX = 2**63 - 1


def _int(text: str, what: str) -> int:
    text = str(text).strip()
    try:
        if not text or len(text) > 24:
            raise ValueError
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _float(text: str, what: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A ``type=`` for integers in ``[low, high]`` (either bound may be ``None``)."""
    if low is not None and high is not None:
        what = f"an integer between {low} and {high}"
    elif low is not None:
        what = f"an integer >= {low}"
    elif high is not None:
        what = f"an integer <= {high}"
    else:
        what = "an integer"

    def parse(text: str) -> int:
        value = _int(text, what)
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its own messages
    return parse


def float_range(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                high_open: bool = False) -> Callable[[str], float]:
    """A ``type=`` for finite numbers in a range (``low_open``: ``> low`` instead of ``>= low``)."""
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = "a finite number" + (f" {' and '.join(parts)}" if parts else "")

    def parse(text: str) -> float:
        value = _float(text, what)
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        if high is not None and (value >= high if high_open else value > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


positive_int = int_range(1)  # counts, sizes: >= 1
nonnegative_int = int_range(0)  # 0 meaning "none" / "default"
version_int = int_range(1, INT64_MAX)  # TF Serving's int64 model versions
finite_float = float_range()
positive_float = float_range(0.0, low_open=True)
nonnegative_float = float_range(0.0)
port_int = int_range(0, 65535)


def int_list(low: int | None = None, high: int | None = None, *, unique: bool = False,
             nonempty: bool = True) -> Callable[[str], tuple[int, ...]]:
    """A ``type=`` for comma-separated integers, each in ``[low, high]`` (``unique``: no repeats)."""
    one = int_range(low, high)

    def parse(text: str) -> tuple[int, ...]:
        items = [item.strip() for item in str(text).split(",")]
        if nonempty and not any(items):
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
        values = []
        for item in items:
            if not item:
                raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
            try:
                values.append(one(item))
            except argparse.ArgumentTypeError as error:
                raise argparse.ArgumentTypeError(f"{text!r}: each value {error}") from None
        if unique and len(set(values)) != len(values):
            repeated = sorted({v for v in values if values.count(v) > 1})
            raise argparse.ArgumentTypeError(f"{text!r}: {repeated[0]} is given twice")
        return tuple(values)

    parse.__name__ = "integers"
    return parse


def condition_names(text: str) -> int | tuple[str, ...]:
    """A ``type=`` for ``--conditions``: a count (``2``) or comma-separated names (``dev,hk``), checked by the
    simulator's validator (``seq2exp.simulate.conditions.resolve_conditions``); returns the count or the names."""
    from seq2exp.errors import ConfigError
    from seq2exp.simulate.conditions import resolve_conditions

    text = str(text).strip()
    value: int | tuple[str, ...] = int(text) if text.isdigit() and len(text) < 4 else tuple(
        item.strip() for item in text.split(","))
    try:
        resolve_conditions(list(value) if isinstance(value, tuple) else value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("conditions: ")) from None
    return value


condition_names.__name__ = "conditions"
