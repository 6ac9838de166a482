"""A slow, string-level reference of the encoder, written independently of the TensorFlow code it checks.

Each row is placed in its real surroundings as one long string ("N" * 1000 + vector upstream + region + vector
downstream + "N" * 1000) and every output position is looked up in it one character at a time.

:func:`mt_team_input` transcribes the mt team's own input code (their ``get_input``), for the mt tests.
"""
from __future__ import annotations

import numpy as np

from seq2exp.data.alphabet import FLANK3, FLANK5
from seq2exp.data.plasmid import PLASMID_DOWNSTREAM, PLASMID_UPSTREAM

PAD_LETTER = "-"
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", PAD_LETTER: PAD_LETTER}


def reference_window(sequence: str, spec: dict, *, shift: int = 0, reverse: bool = False,
                     pad_choice: str | None = None) -> str:
    """The window string (letters, ``-`` for PAD) the encoder should produce for one sequence.

    ``pad_choice`` ("right" / "left" / "split") stands in for the random draw of ``plasmid_random``.
    """
    kind = spec.get("kind", "onehot")
    length = spec.get("length", 110)
    region = spec.get("region", "full")
    pad = spec.get("pad", "n_right")
    trim = spec.get("trim", "right")
    k = spec.get("k", 1)
    sequence = sequence.upper()
    has5 = sequence.startswith(FLANK5)
    has3 = len(sequence) - (17 if has5 else 0) >= 13 and sequence.endswith(FLANK3)
    if region == "variable":
        core = sequence[17 if has5 else 0 : len(sequence) - (13 if has3 else 0)]
        upstream, downstream = PLASMID_UPSTREAM, PLASMID_DOWNSTREAM
    else:
        core = sequence
        upstream = PLASMID_UPSTREAM[:-17] if has5 else PLASMID_UPSTREAM
        downstream = PLASMID_DOWNSTREAM[13:] if has3 else PLASMID_DOWNSTREAM
    construct = "N" * 1000 + upstream + core + downstream + "N" * 1000
    origin = 1000 + len(upstream)
    n = len(core)

    def around(position: int) -> str:
        return construct[origin + position]

    shifted = "".join(around(p + shift) for p in range(n))
    if n > length:
        excess = n - length
        start = {"right": 0, "left": excess, "center": excess // 2}[trim]
    else:
        missing = length - n
        side = pad_choice or {"plasmid_left": "left", "n_left": "left", "plasmid_split": "split",
                              "n_both": "split"}.get(pad, "right")
        start = {"right": 0, "left": -missing, "split": -(missing // 2)}[side]
    left_context = (k - 1) // 2 if kind == "kmer" else 0
    window = []
    for j in range(length + (k - 1 if kind == "kmer" else 0)):
        p = start + j - left_context
        if 0 <= p < n:
            window.append(shifted[p])
        elif pad.startswith("plasmid") or not left_context <= j < left_context + length:
            window.append(around(p))
        elif pad.startswith("n_"):
            window.append("N")
        else:
            window.append(PAD_LETTER)
    text = "".join(window)
    if reverse:
        text = "".join(_COMPLEMENT[c] for c in reversed(text))
    return text


def reference_encode(window: str, spec: dict, *, reverse: bool = False, singleton: float = 0.0) -> np.ndarray:
    """The model input for one reference window."""
    kind = spec.get("kind", "onehot")
    if kind == "tokens":
        order = spec.get("token_order", "ACGTN")
        return np.array([spec.get("pad_token", 5) if c == PAD_LETTER else order.index(c) for c in window], np.int32)
    if kind == "kmer":
        k = spec["k"]
        ids = []
        for j in range(len(window) - k + 1):
            kmer = window[j : j + k]
            if any(c not in "ACGT" for c in kmer):
                ids.append(4**k)
            else:
                ids.append(int("".join(str("ACGT".index(c)) for c in kmer), 4))
        return np.array(ids, np.int32)
    n_value = spec.get("n_value", 0.25)
    letters = spec.get("onehot_letters", "ACGT")
    rows = []
    for c in window:
        if c == PAD_LETTER:
            row = [float(letter == "P") for letter in letters]
        elif c == "N":
            row = [n_value if letter in "ACGT" else float(letter == "N") for letter in letters]
        else:
            row = [float(c == letter) for letter in letters]
        if spec.get("rc_channel"):
            row.append(float(reverse))
        if spec.get("singleton_channel"):
            row.append(float(singleton))
        rows.append(row)
    return np.array(rows, np.float32)


MT_MAX_SEQ_LEN = 142  # mt's max_seq_len = train.seq.str.len().max() of the challenge's training file


def mt_team_input(sequences: list[str], max_seq_len: int = MT_MAX_SEQ_LEN) -> np.ndarray:
    """float32 ``[B, max_seq_len, 12]``: mt's ``get_input(batch, random_select=1)`` (the final submission's choice),
    transcribed from ``teams/mt/code/250_pandas_final_1_bis_bc-0.745-Copy1.py`` cell 16 (rows of at most
    ``max_seq_len`` upper-case letters, as in the challenge's files)."""
    def pad_sequence(x: str) -> str:
        pad_length = max_seq_len - len(x)
        return x + "".join(["P"] * pad_length)

    def to_complement(x: str) -> str:
        dict_complement = {"A": "T", "T": "A", "G": "C", "C": "G", "P": "P", "N": "N"}
        return "".join([dict_complement[n] for n in x])

    def return_ohe(n: int, i: int) -> list[int]:
        tmp = [0] * n
        tmp[i] = 1
        return tmp

    seq = [pad_sequence(x) for x in sequences]
    rc_seq = [to_complement(x) for x in seq]
    vocab = ["A", "G", "C", "T", "N", "P"]
    mapping = {s: return_ohe(len(vocab), i) for i, s in enumerate(vocab)}
    x_node = np.stack([[mapping[y] for y in x] for x in seq])
    x_node_rc = np.stack([[mapping[y] for y in x] for x in rc_seq])
    return np.concatenate([x_node, x_node_rc], axis=2).astype(np.float32)  # select == 1: forward first
