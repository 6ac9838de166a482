"""``seq2exp batch`` on the DirectRunner: equal to ``seq2exp predict --saved-model`` row for row, bad rows in the dead
letters with their reasons, several inputs (glob, gzip, three formats), manifest counts, the remote-model mode."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from seq2exp.cli import main as cli_main
from tests.batch.conftest import assert_same_rows

BATCH_OPTIONS = ["--format", "tsv", "--batch-size", "64", "--shard-rows", "128"]  # several chunks and shards a file


def _run_batch(out: Path, inputs: list, model_args: list) -> dict:
    assert cli_main(["batch", *map(str, inputs), "-o", str(out), *model_args, *BATCH_OPTIONS]) == 0
    return {"out": out, "manifest": json.loads((out / "manifest.json").read_text())}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_model_base, inputs):
    """One pipeline over a.fasta plus the glob ``[bc].*`` (b.txt.gz, c.tsv), the model loaded in the workers."""
    out = tmp_path_factory.mktemp("batch_out") / "local"
    return _run_batch(out, [inputs["a"], inputs["folder"] / "[bc].*", inputs["d"]],
                      ["--saved-model", str(tiny_model_base / "tiny")])


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "id\tsequence\texpression"
    return [line.split("\t") for line in lines[1:]]


def _batch_rows(out: Path, input_index: int) -> list[list[str]]:
    """The rows of one input, shard after shard in name order (= input order)."""
    shards = sorted(out.glob(f"predictions-{input_index:05d}-*.tsv"))
    assert shards, f"no shards for input {input_index}"
    return [row for shard in shards for row in _rows(shard)]


def test_outputs_equal_seq2exp_predict_row_for_row(local_run, inputs, tiny_model_base, tmp_path):
    paths = [Path(entry["path"]) for entry in local_run["manifest"]["inputs"]]
    assert [p.name for p in paths] == ["a.fasta", "b.txt.gz", "c.tsv", "d.txt"]  # the glob expanded in sorted order
    # c.tsv has bad rows (predict refuses the file): its good rows are compared with predict over c_good.tsv
    for index, source in enumerate([inputs["a"], inputs["b"], inputs["c_good"]]):
        expected = tmp_path / f"{index}.tsv"
        assert cli_main(["predict", str(source), "-o", str(expected), "--saved-model", str(tiny_model_base / "tiny"),
                         "--format", "tsv", "--no-progress"]) == 0
        assert_same_rows(_batch_rows(local_run["out"], index), _rows(expected))
    # d.txt (DREAM): ids are line numbers, so only sequences and values are compared with predict over d_good.txt
    expected = tmp_path / "d.tsv"
    assert cli_main(["predict", str(inputs["d_good"]), "-o", str(expected), "--saved-model",
                     str(tiny_model_base / "tiny"), "--format", "tsv", "--no-progress"]) == 0
    ours, reference = _batch_rows(local_run["out"], 3), _rows(expected)
    assert [r[1] for r in ours] == [r[1] for r in reference]
    np.testing.assert_allclose([float(r[2]) for r in ours], [float(r[2]) for r in reference], rtol=1e-5, atol=1e-6)
    assert ours[29][0] == "29" and ours[30][0] == "32"  # ids = line - 1: the bad lines 31 and 32 are gaps


def test_bad_records_go_to_the_dead_letters_with_reasons(local_run, inputs):
    out = local_run["out"]
    assert not list(out.glob("rejected-00000-*")) and not list(out.glob("rejected-00001-*"))
    lines = [line.split("\t") for path in sorted(out.glob("rejected-00002-*.tsv"))
             for line in path.read_text().splitlines()[1:]]
    by_line = {int(row[1]): row for row in lines}
    assert sorted(by_line) == sorted([*inputs["bad_lines"], inputs["noseq_line"]])
    assert all(row[0] == str(inputs["c"]) for row in lines)  # the file of each dead letter
    reasons = {by_line[line][2]: by_line[line][3] for line in inputs["bad_lines"]}
    assert "letter 'X' at position 21" in reasons["c_badletter"]
    assert reasons["c_empty"] == "empty sequence"
    assert "longer than the maximum 256 bp" in reasons["c_long"]
    noseq = by_line[inputs["noseq_line"]][3]
    assert noseq.startswith("field 'sequence': expected a sequence in column 2")
    assert by_line[inputs["noseq_line"]][2] == "c_noseq"  # the row's id, also for a row the reader refused
    good = [row[0] for row in _batch_rows(out, 2)]
    assert len(good) == 87 and not set(good) & set(inputs["bad_lines"].values())  # the good rows still came out
    assert good[-1] == "c89"  # the row after the malformed line too
    d_rejected = [line.split("\t") for path in sorted(out.glob("rejected-00003-*.tsv"))
                  for line in path.read_text().splitlines()[1:]]
    assert [int(row[1]) for row in d_rejected] == inputs["d_bad_lines"]
    assert [row[2] for row in d_rejected] == ["30", "31"]  # a DREAM row's id: its 0-based row, as predict names it
    assert "letter 'Q' at position 6" in d_rejected[0][3] and "field" in d_rejected[1][3]


def test_manifest_counts_add_up(local_run, tiny_model_base):
    manifest, out = local_run["manifest"], local_run["out"]
    assert manifest["complete"] and manifest["runner"] == "DirectRunner"
    assert (manifest["rows_in"], manifest["rows_out"], manifest["rows_rejected"]) == (591, 585, 6)
    assert [(i["rows_in"], i["rows_out"], i["rows_rejected"]) for i in manifest["inputs"]] == \
        [(150, 150, 0), (230, 230, 0), (91, 87, 4), (120, 118, 2)]
    for shard in manifest["shards"]:
        assert shard["rows_in"] == shard["rows_out"] + shard["rows_rejected"]
        assert len(_rows(out / shard["file"])) == shard["rows_out"]
        if shard["rejected_file"]:
            assert len((out / shard["rejected_file"]).read_text().splitlines()) == shard["rows_rejected"] + 1
    assert [s["input"] for s in manifest["shards"]] == [0, 0, 1, 1, 2, 3]  # 128 rows a shard at most
    assert {p.name for p in out.iterdir()} == {"manifest.json"} | {s["file"] for s in manifest["shards"]} | \
        {s["rejected_file"] for s in manifest["shards"] if s["rejected_file"]}  # no temporary file left
    model = manifest["model"]
    assert (model["source"], model["name"], model["version"]) == ("saved_model", "tiny", 1)
    version_dir = tiny_model_base / "tiny" / "1"
    digest = hashlib.sha256()  # independent recomputation: relative path + each file's SHA-256, sorted
    files = sorted(str(p.relative_to(version_dir)) for p in version_dir.rglob("*") if p.is_file())
    for name in files:
        digest.update(f"{name}\0{hashlib.sha256((version_dir / name).read_bytes()).hexdigest()}\n".encode())
    assert model["sha256"] == digest.hexdigest()


def test_remote_model_mode_against_the_embedded_server(local_run, tiny_server, inputs, tmp_path, capsys):
    capsys.readouterr()
    remote = _run_batch(tmp_path / "remote", [inputs["a"], inputs["folder"] / "[bc].*", inputs["d"]],
                        ["--server", tiny_server.target, "--model", "tiny"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # the CLI's one JSON line
    assert (summary["rows_in"], summary["rows_out"], summary["rows_rejected"], summary["model"]) == \
        (591, 585, 6, "tiny:1")
    model = remote["manifest"]["model"]
    assert (model["source"], model["name"], model["version"], model["target"]) == \
        ("server", "tiny", 1, tiny_server.target)  # the version is pinned at launch
    for key in ("rows_in", "rows_out", "rows_rejected"):
        assert remote["manifest"][key] == local_run["manifest"][key]
    for index in range(4):
        assert_same_rows(_batch_rows(remote["out"], index), _batch_rows(local_run["out"], index))


def test_bad_arguments_are_one_line_errors(local_run, inputs, tiny_model_base, tmp_path, capsys):
    model = ["--saved-model", str(tiny_model_base / "tiny")]
    cases = [
        ([str(inputs["a"]), "-o", str(tmp_path / "x"), *model, "--beam-option", "runner"], "expected KEY=VALUE"),
        ([str(inputs["a"]), "-o", str(tmp_path / "x"), *model, "--beam-option", "no_such_option=1"],
         "not a Beam pipeline option"),
        ([str(inputs["a"]), "-o", str(local_run["out"]), *model], "already holds a batch run"),
        ([str(inputs["folder"] / "*.nothing"), "-o", str(tmp_path / "x"), *model], "no file matches"),
        ([str(inputs["a"]), "-o", str(tmp_path / "x"), "--server", "127.0.0.1:1"], "--server needs --model"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert cli_main(["batch", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    assert not (tmp_path / "x").exists() and os.path.exists(local_run["out"] / "manifest.json")


@pytest.mark.slow
def test_multi_process_direct_runner_gives_the_same_outputs(local_run, tiny_model_base, inputs, tmp_path):
    """Two worker processes (each loads the model): the same shards, rows and dead letters as the in-memory run."""
    out = tmp_path / "multi"
    assert cli_main(["batch", str(inputs["a"]), str(inputs["folder"] / "[bc].*"), str(inputs["d"]), "-o", str(out),
                     "--saved-model", str(tiny_model_base / "tiny"), *BATCH_OPTIONS,
                     "--beam-option", "direct_num_workers=2",
                     "--beam-option", "direct_running_mode=multi_processing"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["file"] for s in manifest["shards"]] == [s["file"] for s in local_run["manifest"]["shards"]]
    for index in range(4):
        assert_same_rows(_batch_rows(out, index), _batch_rows(local_run["out"], index))
    rejected = sorted(p.name for p in out.glob("rejected-*"))
    assert rejected == sorted(p.name for p in local_run["out"].glob("rejected-*"))
    for name in rejected:
        assert (out / name).read_text() == (local_run["out"] / name).read_text()


def test_shard_keeps_chunk_order_when_the_runner_delivers_chunks_out_of_order(tmp_path):
    """A runner may hand a shard's chunks over in any order: the shard file holds them in chunk order (rows in
    input order) and its dead letters in line order. The expected text is written out here, not computed."""
    import random

    from seq2exp.batch.pipeline import ChunkResult, Rejected, WriteShard

    chunks = [ChunkResult(0, index, f"s{2 * index}\t{index}.0\ns{2 * index + 1}\t{index}.5\n", 2, 3, 3 * index + 1,
                          3 * index + 3, [Rejected(0, 3 * index + 3, f"bad{index}", "letter 'X'", "ACXT")])
              for index in range(6)]
    delivered = chunks[:]
    random.Random(5).shuffle(delivered)
    assert [c.index for c in delivered] != list(range(6))
    writer = WriteShard(str(tmp_path), "dream", ["in.txt"])
    (entry,) = list(writer.process(((0, 0), delivered)))
    text = (tmp_path / entry["file"]).read_text()
    assert text == ("s0\t0.0\ns1\t0.5\ns2\t1.0\ns3\t1.5\ns4\t2.0\ns5\t2.5\n"
                    "s6\t3.0\ns7\t3.5\ns8\t4.0\ns9\t4.5\ns10\t5.0\ns11\t5.5\n")
    rejected = (tmp_path / entry["rejected_file"]).read_text().splitlines()[1:]
    assert [row.split("\t")[1] for row in rejected] == ["3", "6", "9", "12", "15", "18"]
    assert (entry["rows_in"], entry["rows_out"], entry["rows_rejected"]) == (18, 12, 6)


def test_dream_dead_letters_keep_the_sequence_as_fasta_ones_do(tmp_path):
    """A DREAM row the reader refuses becomes a dead letter with its sequence column (as a FASTA record's does)."""
    from seq2exp.batch.pipeline import ReadChunks

    path = tmp_path / "d.txt"
    path.write_text("ACGTACGT\t1.0\nACGZACGT\t2.0\nACGTTTTT\tnope\nAAAACCCC\t3.0\n")
    (chunk,) = list(ReadChunks(10).process((0, str(path))))
    assert chunk.sequences == ["ACGTACGT", "AAAACCCC"]
    assert [(r.line, r.sequence) for r in chunk.rejected] == [(2, "ACGZACGT"), (3, "ACGTTTTT")]
