"""Yeast transcription-factor motifs for the simulator, from JASPAR's fungi collection (offline, via ``pyjaspar``).

Every TF of the simulated regulatory code is a real JASPAR CORE fungi matrix, pinned by release and matrix id so that
a seed always gives the same library. The matrices are turned into *k-mer site tables*: for every 10-mer window
(anchored at the window's first base) the fractional occupancy of the TF's best-bound strand there, so that scoring a
sequence is one table look-up per position (see ``seq2exp.simulate.model``).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from seq2exp.errors import ConfigError

log = logging.getLogger(__name__)

JASPAR_RELEASE = "JASPAR2024"
SITE_K = 10                      # window length of the site tables: motifs are trimmed to their best <=10 bp core
N_KMERS = 4 ** SITE_K
MIN_SITE_OCCUPANCY = 0.03        # occupancies below this are zero in the tables (keeps scoring sparse)
PSEUDOCOUNT = 0.5                # per base, added to JASPAR counts before log-odds


@dataclass(frozen=True)
class TFSpec:
    """One TF of the simulated regulatory code.

    Attributes:
        name: TF name (JASPAR's, upper case); ``POLYAT`` is the poly-dA:dT pseudo-factor.
        matrix_id: pinned JASPAR CORE matrix id (``""`` for the pseudo-factor).
        effect: signed strength of one fully bound site at the TF's best position (positive = activator).
        center, width: position preference, a Gaussian over the site's distance (bp) from the promoter's 3' end,
            i.e. from the core promoter / TSS side, as in the real construct.
        floor: effect fraction kept far from the preferred position (``profile = floor + (1-floor) * gauss``).
        reverse: weight of a site on the reverse strand relative to the forward one (orientation preference).
        saturation: sites needed to saturate (dosage: ``d = s * (1 - exp(-occupancy / s))``).
        delta: how far (nats) below the best log-odds score the half-occupancy point lies; with ``min_threshold``
            sets the TF's affinity.
        helical: amplitude of a 10.4 bp helical-phasing modulation of the position profile.
        repressor_quench: for repressors, how strongly one bound site quenches activation (competition).
    """

    name: str
    matrix_id: str
    effect: float
    center: float = 50.0
    width: float = 40.0
    floor: float = 0.4
    reverse: float = 0.8
    saturation: float = 2.0
    delta: float = 2.5
    helical: float = 0.0
    repressor_quench: float = 0.0


# The simulated regulatory code: real yeast TFs (JASPAR 2024 CORE fungi) with literature-motivated roles.
# General regulatory factors (Reb1, Abf1, Rap1, Tbf1) and Rsc3 open chromatin; Mig1, Nrg1, Rox1, Sum1, Tod6 and Yox1
# repress (a rich grape-must medium: glucose repression on); Ume6 (URS1) represses close to the TSS.
TF_TABLE: tuple[TFSpec, ...] = (
    TFSpec("REB1", "MA0363.3", 2.6, center=55, width=45, floor=0.5, reverse=0.85, saturation=1.5),
    TFSpec("ABF1", "MA0265.3", 2.0, center=60, width=40, floor=0.45, reverse=0.9, saturation=1.5),
    TFSpec("RAP1", "MA0359.3", 2.3, center=45, width=30, floor=0.35, reverse=0.6, saturation=1.5),
    TFSpec("TBF1", "MA0403.3", 1.0, center=65, width=40, reverse=0.7),
    TFSpec("MCM1", "MA0331.1", 1.1, center=40, width=25, floor=0.3),
    TFSpec("FKH2", "MA0297.1", 0.5, center=50, width=30, reverse=0.7),
    TFSpec("GCN4", "MA0303.3", 1.3, center=35, width=25, floor=0.3),
    TFSpec("CBF1", "MA0281.3", 0.9, center=45, width=35),
    TFSpec("MET32", "MA0334.2", 0.3, center=50, width=40),
    TFSpec("HSF1", "MA0319.2", 0.9, center=50, width=30, reverse=0.9, saturation=3.0),
    TFSpec("MSN2", "MA0341.1", 0.6, center=55, width=35, reverse=1.0, saturation=3.0),
    TFSpec("SKN7", "MA0381.2", 0.7, center=45, width=20, floor=0.25, reverse=0.6, helical=0.35),
    TFSpec("MGA1", "MA0336.2", 0.7, center=30, width=20, floor=0.2, reverse=0.5),
    TFSpec("AZF1", "MA0277.1", 0.8, center=60, width=30, floor=0.3, reverse=0.5),
    TFSpec("RSC3", "MA0374.2", 0.9, center=55, width=45, reverse=1.0, saturation=3.0),
    TFSpec("SFP1", "MA0378.2", 0.5, center=55, width=35),
    TFSpec("GAT1", "MA0300.2", 0.5, center=50, width=35, reverse=0.8),
    TFSpec("SWI4", "MA0401.1", 0.4, center=45, width=35),
    TFSpec("PHO4", "MA0357.1", 0.3, center=45, width=35),
    TFSpec("STB3", "MA0390.2", 0.3, center=60, width=40),
    TFSpec("MOT3", "MA0340.1", -1.3, center=40, width=30, floor=0.3, reverse=0.7, repressor_quench=0.25),
    TFSpec("UME6", "MA0412.3", -2.2, center=25, width=18, floor=0.0, reverse=0.8, repressor_quench=0.4),
    TFSpec("MIG1", "MA0337.2", -1.8, center=45, width=35, reverse=0.9, repressor_quench=0.3),
    TFSpec("NRG1", "MA0347.3", -1.5, center=45, width=35, repressor_quench=0.3),
    TFSpec("ROX1", "MA0371.1", -1.8, center=40, width=30, repressor_quench=0.3),
    TFSpec("SUM1", "MA0398.2", -0.9, center=50, width=40),
    TFSpec("TOD6", "MA0350.2", -1.4, center=45, width=35, repressor_quench=0.2),
    TFSpec("YOX1", "MA0433.2", -0.8, center=40, width=35),
    TFSpec("POLYAT", "", 0.6, center=60, width=50, floor=0.5, reverse=0.8, saturation=2.0),
)

# Pairwise terms on the TFs' dosages: real cooperating pairs (Mcm1-Fkh2 at CLB2-cluster promoters, Hsf1-Skn7 at
# heat-shock promoters, Cbf1-Met4-Met32 at sulfur genes) and competing pairs (Nrg1 vs Msn2 at overlapping
# AGGGG-like sites, Mig1 vs Rsc3 at GC-rich sites): ``effect * d_a * d_b``.
INTERACTIONS: tuple[tuple[str, str, float], ...] = (
    ("MCM1", "FKH2", 1.2),
    ("HSF1", "SKN7", 0.9),
    ("CBF1", "MET32", 0.8),
    ("REB1", "POLYAT", 0.3),
    ("NRG1", "MSN2", -0.6),
    ("MIG1", "RSC3", -0.5),
)

# Pioneer factors whose binding opens chromatin for the others (accessibility gate in the model).
PIONEERS: tuple[str, ...] = ("REB1", "ABF1", "RAP1", "RSC3")


@dataclass
class SiteTables:
    """Sparse k-mer site tables of every TF (channel) of the model.

    ``row_of_kmer[kmer]`` is -1 for a 10-mer that is no significant site of any TF, else a row of ``occupancy``
    (``[n_rows, n_tfs]`` float32, the strand-weighted occupancy of each TF's site that starts at the window).
    """

    names: tuple[str, ...]
    row_of_kmer: np.ndarray      # int32 [4**SITE_K]
    occupancy: np.ndarray        # float32 [n_rows, n_tfs]
    entry_ptr: np.ndarray        # int64 [n_rows + 1]: the row's non-zero entries are entry_ptr[r]:entry_ptr[r + 1]
    entry_tf: np.ndarray         # int32 [n_entries]: TF (column) of each non-zero entry
    entry_occupancy: np.ndarray  # float32 [n_entries]
    pwms: dict                   # name -> float64 [w, 4] log-odds of the trimmed core (forward strand)
    consensus: dict              # name -> str (trimmed core consensus)


def jaspar_database(release: str = JASPAR_RELEASE):
    """The offline JASPAR database of ``release`` (``pyjaspar``, shared by the simulator and interpretation)."""
    try:
        from pyjaspar import jaspardb
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "JASPAR motifs need the 'pyjaspar' package (offline JASPAR databases): pip install 'pyjaspar>=4.0'"
        ) from error
    return jaspardb(release=release)


def count_matrix(motif) -> np.ndarray:
    """A ``pyjaspar`` motif's counts as float64 ``[w, 4]`` (A, C, G, T)."""
    return np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64).T


def _jaspar_counts(matrix_ids: list[str]) -> dict[str, np.ndarray]:
    """Count matrices ``[w, 4]`` (A, C, G, T) from the pinned JASPAR release, offline."""
    db = jaspar_database()
    counts = {}
    for matrix_id in matrix_ids:
        motif = db.fetch_motif_by_id(matrix_id)
        if motif is None:
            raise ConfigError(f"JASPAR matrix {matrix_id} not found in {JASPAR_RELEASE} (pyjaspar installation)")
        counts[matrix_id] = count_matrix(motif)
    return counts


def log_odds(counts: np.ndarray) -> np.ndarray:
    """Natural-log odds against a uniform background, ``[w, 4]``."""
    probs = (counts + PSEUDOCOUNT) / (counts + PSEUDOCOUNT).sum(axis=1, keepdims=True)
    return np.log(probs / 0.25)


def trim_core(pwm: np.ndarray, max_length: int = SITE_K) -> np.ndarray:
    """The ``max_length`` consecutive positions with the largest information (max log-odds) of a longer motif."""
    if len(pwm) <= max_length:
        return pwm
    best = pwm.max(axis=1)
    sums = np.convolve(best, np.ones(max_length), mode="valid")
    start = int(np.argmax(sums))
    return pwm[start:start + max_length]


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """PWM of the reverse strand (A<->T, C<->G, reversed)."""
    return pwm[::-1, ::-1].copy()


def _window_scores(pwm: np.ndarray) -> np.ndarray:
    """Log-odds of the motif placed at the start of every 10-mer (``[4**10]`` float32, 10-mer id order A<C<G<T)."""
    half = SITE_K // 2
    padded = np.zeros((SITE_K, 4))
    padded[: len(pwm)] = pwm
    digits = (np.arange(4 ** half)[:, None] >> (2 * np.arange(half - 1, -1, -1))[None, :]) & 3  # [1024, 5]
    high = padded[np.arange(half)[None, :], digits].sum(axis=1)
    low = padded[half + np.arange(half)[None, :], digits].sum(axis=1)
    return (high[:, None] + low[None, :]).astype(np.float32).ravel()


def _polyat_sites() -> np.ndarray:
    """Poly-dA:dT 'occupancy': 1 for windows starting with AAAAA (coding strand), ``reverse`` handled by caller."""
    ids = np.arange(N_KMERS)
    prefix = ids >> (2 * (SITE_K - 5))
    return (prefix == 0).astype(np.float32), (prefix == 0b1111111111).astype(np.float32)


def _occupancy(score: np.ndarray, threshold: float) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(threshold - score))).astype(np.float32)


MIN_THRESHOLD = 7.0   # nats: short motifs (5-6 bp) are weak binders; their consensus is only partly bound


@functools.lru_cache(maxsize=2)
def build_site_tables(tf_table: tuple[TFSpec, ...] = TF_TABLE) -> SiteTables:
    """Load the pinned JASPAR matrices and build the sparse 10-mer occupancy tables (cached per process)."""
    counts = _jaspar_counts([tf.matrix_id for tf in tf_table if tf.matrix_id])
    channels = []
    pwms, consensus = {}, {}
    for tf in tf_table:
        if not tf.matrix_id:
            forward, reverse = _polyat_sites()
            consensus[tf.name] = "AAAAA"
        else:
            pwm = trim_core(log_odds(counts[tf.matrix_id]))
            pwms[tf.name] = pwm
            consensus[tf.name] = "".join("ACGT"[i] for i in pwm.argmax(axis=1))
            threshold = max(float(pwm.max(axis=1).sum()) - tf.delta, MIN_THRESHOLD)
            forward = _occupancy(_window_scores(pwm), threshold)
            reverse = _occupancy(_window_scores(reverse_complement_pwm(pwm)), threshold)
        site = np.maximum(forward, tf.reverse * reverse)
        site[site < MIN_SITE_OCCUPANCY] = 0.0
        channels.append(site)
    dense = np.stack(channels, axis=1)                        # [4**10, n_tfs]
    significant = np.flatnonzero(dense.any(axis=1))
    row_of_kmer = np.full(N_KMERS, -1, dtype=np.int32)
    row_of_kmer[significant] = np.arange(len(significant), dtype=np.int32)
    occupancy = np.ascontiguousarray(dense[significant])
    entry_row, entry_tf = np.nonzero(occupancy)
    entry_ptr = np.concatenate(([0], np.cumsum(np.bincount(entry_row, minlength=len(occupancy))))).astype(np.int64)
    log.debug("site tables: %d of %d 10-mers are sites of some TF", len(significant), N_KMERS)
    return SiteTables(tuple(tf.name for tf in tf_table), row_of_kmer, occupancy, entry_ptr,
                      entry_tf.astype(np.int32), occupancy[entry_row, entry_tf], pwms, consensus)
