"""One reader, one contract: gzip, CRLF, a UTF-8 BOM and lower-case DNA are accepted by every reader of user files
(training/test DREAM files, FASTA, files to predict, prediction/truth files to score, variant tables, configs), and the rest is
refused with the same error whichever stage reads the file."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from seq2exp.data.formats import UTF8_BOM, iter_sequence_records, read_dream, read_fasta, read_table
from seq2exp.errors import InputFormatError
from seq2exp.evaluation.values import read_values
from seq2exp.interpret.cli import read_variants
from tests.reliability.conftest import dream_text, random_promoters, run_cli, truncated_gzip

SEQUENCES = random_promoters(12, seed=5)
VALUES = [round(0.25 * i - 1.0, 6) for i in range(len(SEQUENCES))]
DREAM = dream_text(SEQUENCES, VALUES)
FASTA = "".join(f">s{i} note\n{s[:50]}\n{s[50:]}\n" for i, s in enumerate(SEQUENCES))
TSV = "id\tsequence\n" + "".join(f"r{i}\t{s}\n" for i, s in enumerate(SEQUENCES))
VARIANT_TABLE = "ref\talt\tdelta\n" + "".join(f"{s}\t{SEQUENCES[i - 1]}\t{v}\n" for i, (s, v) in
                                              enumerate(zip(SEQUENCES, VALUES)))

VARIANTS = {
    "plain": lambda text: text.encode(),
    "gzip": lambda text: gzip.compress(text.encode()),
    "crlf": lambda text: text.replace("\n", "\r\n").encode(),
    "bom": lambda text: UTF8_BOM + text.encode(),
    "lower": lambda text: _lower_dna(text).encode(),
    "all-at-once": lambda text: gzip.compress(UTF8_BOM + _lower_dna(text).replace("\n", "\r\n").encode()),
}


def _lower_dna(text: str) -> str:
    """Lower-case the sequence letters only (not ids, headers or numbers)."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith((">", "id\t", "ref\t")):
            out.append(line)
        elif line.startswith("r") and "\t" in line:
            name, rest = line.split("\t", 1)
            out.append(f"{name}\t{rest.lower()}")
        elif line.count("\t") == 2:  # a variant row: ref, alt, delta
            ref, alt, rest = line.split("\t")
            out.append(f"{ref.lower()}\t{alt.lower()}\t{rest}")
        else:
            sequence, sep, rest = line.partition("\t")
            out.append(sequence.lower() + sep + rest)
    return "".join(out)


def _write(tmp: Path, name: str, variant: str, text: str) -> Path:
    path = tmp / (name + (".gz" if variant in ("gzip", "all-at-once") else ""))
    path.write_bytes(VARIANTS[variant](text))
    return path


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_reader_accepts_the_variant(variant, tmp_path):
    dream = read_dream(_write(tmp_path, "a.txt", variant, DREAM), expression_dtype=np.float64)
    assert dream.sequences == SEQUENCES and dream.expression.tolist() == VALUES
    assert dream.line_numbers.tolist() == list(range(1, len(SEQUENCES) + 1))
    fasta = read_fasta(_write(tmp_path, "a.fa", variant, FASTA))
    assert fasta.sequences == SEQUENCES and fasta.names == [f"s{i}" for i in range(len(SEQUENCES))]
    for text, names, lines in ((DREAM, [str(i) for i in range(len(SEQUENCES))], range(1, 13)),
                               (FASTA, [f"s{i}" for i in range(len(SEQUENCES))], range(1, 37, 3)),
                               (TSV, [f"r{i}" for i in range(len(SEQUENCES))], range(2, 14))):
        records = list(iter_sequence_records(_write(tmp_path, "p.in", variant, text)))
        assert [(r.name, r.sequence, r.line) for r in records] == list(zip(names, SEQUENCES, lines))
    values = read_values(_write(tmp_path, "v.txt", variant, DREAM))
    assert values.values.tolist() == VALUES and [s.decode() for s in values.sequences.tolist()] == SEQUENCES
    table = read_variants(str(_write(tmp_path, "variants.tsv", variant, VARIANT_TABLE)))
    assert [r.upper() for r in table["ref"]] == SEQUENCES and table["measured_delta"] == VALUES
    as_json = json.dumps({str(i): v for i, v in enumerate(VALUES)})
    if variant != "lower":
        assert read_values(_write(tmp_path, "v.json", variant, as_json)).values.tolist() == VALUES


@pytest.mark.parametrize("variant", ["bom", "crlf", "gzip"])
def test_score_cli_accepts_the_variant(variant, tmp_path, capsys):
    truth = tmp_path / "truth.txt"
    truth.write_text(DREAM)
    predictions = _write(tmp_path, "p.txt", variant, DREAM)
    code, out, err = run_cli(["score", "--predictions", predictions, "--truth", truth, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["subsets"]["all"] == {"pearson": pytest.approx(1.0), "spearman": pytest.approx(1.0), "n": 12}


def test_configs_with_a_bom_are_read(tmp_path):
    from seq2exp.serving.config import BatchingOptions, ModelConfig, read_model_config, write_model_config
    from seq2exp.training.config import load_config

    config = tmp_path / "c.yaml"
    config.write_bytes(UTF8_BOM + b"model: {architecture: autosome}\nbatch_size: 8\n")
    assert load_config(config) == {"model": {"architecture": "autosome"}, "batch_size": 8}
    models = tmp_path / "models.config"
    write_model_config(models, [ModelConfig("m", str(tmp_path))])
    models.write_bytes(UTF8_BOM + models.read_bytes())
    assert [m.name for m in read_model_config(models)] == ["m"]
    batching = tmp_path / "batching.config"
    BatchingOptions(max_batch_size=64).write(batching)
    batching.write_bytes(UTF8_BOM + batching.read_bytes())
    assert BatchingOptions.read(batching).max_batch_size == 64


REFUSED = {
    "utf16": (lambda text: text.encode("utf-16"), "UTF-16/UTF-32 text: save the file as UTF-8"),
    "nul-bytes": (lambda text: text.encode("utf-16-le"), "NUL bytes near the start"),
    "truncated-gzip": (None, "corrupt or truncated gzip file"),
    "gz-name-not-gzip": (lambda text: text.encode(), "not a gzip file"),
}


@pytest.mark.parametrize("kind", REFUSED)
def test_every_reader_refuses_with_the_same_error(kind, tmp_path):
    encode, message = REFUSED[kind]
    readers = {"read_dream": read_dream, "read_fasta": read_fasta, "read_values": read_values,
               "iter_sequence_records": lambda path: list(iter_sequence_records(path)),
               "read_variants": lambda path: read_variants(str(path))}
    errors = {}
    for name, reader in readers.items():
        text = {"read_fasta": FASTA, "read_variants": VARIANT_TABLE}.get(name, DREAM)
        path = tmp_path / f"{name}.txt{'.gz' if 'gz' in kind else ''}"
        if encode is None:
            truncated_gzip(path, text * 50)
        else:
            path.write_bytes(encode(text))
        with pytest.raises(InputFormatError) as caught:
            reader(path)
        errors[name] = str(caught.value).replace(str(path), "<path>")
    assert len(set(errors.values())) == 1, errors
    assert message in next(iter(errors.values()))


def test_line_numbers_and_blank_lines_follow_one_contract(tmp_path):
    """Trailing blank lines are fine everywhere; inside a DREAM or TSV file they are an error naming the line (the
    line numbers are the ids); FASTA ignores them."""
    inside = tmp_path / "inside.txt"
    inside.write_text(DREAM.replace("\n", "\n\n", 1))
    for reader in (read_dream, read_values, lambda p: list(iter_sequence_records(p))):
        with pytest.raises(InputFormatError, match=r"inside\.txt, line 2, field 'sequence': empty line"):
            reader(inside)
    tsv = tmp_path / "inside.tsv"
    tsv.write_text(TSV.replace("r1\t", "\nr1\t"))
    with pytest.raises(InputFormatError, match=r"inside\.tsv, line 3, field 'sequence': empty line"):
        list(iter_sequence_records(tsv))
    targets = tmp_path / "targets.tsv"
    targets.write_text("sequence\texpression\n" + DREAM.replace("\n", "\n\n", 2))
    with pytest.raises(InputFormatError, match=r"targets\.tsv, line 3, field 'sequence': empty line"):
        read_table(targets, {"targets": ["expression"]})
    variants = tmp_path / "variants.tsv"
    lines = VARIANT_TABLE.splitlines(keepends=True)
    variants.write_text("".join(lines[:4] + [" \r\n"] + lines[4:]))  # header, 3 rows, then a blank line 5
    with pytest.raises(InputFormatError, match=r"variants\.tsv, line 5: empty line"):
        read_variants(str(variants))
    trailing = tmp_path / "trailing.txt"
    trailing.write_text(DREAM + "\n\r\n  \n")
    assert len(read_dream(trailing)) == len(list(iter_sequence_records(trailing))) == len(SEQUENCES)
    targets.write_text("sequence\texpression\n" + DREAM + "\n\r\n  \n")
    assert len(read_table(targets, {"targets": ["expression"]}).sequences) == len(SEQUENCES)
    variants.write_text(VARIANT_TABLE + "\n\r\n  \n")
    assert len(read_variants(str(variants))["ref"]) == len(SEQUENCES)
    fasta = tmp_path / "gaps.fa"
    fasta.write_text(FASTA.replace("\n>", "\n\n>"))
    assert [r.line for r in iter_sequence_records(fasta)] == [1 + 4 * i for i in range(len(SEQUENCES))]


def test_predict_reads_every_variant_like_the_plain_file(tiny_export, tmp_path, capsys):
    """``seq2exp predict`` end to end (the exported model in-process): gzip, CRLF, BOM and lower-case inputs give the
    plain file's predictions, row for row."""
    outputs = {}
    for variant in ("plain", "gzip", "crlf", "bom", "lower", "all-at-once"):
        source = _write(tmp_path, f"{variant}.txt", variant, DREAM)
        out = tmp_path / f"{variant}.pred"
        code, _out, err = run_cli(["predict", source, "-o", out, "--saved-model", tiny_export / "tiny",
                                   "--no-progress"], capsys)
        assert code == 0, err
        outputs[variant] = out.read_text()
    plain = outputs.pop("plain")
    assert [line.split("\t")[0] for line in plain.splitlines()] == SEQUENCES
    assert all(text == plain for text in outputs.values()), [k for k, v in outputs.items() if v != plain]


def test_subset_and_leaderboard_files_with_a_bom_or_gzip_are_read(tmp_path):
    from seq2exp.data.formats import read_public_leaderboard_ids, read_test_subsets

    subsets, board = tmp_path / "subsets", tmp_path / "board"
    subsets.mkdir()
    board.mkdir()
    (subsets / "high_exp_seqs.csv").write_bytes(UTF8_BOM + b"pos,seq\r\n3,ACGT\r\n1,ACGA\r\n")
    (subsets / "all_SNVs_seqs.csv").write_bytes(gzip.compress(b"alt_pos,ref_pos\n4,2\n"))
    assert read_test_subsets(subsets)["high"].tolist() == [1, 3]
    assert read_test_subsets(subsets)["SNVs"].tolist() == [[4, 2]]
    (board / "high_exp_indices.json").write_bytes(UTF8_BOM + b'{"5": 1.0, "2": 0.5}')
    assert read_public_leaderboard_ids(board)["high"].tolist() == [2, 5]
    (board / "low_exp_indices.json").write_bytes('{"1": 0}'.encode("utf-16"))
    with pytest.raises(InputFormatError, match="low_exp_indices.json: UTF-16"):
        read_public_leaderboard_ids(board)
