"""``seq2exp.utils``: staged output folders (``staged_dir``, ``atomic_dir``) and the output-folder check."""
from __future__ import annotations

import pytest

from seq2exp.errors import ConfigError
from seq2exp.utils import atomic_dir, check_output_folder, staged_dir


def test_staged_dir_moves_entries_on_success_and_keeps_others(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    with staged_dir(out) as stage:
        assert not out.exists() and not (tmp_path / "a").exists()  # nothing under -o until success
        (stage / "x.txt").write_text("1")
        (stage / "sub").mkdir()
        (stage / "sub" / "y.txt").write_text("2")
    assert (out / "x.txt").read_text() == "1" and (out / "sub" / "y.txt").read_text() == "2"
    (out / "keep.txt").write_text("k")
    with staged_dir(out) as stage:  # a second run replaces its own files, merges folders, keeps the rest
        (stage / "x.txt").write_text("3")
        (stage / "sub").mkdir()
        (stage / "sub" / "z.txt").write_text("4")
    assert (out / "x.txt").read_text() == "3" and (out / "keep.txt").read_text() == "k"
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["y.txt", "z.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no temporary folder left


def test_staged_dir_leaves_nothing_on_error(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with staged_dir(out) as stage:
            (stage / "half.txt").write_text("half")
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_on_error_removes_the_parents_it_created_only(tmp_path):
    (tmp_path / "kept").mkdir()
    target = tmp_path / "kept" / "run" / "cache" / "train"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            assert (tmp_path / "kept" / "run" / "cache").is_dir()
            (tmp / "half.npy").write_bytes(b"x")
            raise RuntimeError("bad row")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and list((tmp_path / "kept").iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "rows.npy").write_bytes(b"x")
    assert [p.name for p in target.iterdir()] == ["rows.npy"]
    with pytest.raises(RuntimeError):  # the parents exist now: an error leaves them, and the earlier result
        with atomic_dir(target.parent / "val"):
            raise RuntimeError("bad row")
    assert [p.name for p in target.parent.iterdir()] == ["train"]


def test_check_output_folder_refuses_files(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_folder(tmp_path / "f")
    with pytest.raises(ConfigError, match="f is a file"):
        check_output_folder(tmp_path / "f" / "sub" / "out", "--out-dir")
    assert check_output_folder(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert not (tmp_path / "new").exists()
