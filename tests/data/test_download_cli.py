"""Data download against an HTTP server on 127.0.0.1 started by the test, and the `seq2exp data` command."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import tarfile
import threading

import pytest

from seq2exp.cli import main as cli_main
from seq2exp.data.download import (
    MANIFEST,
    MANIFEST_PATH,
    DownloadError,
    download_dataset,
    extract_archive,
    load_manifest,
    part_paths,
    read_checksums,
    verify_dataset,
)
from seq2exp.errors import Seq2ExpError

TRAIN_BYTES = b"".join(b"ACGT" * 20 + b"\t%d.5\n" % (i % 17) for i in range(4000))  # ~340 kB: several blocks


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` with ``Range: bytes=N-`` / ``If-Range`` support (when enabled) and a cut switch."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server: RangeServer = self.server  # type: ignore[assignment]
        body = server.files.get(self.path.lstrip("/"))
        record = {"path": self.path, "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range")}
        server.requests.append(record)
        if body is None:
            record["status"] = 404
            self.send_error(404)
            return
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        start = 0
        wanted = self.headers.get("Range") if server.support_range else None
        if wanted and self.headers.get("If-Range") not in (None, etag):
            wanted = None  # the file changed since the partial download: send it whole
        if wanted:
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(body):
                record["status"] = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        record["status"] = 206 if wanted else 200
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes" if server.support_range else "none")
        self.end_headers()
        if server.cut_after is not None:  # announce the whole length, send only part of it, drop the connection
            payload, server.cut_after = payload[: server.cut_after], None
            self.close_connection = True
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


class RangeServer(http.server.ThreadingHTTPServer):
    """A loopback file server: ``files`` {name: bytes}; ``support_range``; ``cut_after`` bytes for the next reply."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.files: dict[str, bytes] = {}
        self.support_range = True
        self.cut_after: int | None = None
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture()
def server(demo_subsets):
    """The server, holding a training file and a real subset archive laid out like the data record."""
    httpd = RangeServer()
    httpd.files["train_sequences.txt"] = TRAIN_BYTES
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(demo_subsets / "high_exp_seqs.csv", arcname="test_subset_ids/high_exp_seqs.csv")
    httpd.files["test_subset_ids.tar.gz"] = buffer.getvalue()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_manifest_is_package_data_and_honest(tmp_path):
    manifest = load_manifest()
    assert MANIFEST_PATH.name == "zenodo_10633252.json" and manifest.record == "10633252"
    assert [entry.name for entry in manifest.files] == [entry.name for entry in MANIFEST]
    assert "train_sequences.txt" in {entry.name for entry in MANIFEST}
    raw = json.loads(MANIFEST_PATH.read_text())
    for entry in raw["files"]:  # nothing here could be checked, so nothing claims to be
        assert entry["status"] == "unverified" and entry["sha256"] is None and entry["size"] is None
    bad = dict(raw, files=[dict(raw["files"][0], status="verified")])
    (tmp_path / "m.json").write_text(json.dumps(bad))
    with pytest.raises(Seq2ExpError, match=r"files\[0\].*verified entry needs a 64-hex"):
        load_manifest(tmp_path / "m.json")
    bad = dict(raw, files=[dict(raw["files"][0], sha256="ab" * 32)])
    (tmp_path / "m.json").write_text(json.dumps(bad))
    with pytest.raises(Seq2ExpError, match="unverified entry must have null"):
        load_manifest(tmp_path / "m.json")


def test_full_download_records_checksums_and_unpacks(tmp_path, server):
    out = tmp_path / "data"
    names = ["train_sequences.txt", "test_subset_ids.tar.gz"]
    paths = download_dataset(out, names=names, base_url=server.url)
    assert paths["train_sequences.txt"].read_bytes() == TRAIN_BYTES
    assert (out / "test_subset_ids" / "high_exp_seqs.csv").exists()
    assert [r["range"] for r in server.requests] == [None, None]
    recorded = read_checksums(out)
    assert recorded["train_sequences.txt"]["sha256"] == _sha(TRAIN_BYTES)
    assert recorded["train_sequences.txt"]["size"] == len(TRAIN_BYTES)
    assert recorded["train_sequences.txt"]["checked_against"] == "unverified"
    assert not any(path.name.endswith((".part", ".part.json")) for path in out.iterdir())
    # second run: present and checked against the recorded checksum, nothing fetched
    download_dataset(out, names=names, base_url="http://127.0.0.1:1")
    assert len(server.requests) == 2
    assert read_checksums(out)["train_sequences.txt"]["checked_against"] == "recorded"
    assert verify_dataset(out) == {"test_subset_ids.tar.gz": "ok", "train_sequences.txt": "ok"}
    (out / "train_sequences.txt").write_text("tampered\n")
    assert verify_dataset(out)["train_sequences.txt"] == "MISMATCH"
    with pytest.raises(DownloadError, match="does not match the recorded checksum"):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    # --force fetches again and checks the new copy against the recorded checksum
    download_dataset(out, names=["train_sequences.txt"], base_url=server.url, force=True)
    assert (out / "train_sequences.txt").read_bytes() == TRAIN_BYTES


def test_interrupted_transfer_resumes_with_a_range_request(tmp_path, server):
    out = tmp_path / "data"
    target = out / "train_sequences.txt"
    part, meta = part_paths(target)
    server.cut_after = 100_000
    expected = f"interrupted at 100000 of {len(TRAIN_BYTES)} bytes.*run the command again to resume"
    with pytest.raises(DownloadError, match=expected):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    assert not target.exists()  # nothing under the final name
    assert part.read_bytes() == TRAIN_BYTES[:100_000]
    download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    first, second = server.requests
    assert first["range"] is None
    assert second["range"] == "bytes=100000-" and second["if_range"] and second["status"] == 206
    assert target.read_bytes() == TRAIN_BYTES
    assert not part.exists() and not meta.exists()
    assert read_checksums(out)["train_sequences.txt"]["sha256"] == _sha(TRAIN_BYTES)


def test_a_checksum_mismatch_keeps_nothing(tmp_path, server):
    out = tmp_path / "data"
    with pytest.raises(DownloadError, match="does not match the user checksum .* not saved"):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url,
                         expected_sha256={"train_sequences.txt": "0" * 64})
    assert list(out.iterdir()) == []  # no final file, no part, no checksum record
    # a resumed transfer is checked the same way: the stale part is discarded, not kept for another resume
    server.cut_after = 50_000
    with pytest.raises(DownloadError, match="interrupted"):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    server.files["train_sequences.txt"] = TRAIN_BYTES.replace(b"ACGT", b"TTTT", 1)  # changed under the same name
    with pytest.raises(DownloadError, match="does not match the user checksum"):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url,
                         expected_sha256={"train_sequences.txt": _sha(TRAIN_BYTES)})
    assert server.requests[-1]["if_range"] is not None and server.requests[-1]["status"] == 200  # If-Range: whole
    assert not (out / "train_sequences.txt").exists()
    # the user's checksum wins over everything and is recorded as such
    download_dataset(out, names=["train_sequences.txt"],
                     urls={"train_sequences.txt": f"{server.url}/train_sequences.txt"},
                     expected_sha256={"train_sequences.txt": _sha(server.files["train_sequences.txt"]).upper()})
    assert read_checksums(out)["train_sequences.txt"]["checked_against"] == "user"


def test_a_server_without_range_support_restarts_from_zero(tmp_path, server):
    server.support_range = False
    server.cut_after = 120_000
    out = tmp_path / "data"
    with pytest.raises(DownloadError, match="interrupted"):
        download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    assert server.requests[1]["range"] == "bytes=120000-" and server.requests[1]["status"] == 200
    assert (out / "train_sequences.txt").read_bytes() == TRAIN_BYTES  # not the first 120 kB twice


def test_416_completes_a_whole_part_and_discards_an_oversized_one(tmp_path, server):
    out = tmp_path / "data"
    out.mkdir()
    target = out / "train_sequences.txt"
    part, meta = part_paths(target)
    url = f"{server.url}/train_sequences.txt"
    part.write_bytes(TRAIN_BYTES)  # the connection dropped after the last byte arrived
    meta.write_text(json.dumps({"url": url}))
    download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    assert server.requests[-1]["status"] == 416 and target.read_bytes() == TRAIN_BYTES
    target.unlink()
    part.write_bytes(TRAIN_BYTES + b"junk")
    meta.write_text(json.dumps({"url": url}))
    download_dataset(out, names=["train_sequences.txt"], base_url=server.url)
    assert [r["status"] for r in server.requests[-2:]] == [416, 200]
    assert target.read_bytes() == TRAIN_BYTES and not part.exists()


def test_unreachable_missing_and_unknown_files(tmp_path, server):
    with pytest.raises(DownloadError, match="cannot download .* put it at"):
        download_dataset(tmp_path, names=["train_sequences.txt"], base_url="http://127.0.0.1:1", timeout=5)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_dataset(tmp_path, names=["public_leaderboard_ids.tar.gz"], base_url=server.url)
    with pytest.raises(Seq2ExpError, match="unknown data file"):
        download_dataset(tmp_path, names=["secret.txt"])
    with pytest.raises(Seq2ExpError, match="expected 64 hex digits"):
        download_dataset(tmp_path, names=["train_sequences.txt"], expected_sha256={"train_sequences.txt": "abc"})
    assert not (tmp_path / "train_sequences.txt").exists()


def test_unsafe_archives_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(Seq2ExpError, match="unsafe archive entry"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_cli_cache_validate_and_download(tmp_path, demo_train, demo_subsets, server, capsys):
    assert cli_main(["data", "cache", str(demo_train), "--out", str(tmp_path / "cache")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 6370 and report["width"] == 135
    assert cli_main(["data", "validate", str(demo_subsets), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["subsets"]["high"] == 968
    bad = tmp_path / "bad.txt"
    bad.write_text("ACGT\t1\nACGT\t1\t2\n")
    assert cli_main(["data", "validate", str(bad)]) == 2
    assert "bad.txt, line 2: expected 2 tab-separated fields" in capsys.readouterr().err
    assert cli_main(["data", "validate", str(bad), "--on-invalid", "skip"]) == 0
    assert "skipped: 1" in capsys.readouterr().out
    out = tmp_path / "dl"
    assert cli_main(["data", "download", "--dest", str(out), "--list"]) == 0
    assert "train_sequences.txt\tunverified" in capsys.readouterr().out
    assert cli_main(["data", "download", "--dest", str(out), "--files", "train_sequences.txt",
                     "--base-url", server.url]) == 0
    assert "(unverified)" in capsys.readouterr().out
    assert cli_main(["data", "verify", str(out)]) == 0
    assert cli_main(["data", "download", "--dest", str(out), "--list"]) == 0
    assert f"sha256={_sha(TRAIN_BYTES)} (recorded)" in capsys.readouterr().out
    assert cli_main(["data", "download", "--dest", str(out), "--sha256", "oops"]) == 2
