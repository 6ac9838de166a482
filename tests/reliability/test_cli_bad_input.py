"""CLI bad input: every case is one line on stderr, exit 2, no traceback, and nothing written.

The cases are generated files and flags a careless or hostile user gives ``seq2exp score``, ``predict``,
``export``, ``serve`` and ``train``; the valid-but-unusual ones (UTF-8 BOM, gzip, CRLF, lower case) are accepted
in ``test_one_reader.py``. Stages that would load a model are stopped by the input checks first, so the corpus
needs no model and no server.
"""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Callable

import pytest

from tests.reliability.conftest import assert_one_line_error, dream_text, random_promoters, run_cli, truncated_gzip

SEQUENCES = random_promoters(20, seed=1)
TRUTH_TEXT = dream_text(SEQUENCES)
UNREACHABLE_SERVER = ["--server", "127.0.0.1:9", "--model", "m"]  # never contacted: the checks come first


def _truth(tmp: Path) -> Path:
    path = tmp / "truth.txt"
    path.write_text(TRUTH_TEXT)
    return path


def _file(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _score(predictions: Callable[[Path], Path], *extra: str) -> Callable[[Path], list]:
    return lambda tmp: ["score", "--predictions", predictions(tmp), "--truth", _truth(tmp), *extra]


def _predict(input_file: Callable[[Path], Path], *extra: str, output: str = "pred.txt") -> Callable[[Path], list]:
    return lambda tmp: ["predict", input_file(tmp), "-o", tmp / output, *UNREACHABLE_SERVER, *extra]


def _good_input(tmp: Path) -> Path:
    return _file(tmp, "in.txt", "\n".join(SEQUENCES) + "\n")


def _deep_json(depth: int) -> str:
    return '{"0": ' + "[" * depth + "]" * depth + "}"


def _utf16(text: str) -> bytes:
    return text.encode("utf-16")  # with its byte-order mark, as Windows editors save "Unicode"


def _subsets_utf16(tmp: Path) -> Path:
    folder = tmp / "subsets"
    folder.mkdir()
    _file(folder, "high_exp_seqs.csv", _utf16("pos\n1\n"))
    return folder


def _out_is_file(tmp: Path) -> Path:
    return _file(tmp, "report", "I am a file")


# (id, stage, argv builder, pattern of the one error line)
CASES: list[tuple[str, str, Callable[[Path], list], str]] = [
    # ---- seq2exp score: predictions and truth files
    ("score-json-index-1e12", "score", _score(lambda t: _file(t, "p.json", '{"1000000000000": 1.5}')),
     r"p\.json.*test index 1000000000000 is beyond any test set"),
    ("score-json-nested-100000", "score", _score(lambda t: _file(t, "p.json", _deep_json(100_000))),
     r"p\.json: JSON nested too deeply"),
    ("score-json-empty-object", "score", _score(lambda t: _file(t, "p.json", "{}")), r"p\.json: no values"),
    ("score-json-array-not-object", "score", _score(lambda t: _file(t, "p.json", "[1, 2]")),
     r"expected a JSON object"),
    ("score-json-invalid", "score", _score(lambda t: _file(t, "p.json", '{"0": 1,')),
     r"p\.json, line 1: not valid JSON"),
    ("score-json-negative-index", "score", _score(lambda t: _file(t, "p.json", '{"-3": 1}')),
     r"negative test index -3"),
    ("score-json-duplicate-index", "score", _score(lambda t: _file(t, "p.json", '{"1": 1, "01": 2}')),
     r"duplicated test index 1"),
    ("score-json-not-a-number", "score", _score(lambda t: _file(t, "p.json", '{"1": "x"}')),
     r"value 'x' is not a number"),
    ("score-json-utf16", "score", _score(lambda t: _file(t, "p.json", _utf16('{"0": 1.0}'))),
     r"p\.json: UTF-16/UTF-32 text"),
    ("score-dream-utf16", "score", _score(lambda t: _file(t, "p.txt", _utf16(TRUTH_TEXT))),
     r"p\.txt: UTF-16/UTF-32 text"),
    ("score-dream-utf16-no-bom", "score", _score(lambda t: _file(t, "p.txt", TRUTH_TEXT.encode("utf-16-le"))),
     r"p\.txt: NUL bytes near the start"),
    ("score-truth-utf16", "score", lambda t: ["score", "--predictions", _truth(t), "--truth",
                                              _file(t, "t16.txt", _utf16(TRUTH_TEXT))], r"t16\.txt: UTF-16"),
    ("score-gz-not-gzip", "score", _score(lambda t: _file(t, "p.txt.gz", TRUTH_TEXT)), r"p\.txt\.gz: not a gzip file"),
    ("score-gz-truncated", "score", _score(lambda t: truncated_gzip(t / "p.txt.gz", TRUTH_TEXT)),
     r"p\.txt\.gz: corrupt or truncated gzip file"),
    ("score-fasta-as-predictions", "score",
     _score(lambda t: _file(t, "p.fa", "".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQUENCES)))),
     r"p\.fa, line 1: a FASTA file"),
    ("score-fasta-without-first-header", "score",
     _score(lambda t: _file(t, "p.txt", SEQUENCES[0] + "\n" + SEQUENCES[1] + "\n>s2\n" + SEQUENCES[2] + "\n")),
     r"p\.txt, line 3, field 'sequence': a FASTA header in a DREAM file"),
    ("score-dream-no-values", "score", _score(lambda t: _file(t, "p.txt", "\n".join(SEQUENCES) + "\n")),
     r"p\.txt: no values"),
    ("score-dream-50MB-row", "score", _score(lambda t: _file(t, "p.txt", "A" * 50_000_000 + "\t1.0\n")),
     r"p\.txt, line 1, field 'sequence': line longer than \d+ bytes"),
    ("score-dream-header-line", "score", _score(lambda t: _file(t, "p.txt", "name\tvalue\n" + TRUTH_TEXT)),
     r"line 1.*no header line"),  # a header naming a sequence column makes a table, which score reads
    ("score-dream-blank-line-inside", "score",
     _score(lambda t: _file(t, "p.txt", dream_text(SEQUENCES[:3]) + "\n" + dream_text(SEQUENCES[3:]))),
     r"p\.txt, line 4, field 'sequence': empty line"),
    ("score-dream-bad-value", "score", _score(lambda t: _file(t, "p.txt", SEQUENCES[0] + "\tfast\n")),
     r"line 1, field 'expression': expression 'fast' is not a finite number"),
    ("score-dream-binary", "score", _score(lambda t: _file(t, "p.bin", bytes(range(256)) * 8)), r"p\.bin: NUL bytes"),
    ("score-predictions-missing", "score", _score(lambda t: t / "missing.txt"), r"missing\.txt: file not found"),
    ("score-predictions-folder-without-json", "score", _score(lambda t: t), r"folder holds no \*\.json value files"),
    ("score-rows-differ-from-truth", "score", _score(lambda t: _file(t, "p.txt", dream_text(SEQUENCES[:5]))),
     r"5 rows but the truth .* has 20"),
    ("score-output-is-a-file", "score", lambda t: _score(_truth, "-o", _out_is_file(t))(t),
     r"-o .*report is a file; -o names a report folder"),
    ("score-output-under-a-file", "score", lambda t: _score(_truth, "-o", _out_is_file(t) / "sub")(t),
     r"report is a file"),
    ("score-bootstrap-fraction-0", "score", _score(_truth, "--bootstrap-fraction", "0"), r"--bootstrap-fraction"),
    ("score-ensemble-folds-1", "score", _score(_truth, "--ensemble-folds", "1"), r"argument --ensemble-folds: must be an integer >= 2"),
    # ---- seq2exp predict: flags, output path and input, all before any model or server is touched
    ("predict-batch-size-0", "predict", _predict(_good_input, "--batch-size", "0"), r"argument --batch-size: must be an integer >= 1"),
    ("predict-chunk-rows-0", "predict", _predict(_good_input, "--chunk-rows", "0"), r"argument --chunk-rows: must be an integer >= 1"),
    ("predict-concurrency-0", "predict", _predict(_good_input, "--concurrency", "0"), r"argument --concurrency: must be an integer >= 1"),
    ("predict-version-0", "predict", _predict(_good_input, "--version", "0"), r"argument --version: must be an integer between 1 and"),
    ("predict-output-missing-folder", "predict", _predict(_good_input, output="no/such/dir/pred.txt"),
     r"the folder .*no/such/dir does not exist"),
    ("predict-output-is-a-folder", "predict", _predict(_good_input, output="."), r"is a folder"),
    ("predict-output-under-a-file", "predict", lambda t: _predict(_good_input, output="in.txt/pred.txt")(t),
     r"in\.txt is a file"),
    ("predict-empty-input", "predict", _predict(lambda t: _file(t, "empty.txt", "")),
     r"empty\.txt, line 1: empty file"),
    ("predict-blank-input", "predict", _predict(lambda t: _file(t, "blank.txt", "\n \n\r\n")), r"empty file"),
    ("predict-empty-fasta", "predict", _predict(lambda t: _file(t, "e.fa", ">\n")),
     r"e\.fa, line 1: header without a name"),
    ("predict-empty-gzip", "predict", _predict(lambda t: _file(t, "e.txt.gz", gzip.compress(b""))), r"empty file"),
    ("predict-missing-input", "predict", _predict(lambda t: t / "nope.fa"), r"nope\.fa: file not found"),
    ("predict-input-is-folder", "predict", _predict(lambda t: t), r"is a folder, expected a file"),
    ("predict-utf16-input", "predict", _predict(lambda t: _file(t, "u.txt", _utf16("\n".join(SEQUENCES)))),
     r"u\.txt: UTF-16"),
    ("predict-gz-not-gzip", "predict", _predict(lambda t: _file(t, "in.fa.gz", ">a\nACGT\n")), r"not a gzip file"),
    ("predict-50MB-row", "predict", _predict(lambda t: _file(t, "long.txt", "A" * 50_000_000 + "\n")),
     r"long\.txt, line 1, field 'sequence': line longer than"),
    ("predict-50MB-fasta-line", "predict", _predict(lambda t: _file(t, "long.fa", ">a\n" + "C" * 50_000_000 + "\n")),
     r"long\.fa, line 2: line longer than"),
    ("predict-fasta-header-missing", "predict",
     _predict(lambda t: _file(t, "nh.txt", "ACGT\nACGT\n>b\nACGT\n")), r"a FASTA header in a DREAM"),
    ("predict-tsv-header-only", "predict", _predict(lambda t: _file(t, "h.tsv", "id\tsequence\n")), r"empty file"),
    ("predict-tsv-short-row", "predict", _predict(lambda t: _file(t, "h.tsv", "id\tsequence\nx\n")),
     r"h\.tsv, line 2, field 'sequence': expected a sequence in column 2"),
    ("predict-bad-letter-first-row", "predict", _predict(lambda t: _file(t, "z.txt", "ACGZ\n")),
     r"z\.txt, line 1, field 'sequence': letter 'Z'"),
    # ---- seq2exp export: the model name is one folder under the base path
    *[(f"export-name-{label}", "export", (lambda name: lambda t: ["export", t / "run", "--model-base-path", t / "M",
                                                                   f"--name={name}"])(name), r"model name")
      for label, name in (("dotdot", ".."), ("dot", "."), ("slash", "a/b"), ("empty", ""), ("hidden", ".x"),
                          ("dash", "-rf"), ("space", "my model"), ("backslash", "a\\b"), ("long", "m" * 300))],
    ("export-version-0", "export", lambda t: ["export", t / "run", "--model-base-path", t / "M", "--name", "m",
                                              "--version", "0"], r"argument --version: must be an integer between 1 and"),
    ("export-version-beyond-int64", "export", lambda t: ["export", t / "run", "--model-base-path", t / "M", "--name",
                                                         "m", "--version", str(2**63)], r"argument --version: must be an integer between"),
    # ---- seq2exp serve: flags refused at start-up, before any model is loaded
    *[(f"serve-{label}", "serve", (lambda extra: lambda t: ["serve", "--model-base-path", t, *extra])(extra), pattern)
      for label, extra, pattern in (
          ("port-70000", ["--port", "70000"], r"argument --port: must be an integer between 0 and 65535"),
          ("port-negative", ["--port=-1"], r"argument --port: must be an integer between"),
          ("message-cap-negative", ["--max-message-mib=-1"], r"argument --max-message-mib: must be a finite number > 0"),
          ("message-cap-zero", ["--max-message-mib", "0"], r"--max-message-mib"),
          ("message-cap-huge", ["--max-message-mib", "4096"], r"--max-message-mib"),
          ("poll-negative", ["--poll-seconds=-1"], r"argument --poll-seconds: must be a finite number >= 0"),
          ("poll-nan", ["--poll-seconds", "nan"], r"--poll-seconds"),
          ("grace-negative", ["--grace-seconds=-0.5"], r"argument --grace-seconds: must be a finite number >= 0"),
          ("rows-cap-zero", ["--max-request-rows", "0"], r"argument --max-request-rows: must be an integer >= 1"),
          ("rest-timeout-zero", ["--rest-timeout-seconds", "0"],
           r"argument --rest-timeout-seconds: must be a finite number > 0"))],
    ("serve-binary-model-config", "serve",
     lambda t: ["serve", "--model-config-file", _file(t, "models.config", bytes(range(256)))],
     r"models\.config: not a TF Serving model config \(not UTF-8 text\)"),
    ("serve-garbage-model-config", "serve",
     lambda t: ["serve", "--model-config-file", _file(t, "models.config", "this is { not a config")],
     r"models\.config: not a TF Serving model config"),
    ("serve-model-config-missing", "serve", lambda t: ["serve", "--model-config-file", t / "none.config"],
     r"not found"),
    ("serve-model-config-dotdot-name", "serve", lambda t: ["serve", "--model-config-file", _file(
        t, "models.config", 'model_config_list { config { name: ".." base_path: "/tmp" } }')], r"model name '\.\.'"),
    ("serve-binary-batching-config", "serve",
     lambda t: ["serve", "--model-base-path", t, "--batching-parameters-file", _file(t, "b.config", b"\xff\xfe\x00")],
     r"b\.config: not a TF Serving BatchingParameters text"),
    ("serve-empty-base-path", "serve", lambda t: ["serve", "--model-base-path", t], r"no exported models"),
    # ---- seq2exp data validate: the same reader and default maximum length
    ("data-validate-50MB-row", "data", lambda t: ["data", "validate", _file(t, "long.txt", "A" * 50_000_000 + "\t1\n")],
     r"long\.txt, line 1, field 'sequence': line longer than"),
    ("data-validate-utf16", "data", lambda t: ["data", "validate", _file(t, "u.txt", _utf16(TRUTH_TEXT))], r"UTF-16"),
    ("data-validate-subsets-utf16", "data", lambda t: ["data", "validate", "--format", "subsets", _subsets_utf16(t)],
     r"high_exp_seqs\.csv: UTF-16"),
    # ---- seq2exp train: configs are validated before anything is built
    ("train-binary-yaml", "train", lambda t: _train(t, _file(t, "c.yaml", bytes(range(256)) * 4)),
     r"c\.yaml: not a YAML config \(not UTF-8 text\)"),
    ("train-utf16-yaml", "train", lambda t: _train(t, _file(t, "c.yaml", _utf16(BASE_CONFIG))), r"c\.yaml: not a YAML"),
    ("train-yaml-syntax", "train", lambda t: _train(t, _file(t, "c.yaml", "model: [unclosed\n")),
     r"c\.yaml: not valid YAML at line 2, column 1: expected ',' or ']'"),
    ("train-yaml-not-mapping", "train", lambda t: _train(t, _file(t, "c.yaml", "- 1\n- 2\n")), r"must be a mapping"),
    ("train-learning-rate-negative", "train",
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG.replace("learning_rate: 0.005", "learning_rate: -1"))),
     r"optimizer\.learning_rate: must be a positive number, got -1"),
    ("train-learning-rate-zero", "train",
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG.replace("learning_rate: 0.005", "learning_rate: 0"))),
     r"optimizer\.learning_rate: must be a positive number"),
    ("train-value-masked-by-smoke", "train",
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG.replace("batch_size: 1024", "batch_size: lots")), "--smoke"),
     r"batch_size: expected int"),
    ("train-config-missing", "train", lambda t: _train(t, t / "none.yaml"), r"config file not found"),
    ("train-data-bad-letter", "train",  # found while the cache is built: no run folder (nor its cache folder) left
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG), data=_file(t, "d.txt", TRUTH_TEXT * 2 + "ACGTXACGT\t3\n")),
     r"d\.txt, line \d+, field 'sequence': letter 'X' at position 5"),
    ("train-data-one-row", "train",  # found after the cache was built: the new run folder goes with it
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG), data=_file(t, "d.txt", TRUTH_TEXT.splitlines()[0] + "\n")),
     r"d\.txt gives 1 training and 0 validation rows"),
    ("train-data-one-row-nested-out", "train",  # and the missing parent folders of --out it made
     lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG), data=_file(t, "d.txt", TRUTH_TEXT.splitlines()[0] + "\n"),
                      out=t / "runs" / "today" / "run"), r"d\.txt gives 1 training and 0 validation rows"),
    ("train-out-is-a-file", "train", lambda t: _train(t, _file(t, "c.yaml", BASE_CONFIG), out=_file(t, "o", "x")),
     r"/o(/cache)?: (Not a directory|File exists)"),
]


BASE_CONFIG = """model: {architecture: autosome}
loss: {name: kl_bins, shift: 0.5, scale: 0.5}
optimizer: {name: adamw, learning_rate: 0.005, weight_decay: 0.01}
batch_size: 1024
epochs: 80
smoke: {batch_size: 16, epochs: 1, steps_per_epoch: 2}
"""


def _train(tmp: Path, config: Path, *extra: str, out: Path | None = None, data: Path | None = None) -> list:
    data = data or _file(tmp, "train.txt", TRUTH_TEXT * 5)
    return ["train", config, "--data", data, "--out", out or tmp / "run", "--quiet", *extra]


@pytest.mark.parametrize("case_id, stage, build, pattern", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_exit_2(case_id, stage, build, pattern, tmp_path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = build(work)
    created = sorted(p.name for p in tmp_path.rglob("*"))
    result = run_cli(argv, capsys)
    assert_one_line_error(result, stage, pattern)
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert after == created, f"{case_id} wrote {sorted(set(after) - set(created))} (before the case: {before})"
