"""``python3 -m tests.docs.fake_predictions TRUTH OUT [SEED NOISE]``: a stand-in model's predictions for the docs'
scoring examples: the truth plus Gaussian noise, as a DREAM test-order file (``.txt``) or a JSON index map."""
from __future__ import annotations

import json
import sys

import numpy as np

from seq2exp.evaluation.values import read_values


def main(truth: str, out: str, seed: int = 0, noise: float = 1.0) -> None:
    table = read_values(truth)
    rng = np.random.default_rng(seed)
    values = table.values + rng.normal(0.0, noise, table.values.size)
    if out.endswith(".json"):
        with open(out, "w") as handle:
            json.dump({str(i): float(values[i]) for i in np.flatnonzero(table.present)}, handle)
        return
    sequences = [s.decode() for s in table.sequences]
    with open(out, "w") as handle:
        handle.writelines(f"{s}\t{v!r}\n" for s, v in zip(sequences, values.tolist()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(sys.argv[3]),) if len(sys.argv) > 3 else (),
         *(float(sys.argv[4]),) if len(sys.argv) > 4 else ())
