"""Calibration report: simulated vs real DREAM training data, side by side (markdown + JSON)."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np

from seq2exp.errors import InputFormatError
from seq2exp.jsonio import dumps
from seq2exp.simulate.model import FLANK3, FLANK5
from seq2exp.utils import atomic_write

QUANTILES = (1, 5, 25, 50, 75, 95, 99)
KMER = 4
MAX_ROWS = 200_000


def _read_rows(path: str | os.PathLike, max_rows: int) -> tuple[list[str], np.ndarray]:
    """First ``max_rows`` (sequence, expression) rows of a DREAM training file (a plain reader, no dependencies)."""
    sequences, values = [], []
    with open(path, encoding="ascii") as handle:
        for line_number, line in enumerate(itertools.islice(handle, max_rows), start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2 or not fields[0]:
                raise InputFormatError("expected 'sequence<TAB>expression'", path=str(path), line=line_number)
            try:
                values.append(float(fields[1]))
            except ValueError:
                raise InputFormatError(f"not a number: {fields[1]!r}", path=str(path), line=line_number,
                                       field="expression") from None
            sequences.append(fields[0].upper())
    if not sequences:
        raise InputFormatError("no rows", path=str(path))
    return sequences, np.asarray(values, dtype=np.float64)


def _variable(seq: str) -> str:
    start = len(FLANK5) if seq.startswith(FLANK5) else 0
    end = len(seq) - len(FLANK3) if seq.endswith(FLANK3) else len(seq)
    return seq[start:end]


def describe(sequences: list[str], values: np.ndarray) -> dict:
    """Summary statistics of a DREAM training sample (lengths, expression, integer share, GC, k-mer spectrum)."""
    lengths = np.array([len(s) for s in sequences])
    variables = [_variable(s) for s in sequences]
    joined = "".join(variables)
    gc = np.array([(v.count("G") + v.count("C")) / max(len(v), 1) for v in variables])
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=KMER)]
    index = {k: i for i, k in enumerate(kmers)}
    counts = np.zeros(len(kmers))
    for v in variables:
        for i in range(len(v) - KMER + 1):
            j = index.get(v[i:i + KMER])
            if j is not None:
                counts[j] += 1
    polyat = np.array([("AAAAA" in v) or ("TTTTT" in v) for v in variables])
    rounded = np.clip(np.round(values), 0, 17).astype(int)
    return {
        "rows": len(sequences),
        "length": {"min": int(lengths.min()), "max": int(lengths.max()), "share_110": float(np.mean(lengths == 110)),
                   "share_shorter": float(np.mean(lengths < 110)), "share_longer": float(np.mean(lengths > 110)),
                   "mean": float(lengths.mean())},
        "expression": {"mean": float(values.mean()), "sd": float(values.std()),
                       "quantiles": {str(q): float(np.percentile(values, q)) for q in QUANTILES},
                       "histogram": (np.bincount(rounded, minlength=18) / len(values)).round(5).tolist()},
        "integer_share": float(np.mean(values == np.round(values))),
        "n_share": float(np.mean(["N" in s for s in sequences])),
        "composition": {b: joined.count(b) / max(len(joined), 1) for b in "ACGT"},
        "gc": {"mean": float(gc.mean()), "sd": float(gc.std()), "corr_expression": float(np.corrcoef(gc, values)[0, 1])},
        "polyAT5": {"share": float(polyat.mean()),
                    "mean_expression_with": float(values[polyat].mean()) if polyat.any() else None,
                    "mean_expression_without": float(values[~polyat].mean()) if (~polyat).any() else None},
        "kmer_frequencies": (counts / max(counts.sum(), 1)).tolist(),
    }


def compare(simulated: dict, real: dict) -> dict:
    """Side-by-side summary plus agreement figures (k-mer spectrum correlation, histogram distance)."""
    sim_k, real_k = np.array(simulated["kmer_frequencies"]), np.array(real["kmer_frequencies"])
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=KMER)]
    log_ratio = np.log2((sim_k + 1e-6) / (real_k + 1e-6))
    order = np.argsort(log_ratio)
    sim_h, real_h = np.array(simulated["expression"]["histogram"]), np.array(real["expression"]["histogram"])
    return {
        "kmer_spectrum_pearson": float(np.corrcoef(sim_k, real_k)[0, 1]),
        "kmer_most_under": [(kmers[i], round(float(log_ratio[i]), 3)) for i in order[:5]],
        "kmer_most_over": [(kmers[i], round(float(log_ratio[i]), 3)) for i in order[::-1][:5]],
        "expression_histogram_total_variation": float(0.5 * np.abs(sim_h - real_h).sum()),
    }


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_markdown(simulated: dict, real: dict, agreement: dict, sim_path: str, real_path: str) -> str:
    """The calibration report as a markdown table."""
    rows = [
        ("rows compared", simulated["rows"], real["rows"]),
        ("length min / max", f'{simulated["length"]["min"]} / {simulated["length"]["max"]}',
         f'{real["length"]["min"]} / {real["length"]["max"]}'),
        ("share 110 bp", simulated["length"]["share_110"], real["length"]["share_110"]),
        ("share shorter than 110", simulated["length"]["share_shorter"], real["length"]["share_shorter"]),
        ("share longer than 110", simulated["length"]["share_longer"], real["length"]["share_longer"]),
        ("expression mean", simulated["expression"]["mean"], real["expression"]["mean"]),
        ("expression sd", simulated["expression"]["sd"], real["expression"]["sd"]),
    ]
    for q in QUANTILES:
        rows.append((f"expression {q}th percentile", simulated["expression"]["quantiles"][str(q)],
                     real["expression"]["quantiles"][str(q)]))
    rows += [
        ("integer share", simulated["integer_share"], real["integer_share"]),
        ("rows with N", simulated["n_share"], real["n_share"]),
        *[(f"base {b}", simulated["composition"][b], real["composition"][b]) for b in "ACGT"],
        ("GC mean (variable region)", simulated["gc"]["mean"], real["gc"]["mean"]),
        ("GC sd", simulated["gc"]["sd"], real["gc"]["sd"]),
        ("corr(GC, expression)", simulated["gc"]["corr_expression"], real["gc"]["corr_expression"]),
        ("share with A5/T5 tract", simulated["polyAT5"]["share"], real["polyAT5"]["share"]),
        ("mean expression with A5/T5", simulated["polyAT5"]["mean_expression_with"],
         real["polyAT5"]["mean_expression_with"]),
    ]
    lines = ["# Simulator calibration", "", f"Simulated: `{sim_path}`  ", f"Real: `{real_path}`", "",
             "| metric | simulated | real |", "|---|---|---|"]
    lines += [f"| {name} | {_fmt(s)} | {_fmt(r)} |" for name, s, r in rows]
    lines += ["", "Expression histogram (share of rows per rounded bin 0-17):", "",
              "| bin | " + " | ".join(str(b) for b in range(18)) + " |", "|---" * 19 + "|",
              "| simulated | " + " | ".join(f"{v:.3f}" for v in simulated["expression"]["histogram"]) + " |",
              "| real | " + " | ".join(f"{v:.3f}" for v in real["expression"]["histogram"]) + " |", "",
              f"4-mer spectrum of the variable region: Pearson r = {agreement['kmer_spectrum_pearson']:.3f}; "
              f"most under-represented in the simulation (log2 sim/real): {agreement['kmer_most_under']}; "
              f"most over-represented: {agreement['kmer_most_over']}.", "",
              f"Expression histogram total-variation distance: "
              f"{agreement['expression_histogram_total_variation']:.3f}.", ""]
    return "\n".join(lines)


def calibration_report(simulated_train: str | os.PathLike, real_train: str | os.PathLike,
                       max_rows: int = MAX_ROWS) -> tuple[dict, str]:
    """Compare a simulated and a real DREAM training file; returns (JSON-able dict, markdown)."""
    simulated = describe(*_read_rows(simulated_train, max_rows))
    real = describe(*_read_rows(real_train, max_rows))
    agreement = compare(simulated, real)
    report = {"simulated_file": str(simulated_train), "real_file": str(real_train),
              "simulated": simulated, "real": real, "agreement": agreement}
    return report, render_markdown(simulated, real, agreement, str(simulated_train), str(real_train))


def write_calibration(simulated_train: str | os.PathLike, real_train: str | os.PathLike,
                      out_dir: str | os.PathLike, max_rows: int = MAX_ROWS) -> Path:
    """Write ``calibration.md`` and ``calibration.json`` into ``out_dir``; returns the markdown path."""
    report, markdown = calibration_report(simulated_train, real_train, max_rows)
    out = Path(out_dir)
    with atomic_write(out / "calibration.json") as handle:
        handle.write(dumps(report, indent=1))
    with atomic_write(out / "calibration.md") as handle:
        handle.write(markdown)
    return out / "calibration.md"
