"""Benchmark interpretation: in-silico mutagenesis sequences/s in-process and over gRPC, integrated gradients
sequences/s, for the main job's narrowed LegNet (``seq2exp.job.NARROW_LEGNET``) and the real one (autosome).

Each model is saved as a run folder with the main job's TTA (reverse complement), exported with ``export_run`` and
served by the embedded gRPC server (``seq2exp.serving.server.ModelServer``) on loopback. Timed parts (after one
untimed warm-up call each):

- ``ism_seq_per_s``: :func:`seq2exp.interpret.ism` of 110-bp promoters (3 x 110 + 1 predictions each) in-process
  (``RunPredictor``: the prediction graph with TTA);
- ``ism_grpc_seq_per_s``: the same through ``ServerPredictor`` (the TF-free client: batched, concurrent requests);
- ``ig_seq_per_s``: integrated gradients (zero baseline, ``--ig-steps`` path points) in-process.

    python3 benchmarks/interpret.py [--quick] [--sequences N] [--ig-steps S] [--models narrow,real]

The last stdout line is one JSON object: ``{"benchmark": "interpret", "<model>": {...}, ...}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seq2exp.data.alphabet import FLANK3, FLANK5  # noqa: E402


def make_run(path: Path, config: dict | None) -> Path:
    """A run folder of the autosome architecture (LegNet) with ``config`` overrides and untrained weights."""
    import keras

    from seq2exp.models import registry

    keras.utils.set_random_seed(0)
    architecture = registry.get("autosome")
    model = architecture.build(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.keras")
    full = architecture.config(config)
    info = {"architecture": "autosome", "model_config": full, "encoding": full["input"], "target_transform": None,
            "tta": {"reverse_complement": True}, "postprocess": [], "data": {"train_sha256": "0" * 64},
            "metrics": {}, "parameters": int(model.count_params())}
    (path / "run.json").write_text(json.dumps(info))
    return path


def promoters(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [FLANK5 + "".join(rng.choice(list("ACGT"), 80)) + FLANK3 for _ in range(n)]


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def bench_model(name: str, config: dict | None, root: Path, n: int, ig_steps: int) -> dict:
    from seq2exp.interpret.attribution import attribute
    from seq2exp.interpret.mutagenesis import ism
    from seq2exp.interpret.predictors import RunPredictor, ServerPredictor
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.export import export_run
    from seq2exp.serving.server import ModelServer

    run_dir = make_run(root / name, config)
    export_run(run_dir, root / "models", name, verify=False)
    local = RunPredictor(run_dir, batch_size=512)
    sequences = promoters(n, seed=1)
    ism(local, sequences[:1])
    ism_s = timed(ism, local, sequences)
    attribute(local, sequences[:1], "integrated_gradients", steps=ig_steps)
    ig_s = timed(attribute, local, sequences, "integrated_gradients", steps=ig_steps)
    result = {"parameters": json.loads((run_dir / "run.json").read_text())["parameters"], "sequences": n,
              "ism_seq_per_s": n / ism_s, "ig_seq_per_s": n / ig_s, "ig_steps": ig_steps,
              "predictions_per_ism_seq": 3 * len(sequences[0]) + 1, "tta_variants": 2}
    server = ModelServer([m for m in discover_models(root / "models") if m.name == name], port=0).start()
    try:
        remote = ServerPredictor(server.target, name, batch_size=256, max_concurrency=4)
        ism(remote, sequences[:1])
        grpc_s = timed(ism, remote, sequences)
        remote.close()
    finally:
        server.stop(grace=1)
    result["ism_grpc_seq_per_s"] = n / grpc_s
    result["grpc_over_in_process"] = ism_s / grpc_s
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few sequences (a smoke run of the benchmark)")
    parser.add_argument("--sequences", type=int, help="sequences per timed part (default 8; --quick 2)")
    parser.add_argument("--ig-steps", type=int, default=50)
    parser.add_argument("--models", default="narrow,real", help="comma-separated: narrow (NARROW_LEGNET), real")
    args = parser.parse_args(argv)
    from seq2exp.job import NARROW_LEGNET

    n = args.sequences or (2 if args.quick else 8)
    configs = {"narrow": NARROW_LEGNET, "real": None}
    out: dict = {"benchmark": "interpret", "quick": args.quick, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="seq2exp-bench-interpret-") as tmp:
        for name in args.models.split(","):
            out[name] = bench_model(name, configs[name], Path(tmp), n, args.ig_steps)
            print(f"{name}: {json.dumps(out[name])}", file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
