"""Data download (from a local file:// mirror: no network here) and the `seq2exp data` command."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from seq2exp.cli import main as cli_main
from seq2exp.data.download import DownloadError, download_dataset, extract_archive, read_checksums, verify_dataset
from seq2exp.errors import Seq2ExpError


@pytest.fixture()
def mirror(tmp_path, demo_subsets):
    """A folder laid out like the data record, with a real subset archive."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / "train_sequences.txt").write_text("ACGT\t1\nTTTT\t2\n")
    with tarfile.open(folder / "test_subset_ids.tar.gz", "w:gz") as tar:
        tar.add(demo_subsets / "high_exp_seqs.csv", arcname="test_subset_ids/high_exp_seqs.csv")
    return folder


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_records_checksums_and_unpacks(tmp_path, mirror):
    out = tmp_path / "data"
    names = ["train_sequences.txt", "test_subset_ids.tar.gz"]
    paths = download_dataset(out, names=names, base_url=mirror.as_uri())
    assert paths["train_sequences.txt"].read_text() == "ACGT\t1\nTTTT\t2\n"
    assert (out / "test_subset_ids" / "high_exp_seqs.csv").exists()
    recorded = read_checksums(out)
    assert recorded["train_sequences.txt"]["sha256"] == _sha(mirror / "train_sequences.txt")
    assert recorded["train_sequences.txt"]["checked_against"] == "unverified"
    # second run: present and checked against the recorded checksum, no download needed
    download_dataset(out, names=names, base_url=(tmp_path / "gone").as_uri())
    assert read_checksums(out)["train_sequences.txt"]["checked_against"] == "recorded"
    assert verify_dataset(out) == {"test_subset_ids.tar.gz": "ok", "train_sequences.txt": "ok"}
    (out / "train_sequences.txt").write_text("tampered\n")
    assert verify_dataset(out)["train_sequences.txt"] == "MISMATCH"
    with pytest.raises(DownloadError, match="does not match the recorded checksum"):
        download_dataset(out, names=["train_sequences.txt"], base_url=mirror.as_uri())


def test_user_checksum_wins_and_a_mismatch_saves_nothing(tmp_path, mirror):
    out = tmp_path / "data"
    with pytest.raises(DownloadError, match="does not match the user checksum"):
        download_dataset(out, names=["train_sequences.txt"], base_url=mirror.as_uri(),
                         expected_sha256={"train_sequences.txt": "0" * 64})
    assert not (out / "train_sequences.txt").exists() and list(out.iterdir()) == []
    good = _sha(mirror / "train_sequences.txt")
    download_dataset(out, names=["train_sequences.txt"], urls={"train_sequences.txt": (mirror / "train_sequences.txt").as_uri()},
                     expected_sha256={"train_sequences.txt": good.upper()})
    assert read_checksums(out)["train_sequences.txt"]["checked_against"] == "user"


def test_unreachable_and_unknown_files(tmp_path):
    with pytest.raises(DownloadError, match="cannot download .* put it at"):
        download_dataset(tmp_path, names=["train_sequences.txt"], base_url=(tmp_path / "nowhere").as_uri())
    with pytest.raises(Seq2ExpError, match="unknown data file"):
        download_dataset(tmp_path, names=["secret.txt"])


def test_unsafe_archives_are_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(Seq2ExpError, match="unsafe archive entry"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_cli_cache_validate_and_download(tmp_path, demo_train, demo_subsets, mirror, capsys):
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
    assert cli_main(["data", "download", "--out", str(out), "--files", "train_sequences.txt",
                     "--base-url", mirror.as_uri()]) == 0
    assert "(unverified)" in capsys.readouterr().out
    assert cli_main(["data", "verify", str(out)]) == 0
    assert cli_main(["data", "download", "--out", str(out), "--sha256", "oops"]) == 2
