"""Bad input to the newer stages -- explain, variants, design, batch, export, serve-config, data validate/verify.

Every case: exit code 2, one error line on stderr naming the flag or the file (argparse's own refusals print the
usage line before it), no traceback, and nothing written: no output folder, no partial file. Numbers are refused
while the command line is parsed (``seq2exp.argtypes``), inputs before any model is opened, so the corpus needs a
model only for the export cases (a tiny run, copied and damaged per case).
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.reliability.conftest import assert_one_line_error, run_cli

SEQUENCES = ["".join(letters) for letters in np.random.default_rng(2).choice(list("ACGT"), size=(6, 110))]
NO_MODEL = "no-such-run"  # never opened: the checks come first


def _file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _fasta(tmp: Path) -> Path:
    return _file(tmp, "seqs.fa", "".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQUENCES)))


def _explain(*extra, sequences: bool = True, out: str = "out") -> Callable[[Path], list]:
    return lambda t: ["explain", NO_MODEL, *(["--sequences", _fasta(t)] if sequences else []), "-o", t / out,
                      *[x(t) if callable(x) else x for x in extra]]


def _variants(table: str | bytes | Callable[[Path], Path], *extra, out: str = "out") -> Callable[[Path], list]:
    def build(t: Path) -> list:
        path = table(t) if callable(table) else _file(t, "v.tsv", table)
        return ["variants", NO_MODEL, "--variants", path, "-o", t / out, *extra]
    return build


def _design(*extra, out: str = "out") -> Callable[[Path], list]:
    return lambda t: ["design", NO_MODEL, "-o", t / out, *[x(t) if callable(x) else x for x in extra]]


def _serve_config(*extra) -> Callable[[Path], list]:
    return lambda t: ["serve-config", "--name", "m", "--container-base", "/models", "--out-dir", t / "serving",
                      *[x(t) if callable(x) else x for x in extra]]


SNV_HEADER = "name\tsequence\tposition\tref\talt\n"
S0 = SEQUENCES[0]


def _snv(position, ref, alt, extra: str = "") -> str:
    return SNV_HEADER + f"v0\t{S0}\t{position}\t{ref}\t{alt}{extra}\n"


# (id, stage, surface-class, argv builder, pattern of the error line)
CASES: list[tuple[str, str, str, Callable[[Path], list], str]] = []


def case(case_id: str, stage: str, klass: str, build: Callable[[Path], list], pattern: str) -> None:
    CASES.append((case_id, stage, klass, build, pattern))


# ---- numbers: refused while parsing, the same validators in every stage
NUMBER_FLAGS = {
    "explain": ["--n-backgrounds", "--top", "--concurrency", "--batch-size", "--steps", "--version"],
    "design": ["--generations", "--population", "--children", "--mutations", "--budget", "--concurrency",
               "--batch-size"],
}
for stage, flags in NUMBER_FLAGS.items():
    for flag in flags:
        for label, value in (("zero", "0"), ("negative", "-3"), ("float", "2.5"), ("word", "many"),
                             ("huge", "9" * 40)):
            builder = _explain(f"{flag}={value}") if stage == "explain" else _design("--random", "2",
                                                                                     f"{flag}={value}")
            case(f"{stage}{flag}-{label}", stage, "numbers", builder, rf"argument {flag}: must be an integer")
for flag in ("--window", "--plots", "--seed"):
    case(f"explain{flag}-negative", "explain", "numbers", _explain(f"{flag}=-1"), rf"argument {flag}: must be")
for label, value in (("letters", "a,b"), ("negative", "-2"), ("empty", ""), ("gap", "1,,2"), ("float", "1.5")):
    case(f"explain-spacings-{label}", "explain", "numbers", _explain(f"--spacings={value}", sequences=False),
         r"argument --spacings:")
for label, value in (("nan", "nan"), ("inf", "inf"), ("minus-inf", "-inf"), ("word", "high")):
    case(f"design-target-{label}", "design", "numbers",
         _design("--random", "2", "--objective", "target", f"--target={value}"), r"argument --target: must be a "
                                                                                  "finite number")
case("design-random-negative", "design", "numbers", _design("--random=-2"), r"argument --random: must be")
case("design-random-0-no-seeds", "design", "inputs", _design("--random", "0"), r"give --seeds FILE or --random N")
case("design-target-without-value", "design", "inputs", _design("--random", "2", "--objective", "target"),
     r"--objective target needs --target")
case("design-target-with-maximize", "design", "inputs", _design("--random", "2", "--target", "3"),
     r"--target is used with --objective target")
case("design-seeds-missing", "design", "inputs", _design("--seeds", lambda t: t / "none.fa"), r"none\.fa")
case("design-seeds-and-random", "design", "inputs", _design("--seeds", _fasta, "--random", "2"), r"one of them")
for label, value in (("empty", ""), ("blank", "  ")):  # --task: a task name (which task is checked by the model)
    case(f"explain-task-{label}", "explain", "inputs", _explain("--task", value), r"argument --task: expected a task")
    case(f"variants-task-{label}", "variants", "inputs", _variants(_snv(3, S0[3], "A"), "--task", value),
         r"argument --task: expected a task name")
    case(f"design-task-{label}", "design", "inputs", _design("--random", "2", "--task", value),
         r"argument --task: expected a task name")

for flag, value in (("--n-train", "0"), ("--n-test", "-5"), ("--seed", "-1"), ("--workers", "0"),
                    ("--n-train", "lots")):
    case(f"simulate{flag}-{value}", "simulate", "numbers", lambda t, f=flag, v=value: [
        "simulate", "--out", t / "sim", f"{f}={v}"], rf"argument {flag}: must be an integer")
for flag, value in (("--epochs", "0"), ("--batch-size", "-1"), ("--port", "70000"), ("--bootstrap", "-1"),
                    ("--width", "0"), ("--width", "nan"), ("--n-train", "1.5")):
    case(f"run{flag}-{value}", "run", "numbers", lambda t, f=flag, v=value: [
        "run", "--workdir", t / "job", f"{f}={v}"], rf"argument {flag}: must be")

# ---- explain: inputs before the model and before -o
case("explain-window-over-length", "explain", "inputs", _explain("--window", "500"),
     r"--window 500 must be between 1 and \d+")
case("explain-no-sequences", "explain", "inputs", _explain(sequences=False), r"--sequences FILE is required")
case("explain-sequences-missing", "explain", "inputs",
     lambda t: ["explain", NO_MODEL, "--sequences", t / "none.fa", "-o", t / "out"], r"none\.fa")
case("explain-sequences-bad-letter", "explain", "inputs",
     lambda t: ["explain", NO_MODEL, "--sequences", _file(t, "bad.fa", ">a\nACGTXACGT\n"), "-o", t / "out"],
     r"bad\.fa.*letter 'X'")
case("explain-sequences-unequal", "explain", "inputs",  # ISM takes mixed lengths; the gradient maps do not
     lambda t: ["explain", NO_MODEL, "--sequences", _file(t, "u.fa", ">a\nACGTACGT\n>b\nACG\n"), "--method",
                "saliency", "-o", t / "out"], r"u\.fa")
case("explain-given-backgrounds-without-sequences", "explain", "inputs",
     _explain("--motif", "TGACTCA", "--backgrounds", "given", sequences=False), r"needs sequences")
case("explain-unknown-backgrounds", "explain", "inputs",
     _explain("--motif", "TGACTCA", "--backgrounds", "planet", sequences=False), r"background kind 'planet'")
case("explain-output-is-a-file", "explain", "output", lambda t: _explain(out="f")(t) if _file(t, "f", "x") else [],
     r"-o .*f is a file")
case("explain-output-under-a-file", "explain", "output",
     lambda t: _explain(out="f/sub")(t) if _file(t, "f", "x") else [], r"f is a file")

# ---- variants: the table is read and checked before the model
for label, table, pattern in (
        ("extra-field", _snv(3, S0[3], "A", "\tsurplus"), r"v\.tsv, line 2: 6 fields but the header has 5"),
        ("missing-field", SNV_HEADER + f"v0\t{S0}\t3\t{S0[3]}\n", r"line 2: 4 fields but the header has 5"),
        ("alt-three-letters", _snv(3, S0[3], "ACG"), r"line 2, field 'alt': an SNV's ref and alt are one letter"),
        ("ref-two-letters", _snv(3, S0[3:5], "A"), r"line 2, field 'ref': an SNV's ref and alt"),
        ("empty-alt", _snv(3, S0[3], ""), r"line 2, field 'alt': empty alt"),
        ("position-word", _snv("x", S0[3], "A"), r"field 'position': not a number"),
        ("position-negative", _snv(-1, S0[3], "A"), r"line 2, field 'position': position -1 outside"),
        ("position-beyond", _snv(10_000, "A", "C"), r"position 10000 outside"),
        ("ref-mismatch", _snv(3, "N" if S0[3] != "N" else "A", "A"), r"line 2, field 'ref': ref .* does not match"),
        ("ref-mismatch-second-row",  # the file's line, not the row's index
         _snv(3, S0[3], "A") + f"v1\t{S0}\t3\t{'N' if S0[3] != 'N' else 'A'}\tA\n",
         r"line 3, field 'ref': ref .* does not match"),
        ("blank-line-inside",  # blank lines only at the end, as in every table seq2exp reads
         _snv(3, S0[3], "A") + f"\nv1\t{S0}\t3\t{S0[3]}\tA\n", r"v\.tsv, line 3: empty line"),
        ("alt-not-dna", _snv(3, S0[3], "Z"), r"line 2, field 'alt': alt 'Z' is not DNA"),
        ("delta-nan", "ref\talt\tdelta\nACGT\tACGA\tnan\n", r"field 'delta': not a finite number"),
        ("delta-inf", "ref\talt\tdelta\nACGT\tACGA\tinf\n", r"field 'delta': not a finite number"),
        ("delta-word", "ref\talt\tdelta\nACGT\tACGA\tbig\n", r"field 'delta': not a number"),
        ("value-nan", "ref\talt\tref_value\talt_value\nACGT\tACGA\t1\tnan\n", r"field 'alt_value'"),
        ("no-columns", "a\tb\n1\t2\n", r"needs columns ref, alt"),
        ("header-only", SNV_HEADER, r"v\.tsv, line 2: no rows"),
        ("empty", "", r"v\.tsv"),
        ("repeated-column", "ref\talt\tref\nA\tC\tG\n", r"repeated"),
        ("utf16", (SNV_HEADER + f"v0\t{S0}\t3\t{S0[3]}\tA\n").encode("utf-16"), r"UTF-16"),
        ("binary", bytes(range(256)) * 4, r"v\.tsv"),
        ("quote-unclosed", 'ref\talt\n"ACGT\tACGA\n', r"v\.tsv, line 2, field 'ref': letter '\"' at position 1"),
        ("ref-sequence-not-dna", "ref\talt\nACGT\tACGA\nACGT\tACZA\n", r"line 3, field 'alt': letter 'Z' at position 3"),
        ("snv-sequence-not-dna", SNV_HEADER + f"v0\t{S0[:50]}X{S0[51:]}\t3\t{S0[3]}\tA\n",
         r"line 2, field 'sequence': letter 'X' at position 51")):
    case(f"variants-{label}", "variants", "variant-table", _variants(table), pattern)
case("variants-gz-not-gzip", "variants", "variant-table",
     _variants(lambda t: _file(t, "v.tsv.gz", _snv(3, S0[3], "A"))), r"not a gzip file")
case("variants-gz-truncated", "variants", "variant-table",
     _variants(lambda t: _file(t, "v.tsv.gz", gzip.compress(_snv(3, S0[3], "A").encode() * 50)[:40])), r"gzip")
case("variants-missing", "variants", "variant-table", _variants(lambda t: t / "none.tsv"), r"none\.tsv")
case("variants-output-under-a-file", "variants", "output",
     lambda t: _variants(_snv(3, S0[3], "A"), out="f/sub")(t) if _file(t, "f", "x") else [], r"f is a file")
case("variants-concurrency-0", "variants", "numbers", _variants(_snv(3, S0[3], "A"), "--concurrency", "0"),
     r"argument --concurrency: must be an integer >= 1")

# ---- serve-config: versions, labels, batching, --serving-version, all before a file is written
for label, extra, pattern in (
        ("versions-0", ["--policy", "specific", "--versions", "0"], r"argument --versions: .*between 1 and"),
        ("versions-negative", ["--policy", "specific", "--versions=-1"], r"argument --versions"),
        ("versions-int64-overflow", ["--policy", "specific", "--versions", str(2**63)], r"argument --versions"),
        ("versions-repeated", ["--policy", "specific", "--versions", "1,2,1"], r"1 is given twice"),
        ("versions-word", ["--policy", "specific", "--versions", "one"], r"argument --versions"),
        ("versions-empty", ["--policy", "specific", "--versions", ""], r"argument --versions"),
        ("versions-gap", ["--policy", "specific", "--versions", "1,,2"], r"argument --versions"),
        ("versions-with-latest", ["--versions", "1"], r"--versions goes with --policy specific"),
        ("specific-without-versions", ["--policy", "specific"], r"--policy specific needs --versions"),
        ("label-version-0", ["--label", "stable=0"], r"argument --label: .*version must be an integer between"),
        ("label-version-word", ["--label", "stable=x"], r"argument --label"),
        ("label-version-huge", ["--label", f"stable={2**64}"], r"argument --label"),
        ("label-digit-name", ["--label", "1abc=1"], r"argument --label: expected LABEL=VERSION"),
        ("label-empty-name", ["--label", "=1"], r"argument --label"),
        ("label-space-name", ["--label", "my label=1"], r"argument --label"),
        ("label-twice", ["--label", "stable=1", "--label", "stable=2"], r"--label stable is given twice"),
        ("label-unserved-version", ["--policy", "specific", "--versions", "1,2", "--label", "canary=3"],
         r"--label canary=3: version 3 is not served \(--policy specific --versions 1,2\)"),
        ("num-versions-0", ["--num-versions", "0"], r"argument --num-versions"),
        ("max-batch-size-0", ["--max-batch-size", "0"], r"argument --max-batch-size"),
        ("max-batch-size-negative", ["--max-batch-size=-8"], r"argument --max-batch-size"),
        ("max-batch-size-huge", ["--max-batch-size", str(2**64)], r"argument --max-batch-size"),
        ("num-batch-threads-0", ["--num-batch-threads", "0"], r"argument --num-batch-threads"),
        ("max-enqueued-0", ["--max-enqueued-batches", "0"], r"argument --max-enqueued-batches"),
        ("timeout-negative", ["--batch-timeout-micros=-1"], r"argument --batch-timeout-micros"),
        ("serving-version-word", ["--serving-version", "latest"], r"argument --serving-version"),
        ("serving-version-empty", ["--serving-version", ""], r"argument --serving-version"),
        ("serving-version-partial", ["--serving-version", "2.x"], r"argument --serving-version"),
        ("serving-version-one-part", ["--serving-version", "2"], r"argument --serving-version")):
    case(f"serve-config-{label}", "serve-config", "serve-config", _serve_config(*extra), pattern)


def _exported(t: Path, versions: tuple[int, ...] = (1, 2, 3)) -> Path:
    """``t/models/dream/<version>/saved_model.pb`` (empty: serve-config reads only the folder names)."""
    for version in versions:
        (t / "models" / "dream" / str(version)).mkdir(parents=True)
        _file(t / "models" / "dream" / str(version), "saved_model.pb", b"")
    return t / "models"


# labels are checked against the versions the policy serves of the exported ones, when --model-base-path has them
for label, extra, pattern in (
        ("label-unserved-by-latest", ["--label", "stable=1"],
         r"--label stable=1: version 1 is not served \(model dream: --policy latest --num-versions 1 serves 3 "
         r"of 1, 2, 3 under .*models/dream\)"),
        ("label-no-such-version", ["--label", "stable=7"], r"--label stable=7: version 7 is not served"),
        ("label-all-no-such-version", ["--policy", "all", "--label", "stable=7"],
         r"--label stable=7: version 7 is not served \(model dream: --policy all serves 3, 2, 1 of"),
        ("label-specific-not-exported", ["--policy", "specific", "--versions", "1,4", "--label", "canary=4"],
         r"--label canary=4: version 4 is not served \(model dream: --policy specific --versions 1,4 serves 1 of")):
    case(f"serve-config-{label}", "serve-config", "serve-config",
         (lambda extra: lambda t: ["serve-config", "--model-base-path", _exported(t), "--out-dir", t / "serving",
                                   *extra])(extra), pattern)
case("serve-config-out-dir-is-a-file", "serve-config", "output",
     lambda t: _serve_config()(t)[:-1] + [_file(t, "serving", "x")] if True else [], r"--out-dir .* is a file")


# ---- data validate (leaderboard ids, plasmid) and data verify (checksums.json)
def _leaderboard(content: str | bytes) -> Callable[[Path], list]:
    def build(t: Path) -> list:
        folder = t / "ids"
        folder.mkdir()
        _file(folder, "high_exp_indices.json", content)
        return ["data", "validate", "--format", "leaderboard", folder]
    return build


def _plasmid(content: str | bytes) -> Callable[[Path], list]:
    return lambda t: ["data", "validate", "--format", "plasmid", _file(t, "plasmid.json", content)]


def _verify(records: object | str | bytes, setup: Callable[[Path], None] | None = None) -> Callable[[Path], list]:
    def build(t: Path) -> list:
        folder = t / "d"
        folder.mkdir()
        text = records if isinstance(records, (str, bytes)) else json.dumps(records)
        _file(folder, "checksums.json", text)
        if setup is not None:
            setup(folder)
        return ["data", "verify", folder]
    return build


HEX = "0" * 64
for label, content, pattern in (
        ("deep-list", "[" * 100_000 + "]" * 100_000, r"nested too deeply"),
        ("deep-object", '{"a":' * 5000 + "1" + "}" * 5000, r"nested too deeply"),
        ("top-list", "[1, 2]", r"expected a JSON object, found a JSON list"),
        ("top-string", '"x"', r"expected a JSON object"),
        ("invalid", '{"1": ', r"not valid JSON"),
        ("huge-int-value", '{"1": ' + "9" * 5000 + "}", r"a number JSON cannot hold"),
        ("key-huge-index", '{"' + "9" * 5000 + '": 1}', r"is not a non-negative integer index"),
        ("key-word", '{"abc": 1}', r"high_exp_indices\.json"),
        ("binary", bytes(range(256)), r"high_exp_indices\.json"),
        ("utf16", '{"1": 1}'.encode("utf-16"), r"high_exp_indices\.json")):
    case(f"data-leaderboard-{label}", "data", "data-validate", _leaderboard(content), pattern)
for label, content, pattern in (
        ("deep", "[" * 100_000 + "]" * 100_000, r"plasmid\.json: JSON nested too deeply"),
        ("number", "3", r"expected one JSON string, found a JSON integer"),
        ("huge-int", "9" * 5000, r"a number JSON cannot hold"),
        ("object", '{"seq": "ACGT"}', r"found a JSON object"),
        ("null", "null", r"found null"),
        ("no-insert", '"ACGTACGT"', r"no run of 80 N"),
        ("bad-letter", '"ACGXN"', r"letter 'X'"),
        ("invalid", '"ACGT', r"not valid JSON"),
        ("binary", b"\xff\xfe\x00\x01", r"plasmid\.json: not UTF-8")):
    case(f"data-plasmid-{label}", "data", "data-validate", _plasmid(content), pattern)
case("data-validate-max-length-0", "data", "numbers",
     lambda t: ["data", "validate", "--max-length", "0", _fasta(t)], r"argument --max-length: must be an integer >= 1")


def _link(name: str, target: str) -> Callable[[Path], None]:
    return lambda folder: os.symlink(target, folder / name)


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe")


for label, records, setup, pattern in (
        ("absolute-path", {"/etc/hostname": {"sha256": HEX}}, None, r"'/etc/hostname' is not a file name inside"),
        ("dotdot", {"../outside.txt": {"sha256": HEX}}, None, r"'\.\./outside\.txt' is not a file name inside"),
        ("dotdot-inner", {"a/../../x": {"sha256": HEX}}, None, r"is not a file name inside"),
        ("home", {"~/x": {"sha256": HEX}}, None, r"is not a file name inside"),
        ("empty-name", {"": {"sha256": HEX}}, None, r"is not a file name inside"),
        ("symlink-dev-zero", {"zero.bin": {"sha256": HEX}}, _link("zero.bin", "/dev/zero"), r"outside|not a regular"),
        ("symlink-out", {"x.txt": {"sha256": HEX}}, _link("x.txt", "/etc/hostname"), r"resolves to .* outside"),
        ("fifo", {"pipe": {"sha256": HEX}}, _fifo, r"'pipe' is not a regular file"),
        ("folder", {"sub": {"sha256": HEX}}, lambda f: (f / "sub").mkdir(), r"'sub' is not a regular file"),
        ("deep", "[" * 100_000 + "]" * 100_000, None, r"checksums\.json: JSON nested too deeply"),
        ("top-list", [1, 2], None, r"checksums\.json: expected a JSON object"),
        ("entry-string", {"a.txt": "abc"}, None, r"entry 'a\.txt' must be an object"),
        ("sha-number", {"a.txt": {"sha256": 5}}, None, r"'sha256' must be 64 hex digits"),
        ("sha-short", {"a.txt": {"sha256": "abc"}}, None, r"'sha256' must be 64 hex digits"),
        ("size-huge", {"a.txt": {"sha256": HEX, "size": 10**30}}, None, r"'size' must be a byte count"),
        ("size-negative", {"a.txt": {"sha256": HEX, "size": -1}}, None, r"'size' must be a byte count"),
        ("size-float", {"a.txt": {"sha256": HEX, "size": 1.5}}, None, r"'size' must be a byte count"),
        ("huge-int-literal", '{"a.txt": {"size": ' + "9" * 5000 + "}}", None, r"a number JSON cannot hold"),
        ("invalid", '{"a.txt": ', None, r"checksums\.json.*not valid JSON"),
        ("binary", bytes(range(256)), None, r"checksums\.json: not UTF-8")):
    case(f"data-verify-{label}", "data", "data-verify", _verify(records, setup), pattern)
case("data-verify-user-name-dotdot", "data", "data-verify",
     lambda t: _verify({})(t) + ["--sha256", f"../x={HEX}"], r"'\.\./x' is not a file name inside")


# ---- batch: output, runner and Beam options refused before the pipeline runs or a folder is made
def _batch(*extra, out: str | Callable[[Path], Path] = "out") -> Callable[[Path], list]:
    def build(t: Path) -> list:
        output = out(t) if callable(out) else t / out
        return ["batch", _fasta(t), "-o", output, "--saved-model", t / "MODEL", *extra]
    return build


# ---- export: damaged run folders (one JSON reader; the .keras archive checked before Keras reads it)
def _export(damage: Callable[[Path], None], ensemble: bool = False) -> Callable[[Path], list]:
    def build(t: Path) -> list:
        runs = []
        for i in range(2 if ensemble else 1):
            run = t / f"run{i}"
            shutil.copytree(TINY_RUN[0], run)
            runs.append(run)
        damage(runs[-1])
        return ["export", *runs, "--model-base-path", t / "M", "--name", "m"]
    return build


TINY_RUN: list[Path] = []


def _truncate(run: Path) -> None:
    data = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(data[: len(data) // 2])


def _corrupt_member(run: Path) -> None:
    data = bytearray((run / "model.keras").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    (run / "model.keras").write_bytes(bytes(data))


for label, damage, pattern in (
        ("run-json-invalid", lambda r: (r / "run.json").write_text("{"), r"run\.json.*not valid JSON"),
        ("run-json-deep", lambda r: (r / "run.json").write_text("[" * 100_000 + "]" * 100_000), r"nested too deeply"),
        ("run-json-list", lambda r: (r / "run.json").write_text("[]"), r"run\.json: expected a JSON object"),
        ("run-json-no-encoding", lambda r: (r / "run.json").write_text('{"encoding": 3}'), r"not a run record"),
        ("run-json-binary", lambda r: (r / "run.json").write_bytes(bytes(range(256))), r"run\.json: not UTF-8"),
        ("model-truncated", _truncate, r"model\.keras: not a readable Keras model file"),
        ("model-corrupt-member", _corrupt_member, r"model\.keras: not a readable Keras model file"),
        ("model-not-zip", lambda r: (r / "model.keras").write_text("hello"), r"model\.keras: not a readable"),
        ("model-empty", lambda r: (r / "model.keras").write_bytes(b""), r"model\.keras: not a readable")):
    case(f"export-{label}", "export", "export", _export(damage), pattern)
    if label in ("run-json-invalid", "model-truncated"):
        case(f"export-ensemble-{label}", "export", "export", _export(damage, ensemble=True), pattern)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.serving.conftest import make_tiny_run

    TINY_RUN[:] = [make_tiny_run(tmp_path_factory.mktemp("tiny") / "run", seed=4)]
    return TINY_RUN[0]


@pytest.mark.parametrize("case_id, stage, klass, build, pattern", CASES, ids=[c[0] for c in CASES])
def test_stage_bad_input(case_id, stage, klass, build, pattern, tmp_path, capsys, request):
    if stage == "export":
        request.getfixturevalue("tiny_run")
    work = tmp_path / "work"
    work.mkdir()
    argv = build(work)
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = run_cli(argv, capsys)
    assert_one_line_error(result, stage, pattern)
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == created, f"{case_id} wrote {sorted(set(after) - set(created))}"


BATCH_CASES = [
    ("batch-output-is-a-file", lambda t: _batch(out=lambda t: _file(t, "o", "x"))(t), r"-o .*o is a file"),
    ("batch-output-under-a-file", lambda t: _batch(out=lambda t: _file(t, "o", "x") / "sub")(t), r"o is a file"),
    ("batch-unknown-runner", _batch("--beam-option", "runner=NoSuchRunner"), r"runner=NoSuchRunner: Unexpected"),
    ("batch-bad-option-value", _batch("--beam-option", "direct_num_workers=many"),
     r"--beam-option: argument --direct_num_workers: invalid int value: 'many'"),
    ("batch-unknown-option", _batch("--beam-option", "no_such_option=1"), r"not a Beam pipeline option"),
    ("batch-option-no-equals", _batch("--beam-option", "runner"), r"expected KEY=VALUE"),
    ("batch-batch-size-0", _batch("--batch-size", "0"), r"argument --batch-size: must be an integer >= 1"),
    ("batch-missing-input", lambda t: ["batch", t / "none.fa", "-o", t / "out", "--saved-model", t / "MODEL"],
     r"none\.fa"),
]


@pytest.mark.parametrize("case_id, build, pattern", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_batch_bad_input(case_id, build, pattern, tiny_export, tmp_path, capsys):
    pytest.importorskip("apache_beam")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(tiny_export / "tiny" / "1", work / "MODEL")
    argv = build(work)
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = run_cli(argv, capsys)
    assert_one_line_error(result, "batch", pattern)
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == created, f"{case_id} wrote {sorted(set(after) - set(created))}"


def test_corpus_size():
    counts: dict[str, int] = {}
    for _id, _stage, klass, *_ in CASES:
        counts[klass] = counts.get(klass, 0) + 1
    counts["batch"] = len(BATCH_CASES)
    print("stage corpus:", json.dumps(counts), "total", sum(counts.values()))
    assert sum(counts.values()) >= 200


def test_failure_after_the_model_is_opened_leaves_no_output(tiny_run, tmp_path, capsys):
    """Motif effects are written, then the pair's spacings do not fit the backgrounds: the stage fails with one
    line and -o does not exist (the files were staged, never moved)."""
    out = tmp_path / "out"
    result = run_cli(["explain", tiny_run, "-o", out, "--motif", "TGACTCA", "--n-backgrounds", "2",
                      "--pair", "TGACTCA", "TTTTTT", "--spacings", "0,5000"], capsys)
    assert_one_line_error(result, "explain", r"motif pair: .*do not fit")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
