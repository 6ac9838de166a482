"""``seq2exp predict`` throughput (in-process SavedModel and over gRPC) against the bare model call, with the shares
of parsing, encoding, the model and writing.

Usage (from the repo root)::

    python3 benchmarks/predict.py [--quick] [--rows 200000] [--model autosome]

The real (full-size) model with fresh weights is exported with the project's exporter (``export_graph`` of the
folded ``PredictionGraph``, the graph ``seq2exp export`` writes); a DREAM test-order file of ``--rows`` random
110-bp sequences is predicted by

* ``bare``: the Keras model itself (``tf.function`` of ``model(x, training=False)``, batches of ``--batch-size``)
  on inputs encoded before timing — the ceiling;
* ``in_process``: ``seq2exp predict IN -o OUT --saved-model M/NAME/1`` (a fresh process; its own steady-state
  ``rows_per_s`` and the wall time including start-up);
* ``grpc``: ``seq2exp serve --model-base-path M`` on a loopback port and ``seq2exp predict --server``.

``shares`` times the stages of a prediction on their own over the same rows: parse (``iter_records``), encode
(the project's ``Encoder``), model (the bare call), write (formatting and writing the DREAM lines). Ratios to the
bare call are ``*_vs_bare`` (goal: >= 0.9). Last stdout line: one JSON object.

Measured (2 Intel Xeon cores, real LegNet, 200,000 rows, wall 37 min): bare 338.8 rows/s, folded 374.6 (max |diff|
2.9e-6), in-process 373.7 (1.103x bare, 1.09x with start-up), gRPC 384.7 (1.136x); shares model 0.9926, encode
0.0065, parse 0.0007, write 0.0002.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(arguments: list[str], timeout_s: float) -> tuple[dict, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "seq2exp.cli", *arguments], capture_output=True, text=True,
                          timeout=timeout_s, env=env, cwd=REPO)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}, wall
    return json.loads(lines[-1]), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="autosome")
    parser.add_argument("--rows", type=int, default=None, help="default 200,000 (quick 4,096)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--skip-grpc", action="store_true")
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = args.rows or (4096 if args.quick else 200_000)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    import numpy as np

    import seq2exp  # noqa: F401 - before TensorFlow, as in the CLI it is compared with (oneDNN default)
    import tensorflow as tf

    from seq2exp import models
    from seq2exp.data.encoding import Encoder
    from seq2exp.inference.graph import PredictionGraph
    from seq2exp.inference.optimize import fold_batchnorm
    from seq2exp.serving.export import export_graph
    from seq2exp.serving.predict import iter_records

    started_all = time.perf_counter()
    architecture = models.get(args.model)
    model = architecture.build()
    encoder = Encoder(architecture.config()["input"])
    letters = np.array(list("ACGT"))
    sequences = ["".join(row) for row in letters[np.random.default_rng(0).integers(0, 4, size=(rows, 110))]]
    report: dict = {"benchmark": "predict", "model": args.model, "rows": rows, "batch_size": args.batch_size,
                    "load_average_1min_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="seq2exp-predict-bench-") as tmp:
        tmp_path = Path(tmp)
        input_path = tmp_path / "input.txt"
        input_path.write_text("".join(f"{sequence}\t\n" for sequence in sequences))
        base = tmp_path / "models"
        export_graph(PredictionGraph(fold_batchnorm(model), encoder), base, args.model, 1, verify=False)

        # stages on their own
        started = time.perf_counter()
        parsed = [record.sequence for record in iter_records(input_path)]
        parse_s = time.perf_counter() - started
        assert len(parsed) == rows
        started = time.perf_counter()
        encoded = [np.asarray(encoder.encode(parsed[i:i + args.batch_size]))
                   for i in range(0, rows, args.batch_size)]
        encode_s = time.perf_counter() - started
        call = tf.function(lambda x: model(x, training=False)["expression"])
        call(tf.constant(encoded[0]))  # trace
        started = time.perf_counter()
        outputs = [call(tf.constant(batch)).numpy() for batch in encoded]
        model_s = time.perf_counter() - started
        folded = fold_batchnorm(model)
        folded_call = tf.function(lambda x: folded(x, training=False)["expression"])
        folded_call(tf.constant(encoded[0]))
        started = time.perf_counter()
        folded_outputs = [folded_call(tf.constant(batch)).numpy() for batch in encoded]
        folded_s = time.perf_counter() - started
        values = np.concatenate(outputs)
        started = time.perf_counter()
        with open(tmp_path / "written.txt", "w") as handle:
            handle.writelines(f"{sequence}\t{value:.6g}\n" for sequence, value in zip(parsed, values.tolist()))
        write_s = time.perf_counter() - started
        total = parse_s + encode_s + model_s + write_s
        bare = rows / model_s
        report.update(
            bare_rows_per_s=round(bare, 1), folded_rows_per_s=round(rows / folded_s, 1),
            folded_max_abs_diff=float(np.max(np.abs(np.concatenate(folded_outputs) - values))),
            stage_seconds={"parse": round(parse_s, 3), "encode": round(encode_s, 3), "model": round(model_s, 3),
                           "write": round(write_s, 3)},
            shares={name: round(seconds / total, 4) for name, seconds in
                    (("parse", parse_s), ("encode", encode_s), ("model", model_s), ("write", write_s))})

        result, wall = _cli(["predict", str(input_path), "-o", str(tmp_path / "in_process.txt"), "--saved-model",
                             str(base / args.model / "1"), "--batch-size", str(args.batch_size), "--no-progress"],
                            args.timeout_s)
        report["in_process"] = {**result, "wall_s_with_start_up": round(wall, 1)}
        if "rows_per_s" in result:
            report["in_process_vs_bare"] = round(result["rows_per_s"] / bare, 3)
            report["in_process_with_start_up_vs_bare"] = round(rows / wall / bare, 3)

        if not args.skip_grpc:
            port = _free_port()
            env = dict(os.environ, PYTHONPATH=str(REPO))
            server = subprocess.Popen([sys.executable, "-m", "seq2exp.cli", "serve", "--model-base-path", str(base),
                                       "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                import grpc

                channel = grpc.insecure_channel(f"127.0.0.1:{port}")
                grpc.channel_ready_future(channel).result(timeout=300)
                channel.close()
                result, wall = _cli(["predict", str(input_path), "-o", str(tmp_path / "grpc.txt"), "--server",
                                     f"127.0.0.1:{port}", "--model", args.model, "--batch-size",
                                     str(args.batch_size), "--no-progress"], args.timeout_s)
                report["grpc"] = {**result, "wall_s_with_start_up": round(wall, 1)}
                if "rows_per_s" in result:
                    report["grpc_vs_bare"] = round(result["rows_per_s"] / bare, 3)
            except Exception as error:  # noqa: BLE001 - reported, the other figures stand
                report["grpc"] = {"error": f"{type(error).__name__}: {error}"[:300]}
            finally:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    report["wall_s"] = round(time.perf_counter() - started_all, 1)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
