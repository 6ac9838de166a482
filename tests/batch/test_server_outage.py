"""``seq2exp batch --server`` when the server goes away: after ``--max-outage`` seconds of failed calls the remaining
chunks become dead letters at once (one chunk every ``OUTAGE_PROBE_S`` still tries the server, and a success ends
the outage), instead of each chunk waiting out its retries' back-off."""
from __future__ import annotations

import numpy as np
import pytest

from seq2exp.batch import pipeline
from seq2exp.serving.client import ServerUnavailableError


class Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class Backend:
    """A served model that is down until ``up`` is set; counts its calls."""

    tasks = None

    def __init__(self):
        self.calls, self.up = 0, False

    def predict(self, sequences, **_):
        self.calls += 1
        if not self.up:
            raise ServerUnavailableError("Predict failed: UNAVAILABLE: connection refused")
        return np.zeros(len(sequences), np.float32)


def _chunk() -> pipeline.Chunk:
    return pipeline.Chunk(file_index=0, index=0, names=["r0"], sequences=["ACGT"], rows_in=1, first_line=1,
                          last_line=1)


def test_an_outage_longer_than_max_outage_stops_the_calls_and_a_probe_ends_it(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(pipeline, "time", clock)
    handler = pipeline.ServerModelHandler("127.0.0.1:1", "m", 1, max_outage_s=10)
    backend = Backend()

    def attempt(at: float) -> bool:
        """One request at time ``at``: whether it raised, and whether Beam would retry it."""
        clock.now = at
        with pytest.raises(ServerUnavailableError) as caught:
            handler.request([_chunk()], backend)
        return handler._retry(caught.value)

    assert attempt(0.0) is True and backend.calls == 1  # a new outage: retried as before
    assert attempt(9.0) is True and backend.calls == 2
    assert attempt(11.0) is False and backend.calls == 2  # gone: no call, no retry
    assert attempt(29.0) is False and backend.calls == 2
    assert attempt(38.0) is False and backend.calls == 2
    assert attempt(40.0) is False and backend.calls == 3  # one probe per OUTAGE_PROBE_S (30 s after the last call)
    assert attempt(45.0) is False and backend.calls == 3
    backend.up = True
    clock.now = 71.0
    results = handler.request([_chunk()], backend)  # the probe succeeds: the outage is over
    assert backend.calls == 4 and results[0].inference.tolist() == [0.0]
    clock.now = 72.0
    handler.request([_chunk()], backend)
    assert backend.calls == 5


def test_a_dead_server_turns_the_rest_into_dead_letters_without_calls(tiny_model_base, inputs, tmp_path, monkeypatch):
    """The real pipeline and client: the server stops as the first chunk is sent; with --max-outage tiny that call
    fails and every later chunk is a dead letter without a call."""
    from seq2exp.serving.config import discover_models
    from seq2exp.serving.predict import ServerBackend
    from seq2exp.serving.server import ModelServer

    server = ModelServer(discover_models(tiny_model_base), port=0, poll_seconds=0).start()
    calls = []
    real_predict = ServerBackend.predict

    def predict_then_die(self, *args, **kwargs):  # the server goes away as the first chunk is sent
        calls.append(1)
        server.stop(grace=0)
        return real_predict(self, *args, **kwargs)

    monkeypatch.setattr(ServerBackend, "predict", predict_then_die)
    try:
        source = pipeline.server_source(server.target, "tiny", timeout=5, max_outage_s=0.001)
        summary = pipeline.run_batch([str(inputs["a"])], str(tmp_path / "out"), source, batch_size=16)
    finally:
        server.stop(grace=0)
    manifest = summary.manifest
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rows_rejected"]) == (150, 0, 150)
    assert len(calls) == 1  # 10 chunks: the first one called (and failed), the other nine not
    reasons = [line.split("\t")[3] for shard in (tmp_path / "out").glob("rejected-*.tsv")
               for line in shard.read_text().splitlines()[1:]]
    assert len(reasons) == 150 and sum("not called" in reason for reason in reasons) == 150 - 16
