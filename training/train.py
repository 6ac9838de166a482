#!/usr/bin/env python3
"""The model.fit training script of the design: a thin wrapper over the same driver as ``seq2exp train``.

    python training/train.py training/configs/autosome.yaml --data train.txt --out runs/autosome [--strategy auto]
                             [--val val.txt] [--smoke] [--set epochs=3 ...]

Same arguments as ``seq2exp train`` (see ``seq2exp train --help``); restarting the same command resumes a run.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout without installing

from seq2exp.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
