"""Batch-inference benchmark: the Beam pipeline (``seq2exp batch``) vs ``seq2exp predict`` on the same rows and model.

Run from the repository root: ``python3 benchmarks/batch_inference.py [--quick]``. Both commands run as their own
process on the same generated DREAM file (200,000 rows; 20,000 with ``--quick``) and the same exported SavedModel
(``--model``: a registry architecture at smoke size with its reverse-complement TTA, default autosome; or ``tiny``).
The pipeline runs on the DirectRunner in multi-process mode with ``--workers`` (default 2) worker processes, the way
it would spread over machines. Reported: rows/s of each (wall clock of the whole command, start-up included), their
ratio (goal >= 0.8), peak RSS of each command's process tree (the pipeline's workers included), and the largest
difference between the two outputs. With ``--portable`` it also runs the pipeline on Beam's portable path (the one
Flink, Spark and Dataflow use): the PortableRunner with Beam's local job service and SDK workers started as separate
processes by a worker pool on 127.0.0.1 (``seq2exp.batch.portable``). Beam's local job service starts one SDK worker
whatever ``direct_num_workers`` says, so that path is measured with 1 worker; the 2-worker figure is the DirectRunner
in multi-process mode. The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _common import build_graph, run_measured  # noqa: E402  (benchmarks/ is sys.path[0])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def write_rows(path: Path, n: int, seed: int = 0) -> None:
    from seq2exp.data.alphabet import FLANK3, FLANK5

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "w") as handle:
        for start in range(0, n, 50_000):
            middles = letters[rng.integers(0, 4, size=(min(50_000, n - start), 80))]
            handle.write("".join(f"{FLANK5}{row.tobytes().decode()}{FLANK3}\n" for row in middles))


def read_shards(folder: Path) -> tuple[np.ndarray, dict]:
    """The predicted values of a batch output folder, shards in name order (= input order), and its manifest."""
    shards = sorted(folder.glob("predictions-*.txt"))
    values = np.concatenate([np.loadtxt(s, usecols=1, dtype=np.float64, ndmin=1) for s in shards])
    return values, json.loads((folder / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 200,000")
    parser.add_argument("--rows", type=int, help="rows (default 200,000; 20,000 with --quick)")
    parser.add_argument("--model", default="autosome", help="registry architecture (smoke size) or 'tiny'")
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner worker processes")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--portable", action="store_true",
                        help="also run the PortableRunner with external SDK workers (1 worker) and the DirectRunner "
                             "with 1 worker process")
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 200_000)

    from seq2exp.serving.export import export_graph

    with tempfile.TemporaryDirectory(prefix="seq2exp-batch-bench-") as tmp:
        tmp = Path(tmp)
        graph, description = build_graph(args.model)
        export_graph(graph, tmp / "models", "bench", version=1, verify=False)
        model_dir = str(tmp / "models" / "bench")
        data = tmp / "rows.txt"
        write_rows(data, rows)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "seq2exp.cli"]
        predict_s, predict_rss = run_measured(
            [*cli, "predict", str(data), "-o", str(tmp / "predict.txt"), "--saved-model", model_dir, "--no-progress",
             "--batch-size", str(args.batch_size)], env)
        beam_s, beam_rss = run_measured(
            [*cli, "batch", str(data), "-o", str(tmp / "beam"), "--saved-model", model_dir,
             "--batch-size", str(args.batch_size), "--beam-option", f"direct_num_workers={args.workers}",
             "--beam-option", "direct_running_mode=multi_processing"], env)
        expected = np.loadtxt(tmp / "predict.txt", usecols=1, dtype=np.float64)
        got, manifest = read_shards(tmp / "beam")
        extra = {}
        if args.portable:
            from seq2exp.batch.portable import local_worker_pool, portable_beam_options

            one_s, one_rss = run_measured(
                [*cli, "batch", str(data), "-o", str(tmp / "direct1"), "--saved-model", model_dir,
                 "--batch-size", str(args.batch_size), "--beam-option", "direct_num_workers=1",
                 "--beam-option", "direct_running_mode=multi_processing"], env)
            with local_worker_pool(env=env) as pool:
                options = [arg for option in portable_beam_options(pool) for arg in ("--beam-option", option)]
                portable_s, portable_rss = run_measured(
                    [*cli, "batch", str(data), "-o", str(tmp / "portable"), "--saved-model", model_dir,
                     "--batch-size", str(args.batch_size), *options], env)
            portable_got, _ = read_shards(tmp / "portable")
            extra = {"direct_1_worker_s": round(one_s, 2), "direct_1_worker_rows_per_s": round(rows / one_s, 1),
                     "portable_1_worker_s": round(portable_s, 2),
                     "portable_1_worker_rows_per_s": round(rows / portable_s, 1),
                     "portable_vs_predict": round(predict_s / portable_s, 3),
                     "portable_peak_rss_mib_driver": round(portable_rss, 1),
                     "portable_max_abs_diff": float(np.max(np.abs(portable_got - expected)))
                     if len(portable_got) == len(expected) else None}
    result = {
        "benchmark": "batch_inference", "rows": rows, "model": description, "batch_size": args.batch_size,
        "beam_runner": f"DirectRunner multi_processing, {args.workers} workers",
        "predict_s": round(predict_s, 2), "beam_s": round(beam_s, 2),
        "predict_rows_per_s": round(rows / predict_s, 1), "beam_rows_per_s": round(rows / beam_s, 1),
        "beam_vs_predict": round(predict_s / beam_s, 3), "goal": 0.8,
        "predict_peak_rss_mib": round(predict_rss, 1), "beam_peak_rss_mib": round(beam_rss, 1),
        "beam_rows_out": manifest["rows_out"], "rows_agree": int(len(got) == len(expected)),
        "max_abs_diff": float(np.max(np.abs(got - expected))) if len(got) == len(expected) else None,
        **extra, "cpu_count": os.cpu_count(), "note": "wall clock incl. start-up, one run each, shared machine",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
