"""Training input pipeline vs in-memory tensors: steps/s of ``model.fit`` on the autosome config.

The same compiled model trains (1) from the real ``tf.data`` pipeline of the driver (memory-mapped cache ->
encode -> RC augmentation -> 18-bin soft targets, ``TrainingSetup.train_dataset``) and (2) from the same
already-encoded batches held in memory (numpy arrays given to ``model.fit``). ``ratio`` = in-memory steps/s
divided by pipeline steps/s: <= 1.1 means the pipeline is never the bottleneck. The two are measured in
interleaved rounds (medians reported) so that a change of machine load affects both; the first ``--warmup`` steps of
each fit are not timed. ``pipeline_only_batches_per_s`` is the pipeline alone (no model): it must be far above
the training steps/s.

    python benchmarks/training.py [--quick] [--data demo_train.txt] [--width half|quarter|full]

Prints one JSON line last: ``{"benchmark": "training", "pipeline_steps_per_s", "in_memory_steps_per_s", "ratio",
...}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WIDTHS = {
    "full": {},
    "half": {"first": {"filters": 128}, "core": {"block_sizes": [64, 64, 32, 32, 32, 32]}},
    "quarter": {"first": {"filters": 64}, "core": {"block_sizes": [32, 32, 32, 32, 16, 16]}},
}


def _random_training_file(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np

    from seq2exp.data.encoding import FLANK3, FLANK5

    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    with open(path, "w") as handle:
        for _ in range(rows):
            handle.write(f"{FLANK5}{''.join(rng.choice(letters, 80))}{FLANK3}\t{rng.uniform(0, 17):.3f}\n")


class _StepTimer:
    def __init__(self, warmup: int):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: list[float] = []

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter())

        self.callback = Timer()
        self.warmup = warmup

    def steps_per_s(self) -> float:
        times = self.callback.times[self.warmup:]
        return (len(times) - 1) / (times[-1] - times[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quarter width, fewer steps")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "dream_demo" / "demo_train.txt"),
                        help="DREAM training file (a random 6,370-row file is generated if absent)")
    parser.add_argument("--width", choices=sorted(WIDTHS), default=None, help="autosome width (default: half)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per fit")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved pipeline/in-memory rounds (median)")
    args = parser.parse_args(argv)
    width = args.width or ("quarter" if args.quick else "half")
    batch_size = args.batch_size or (64 if args.quick else 128)
    steps = args.steps or (8 if args.quick else 30)
    args.rounds = args.rounds or (3 if args.quick else 3)

    import numpy as np
    import tensorflow as tf

    from seq2exp.training.driver import compile_model, prepare
    from seq2exp.training.optimizers import build_optimizer

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data)
        if not data.exists():
            data = Path(tmp) / "train.txt"
            _random_training_file(data, 6370)
        config = REPO / "training" / "configs" / "autosome.yaml"
        overrides = {"batch_size": batch_size, "steps_per_epoch": steps + args.warmup, "epochs": 1,
                     "model": {"config": WIDTHS[width]}}
        setup = prepare(config, data, None, Path(tmp) / "run", strategy="default", overrides=overrides)
        model = setup.build_model()
        compile_model(setup, model, build_optimizer(setup.config["optimizer"], setup.config["schedule"], 10_000))
        total = steps + args.warmup

        batches = list(setup.train_dataset().take(total))  # the same encoded batches, held in memory
        inputs = np.concatenate([b[0].numpy() for b in batches])
        targets = {name: np.concatenate([b[1][name].numpy() for b in batches]) for name in batches[0][1]}

        # interleaved rounds (pipeline, in-memory, pipeline, ...) so that a change of machine load hits both
        pipeline_rates, memory_rates = [], []
        for _ in range(args.rounds):
            pipeline_timer = _StepTimer(args.warmup)
            model.fit(setup.train_dataset(), epochs=1, steps_per_epoch=total, verbose=0, shuffle=False,
                      callbacks=[pipeline_timer.callback])
            pipeline_rates.append(pipeline_timer.steps_per_s())
            memory_timer = _StepTimer(args.warmup)
            model.fit(inputs, targets, batch_size=batch_size, epochs=1, verbose=0, shuffle=False,
                      callbacks=[memory_timer.callback])
            memory_rates.append(memory_timer.steps_per_s())

        # the pipeline alone (no model): how many batches/s it can produce
        start, produced = time.perf_counter(), 0
        for _ in setup.train_dataset().take(total * 4):
            produced += 1
        pipeline_only = produced / (time.perf_counter() - start)

        pipeline, memory = float(np.median(pipeline_rates)), float(np.median(memory_rates))
        result = {"benchmark": "training", "pipeline_steps_per_s": round(pipeline, 4),
                  "in_memory_steps_per_s": round(memory, 4), "ratio": round(memory / pipeline, 4),
                  "pipeline_only_batches_per_s": round(pipeline_only, 2),
                  "rounds": {"pipeline": [round(r, 4) for r in pipeline_rates],
                             "in_memory": [round(r, 4) for r in memory_rates]},
                  "model": f"autosome ({width} width)", "params": int(model.count_params()),
                  "batch_size": batch_size, "timed_steps": steps, "data": str(args.data if Path(args.data).exists()
                                                                              else "random 6,370 rows"),
                  "cpu_threads": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
                  "tensorflow": tf.__version__}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
