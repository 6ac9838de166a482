"""In-silico mutagenesis and variant effects: predictions only, so they run in-process or against a served model.

:func:`ism` predicts all 3 x L single substitutions of each sequence (``effects [n, L, 4]`` = f(mutant) - f(ref),
0 at the reference base), in chunks of sequences that a :class:`~seq2exp.interpret.predictors.ServerPredictor`
sends as batched, concurrent requests; with ``checkpoint=`` a long run resumes where it stopped.
:func:`window_scan` deletes or N-masks every ``width``-bp window. :func:`variant_effects` gives alt - ref for
(ref, alt) pairs; :func:`apply_snvs` builds the alt sequences of (sequence, position, ref, alt) SNVs.
ISM's top effects leave out the constant flanks of the model's construct by default (a flank is the same in every
measured row: its substitutions are never seen in training, so their effects are not findings).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seq2exp.errors import ConfigError, InputFormatError
from seq2exp.interpret.predictors import Predictor, predictor_construct
from seq2exp.interpret.sequences import BASES, check_sequences, onehot

logger = logging.getLogger(__name__)


def _mutants(sequence: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Every single substitution of ``sequence`` and its (position, base index)."""
    mutants, where = [], []
    for position, ref in enumerate(sequence):
        for b, base in enumerate(BASES):
            if base != ref:
                mutants.append(sequence[:position] + base + sequence[position + 1:])
                where.append((position, b))
    return mutants, where


def _fingerprint(sequences: Sequence[str], task: str | None = None) -> str:
    """What an ISM checkpoint was computed for: the sequences and, for a model with several tasks, the task."""
    digest = hashlib.sha256()
    if task is not None:  # a checkpoint of one task never continues a scan of another
        digest.update(b"task\t" + task.encode() + b"\n")
    for sequence in sequences:
        digest.update(sequence.encode() + b"\n")
    return digest.hexdigest()


@dataclass
class ISMResult:
    """``effects [n, L, 4]`` (f(mutant) - f(ref); 0 at the reference base) and ``reference [n]`` predictions;
    ``construct``: the model's (:class:`~seq2exp.data.construct.Construct`; ``None`` = ``dream_yeast``).
    Rows of mixed lengths: ``L`` is the longest; a row's effects (and one-hot) are zero past ``lengths[i]``."""

    sequences: list[str]
    effects: np.ndarray
    reference: np.ndarray
    construct: Any = None

    def insert_regions(self) -> list[tuple[int, int]]:
        """Per sequence, the 0-based half-open insert between the construct's flanks (the whole row without them)."""
        from seq2exp.data.construct import resolve_construct

        construct = resolve_construct(self.construct)
        return [construct.insert_region(s) for s in self.sequences]

    @property
    def lengths(self) -> np.ndarray:
        """int ``[n]``: each sequence's length (where its row of ``effects`` ends)."""
        return np.array([len(s) for s in self.sequences], np.int64)

    @property
    def onehot(self) -> np.ndarray:
        return onehot(self.sequences)

    @property
    def hypothetical(self) -> np.ndarray:
        """ISM as hypothetical contributions for TF-MoDISco: effects mean-normalised per position (zero past a
        row's length)."""
        centred = self.effects - self.effects.mean(axis=-1, keepdims=True)
        return centred * (np.arange(self.effects.shape[1])[None, :, None] < self.lengths[:, None, None])

    def save(self, path: str | Path) -> None:
        """``.npz`` with ``effects``, ``reference``, ``onehot``, ``sequences``, ``lengths``."""
        from seq2exp.utils import atomic_write

        with atomic_write(path, "wb", encoding=None) as handle:
            np.savez_compressed(handle, effects=self.effects, reference=self.reference, onehot=self.onehot,
                                sequences=np.array(self.sequences), lengths=self.lengths)

    def top_effects(self, k: int = 100, names: Sequence[str] | None = None, *,
                    include_flanks: bool = False) -> list[dict]:
        """The ``k`` largest |effects| as rows ``{name, position, ref, alt, effect}`` (0-based positions); positions
        in the construct's constant flanks are left out unless ``include_flanks``."""
        magnitude = np.abs(self.effects)
        if not include_flanks:
            column = np.arange(self.effects.shape[1])
            inside = np.array([(column >= start) & (column < stop) for start, stop in self.insert_regions()])
            magnitude = np.where(inside.reshape(len(self.sequences), -1, 1), magnitude, -1.0)
        magnitude[np.arange(magnitude.shape[1])[None, :] >= self.lengths[:, None]] = -1.0  # past a row's end
        flat = magnitude.ravel()
        order = np.argsort(-flat, kind="stable")[:k]
        order = order[flat[order] >= 0]
        rows = []
        for index in order:
            i, position, b = np.unravel_index(index, self.effects.shape)
            rows.append({"name": names[i] if names else str(i), "position": int(position),
                         "ref": self.sequences[i][position], "alt": BASES[b],
                         "effect": float(self.effects[i, position, b])})
        return rows


def ism(predictor: Predictor, sequences: Sequence[str], *, chunk_sequences: int = 16,
        checkpoint: str | Path | None = None, progress: bool = False) -> ISMResult:
    """All single-base substitutions of each sequence (lengths may differ: ``effects`` is ``[n, longest, 4]``,
    zero past each row's length; ``result.lengths`` says where each row ends).

    Args:
        chunk_sequences: sequences whose 3 x L mutants go to the predictor in one call (the client splits them
            into batched, concurrent requests).
        checkpoint: an ``.npz`` updated (atomically) after every chunk; a rerun with the same sequences continues
            from it. Removed when the scan completes.
        progress: show a progress bar (tqdm, on stderr).
    """
    sequences = check_sequences(sequences, equal_length=False)
    n, length = len(sequences), max(len(s) for s in sequences)
    effects = np.zeros([n, length, 4], np.float32)
    reference = np.zeros([n], np.float32)
    done = 0
    fingerprint = _fingerprint(sequences, getattr(predictor, "task", None))
    checkpoint = Path(checkpoint) if checkpoint else None
    if checkpoint is not None and checkpoint.exists():
        saved = np.load(checkpoint)
        if str(saved["fingerprint"]) == fingerprint:
            done = int(saved["done"])
            effects[:done], reference[:done] = saved["effects"][:done], saved["reference"][:done]
            logger.info("ISM: resuming from %s at sequence %d of %d", checkpoint, done, n)
        else:
            logger.warning("ISM: %s belongs to other sequences (or another task); starting again", checkpoint)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, initial=done, unit="seq", desc="ISM")
    for start in range(done, n, chunk_sequences):
        stop = min(start + chunk_sequences, n)
        batch, index = [], []
        for i in range(start, stop):
            mutants, where = _mutants(sequences[i])
            batch.append(sequences[i])
            batch.extend(mutants)
            index.append(where)
        values = predictor.predict(batch)
        offset = 0
        for i, where in zip(range(start, stop), index):
            ref_value = values[offset]
            reference[i] = ref_value
            mutant_values = values[offset + 1: offset + 1 + len(where)]
            positions, bases = np.array(where, int).reshape(-1, 2).T
            effects[i, positions, bases] = mutant_values - ref_value
            offset += 1 + len(where)
        if checkpoint is not None and stop < n:
            _save_checkpoint(checkpoint, fingerprint, stop, effects, reference)
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.close()
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return ISMResult(sequences, effects, reference, predictor_construct(predictor))


def _save_checkpoint(path: Path, fingerprint: str, done: int, effects: np.ndarray, reference: np.ndarray) -> None:
    from seq2exp.utils import atomic_write

    with atomic_write(path, "wb", encoding=None) as handle:
        np.savez(handle, fingerprint=np.array(fingerprint), done=np.array(done), effects=effects,
                 reference=reference)


WINDOW_KINDS = ("delete", "mask")


def window_scan(predictor: Predictor, sequences: Sequence[str], width: int = 5, kind: str = "delete"
                ) -> np.ndarray:
    """float32 ``[n, L - width + 1]``: f(sequence with window ``[p, p + width)`` deleted or set to ``N``) - f(ref)."""
    if kind not in WINDOW_KINDS:
        raise ConfigError(f"window kind {kind!r}: valid choices are {list(WINDOW_KINDS)}")
    sequences = check_sequences(sequences)
    length = len(sequences[0])
    if not 1 <= width < length:
        raise ConfigError(f"window width {width} must be in 1..{length - 1}")
    batch = []
    for s in sequences:
        batch.append(s)
        for p in range(length - width + 1):
            batch.append(s[:p] + s[p + width:] if kind == "delete" else s[:p] + "N" * width + s[p + width:])
    values = predictor.predict(batch).reshape(len(sequences), length - width + 2)
    return (values[:, 1:] - values[:, :1]).astype(np.float32)


@dataclass
class VariantEffects:
    """Predictions of ref and alt and ``delta`` = alt - ref, per variant."""

    ref: list[str]
    alt: list[str]
    ref_values: np.ndarray
    alt_values: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        return (self.alt_values - self.ref_values).astype(np.float32)


def variant_effects(predictor: Predictor, ref: Sequence[str], alt: Sequence[str]) -> VariantEffects:
    """alt - ref for (ref, alt) pairs; each distinct sequence is predicted once."""
    if len(ref) != len(alt):
        raise ConfigError(f"{len(ref)} ref sequences but {len(alt)} alt sequences")
    ref = check_sequences(ref, what="ref", equal_length=False)
    alt = check_sequences(alt, what="alt", equal_length=False)
    unique = sorted(set(ref) | set(alt))
    values = dict(zip(unique, predictor.predict(unique)))
    return VariantEffects(ref, alt, np.array([values[s] for s in ref], np.float32),
                          np.array([values[s] for s in alt], np.float32))


def apply_snvs(sequences: Sequence[str], positions: Sequence[int], refs: Sequence[str], alts: Sequence[str], *,
               what: str = "variants", lines: Sequence[int] | None = None) -> list[str]:
    """The alt sequence of each SNV (0-based ``positions``); a position outside the sequence or a ref letter that
    does not match raises ``InputFormatError`` naming the row (its file line and field when ``lines`` gives each
    row's 1-based line in ``what``)."""
    out = []
    for row, (sequence, position, ref, alt) in enumerate(zip(sequences, positions, refs, alts)):
        sequence, ref, alt = sequence.strip().upper(), ref.strip().upper(), alt.strip().upper()

        def bad(message: str, field: str) -> InputFormatError:
            if lines is None:
                return InputFormatError(f"row {row}: {message}", path=what)
            return InputFormatError(message, path=what, line=lines[row], field=field)

        if not 0 <= int(position) < len(sequence):
            raise bad(f"position {position} outside the {len(sequence)}-bp sequence (positions are 0-based)",
                      "position")
        if ref and sequence[position:position + len(ref)] != ref:
            raise bad(f"ref {ref!r} does not match the sequence at {position} "
                      f"({sequence[position:position + len(ref)]!r})", "ref")
        if not alt or set(alt) - set("ACGTN"):
            raise bad(f"alt {alt!r} is not DNA", "alt")
        out.append(sequence[:position] + alt + sequence[position + max(len(ref), 1):])
    return out
