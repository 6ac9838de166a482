"""Property tests (hypothesis) of the DREAM and FASTA parsers: write -> read round-trips on random valid data, and
every bad-input class of the data layer's contract raising one clear error naming file, line and field (or being
skipped and counted with ``on_invalid="skip"``)."""
from __future__ import annotations

import math
import re
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seq2exp.data.formats import iter_dream_chunks, read_dream, read_fasta, read_sequences, write_dream, write_fasta
from seq2exp.errors import InputFormatError

MAX_LENGTH = 60
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

sequences = st.text(alphabet="ACGTNacgtn", min_size=1, max_size=MAX_LENGTH)
FLOAT32_MAX = float(np.finfo(np.float32).max)
finite = st.floats(min_value=-FLOAT32_MAX, max_value=FLOAT32_MAX)  # beyond: an out-of-range row
expression_values = st.one_of(finite, st.integers(0, 17).map(float), st.floats(0, 17))
line_endings = st.sampled_from(["\n", "\r\n"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


def _is_number(text: str) -> bool:
    """The reference: a field is a valid expression when Python reads it as a finite float."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------ round trips
@SETTINGS
@given(rows=st.lists(st.tuples(sequences, expression_values), min_size=1, max_size=30), newline=line_endings,
       blank_tail=st.integers(0, 3), chunk_bytes=st.integers(8, 400))
def test_dream_training_file_round_trip(workdir, rows, newline, blank_tail, chunk_bytes):
    path = workdir / "train.txt"
    seqs, values = [s for s, _ in rows], np.array([v for _, v in rows])
    write_dream(path, seqs, values)
    text = path.read_text()
    path.write_bytes((text.replace("\n", newline) + newline * blank_tail).encode())
    table = read_dream(path, expression_dtype=np.float64)
    assert table.sequences == [s.upper() for s in seqs]
    np.testing.assert_array_equal(table.expression, values)  # every digit survives the text round trip
    np.testing.assert_array_equal(table.line_numbers, np.arange(1, len(rows) + 1))
    assert table.skipped == 0
    chunks = list(iter_dream_chunks(path, chunk_bytes=chunk_bytes, require_expression=True))  # any block size
    np.testing.assert_array_equal(np.concatenate([c.expression for c in chunks]), values)
    np.testing.assert_array_equal(np.concatenate([c.lengths for c in chunks]), [len(s) for s in seqs])


@SETTINGS
@given(rows=st.lists(st.tuples(sequences, st.one_of(st.just(math.nan), finite)), min_size=1, max_size=30))
def test_dream_test_file_round_trip_keeps_unknown_values_and_test_order(workdir, rows):
    path = workdir / "test.txt"
    seqs, values = [s for s, _ in rows], np.array([v for _, v in rows])
    write_dream(path, seqs, values)
    table = read_sequences(path)  # the reader for files to predict: names are the test indices
    assert table.names == [str(i) for i in range(len(rows))]
    assert table.sequences == [s.upper() for s in seqs]
    np.testing.assert_array_equal(np.isnan(table.expression), np.isnan(values))
    write_dream(path, seqs, None)  # a test file without truth
    assert np.isnan(read_dream(path).expression).all() and len(read_dream(path)) == len(rows)
    with pytest.raises(InputFormatError, match="training rows need an expression") as caught:
        list(iter_dream_chunks(path, require_expression=True))
    assert caught.value.line == 1 and caught.value.field == "expression"


names = st.text(alphabet=string.ascii_letters + string.digits + "_-.|:", min_size=1, max_size=16)


@SETTINGS
@given(records=st.lists(st.tuples(names, st.text(alphabet="ACGTNacgtn", min_size=1, max_size=200)), min_size=1,
                        max_size=15),
       width=st.sampled_from([0, 1, 7, 60, 80]), newline=line_endings)
def test_fasta_round_trip(workdir, records, width, newline):
    path = workdir / "seqs.fa"
    write_fasta(path, [n for n, _ in records], [s for _, s in records], width=width)
    path.write_bytes(path.read_text().replace("\n", newline).encode())
    table = read_fasta(path)
    assert table.names == [n for n, _ in records]
    assert table.sequences == [s.upper() for _, s in records]
    lines_per_record = [1 + (math.ceil(len(s) / width) if width else 1) for _, s in records]
    np.testing.assert_array_equal(table.line_numbers, np.cumsum([1] + lines_per_record[:-1]))


# ------------------------------------------------------------------------------------------------ bad input
OTHER_LETTERS = "".join(sorted(set(string.printable) - set("ACGTNacgtn\t\n\r\x0b\x0c")))
non_numbers = st.one_of(
    st.sampled_from(["abc", "nan", "inf", "-inf", "1e999", "12,5", "1.2.3", "--1", "NA", "x7"]),
    st.text(alphabet="0123456789.,-+eExa ", min_size=1, max_size=8).filter(lambda t: t.strip() and not _is_number(t)),
)


@st.composite
def bad_row(draw, kind: str) -> tuple[str, str | None, str]:
    """(line text, field, message pattern) for one bad row of class ``kind``."""
    sequence = draw(sequences)
    value = repr(draw(expression_values))
    if kind == "letter":
        sequence = sequence[: MAX_LENGTH - 1]  # still within the maximum with the bad letter
        position = draw(st.integers(0, len(sequence)))
        letter = draw(st.sampled_from(OTHER_LETTERS))
        if letter == ">" and position == 0:  # a row starting with '>' is reported as the FASTA header it looks like
            return f">{sequence}\t{value}", "sequence", re.escape("a FASTA header in a DREAM file")
        return (f"{sequence[:position]}{letter}{sequence[position:]}\t{value}", "sequence",
                re.escape(f"letter {letter!r} at position {position + 1} is not one of A, C, G, T, N"))
    if kind == "empty_sequence":
        return f"\t{value}", "sequence", "empty sequence"
    if kind == "empty_line":
        return "", "sequence", "empty line"
    if kind == "non_numeric":
        return f"{sequence}\t{draw(non_numbers)}", "expression", "is not a finite number"
    if kind == "out_of_range":
        huge = draw(st.floats(min_value=FLOAT32_MAX, exclude_min=True, allow_infinity=False))
        return f"{sequence}\t{draw(st.sampled_from([1, -1])) * huge!r}", "expression", "out of range"
    if kind == "columns":
        extra = draw(st.lists(st.sampled_from(["1", "", "x", "ACGT"]), min_size=1, max_size=3))
        return "\t".join([sequence, value, *extra]), None, f"expected 2 tab-separated fields .* found {2 + len(extra)}"
    if kind == "too_long":
        long = draw(st.text(alphabet="ACGT", min_size=MAX_LENGTH + 1, max_size=2 * MAX_LENGTH))
        return f"{long}\t{value}", "sequence", f"longer than the maximum {MAX_LENGTH}"
    if kind == "missing_expression":  # only bad in training files (require_expression)
        return draw(st.sampled_from([sequence, f"{sequence}\t"])), "expression", "training rows need an expression"
    raise AssertionError(kind)


BAD_KINDS = ["letter", "empty_sequence", "empty_line", "non_numeric", "out_of_range", "columns", "too_long",
             "missing_expression"]


@st.composite
def files_with_bad_rows(draw):
    """Lines of a DREAM file mixing valid rows and at least one bad row (any class); ``{line: (field, message)}``."""
    n = draw(st.integers(1, 12))
    lines, bad = [], {}
    for index in range(n):
        if draw(st.booleans()):
            lines.append(f"{draw(sequences)}\t{draw(expression_values)!r}")
        else:
            text, field, message = draw(bad_row(draw(st.sampled_from(BAD_KINDS))))
            lines.append(text)
            bad[index + 1] = (field, message)
    if not bad:
        position = draw(st.integers(0, len(lines)))
        text, field, message = draw(bad_row(draw(st.sampled_from(BAD_KINDS))))
        lines.insert(position, text)
        bad[position + 1] = (field, message)
    # a valid last row: trailing blank lines and whitespace at the very end of a file are not row content
    lines.append("ACGT\t1.0")
    return lines, bad


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=files_with_bad_rows(), newline=line_endings)
def test_every_bad_row_class_names_file_line_and_field_or_is_skipped_and_counted(workdir, case, newline):
    lines, bad = case
    path = workdir / "bad.txt"
    path.write_bytes((newline.join(lines) + newline).encode())
    first = min(bad)
    field, message = bad[first]
    with pytest.raises(InputFormatError, match=message) as caught:
        list(iter_dream_chunks(path, max_length=MAX_LENGTH, require_expression=True))
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), first, field)
    assert str(error).startswith(f"{path}, line {first}")

    chunks = list(iter_dream_chunks(path, max_length=MAX_LENGTH, require_expression=True, on_invalid="skip",
                                    chunk_bytes=64))
    assert sum(c.skipped for c in chunks) == len(bad)
    kept_lines = [line for line in range(1, len(lines) + 1) if line not in bad]
    np.testing.assert_array_equal(np.concatenate([c.line_numbers for c in chunks]), kept_lines)
    expected = [lines[line - 1].split("\t")[0].upper() for line in kept_lines]
    table = read_dream(path, max_length=MAX_LENGTH, on_invalid="skip")  # test-file mode: empty values are fine
    missing_ok = {line for line, (_, message) in bad.items() if message.startswith("training rows")}
    assert table.skipped == len(bad) - len(missing_ok)
    assert [s for s, line in zip(table.sequences, table.line_numbers) if line not in missing_ok] == expected


@SETTINGS
@given(content=st.sampled_from(["", "\n", "\r\n\r\n", "\n \n\t\n"]), skip=st.booleans())
def test_an_empty_file_is_an_error_in_both_modes(workdir, content, skip):
    path = workdir / "empty.txt"
    path.write_text(content)
    on_invalid = "skip" if skip else "error"
    with pytest.raises(InputFormatError, match="empty file") as caught:
        read_dream(path, on_invalid=on_invalid)
    assert caught.value.path == str(path) and caught.value.line == 1
    with pytest.raises(InputFormatError, match="empty file: no FASTA records"):
        read_fasta(path, on_invalid=on_invalid)


@SETTINGS
@given(records=st.lists(st.tuples(names, sequences, st.sampled_from(["ok", "letter", "empty", "too_long"])),
                        min_size=1, max_size=10))
def test_fasta_bad_records_name_the_header_line_or_are_skipped_and_counted(workdir, records):
    path = workdir / "bad.fa"
    text, header_lines, bad = [], [], []
    for name, sequence, kind in records:
        header_lines.append(len(text) + 1)
        body = {"ok": sequence, "letter": sequence + "X", "empty": "", "too_long": "A" * (MAX_LENGTH + 1)}[kind]
        text += [f">{name} description", *([body] if body else [])]
        if kind != "ok":
            bad.append(len(header_lines) - 1)
    path.write_text("\n".join(text) + "\n")
    if bad:
        with pytest.raises(InputFormatError, match=f"record {records[bad[0]][0]!r}: ") as caught:
            read_fasta(path, max_length=MAX_LENGTH)
        assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), header_lines[bad[0]],
                                                                              "sequence")
    if len(bad) == len(records):
        return  # all records bad: nothing left to read in skip mode either
    table = read_fasta(path, max_length=MAX_LENGTH, on_invalid="skip")
    assert table.skipped == len(bad)
    assert table.names == [name for i, (name, _, _) in enumerate(records) if i not in bad]
    assert table.sequences == [seq.upper() for i, (_, seq, _) in enumerate(records) if i not in bad]
