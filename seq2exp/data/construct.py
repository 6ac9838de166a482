"""The construct a measured sequence sits in: constant flanks, the vector around the insert, the insert's length.

A :class:`Construct` is the one definition of what used to be the DREAM yeast constants: the 5' and 3' constant
flanks that every measured row carries (``flank5`` / ``flank3``), the vector sequence upstream and downstream of the
insert (``upstream`` ends with ``flank5``, ``downstream`` starts with ``flank3``: what padding and shifting fill
from), and the length of the designed / variable insert between the flanks (``None``: any length). It drives the
encoder (padding with the real vector, shift TTA, flank stripping for ``region: variable``), ``predict``'s check that
input rows carry the flanks, and interpretation (flanks marked in plots, left out of ISM top effects, protected in
design).

Built-in constructs (:data:`BUILTIN_CONSTRUCTS`): ``dream_yeast`` (the challenge's promoter: 17-bp 5' and 13-bp 3'
flanks around the 80-bp random insert in the yeast plasmid; the default, and what a run or export without a
construct record is) and ``genomic`` (alias ``none``: no flanks, no vector; padding is ``N``). A training config names
one (``construct: genomic``) or declares its own inline::

    construct:
      name: my_mpra
      flank5: ACTGGCCGCTTCACTG
      flank3: AGATCGGAAGAGCGTCG
      upstream: ...GCTTCACTG...ACTGGCCGCTTCACTG    # optional: more vector 5' of the insert, ending with flank5
      downstream: AGATCGGAAGAGCGTCG...              # optional: more vector 3' of the insert, starting with flank3
      insert_length: 200

TensorFlow-free (readers, the scorer and the simulator use it).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from seq2exp.errors import ConfigError

DNA_LETTERS = frozenset("ACGTN")


@dataclass(frozen=True)
class Construct:
    """An MPRA / STARR-seq construct (see the module docstring). Letters are stored upper-case.

    ``upstream`` defaults to ``flank5`` and ``downstream`` to ``flank3`` (no vector known beyond the flanks); outside
    the vector the encoder pads with ``N``.
    """

    name: str
    flank5: str = ""
    flank3: str = ""
    upstream: str = ""
    downstream: str = ""
    insert_length: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"construct.name: expected a non-empty string, got {self.name!r}")
        for field in ("flank5", "flank3", "upstream", "downstream"):
            value = getattr(self, field)
            if not isinstance(value, str):
                raise ConfigError(f"construct.{field}: expected a DNA string (may be empty), got {value!r}")
            value = value.strip().upper()
            bad = sorted(set(value) - DNA_LETTERS)
            if bad:
                raise ConfigError(f"construct.{field}: letter {bad[0]!r} at position {value.index(bad[0]) + 1} is "
                                  "not one of A, C, G, T, N")
            object.__setattr__(self, field, value)
        if not self.upstream:
            object.__setattr__(self, "upstream", self.flank5)
        if not self.downstream:
            object.__setattr__(self, "downstream", self.flank3)
        if not self.upstream.endswith(self.flank5):
            raise ConfigError(f"construct.upstream: must end with flank5 {self.flank5!r} (the vector runs into the "
                              f"5' flank), ends with {self.upstream[-len(self.flank5):]!r}")
        if not self.downstream.startswith(self.flank3):
            raise ConfigError(f"construct.downstream: must start with flank3 {self.flank3!r} (the 3' flank begins "
                              f"the downstream vector), starts with {self.downstream[:len(self.flank3)]!r}")
        length = self.insert_length
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise ConfigError(f"construct.insert_length: expected a positive integer or null, got {length!r}")

    # -- views ------------------------------------------------------------------------------------------------
    @property
    def has_flanks(self) -> bool:
        """Whether measured rows carry constant flanks (``dream_yeast``: yes; ``genomic``: no)."""
        return bool(self.flank5 or self.flank3)

    @property
    def flank_length(self) -> int:
        """Bases of the two constant flanks together (30 for DREAM yeast)."""
        return len(self.flank5) + len(self.flank3)

    @property
    def sequence_length(self) -> int | None:
        """The length of a measured row: flanks + insert (110 for DREAM yeast); ``None`` without an insert length."""
        return None if self.insert_length is None else self.flank_length + self.insert_length

    def has_construct_flanks(self, sequence: str) -> bool:
        """Whether ``sequence`` starts with ``flank5`` and ends with ``flank3`` (case-insensitive; always true for
        a construct without flanks)."""
        sequence = sequence.upper()
        return (len(sequence) >= self.flank_length and sequence.startswith(self.flank5)
                and sequence.endswith(self.flank3))

    def insert_region(self, sequence: str) -> tuple[int, int]:
        """0-based half-open ``(start, stop)`` of the insert in ``sequence``: between the flanks when the row
        carries both (and something lies between them), else the whole row."""
        if self.has_flanks and len(sequence) > self.flank_length and self.has_construct_flanks(sequence):
            return len(self.flank5), len(sequence) - len(self.flank3)
        return 0, len(sequence)

    def with_flanks(self, insert: str) -> str:
        """``flank5 + insert + flank3``: a measured row from an insert."""
        return self.flank5 + insert.upper() + self.flank3

    def rows_missing_flanks(self, sequences: Sequence[str]) -> list[int]:
        """0-based indices of the rows that do not carry this construct's flanks (none for a flank-less one)."""
        if not self.has_flanks:
            return []
        return [i for i, sequence in enumerate(sequences) if not self.has_construct_flanks(sequence)]

    def describe(self) -> str:
        """One line for messages: the name and the flanks."""
        if not self.has_flanks:
            return f"construct {self.name!r} (no constant flanks)"
        return (f"construct {self.name!r} (5' flank {self.flank5 or '-'} ({len(self.flank5)} bp), 3' flank "
                f"{self.flank3 or '-'} ({len(self.flank3)} bp))")

    # -- (de)serialisation ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` (JSON/YAML-able); ``Construct.from_dict(c.to_dict()) == c``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Construct":
        """Build from a mapping; an unknown or missing key raises ``ConfigError`` naming the valid ones."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"construct: expected a mapping, got {type(values).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"construct: unknown key(s) {unknown}; valid keys are {known}")
        if "name" not in values:
            raise ConfigError("construct.name: missing (a construct needs a name)")
        return cls(**dict(values))


def _dream_yeast() -> Construct:
    from seq2exp.data.alphabet import FLANK3, FLANK5, VARIABLE_LENGTH
    from seq2exp.data.plasmid import PLASMID_DOWNSTREAM, PLASMID_UPSTREAM

    return Construct(name="dream_yeast", flank5=FLANK5, flank3=FLANK3, upstream=PLASMID_UPSTREAM,
                     downstream=PLASMID_DOWNSTREAM, insert_length=VARIABLE_LENGTH)


# The DREAM challenge's yeast promoter construct: the ONE reader of the yeast constants of ``alphabet`` / ``plasmid``.
DREAM_YEAST = _dream_yeast()
# Genomic sequences: no constant flanks, no vector (the encoder pads with N).
GENOMIC = Construct(name="genomic")
BUILTIN_CONSTRUCTS: dict[str, Construct] = {"dream_yeast": DREAM_YEAST, "genomic": GENOMIC}
ALIASES = {"none": "genomic", "yeast": "dream_yeast"}
DEFAULT_CONSTRUCT = DREAM_YEAST


def get_construct(name: str) -> Construct:
    """A built-in construct by name (``dream_yeast``, ``genomic``; aliases ``none``, ``yeast``)."""
    key = ALIASES.get(name, name)
    if key not in BUILTIN_CONSTRUCTS:
        raise ConfigError(f"construct: unknown built-in construct {name!r}; choose one of "
                          f"{sorted(BUILTIN_CONSTRUCTS) + sorted(ALIASES)} or declare one inline "
                          "(a mapping with name, flank5, flank3, upstream, downstream, insert_length)")
    return BUILTIN_CONSTRUCTS[key]


def resolve_construct(value: "Construct | Mapping[str, Any] | str | None") -> Construct:
    """What a config's ``construct`` entry (or a run / export record) means.

    ``None`` -> ``dream_yeast`` (runs and exports from before constructs were recorded); a string -> the built-in of
    that name; a mapping -> an inline construct (a mapping that is only ``{name: <built-in>}`` is that built-in, and
    a full mapping that reuses a built-in's name must equal it).
    """
    if value is None:
        return DEFAULT_CONSTRUCT
    if isinstance(value, Construct):
        return value
    if isinstance(value, str):
        return get_construct(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"construct: expected a built-in name or a mapping, got {type(value).__name__} {value!r}")
    name = value.get("name")
    if isinstance(name, str) and ALIASES.get(name, name) in BUILTIN_CONSTRUCTS:
        builtin = get_construct(name)
        if set(value) == {"name"}:
            return builtin
        construct = Construct.from_dict(value)
        if dataclasses.replace(construct, name=builtin.name) != builtin:
            raise ConfigError(f"construct.name: {name!r} is a built-in construct and this definition differs from "
                              "it; give your construct another name")
        return builtin
    return Construct.from_dict(value)
