"""A training config's ``construct``: validated, recorded in run.json, and driving the run's encoder after loading.

Oracle for the encoding: the model applied to windows cut out of the user's vector with plain string arithmetic.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import tests.training.tiny_arch  # noqa: F401  (registers test_tiny)
from seq2exp.data.construct import DREAM_YEAST, Construct
from seq2exp.errors import ConfigError
from seq2exp.training.config import resolve_config
from tests.conftest import copy_first_lines

USER = {"name": "my_mpra", "flank5": "ACTGGC", "flank3": "AGATCGG", "upstream": "CCCCGGGGAAAATTTTACTGGC",
        "downstream": "AGATCGGTACGTACGTTTGGCCAAT", "insert_length": 97}
CONFIG = {
    "model": {"architecture": "test_tiny", "config": {"input": {"pad": "plasmid_split", "length": 120}}},
    "loss": "mse",
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "batch_size": 16,
    "epochs": 1,
    "steps_per_epoch": 2,
    "augment": {"shift": 2},
    "tta": {"shifts": [-3, 0, 3]},
    "construct": USER,
}


def test_config_accepts_names_and_inline_constructs_and_names_bad_ones():
    assert resolve_config({**CONFIG, "construct": "genomic"})["construct"] == "genomic"
    assert resolve_config(CONFIG)["construct"] == USER
    assert "construct" not in resolve_config({k: v for k, v in CONFIG.items() if k != "construct"})
    with pytest.raises(ConfigError, match="unknown built-in construct 'drosophila'"):
        resolve_config({**CONFIG, "construct": "drosophila"})
    with pytest.raises(ConfigError, match="construct.upstream: must end with flank5"):
        resolve_config({**CONFIG, "construct": {**USER, "upstream": "ACGT"}})
    with pytest.raises(ConfigError, match="construct: expected str or dict"):
        resolve_config({**CONFIG, "construct": 3})


def test_run_records_the_construct_and_its_encoder_uses_it(tmp_path, demo_train, caplog):
    import logging

    from seq2exp.inference.runs import load_run
    from seq2exp.training.driver import train

    data = copy_first_lines(demo_train, tmp_path / "train.txt", 120)
    with caplog.at_level(logging.WARNING, logger="seq2exp.training.driver"):
        run = train(CONFIG, data=data, out=tmp_path / "run", strategy="default", verbose=0)
    # the demo rows are yeast promoters: none carries my_mpra's flanks, and training says so
    warned = [r.getMessage() for r in caplog.records if "lack the constant flanks" in r.getMessage()]
    assert len(warned) == 1 and "108 of the first 108 training rows (e.g. line" in warned[0]
    assert "'my_mpra'" in warned[0]
    info = json.loads((run.path / "run.json").read_text())
    assert info["construct"] == Construct.from_dict(USER).to_dict()
    loaded = load_run(run.path)
    assert loaded.encoder.construct == Construct.from_dict(USER)

    rows = [USER["flank5"] + "GATTACA" * 12 + USER["flank3"], "ACGT" * 20, "TTGCA" * 30]
    predicted = loaded.predict(rows)
    windows = [[_window(row, shift) for row in rows] for shift in (-3, 0, 3)]
    table = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1], "N": [.25] * 4}
    outputs = [loaded.model(np.array([[table[b] for b in w] for w in ws], np.float32))["expression"]
               for ws in windows]
    np.testing.assert_allclose(predicted, np.mean([np.asarray(o) for o in outputs], axis=0), rtol=1e-5, atol=1e-5)

    # a run from before constructs were recorded loads as DREAM yeast
    del info["construct"]
    (run.path / "run.json").write_text(json.dumps(info))
    assert load_run(run.path).encoder.construct is DREAM_YEAST


def _window(row: str, shift: int, length: int = 120) -> str:
    """``pad plasmid_split`` + shift in the user's vector, by string arithmetic (region ``full``)."""
    f5, f3 = USER["flank5"], USER["flank3"]
    left = USER["upstream"][: -len(f5)] if row.startswith(f5) else USER["upstream"]
    right = USER["downstream"][len(f3):] if row.endswith(f3) else USER["downstream"]
    world = "N" * 300 + left + row + right + "N" * 300
    origin, n = 300 + len(left), len(row)
    moved = world[:origin] + world[origin + shift: origin + shift + n] + world[origin + n:]
    start = -((length - n) // 2) if n <= length else 0
    return moved[origin + start: origin + start + length]


def test_no_warning_when_the_rows_carry_the_flanks(demo_train, tmp_path):
    from seq2exp.data.cache import TrainingCache
    from seq2exp.data.construct import DREAM_YEAST, resolve_construct
    from seq2exp.training.driver import _warn_rows_without_flanks

    rows = [line.split("\t")[0] for line in open(demo_train).read().splitlines()[:50]]
    rows[7] = rows[7][17:]  # one row without its 5' flank
    cache = TrainingCache.from_sequences(rows, np.zeros(len(rows)))
    assert _warn_rows_without_flanks(cache, np.arange(50), DREAM_YEAST, "x") == 1
    assert _warn_rows_without_flanks(cache, np.delete(np.arange(50), 7), DREAM_YEAST, "x") == 0
    assert _warn_rows_without_flanks(cache, np.arange(50), resolve_construct("genomic"), "x") == 0
