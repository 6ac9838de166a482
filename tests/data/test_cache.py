"""The memory-mapped training cache: content, reuse, rebuild, errors, splits."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from seq2exp.data.alphabet import codes_to_sequences
from seq2exp.data.cache import TrainingCache, build_cache
from seq2exp.data.formats import read_dream
from seq2exp.errors import InputFormatError, Seq2ExpError


@pytest.fixture(scope="module")
def demo_cache(demo_train, tmp_path_factory):
    return build_cache(demo_train, tmp_path_factory.mktemp("cache") / "demo")


def test_cache_holds_the_file(demo_cache, demo_train):
    table = read_dream(demo_train)
    assert demo_cache.n == len(table) == 6370 and demo_cache.width == 135
    assert isinstance(demo_cache.codes, np.memmap)
    assert codes_to_sequences(np.asarray(demo_cache.codes), demo_cache.lengths) == table.sequences
    np.testing.assert_array_equal(demo_cache.targets, table.expression)
    np.testing.assert_array_equal(demo_cache.singleton, table.expression == np.round(table.expression))
    assert demo_cache.meta["stats"]["rows_with_n"] == 25
    assert 0.57 < demo_cache.meta["stats"]["integer_fraction"] < 0.59
    assert len(demo_cache.source_sha256) == 64


def test_read_codes_reads_rows_from_the_file_and_falls_back_for_views(demo_cache):
    codes = np.asarray(demo_cache.codes)
    assert demo_cache._codes_file() is not None  # positional reads, not the memory map
    rng = np.random.default_rng(3)
    for rows in (rng.integers(0, demo_cache.n, 700), np.arange(100, 1300), np.array([5, 5, 6, 6369, 0]),
                 np.array([], np.int64)):
        got = demo_cache.read_codes(rows)
        assert got.dtype == np.uint8 and got.shape == (rows.size, demo_cache.width)
        np.testing.assert_array_equal(got, codes[rows])
    view = TrainingCache(demo_cache.codes[10:], demo_cache.lengths[10:], demo_cache.targets[10:],
                         demo_cache.singleton[10:], demo_cache.line_numbers[10:])
    assert view._codes_file() is None  # a slice of the map keeps its parent's offset: index it instead
    np.testing.assert_array_equal(view.read_codes(np.array([0, 7])), codes[[10, 17]])
    with pytest.raises(IndexError, match=r"\[0, 6370\)"):
        demo_cache.read_codes(np.array([6370]))


def test_cache_is_reused_until_the_source_changes(tmp_path):
    source = tmp_path / "train.txt"
    source.write_text("ACGT\t1\nCCCC\t2.5\n")
    first = build_cache(source, tmp_path / "c")
    stamp = (tmp_path / "c" / "meta.json").stat().st_mtime_ns
    assert build_cache(source, tmp_path / "c").n == 2
    assert (tmp_path / "c" / "meta.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    os.utime(source, ns=(first.meta["source"]["mtime_ns"] + 10**9,) * 2)  # touched, same content
    build_cache(source, tmp_path / "c")
    assert (tmp_path / "c" / "meta.json").stat().st_mtime_ns == stamp
    source.write_text("ACGT\t1\nCCCC\t2.5\nGGGGGG\t3\n")
    rebuilt = build_cache(source, tmp_path / "c")
    assert rebuilt.n == 3 and rebuilt.width == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "train.txt"]  # no staging leftovers


def test_invalid_rows_error_or_skip(tmp_path):
    source = tmp_path / "train.txt"
    source.write_text("ACGT\t1\nACGT\t\nAXGT\t3\nTTTT\t4\n")
    with pytest.raises(InputFormatError, match="line 2, field 'expression': training rows need an expression"):
        build_cache(source, tmp_path / "c")
    assert not (tmp_path / "c").exists()
    cache = build_cache(source, tmp_path / "c", on_invalid="skip")
    assert cache.n == 2 and cache.meta["skipped"] == 2
    np.testing.assert_array_equal(cache.line_numbers, [1, 4])
    assert cache.sequences() == ["ACGT", "TTTT"]
    (tmp_path / "long.txt").write_text("ACGT\t1\n" + "A" * 1001 + "\t2\n")
    with pytest.raises(InputFormatError, match="line 2, field 'sequence': sequence of 1001 bp is longer"):
        build_cache(tmp_path / "long.txt", tmp_path / "l")
    assert build_cache(tmp_path / "long.txt", tmp_path / "l", max_length=None).width == 1001
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(InputFormatError, match="empty.txt, line 1: empty file"):
        build_cache(tmp_path / "empty.txt", tmp_path / "e", on_invalid="skip")
    (tmp_path / "all_bad.txt").write_text("AXGT\t1\nACGT\t\n")
    with pytest.raises(InputFormatError, match=r"no training rows \(2 invalid rows skipped\)"):
        build_cache(tmp_path / "all_bad.txt", tmp_path / "e", on_invalid="skip")


def test_open_rejects_non_caches(tmp_path):
    with pytest.raises(Seq2ExpError, match="not a seq2exp training cache"):
        TrainingCache.open(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(Seq2ExpError, match="rebuild"):
        TrainingCache.open(tmp_path)


def test_split_is_deterministic_and_disjoint(demo_cache):
    train, val = demo_cache.split(0.1, seed=3)
    again_train, again_val = demo_cache.split(0.1, seed=3)
    np.testing.assert_array_equal(val, again_val)
    assert len(val) == 637 and len(train) == 6370 - 637
    assert np.intersect1d(train, val).size == 0
    assert not np.array_equal(val, demo_cache.split(0.1, seed=4)[1])
    assert demo_cache.split(0.0)[1].size == 0
    with pytest.raises(ValueError):
        demo_cache.split(1.0)


def test_in_memory_cache():
    cache = TrainingCache.from_sequences(["ACGT", "GG"], [1.0, 2.5])
    assert cache.n == 2 and cache.sequences() == ["ACGT", "GG"]
    np.testing.assert_array_equal(cache.singleton, [True, False])
