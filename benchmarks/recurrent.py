"""Bidirectional LSTM / GRU layers alone: seq2exp's ``FusedBidirectional`` against Keras's ``Bidirectional`` (same
weights) and PyTorch's ``nn.LSTM`` / ``nn.GRU(bidirectional=True)``, same shapes, one process.

Run from the repository root: ``python3 benchmarks/recurrent.py [--quick] [--repeats N]``. Cases (batch, length,
input features, units per direction): DREAM-RNN's BiLSTM (32, 249, 320, 320), mt's first BiGRU (32, 142, 6, 256) and
metformin_121's inner BiGRU (32, 142, 128, 64); ``--quick``: DREAM-RNN's only, fewer steps.

Training step = forward, a loss weighting every output differently, and the gradients of the input and all weights
(``tf.GradientTape`` in a ``tf.function`` / ``loss.backward()``); inference = forward in inference mode (``training=
False`` / ``torch.no_grad``), which for ``FusedBidirectional`` is Keras's own loop. Random inputs are made before
timing; per side one untimed warm-up call, then the median of ``--steps`` calls. ``--repeats N`` runs N back-to-back
rounds (Keras, seq2exp, PyTorch) per case; the ratios' median, min, max and spread are reported. PyTorch uses as
many threads as TensorFlow's intra-op pool (the cores). The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _common import median_step_seconds, ratio_spread  # noqa: E402

CASES = {
    "dream_rnn_bilstm": {"cell": "lstm", "batch": 32, "length": 249, "features": 320, "units": 320},
    "mt_bigru": {"cell": "gru", "batch": 32, "length": 142, "features": 6, "units": 256},
    "metformin_bigru": {"cell": "gru", "batch": 32, "length": 142, "features": 128, "units": 64},
}


def _keras_sides(case: dict, seed: int):
    """(train, infer) callables of seq2exp's FusedBidirectional and of keras.layers.Bidirectional, same weights."""
    import keras
    import numpy as np
    import tensorflow as tf

    from seq2exp.models.blocks.recurrent import RNN_CELLS, FusedBidirectional

    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(case["batch"], case["length"], case["features"])).astype("float32"))
    probe = tf.constant(rng.normal(size=(case["batch"], case["length"], 2 * case["units"])).astype("float32"))
    sides = {}
    for name, wrapper in (("keras", keras.layers.Bidirectional), ("seq2exp", FusedBidirectional)):
        layer = wrapper(RNN_CELLS[case["cell"]](case["units"], return_sequences=True))
        layer.build(x.shape)
        sides[name] = layer
    sides["seq2exp"].set_weights(sides["keras"].get_weights())

    def callables(layer):
        @tf.function
        def train():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x, training=True) * probe)
            return tape.gradient(loss, [x, *layer.trainable_weights])

        @tf.function
        def infer():
            return layer(x, training=False)

        return (lambda: [t.numpy() for t in train()][0]), (lambda: infer().numpy())

    return {name: callables(layer) for name, layer in sides.items()}


def _torch_side(case: dict, seed: int, threads: int):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[case["cell"]](
        case["features"], case["units"], batch_first=True, bidirectional=True)
    x = torch.randn(case["batch"], case["length"], case["features"], requires_grad=True)
    probe = torch.randn(case["batch"], case["length"], 2 * case["units"])

    def train():
        module.zero_grad()
        x.grad = None
        (module(x)[0] * probe).sum().backward()

    def infer():
        with torch.no_grad():
            module(x)

    return train, infer


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="DREAM-RNN's BiLSTM only, 3 timed steps")
    parser.add_argument("--steps", type=int, default=None, help="timed calls per side (default 7; quick 3)")
    parser.add_argument("--repeats", type=int, default=1, help="back-to-back rounds per case")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    steps = args.steps or (3 if args.quick else 7)
    cases = {"dream_rnn_bilstm": CASES["dream_rnn_bilstm"]} if args.quick else CASES
    threads = len(os.sched_getaffinity(0))
    rows = []
    for name, case in cases.items():
        keras_sides = _keras_sides(case, seed=0)
        torch_side = _torch_side(case, seed=0, threads=threads)
        rounds = []
        for _ in range(args.repeats):
            seconds = {side: [median_step_seconds(f, 1, steps) for f in functions]
                       for side, functions in (*keras_sides.items(), ("torch", torch_side))}
            rounds.append({f"{side}_{kind}_s": round(values[index], 4) for side, values in seconds.items()
                           for index, kind in enumerate(("train", "infer"))})
        row = {"case": name, **case, "rounds": rounds}
        for kind in ("train", "infer"):
            for other in ("keras", "torch"):
                row[f"{kind}_speedup_vs_{other}"] = ratio_spread(
                    [r[f"{other}_{kind}_s"] / r[f"seq2exp_{kind}_s"] for r in rounds])
        rows.append(row)
        print(f"{name}: train s seq2exp / keras / torch = "
              + " / ".join(str(rounds[0][f"{s}_train_s"]) for s in ("seq2exp", "keras", "torch")), file=sys.stderr)
    result = {"benchmark": "recurrent", "threads": threads, "steps": steps, "results": rows}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
