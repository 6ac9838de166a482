"""The simulator's sequence -> expression model (the ground truth of a simulated library).

A thermodynamics-flavoured model of a yeast promoter, vectorised over batches of sequence codes:

1. **Binding**: every 10-mer window of the promoter (the 110 bp context and 9 bp of the real plasmid after it) is
   looked up in the TFs' site tables (``seq2exp.simulate.motifs``): the fractional occupancy of each TF's site there,
   from its JASPAR log-odds score, the better of both strands with an orientation weight.
2. **Position**: each site is weighted by the TF's position profile over its distance to the 3' (TSS) end
   (a Gaussian preference, some with 10.4 bp helical phasing).
3. **Dosage**: the summed, weighted occupancy ``o`` of a TF saturates: ``d = s (1 - exp(-o / s))``.
4. **Regulation**: ``raw = gate * (activation + cooperation) / (1 + quench) - repression + competition + GC term``,
   where ``gate`` is chromatin accessibility opened by pioneer factors (Reb1, Abf1, Rap1, Rsc3),
   ``quench`` is repressors competing with activators, cooperation/competition are pairwise dosage products.
5. **Log-expression**: ``x = affine(raw)`` with a soft ceiling at the top of the sorter's range (the measured
   0-17 bin scale of the assay, see ``seq2exp.simulate.assay``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2exp.data.construct import DREAM_YEAST, Construct, resolve_construct
from seq2exp.simulate import motifs as motif_lib

PAD_CODE = 5
N_CODE = 4
# The simulated library is DREAM yeast's construct (seq2exp.data.construct): its flanks, and the real vector bases
# after the 3' flank that a 10-mer window reaching past a row's end reads ("TCTTAATTA").
FLANK5 = DREAM_YEAST.flank5
FLANK3 = DREAM_YEAST.flank3
PLASMID_AFTER_FLANK3 = DREAM_YEAST.downstream[len(FLANK3):len(FLANK3) + motif_lib.SITE_K - 1]
MAX_DISTANCE = 160                    # position profiles are tabulated up to this distance from the 3' end

LETTER_TO_CODE = np.full(256, 255, dtype=np.uint8)
for _code, _letter in enumerate("ACGTN"):
    LETTER_TO_CODE[ord(_letter)] = _code
    LETTER_TO_CODE[ord(_letter.lower())] = _code


def to_codes(sequences: list[str], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Letters -> codes ``[B, width]`` uint8 (A=0 C=1 G=2 T=3 N=4, PAD=5 past each row's end) and lengths."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int32, count=len(sequences))
    width = int(lengths.max(initial=1)) if width is None else width
    codes = np.full((len(sequences), width), PAD_CODE, dtype=np.uint8)
    for row, seq in enumerate(sequences):
        raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        mapped = LETTER_TO_CODE[raw]
        if (mapped == 255).any():
            raise ValueError(f"sequence {row} has a letter outside ACGTN: {seq!r}")
        codes[row, : len(seq)] = mapped
    return codes, lengths


def to_strings(codes: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Codes ``[B, L]`` + lengths -> list of upper-case strings."""
    letters = np.frombuffer(b"ACGTN-", dtype=np.uint8)[np.minimum(codes, 5)]
    return [row[:n].tobytes().decode("ascii") for row, n in zip(letters, lengths)]


@dataclass(frozen=True)
class ModelParams:
    """Global constants of the regulatory model (calibrated against the real demo data, see docs/simulator.md)."""

    gate_bias: float = -0.6          # accessibility logit with no pioneer bound
    gate_pioneer: float = 1.2        # accessibility logit per unit pioneer dosage
    gc_effect: float = 3.5           # per unit GC fraction (centred at 0.47), on the raw scale
    gc_curvature: float = -4.0       # quadratic penalty away from 0.47 GC
    offset: float = 11.3             # x = offset + scale * raw ...
    scale: float = 3.3
    ceiling: float = 16.2            # ... softly capped here (sorter's top bins are rarely reached)
    ceiling_softness: float = 0.9


class PromoterModel:
    """Ground-truth expression of promoter sequences; every method works on a batch of codes.

    ``construct`` (default ``dream_yeast``): rows are ``flank5 + insert + flank3``; only windows overlapping the insert
    bind, the GC term is the insert's, and windows past a row's end read the vector after ``flank3`` (``A`` where it
    is unknown or ``N``).
    """

    def __init__(self, params: ModelParams | None = None, tf_table: tuple = motif_lib.TF_TABLE,
                 interactions: tuple = motif_lib.INTERACTIONS,
                 construct: Construct | dict | str | None = None) -> None:
        self.construct = resolve_construct(construct)
        self.params = params or ModelParams()
        self.tfs = tf_table
        self.tables = motif_lib.build_site_tables(tf_table)
        self.names = self.tables.names
        index = {name: i for i, name in enumerate(self.names)}
        self.effect = np.array([tf.effect for tf in tf_table], dtype=np.float64)
        self.saturation = np.array([tf.saturation for tf in tf_table], dtype=np.float64)
        self.quench = np.array([tf.repressor_quench for tf in tf_table], dtype=np.float64)
        self.pioneer = np.isin(np.array(self.names), motif_lib.PIONEERS)
        self.pairs = np.array([(index[a], index[b]) for a, b, _ in interactions], dtype=np.int64).reshape(-1, 2)
        self.pair_effect = np.array([g for _, _, g in interactions], dtype=np.float64)
        distance = np.arange(MAX_DISTANCE + 1, dtype=np.float64)[:, None]
        centers = np.array([tf.center for tf in tf_table])[None, :]
        widths = np.array([tf.width for tf in tf_table])[None, :]
        floors = np.array([tf.floor for tf in tf_table])[None, :]
        helical = np.array([tf.helical for tf in tf_table])[None, :]
        bump = np.exp(-0.5 * ((distance - centers) / widths) ** 2)
        phase = 1.0 + helical * np.cos(2 * np.pi * (distance - centers) / 10.4)
        # [distance, tf]: weight of a site whose window starts `distance` bp before the promoter's last base
        self.profile = np.ascontiguousarray(((floors + (1 - floors) * bump) * phase).astype(np.float32))
        c = self.construct
        after = c.downstream[len(c.flank3):len(c.flank3) + motif_lib.SITE_K - 1].ljust(motif_lib.SITE_K - 1, "A")
        self._tail = LETTER_TO_CODE[np.frombuffer(after.encode(), dtype=np.uint8)]
        self._tail = np.where(self._tail > 3, 0, self._tail).astype(np.uint8)  # N -> A, as in the rows

    # -- binding -------------------------------------------------------------------------------------------
    def _scoring_codes(self, codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Codes with N -> A and the plasmid continuation written after each row's end (``[B, L + 9]``)."""
        batch, width = codes.shape
        extra = motif_lib.SITE_K - 1
        full = np.zeros((batch, width + extra), dtype=np.uint8)
        full[:, :width] = codes
        np.putmask(full, full > 3, 0)
        for length in np.unique(lengths):
            full[lengths == length, length:length + extra] = self._tail
        return full

    def tf_occupancy(self, codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Position-weighted summed occupancy of every TF, ``[B, n_tfs]`` float64.

        Only windows that overlap the variable region count: windows lying in a constant flank alone add the same
        background to every promoter, which the model's offset absorbs.
        """
        lengths = np.asarray(lengths, dtype=np.int32)
        full = self._scoring_codes(codes, lengths)
        batch, width = codes.shape
        n5, n3 = len(self.construct.flank5), len(self.construct.flank3)
        first = max(n5 - motif_lib.SITE_K + 1, 0)
        n_windows = max(width - n3 - first, 0)
        half = motif_lib.SITE_K // 2
        span = n_windows + half
        five = full[:, first:first + span].astype(np.uint16)
        for j in range(1, half):                    # 5-mer ids, then 10-mer id = (5-mer << 10) | next 5-mer
            five <<= 2
            five |= full[:, first + j:first + j + span]
        kmer = five[:, :n_windows].astype(np.uint32)
        kmer <<= 2 * half
        kmer |= five[:, half:half + n_windows]
        rows = self.tables.row_of_kmer[kmer]
        position = np.arange(first, first + n_windows, dtype=np.int32)[None, :]
        rows[position >= (lengths - n3)[:, None]] = -1
        seq_index, column = np.nonzero(rows >= 0)
        distance = np.minimum(lengths[seq_index] - 1 - (column + first), MAX_DISTANCE)
        # expand each site window into its (TF, occupancy) entries: usually one TF per window
        tables = self.tables
        hit_rows = rows[seq_index, column]
        starts = tables.entry_ptr[hit_rows]
        n_entries = tables.entry_ptr[hit_rows + 1] - starts
        hit_of_entry = np.repeat(np.arange(len(hit_rows)), n_entries)
        first_entry = np.cumsum(n_entries) - n_entries
        entry = starts[hit_of_entry] + (np.arange(len(hit_of_entry)) - first_entry[hit_of_entry])
        tf = tables.entry_tf[entry]
        weight = tables.entry_occupancy[entry] * self.profile[distance[hit_of_entry], tf]
        n_tfs = len(self.names)
        flat = np.bincount(seq_index[hit_of_entry] * n_tfs + tf, weights=weight, minlength=batch * n_tfs)
        return flat.reshape(batch, n_tfs)

    def gc_fraction(self, codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """GC fraction of the variable region (between the constant flanks), ``[B]``."""
        flank5, flank3 = self.construct.flank5, self.construct.flank3
        is_gc = (codes[:, len(flank5):] - np.uint8(1)) < 2          # C=1, G=2 (uint8 wrap-around for A=0)
        flank3_gc = sum(base in "GC" for base in flank3)
        variable_length = np.maximum(np.asarray(lengths) - len(flank5) - len(flank3), 1)
        return (is_gc.sum(axis=1, dtype=np.int32) - flank3_gc) / variable_length

    # -- regulation ------------------------------------------------------------------------------------------
    def dosage(self, occupancy: np.ndarray) -> np.ndarray:
        """Saturating dosage of each TF from its summed occupancy."""
        return self.saturation * (1.0 - np.exp(-occupancy / self.saturation))

    def raw_activity(self, dosage: np.ndarray, gc: np.ndarray, *, additive: bool = False,
                     activity: np.ndarray | None = None) -> np.ndarray:
        """Regulatory activity from dosages; ``additive=True`` gives the naive sum-of-sites model (no gating,
        quenching or pairwise terms) that the "challenging" subset is designed to fool.

        ``activity`` (``[n_tfs]``, one condition's TF activities, see ``seq2exp.simulate.conditions``) scales each
        TF's effect and repressor quench, and each pairwise term by the product of its two TFs' activities; binding
        and the pioneers' chromatin gate are shared by every condition. ``None``: every TF fully active.
        """
        p = self.params
        effect, quench_of, pair_effect = self.effect, self.quench, self.pair_effect
        if activity is not None:
            activity = np.asarray(activity, dtype=np.float64)
            effect, quench_of = effect * activity, quench_of * activity
            pair_effect = pair_effect * activity[self.pairs[:, 0]] * activity[self.pairs[:, 1]]
        effects = dosage * effect
        gc_term = p.gc_effect * (gc - 0.47) + p.gc_curvature * (gc - 0.47) ** 2
        if additive:
            return effects.sum(axis=1) + gc_term
        activation = np.where(effects > 0, effects, 0).sum(axis=1)
        repression = -np.where(effects < 0, effects, 0).sum(axis=1)
        pair = dosage[:, self.pairs[:, 0]] * dosage[:, self.pairs[:, 1]] * pair_effect
        cooperation = np.where(pair > 0, pair, 0).sum(axis=1)
        competition = np.where(pair < 0, pair, 0).sum(axis=1)
        gate = 1.0 / (1.0 + np.exp(-(p.gate_bias + p.gate_pioneer * dosage[:, self.pioneer].sum(axis=1))))
        quench = 1.0 + (dosage * quench_of).sum(axis=1)
        return 2.0 * gate * (activation + cooperation) / quench - repression + competition + gc_term

    def log_expression(self, raw: np.ndarray) -> np.ndarray:
        """Raw activity -> log-fluorescence on the sorter's bin scale (soft ceiling at the top)."""
        p = self.params
        linear = p.offset + p.scale * raw
        softness = p.ceiling_softness
        return p.ceiling - softness * np.logaddexp(0.0, (p.ceiling - linear) / softness)

    def predict_log_expression(self, codes: np.ndarray, lengths: np.ndarray, *, additive: bool = False) -> np.ndarray:
        """Codes -> log-expression ``x`` (``[B]`` float64)."""
        dosage = self.dosage(self.tf_occupancy(codes, lengths))
        return self.log_expression(self.raw_activity(dosage, self.gc_fraction(codes, lengths), additive=additive))

    def predict_conditions(self, codes: np.ndarray, lengths: np.ndarray, activities: np.ndarray) -> np.ndarray:
        """Codes -> log-expression in each condition, ``[B, T]`` float64 (``activities``: ``[T, n_tfs]``); binding is
        computed once and shared by the conditions."""
        dosage = self.dosage(self.tf_occupancy(codes, lengths))
        gc = self.gc_fraction(codes, lengths)
        return np.stack([self.log_expression(self.raw_activity(dosage, gc, activity=row))
                         for row in np.atleast_2d(activities)], axis=1)

    def predict_strings(self, sequences: list[str], *, additive: bool = False) -> np.ndarray:
        """Convenience: strings -> log-expression."""
        codes, lengths = to_codes(sequences)
        return self.predict_log_expression(codes, lengths, additive=additive)
