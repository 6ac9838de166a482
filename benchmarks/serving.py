"""Serving benchmark: gRPC and REST vs in-process (session run): latency, rows/s, concurrency, `seq2exp predict`.

Run from the repository root: ``python3 benchmarks/serving.py [--quick]``. The last stdout line is one JSON object
(keys per ../shared/CONTRACT.md): ``batches`` [{batch_size, in_process_s, grpc_s, rest_s, ratio, rest_ratio,
{in_process,grpc,rest}_{p50,p99}_ms, {in_process,grpc,rest}_rows_per_s}] at batch 1, 64 and 1024, ``p50_ms`` /
``p99_ms`` (gRPC, batch 1), ``concurrency`` [{clients, grpc_rows_per_s, rest_rows_per_s}] for 1, 4 and 16 clients,
``concurrent_rows_per_s`` (gRPC, 16 clients), ``predict_rows_per_s`` (``seq2exp predict`` over a generated DREAM
file of 1M rows, 100k with ``--quick``). Goals: gRPC <= 1.15x and REST <= 1.5x in-process at batch 1024.

The server is ``seq2exp serve --rest-port`` in its own process (as deployed); the in-process baseline runs the same
exported version on TF Serving's loading path in this process (:class:`seq2exp.serving.session.SessionModel`:
session loader, ``Session.run`` by SignatureDef tensor names) on the same strings. ``--model`` (default: the
autosome architecture,
smoke size, with its reverse-complement TTA) is timed for the ratio, latency and concurrency; the ``predict`` run uses
``--predict-model`` (default ``tiny``: a 1-layer CNN) so that it measures the streaming pipeline (read, validate,
gRPC, write) rather than the model.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from _common import build_graph, run_measured  # noqa: E402  (benchmarks/ is sys.path[0])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def random_promoters(n: int, seed: int) -> list[str]:
    from seq2exp.data.alphabet import FLANK3, FLANK5

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    middles = letters[rng.integers(0, 4, size=(n, 80))]
    return [FLANK5 + row.tobytes().decode() + FLANK3 for row in middles]


def start_server(model_base: Path) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "seq2exp.cli", "serve", "--model-base-path", str(model_base),
                                "--port", "0", "--rest-port", "0", "--poll-seconds", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line, rest_line = process.stdout.readline(), process.stdout.readline()
    if not line.startswith("listening on ") or not rest_line.startswith("REST API on "):
        process.kill()
        raise RuntimeError(f"server did not start: {line!r} {rest_line!r}")
    return process, line.split()[2], rest_line.split()[3]


def timed_interleaved(functions, reps: int) -> list[list[float]]:
    """Wall times of each function, interleaved (the CPU is shared: all see the same load)."""
    for function in functions:
        function()  # warm-up
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(reps):
        for function, out in zip(functions, times):
            start = time.perf_counter()
            function()
            out.append(time.perf_counter() - start)
    return times


def concurrent_rows_per_s(make_client, clients: int, pool: list[str], duration: float) -> float:
    """Rows/s of ``clients`` threads each sending ``pool`` in a loop for ``duration`` s (after a 1 s ramp)."""
    counts = [0] * clients
    stop, ready = threading.Event(), threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        with make_client() as own:
            own.predict(pool)
            ready.wait()
            while not stop.is_set():
                own.predict(pool)
                counts[index] += len(pool)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(0.5)
    at_start, started = sum(counts), time.perf_counter()
    time.sleep(duration)
    rate = (sum(counts) - at_start) / (time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 100k predict rows")
    parser.add_argument("--model", default="autosome", help="registry architecture (smoke size) or 'tiny'")
    parser.add_argument("--predict-model", default="tiny", help="model of the `seq2exp predict` run")
    parser.add_argument("--predict-rows", type=int, default=None, help="rows of the predict run (1M; quick 100k)")
    args = parser.parse_args()

    from seq2exp.serving import signatures as names
    from seq2exp.serving.client import Client
    from seq2exp.serving.export import export_graph
    from seq2exp.serving.session import SessionModel

    predict_rows = args.predict_rows or (100_000 if args.quick else 1_000_000)
    reps = {1: 30, 64: 15, 1024: 5} if args.quick else {1: 300, 64: 50, 1024: 20}
    with tempfile.TemporaryDirectory(prefix="seq2exp-bench-") as work:
        work = Path(work)
        graph, description = build_graph(args.model)
        export_graph(graph, work / "M", "bench", verify=False)
        predict_description = description
        if args.predict_model != args.model:
            predict_graph, predict_description = build_graph(args.predict_model)
            export_graph(predict_graph, work / "M", "bulk", verify=False)
        session_model = SessionModel(work / "M" / "bench" / "1")
        server, target, rest_url = start_server(work / "M")
        try:
            batches = []
            latencies: list[float] = []
            with Client(target, "bench", batch_size=4096) as client, \
                    Client(rest_url, "bench", batch_size=4096, transport="rest", version=1) as rest:
                for batch_size, n_reps in reps.items():
                    sequences = random_promoters(batch_size, seed=batch_size)
                    strings = np.array([s.encode() for s in sequences], dtype=object)
                    in_process, grpc_times, rest_times = timed_interleaved([
                        lambda: session_model.run(names.SERVING_DEFAULT, {names.SEQUENCES_INPUT: strings}),
                        lambda: client.predict(sequences), lambda: rest.predict(sequences)], n_reps)
                    if batch_size == 1:
                        latencies = grpc_times
                    row = {"batch_size": batch_size, "in_process_s": float(np.median(in_process)),
                           "grpc_s": float(np.median(grpc_times)), "rest_s": float(np.median(rest_times)),
                           "ratio": float(np.median(grpc_times) / np.median(in_process)),
                           "rest_ratio": float(np.median(rest_times) / np.median(in_process))}
                    for name, times in (("in_process", in_process), ("grpc", grpc_times), ("rest", rest_times)):
                        row[f"{name}_p50_ms"] = float(np.percentile(times, 50) * 1e3)
                        row[f"{name}_p99_ms"] = float(np.percentile(times, 99) * 1e3)
                        row[f"{name}_rows_per_s"] = float(batch_size * len(times) / np.sum(times))
                    batches.append(row)

            # 1, 4, 16 concurrent clients, batch 64, for a fixed time, each transport
            duration = 3.0 if args.quick else 10.0
            pool = random_promoters(64, seed=3)
            concurrency = []
            for clients in (1, 4, 16):
                concurrency.append({
                    "clients": clients, "batch_size": len(pool),
                    "grpc_rows_per_s": concurrent_rows_per_s(lambda: Client(target, "bench"), clients, pool,
                                                             duration),
                    "rest_rows_per_s": concurrent_rows_per_s(
                        lambda: Client(rest_url, "bench", transport="rest", version=1), clients, pool, duration)})

            # seq2exp predict over a generated DREAM file
            data = work / "test.txt"
            with open(data, "w") as handle:
                for start in range(0, predict_rows, 100_000):
                    rows = random_promoters(min(100_000, predict_rows - start), seed=start + 1)
                    handle.write("".join(f"{s}\t\n" for s in rows))
            model_name = "bulk" if args.predict_model != args.model else "bench"
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            predict_seconds, predict_peak_rss_mib = run_measured(
                [sys.executable, "-m", "seq2exp.cli", "predict", str(data), "-o", str(work / "out.txt"),
                 "--server", target, "--model", model_name, "--no-progress"], env)
            with open(work / "out.txt") as handle:
                written = sum(1 for _ in handle)
            assert written == predict_rows, (written, predict_rows)
        finally:
            server.terminate()
            server.wait(60)
            session_model.close()

    result = {
        "benchmark": "serving",
        "quick": args.quick,
        "model": description,
        "batches": batches,
        "p50_ms": float(np.percentile(latencies, 50) * 1e3),
        "p99_ms": float(np.percentile(latencies, 99) * 1e3),
        "latency_requests": len(latencies),
        "concurrency": concurrency,
        "concurrent_clients": 16,
        "concurrent_batch_size": 64,
        "concurrent_rows_per_s": float(concurrency[-1]["grpc_rows_per_s"]),
        "goals": {"grpc_ratio_at_1024": 1.15, "rest_ratio_at_1024": 1.5,
                  "grpc_ratio_at_1024_met": batches[-1]["ratio"] <= 1.15,
                  "rest_ratio_at_1024_met": batches[-1]["rest_ratio"] <= 1.5},
        "in_process": "SessionModel (tf.compat.v1 session loader + Session.run), the path TF Serving runs",
        "predict_rows": predict_rows,
        "predict_model": predict_description,
        "predict_seconds": float(predict_seconds),
        "predict_rows_per_s": float(predict_rows / predict_seconds),
        "predict_peak_rss_mib": float(predict_peak_rss_mib),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
