"""Sequences -> model inputs in TensorFlow: the ONE encoder of training, prediction and the serving graph.

It is used by the cache pipeline, in-process prediction and the exported serving graph alike.

A batch moves as **codes** (``A=0 C=1 G=2 T=3 N=4``, ``PAD=5`` past each row's length) plus ``lengths``.
:class:`Encoder` turns codes into what a model's ``"inputs"`` expects, following an :class:`EncodingSpec` (a model
config's ``"input"`` entry): which region to keep, how to pad/trim it to the model length, reverse complement,
BHI-style shifts, extra constant channels, and the final one-hot / token / k-mer form.

How a row becomes a window (all per row, vectorised over the batch):

1. **Region.** ``"full"`` keeps the row; ``"variable"`` strips the construct's 5' and 3' constant flanks where the
   row has them (17 and 13 bp for DREAM yeast). The row is placed in its real surroundings: upstream of it lies the
   construct's vector (:class:`~seq2exp.data.construct.Construct` ``upstream``, ending with the 5' flank when the row
   lacks it), downstream its ``downstream`` (the encoder's ``construct``; default ``dream_yeast``, whose vector is
   :data:`~seq2exp.data.plasmid.PLASMID_UPSTREAM` / ``PLASMID_DOWNSTREAM``; ``N`` beyond the known vector).
2. **Shift** (augmentation / test-time augmentation, BHI): the row's content moves by ``shift`` bp along the
   construct, keeping its length; ``shift > 0`` drops bases at the start and takes in vector bases at the end.
3. **Pad or trim** to ``length``: shorter rows are padded (``plasmid_*`` with the real vector next to the row,
   ``n_*`` with ``N``, ``zero_right`` with ``PAD`` = an all-zero one-hot), longer rows are cut (``trim``).
   ``plasmid_random`` picks right / left / split padding per row with BHI's odds (1/3, 2/9, 4/9).
4. **Reverse complement** of the whole window (as autosome and BHI flip their padded one-hot), per row.
5. **Form**: ``onehot`` float32 ``[B, length, len(onehot_letters) (+ is_reverse) (+ is_singleton)]``: one channel
   per letter of ``onehot_letters`` in that order (default ``"ACGT"``); ``N`` is ``n_value`` in each of the A, C, G,
   T channels (and 1 in its own channel when ``onehot_letters`` has an ``N``), ``PAD`` is 0 everywhere (1 in the
   ``P`` channel when ``onehot_letters`` has one: mt's ``"AGCTNP"``, padding only with ``pad: zero_right``);
   ``tokens`` int32 ``[B, length]`` (letter -> its index in ``token_order``, ``PAD`` -> ``pad_token``); ``kmer``
   int32 ``[B, length]``, the id of the k-mer centred on each window position (ids ``0 .. 4**k - 1``, ``4**k`` for
   a k-mer with ``N`` or ``PAD``); the ``(k - 1) // 2`` context bases before the window and ``k // 2`` after it come
   from the real construct (NAD's edge 5-mers use the constant flanks).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from seq2exp.data.alphabet import (  # noqa: F401 - re-exported: this module is the documented home of the codes API
    ALPHABET,
    CODE_OF_BYTE,
    COMPLEMENT_CODE,
    FLANK3,
    FLANK5,
    INVALID_CODE,
    N_CODE,
    PAD_CODE,
    PROMOTER_LENGTH,
    VARIABLE_LENGTH,
    SequenceError,
    codes_to_sequences,
    reverse_complement,
    sequences_to_codes,
)
from seq2exp.data.construct import DREAM_YEAST, Construct, resolve_construct
from seq2exp.data.targets import expected_bin, soft_bin_targets  # noqa: F401 - re-exported
from seq2exp.errors import ConfigError

KINDS = ("onehot", "tokens", "kmer")
REGIONS = ("full", "variable")
PADS = ("plasmid_left", "plasmid_right", "plasmid_split", "plasmid_random", "n_right", "n_left", "n_both",
        "zero_right")
TRIMS = ("left", "right", "center")
DEFAULT_MAX_SEQUENCE_LENGTH = 256
MAX_K = 12
BASES = "ACGT"
ONEHOT_LETTERS = BASES + "NP"  # the letters a one-hot channel can stand for (P: a padded position)


@dataclass(frozen=True)
class EncodingSpec:
    """How sequences become a model's input (a model config's ``"input"`` entry). See the module docstring."""

    kind: str = "onehot"
    length: int = DREAM_YEAST.sequence_length  # 110: the challenge's promoter
    region: str = "full"
    pad: str = "n_right"
    trim: str = "right"
    n_value: float = 0.25
    rc_channel: bool = False
    singleton_channel: bool = False
    token_order: str = ALPHABET
    pad_token: int = PAD_CODE
    k: int = 1
    onehot_letters: str = BASES

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, KINDS)
        _check_choice("region", self.region, REGIONS)
        _check_choice("pad", self.pad, PADS)
        _check_choice("trim", self.trim, TRIMS)
        for name in ("length", "pad_token", "k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"input.{name}: expected an integer, got {value!r}")
        if self.length < 1:
            raise ConfigError(f"input.length: must be at least 1, got {self.length}")
        if self.pad_token < 0:
            raise ConfigError(f"input.pad_token: must be >= 0, got {self.pad_token}")
        if not isinstance(self.n_value, (int, float)) or isinstance(self.n_value, bool) or not 0 <= self.n_value <= 1:
            raise ConfigError(f"input.n_value: expected a number in [0, 1], got {self.n_value!r}")
        for name in ("rc_channel", "singleton_channel"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"input.{name}: expected true or false, got {getattr(self, name)!r}")
            if getattr(self, name) and self.kind != "onehot":
                raise ConfigError(f"input.{name}: only kind 'onehot' has extra channels (kind is {self.kind!r})")
        if not isinstance(self.token_order, str) or sorted(self.token_order.upper()) != sorted(ALPHABET):
            raise ConfigError(f"input.token_order: must be the 5 letters ACGTN in some order, got {self.token_order!r}")
        self._check_onehot_letters()
        if self.kind == "kmer":
            if not 1 <= self.k <= MAX_K:
                raise ConfigError(f"input.k: must be in 1..{MAX_K}, got {self.k}")
        elif self.k != 1:
            raise ConfigError(f"input.k: only kind 'kmer' uses k (kind is {self.kind!r}); leave it at 1")

    def _check_onehot_letters(self) -> None:
        letters = self.onehot_letters
        if (not isinstance(letters, str) or len(set(letters)) != len(letters) or not set(BASES) <= set(letters)
                or not set(letters) <= set(ONEHOT_LETTERS)):
            raise ConfigError(f"input.onehot_letters: must be A, C, G and T once each in some order, optionally with "
                              f"N and P (upper case, e.g. 'AGCTNP'), got {letters!r}")
        if letters != BASES and self.kind != "onehot":
            raise ConfigError(f"input.onehot_letters: only kind 'onehot' has letter channels (kind is {self.kind!r})")
        if "P" in letters and self.pad != "zero_right":
            raise ConfigError(f"input.onehot_letters: the padding channel P needs pad 'zero_right' (pad is "
                              f"{self.pad!r}, which never pads with an empty position)")

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` (JSON/YAML-able); ``from_dict(to_dict())`` round-trips."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | "EncodingSpec" | None) -> "EncodingSpec":
        """Build from a config mapping; unknown keys raise ``ConfigError`` listing the valid ones."""
        if isinstance(values, EncodingSpec):
            return values
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise ConfigError(f"input: expected a mapping of encoding options, got {type(values).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"input: unknown key(s) {unknown}; valid keys are {known}")
        return cls(**dict(values))

    @property
    def channels(self) -> int:
        """Channels of a one-hot input (the letters + the optional constant channels); 0 for integer inputs."""
        if self.kind != "onehot":
            return 0
        return len(self.onehot_letters) + int(self.rc_channel) + int(self.singleton_channel)

    def onehot_table(self) -> np.ndarray:
        """float32 ``[PAD_CODE + 1, len(onehot_letters)]``: the letter channels of each code (module docstring)."""
        letters = self.onehot_letters
        table = np.zeros((PAD_CODE + 1, len(letters)), np.float32)
        for code, base in enumerate(BASES):
            table[code, letters.index(base)] = 1.0
            table[N_CODE, letters.index(base)] = self.n_value
        if "N" in letters:
            table[N_CODE, letters.index("N")] = 1.0
        if "P" in letters:
            table[PAD_CODE, letters.index("P")] = 1.0
        return table


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"input.{name}: {value!r} is not one of {list(choices)}")


# --------------------------------------------------------------------------------------------------------------
# strings -> codes (graph op)
# --------------------------------------------------------------------------------------------------------------
def tf_strings_to_codes(strings: tf.Tensor, max_length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Strings ``[B]`` -> (codes ``int32 [B, max_length]`` padded with ``PAD_CODE``, lengths ``int32 [B]``).

    Surrounding whitespace is ignored and letters are case-insensitive. An empty string, one longer than
    ``max_length`` or one with a letter outside ``ACGTN`` fails with ``tf.errors.InvalidArgumentError`` whose message
    names the first bad row (0-based).
    """
    strings = tf.strings.strip(tf.reshape(tf.convert_to_tensor(strings, tf.string), [-1]))
    lengths = tf.strings.length(strings)
    raw = tf.io.decode_raw(strings, tf.uint8, fixed_length=max_length)
    codes = tf.gather(tf.constant(CODE_OF_BYTE, tf.int32), tf.cast(raw, tf.int32))
    inside = tf.range(max_length)[None, :] < lengths[:, None]
    invalid_letter = tf.reduce_any(inside & tf.equal(codes, INVALID_CODE), axis=1)
    checks = [
        _assert_rows(lengths > 0, "is empty"),
        _assert_rows(lengths <= max_length, f"is longer than the maximum of {max_length} bp"),
        _assert_rows(~invalid_letter, "has a letter outside A, C, G, T, N"),
    ]
    with tf.control_dependencies(checks):
        codes = tf.where(inside, codes, PAD_CODE)
        return tf.identity(codes), tf.identity(lengths)


def _assert_rows(row_ok: tf.Tensor, problem: str) -> tf.Operation:
    """Assert that every row is ok; the error names the first bad row."""
    first_bad = tf.argmin(tf.cast(row_ok, tf.int32))
    message = tf.strings.format("invalid input sequence: row {} (0-based) " + problem.replace("{", "{{"), (first_bad,))
    return tf.debugging.Assert(tf.reduce_all(row_ok), [message])


# --------------------------------------------------------------------------------------------------------------
# codes -> codes: region, shift, reverse complement
# --------------------------------------------------------------------------------------------------------------
_SOURCE_OFFSET = PAD_CODE + 1  # tf_window_codes(sources=True): row columns are carried as column + this offset


def _letter_codes(text: str) -> np.ndarray:
    return CODE_OF_BYTE[np.frombuffer(text.encode("ascii"), np.uint8)].astype(np.int32)


@dataclass(frozen=True)
class _ConstructCodes:
    """A construct as the code arrays the graph reads: ``N`` + upstream vector, downstream vector + ``N``, flanks."""

    upstream: np.ndarray    # int32 [len(upstream) + 1]: an N before the known vector (what lies beyond it)
    downstream: np.ndarray  # int32 [len(downstream) + 1]: an N after it
    flank5: np.ndarray      # int32 [len(flank5)]
    flank3: np.ndarray      # int32 [len(flank3)]

    @classmethod
    def of(cls, construct: Construct) -> "_ConstructCodes":
        return cls(np.concatenate(([N_CODE], _letter_codes(construct.upstream))).astype(np.int32),
                   np.concatenate((_letter_codes(construct.downstream), [N_CODE])).astype(np.int32),
                   _letter_codes(construct.flank5), _letter_codes(construct.flank3))


@dataclass
class _RegionView:
    """Where each row's region lies in ``codes`` and how much of the vector context the row already contains."""

    codes: tf.Tensor  # int32 [B, W], W >= 30
    start: tf.Tensor  # int32 [B]: region start column in codes
    length: tf.Tensor  # int32 [B]: region length
    upstream_inside: tf.Tensor  # int32 [B]: bases of the upstream vector's tail inside the region (0 or len(flank5))
    downstream_inside: tf.Tensor  # int32 [B]: bases of the downstream vector's head inside it (0 or len(flank3))
    construct: _ConstructCodes


def _region_view(codes: tf.Tensor, lengths: tf.Tensor, region: str, construct: _ConstructCodes) -> _RegionView:
    codes = tf.cast(codes, tf.int32)
    lengths = tf.cast(tf.reshape(lengths, [-1]), tf.int32)
    n5, n3 = len(construct.flank5), len(construct.flank3)
    min_width = n5 + n3
    missing = tf.maximum(min_width - tf.shape(codes)[1], 0)
    codes = tf.pad(codes, [[0, 0], [0, missing]], constant_values=PAD_CODE)
    has5 = tf.reduce_all(tf.equal(codes[:, :n5], tf.constant(construct.flank5, tf.int32)), axis=1)
    has5 &= lengths >= n5
    cut5 = tf.where(has5, n5, 0)
    tail_index = tf.maximum(lengths[:, None] - n3 + tf.range(n3)[None, :], 0)
    tail = tf.gather(codes, tail_index, batch_dims=1)
    has3 = tf.reduce_all(tf.equal(tail, tf.constant(construct.flank3, tf.int32)), axis=1)
    has3 &= lengths - cut5 >= n3
    cut3 = tf.where(has3, n3, 0)
    zeros = tf.zeros_like(lengths)
    if region == "variable":
        return _RegionView(codes, cut5, lengths - cut5 - cut3, zeros, zeros, construct)
    return _RegionView(codes, zeros, lengths, cut5, cut3, construct)


def _values_at(view: _RegionView, position: tf.Tensor) -> tf.Tensor:
    """Codes at region ``position`` ``[B, P]`` (any integers): the row inside, the real vector outside."""
    n = view.length[:, None]
    inside = (position >= 0) & (position < n)
    width = tf.shape(view.codes)[1]
    row_index = tf.clip_by_value(view.start[:, None] + position, 0, width - 1)
    row_values = tf.gather(view.codes, row_index, batch_dims=1)
    upstream, downstream = view.construct.upstream, view.construct.downstream
    up_length, down_length = len(upstream) - 1, len(downstream) - 1
    up_index = tf.clip_by_value(up_length + 1 - view.upstream_inside[:, None] + position, 0, up_length)
    down_index = tf.clip_by_value(view.downstream_inside[:, None] + position - n, 0, down_length)
    context = tf.where(
        position < 0,
        tf.gather(tf.constant(upstream, tf.int32), up_index),
        tf.gather(tf.constant(downstream, tf.int32), down_index),
    )
    return tf.where(inside, row_values, context)


def _per_row(value: Any, batch: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Broadcast a Python scalar or a ``[B]`` tensor to ``[B]`` of ``dtype``."""
    value = tf.cast(tf.convert_to_tensor(value), dtype)
    return tf.broadcast_to(tf.reshape(value, [-1]) if value.shape.rank else value, [batch])


def _complement(codes: tf.Tensor) -> tf.Tensor:
    return tf.gather(tf.constant(COMPLEMENT_CODE, tf.int32), codes)


def reverse_complement_codes(codes: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Reverse complement of each row within its length (``PAD`` stays at the end). int32 ``[B, W]``."""
    codes = tf.cast(codes, tf.int32)
    lengths = tf.cast(lengths, tf.int32)
    column = tf.range(tf.shape(codes)[1])[None, :]
    inside = column < lengths[:, None]
    source = tf.where(inside, lengths[:, None] - 1 - column, column)
    reversed_codes = _complement(tf.gather(codes, source, batch_dims=1))
    return tf.where(inside, reversed_codes, PAD_CODE)


def shift_codes(
    codes: tf.Tensor, lengths: tf.Tensor, shift: Any, spec: EncodingSpec | Mapping | None = None,
    construct: Construct | Mapping | str | None = None,
) -> tf.Tensor:
    """Move each row's content by ``shift`` bp (scalar or ``[B]``) along the construct, keeping its length.

    ``shift > 0`` drops ``shift`` bases at the start and appends the vector bases that follow the row; ``shift < 0``
    prepends the vector bases before it (BHI's shift). With ``spec.region == "variable"`` only the variable region
    moves and the constant flanks stay in place. ``construct`` (default ``dream_yeast``) gives the flanks and the
    vector. Returns int32 ``[B, W]``.
    """
    region = EncodingSpec.from_dict(spec).region if spec is not None else "full"
    view = _region_view(codes, lengths, region, _ConstructCodes.of(resolve_construct(construct)))
    batch = tf.shape(view.codes)[0]
    shift = _per_row(shift, batch, tf.int32)
    width = tf.shape(view.codes)[1]
    column = tf.range(width)[None, :]
    position = column - view.start[:, None]
    in_region = (position >= 0) & (position < view.length[:, None])
    shifted = _values_at(view, position + shift[:, None])
    out = tf.where(in_region, shifted, view.codes)
    return out[:, : tf.shape(codes)[1]]


# --------------------------------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------------------------------
class Encoder:
    """Encodes code batches (or strings) into model inputs according to an :class:`EncodingSpec`, in the
    :class:`~seq2exp.data.construct.Construct` ``construct`` (a built-in name, a mapping or a ``Construct``;
    default ``dream_yeast``): its flanks are what ``region: variable`` strips, its vector what padding and shifts
    fill from."""

    def __init__(self, spec: EncodingSpec | Mapping | None = None, *, max_sequence_length: int | None = None,
                 construct: Construct | Mapping | str | None = None):
        self.spec = EncodingSpec.from_dict(spec)
        self.construct = resolve_construct(construct)
        self._construct_codes = _ConstructCodes.of(self.construct)
        needed = self.spec.length + (self.construct.flank_length if self.spec.region == "variable" else 0)
        self.max_sequence_length = int(max_sequence_length or max(DEFAULT_MAX_SEQUENCE_LENGTH, needed))
        self._left_context = (self.spec.k - 1) // 2 if self.spec.kind == "kmer" else 0
        self._window = self.spec.length + (self.spec.k - 1 if self.spec.kind == "kmer" else 0)

    def __repr__(self) -> str:
        if self.construct.name == "dream_yeast":
            return f"Encoder({self.spec!r})"
        return f"Encoder({self.spec!r}, construct={self.construct.name!r})"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example (no batch axis), for ``keras.Input(shape=...)``."""
        if self.spec.kind == "onehot":
            return (self.spec.length, self.spec.channels)
        return (self.spec.length,)

    @property
    def input_dtype(self) -> str:
        return "float32" if self.spec.kind == "onehot" else "int32"

    # -- codes -> window codes -----------------------------------------------------------------------------------
    def tf_window_codes(self, codes: tf.Tensor, lengths: tf.Tensor, *, reverse: Any = False, seed: Any = None,
                        shift: Any = None, sources: bool = False) -> tf.Tensor:
        """Steps 1-4 of the module docstring: int32 codes ``[B, window]`` (window = length + k - 1).

        ``sources=True`` returns instead, per window column, the column of ``codes`` its base was taken from (``-1``
        where it comes from the vector or padding; reversed but not complemented for ``reverse`` rows): what
        gradient attribution needs to map model-input positions back to sequence positions.
        """
        spec = self.spec
        view = real_view = _region_view(codes, lengths, spec.region, self._construct_codes)
        if sources:
            columns = tf.range(tf.shape(view.codes)[1])[None, :] + _SOURCE_OFFSET
            view = dataclasses.replace(view, codes=tf.broadcast_to(columns, tf.shape(view.codes)))
        batch = tf.shape(view.codes)[0]
        n = view.length
        pad = tf.maximum(spec.length - n, 0)
        excess = tf.maximum(n - spec.length, 0)
        if spec.trim == "right":
            trim_start = tf.zeros_like(n)
        elif spec.trim == "left":
            trim_start = excess
        else:
            trim_start = excess // 2
        if spec.pad in ("plasmid_right", "n_right", "zero_right"):
            pad_start = tf.zeros_like(n)
        elif spec.pad in ("plasmid_left", "n_left"):
            pad_start = -pad
        elif spec.pad in ("plasmid_split", "n_both"):
            pad_start = -(pad // 2)
        else:  # plasmid_random, BHI's draw: right if u1 < .333, else left if u2 > .666, else split
            draws = self._uniforms(real_view, batch, seed)
            pad_start = tf.where(draws[:, 0] < 0.333, 0, tf.where(draws[:, 1] > 0.666, -pad, -(pad // 2)))
        start = tf.where(n > spec.length, trim_start, pad_start)
        position = start[:, None] + tf.range(self._window)[None, :] - self._left_context
        inside = (position >= 0) & (position < n[:, None])
        surroundings = _values_at(view, position)  # the row inside, the real construct around it
        if shift is None:
            content = surroundings
        else:
            content = _values_at(view, position + _per_row(shift, batch, tf.int32)[:, None])
        if spec.pad.startswith("plasmid"):
            outside = surroundings
        else:
            outside = tf.fill(tf.shape(position), N_CODE if spec.pad.startswith("n_") else PAD_CODE)
            if self._window > spec.length:  # k-mer context columns beyond the window see the real construct
                column = tf.range(self._window)
                in_window = (column >= self._left_context) & (column < self._left_context + spec.length)
                outside = tf.where(in_window[None, :], outside, surroundings)
        window = tf.where(inside, content, outside)
        if sources:
            window = tf.where(window >= _SOURCE_OFFSET, window - _SOURCE_OFFSET, -1)
        if reverse is not False and reverse is not None:
            flip = _per_row(reverse, batch, tf.bool)
            flipped = tf.reverse(window, axis=[1])
            window = tf.where(flip[:, None], flipped if sources else _complement(flipped), window)
        return window

    @staticmethod
    def _uniforms(view: _RegionView, batch: tf.Tensor, seed: Any) -> tf.Tensor:
        """Two uniforms per row: from ``seed`` (stateless) or, without one, from a hash of the row's content so a
        sequence is always padded the same way (in-process and served predictions agree)."""
        if seed is not None:
            seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
            seed = tf.stack([seed, tf.constant(0x5EED, tf.int64)]) if seed.shape.rank == 0 else seed
            return tf.random.stateless_uniform([batch, 2], seed=seed)
        width = tf.shape(view.codes)[1]
        weights = (tf.range(width, dtype=tf.int64) * 2654435761 + 97) % 4294967291
        masked = tf.where(tf.equal(view.codes, PAD_CODE), tf.constant(0, tf.int64), tf.cast(view.codes, tf.int64) + 1)
        digest = tf.reduce_sum(masked * weights[None, :], axis=1) % 4294967291
        u1 = tf.cast(digest % 65521, tf.float32) / 65521.0
        u2 = tf.cast((digest // 65521) % 65519, tf.float32) / 65519.0
        return tf.stack([u1, u2], axis=1)

    # -- window codes -> model input -----------------------------------------------------------------------------
    def tf_encode(self, codes: tf.Tensor, lengths: tf.Tensor, *, reverse: Any = False, singleton: Any = None,
                  seed: Any = None, shift: Any = None, orientation: Any = None) -> tf.Tensor:
        """Codes ``[B, W]`` + lengths ``[B]`` -> the model input ``[B, *input_shape]`` (graph-safe).

        Args:
            reverse: reverse complement the window; a bool or a per-row ``[B]`` tensor (sets the ``is_reverse``
                channel when the spec has one).
            singleton: the ``is_singleton`` channel value; scalar or ``[B]``; ``None`` = 0 (prediction).
            seed: stateless seed (int or ``[2]``) for random padding; ``None`` = deterministic per sequence.
            shift: bp to shift each row (scalar or ``[B]``; augmentation / TTA); ``None`` = 0.
            orientation: the rows measured in reverse orientation (bool, scalar or ``[B]``; a table's
                ``data.table.orientation``): the ``is_reverse`` channel is ``orientation XOR reverse``; the
                sequence itself is used as given.
        """
        spec = self.spec
        window = self.tf_window_codes(codes, lengths, reverse=reverse, seed=seed, shift=shift)
        batch = tf.shape(window)[0]
        if spec.kind == "tokens":
            table = [spec.token_order.upper().index(letter) for letter in ALPHABET] + [spec.pad_token]
            return tf.gather(tf.constant(table, tf.int32), window)
        if spec.kind == "kmer":
            k = spec.k
            ids = tf.zeros([batch, spec.length], tf.int32)
            unknown = tf.zeros([batch, spec.length], tf.bool)
            for offset in range(k):
                part = window[:, offset : offset + spec.length]
                ids = ids * 4 + tf.minimum(part, 3)
                unknown |= part > 3
            return tf.where(unknown, 4**k, ids)
        onehot = tf.gather(tf.constant(spec.onehot_table()), window)
        extra = []
        if spec.rc_channel:
            flag = _per_row(reverse if reverse is not None else False, batch, tf.bool)
            if orientation is not None:
                flag = tf.math.logical_xor(flag, _per_row(orientation, batch, tf.bool))
            extra.append(tf.cast(flag, tf.float32))
        if spec.singleton_channel:
            extra.append(_per_row(singleton if singleton is not None else 0.0, batch, tf.float32))
        if extra:
            constant = tf.stack(extra, axis=1)[:, None, :]
            onehot = tf.concat([onehot, tf.broadcast_to(constant, [batch, spec.length, len(extra)])], axis=2)
        return onehot

    def tf_encode_strings(self, strings: tf.Tensor, **options: Any) -> tf.Tensor:
        """Strings ``[B]`` -> model input (the serving graph's front end); bad strings fail naming the row."""
        codes, lengths = tf_strings_to_codes(strings, self.max_sequence_length)
        return self.tf_encode(codes, lengths, **options)

    def encode(self, sequences: Sequence[str], *, reverse: Any = False, singleton: Any = None,
               shift: Any = None, seed: Any = None) -> np.ndarray:
        """Eager convenience: Python strings -> model input as numpy, through the same TensorFlow code."""
        codes, lengths = sequences_to_codes(sequences, max_length=self.max_sequence_length)
        return self.tf_encode(tf.constant(codes), tf.constant(lengths), reverse=reverse, singleton=singleton,
                              shift=shift, seed=seed).numpy()
