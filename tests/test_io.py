"""Atomic outputs: normal file modes under the umask, fsync before and after the rename, nothing
left behind by a failed write."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sargeo.io import atomic_path, current_umask, new_file_mode


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block under ``mask``, then restore the process umask."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path: str | Path) -> int:
    return os.stat(path).st_mode & 0o777


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027])
def test_atomic_writes_get_the_mode_of_a_new_file_under_the_umask(tmp_path, mask):
    with umask(mask):
        assert current_umask() == mask
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("{}")
        with atomic_path(tmp_path / "driver.gpkg") as tmp:
            tmp.unlink()  # as GDAL drivers do: the file is created anew
            tmp.write_bytes(b"data")
        plain = tmp_path / "plain.txt"
        plain.write_text("reference")  # what open() gives under this umask
    assert mode_of(tmp_path / "out.json") == 0o666 & ~mask == mode_of(plain)
    assert mode_of(tmp_path / "driver.gpkg") == 0o666 & ~mask
    assert new_file_mode() == 0o666 & ~current_umask()


def test_the_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst) -> None:  # noqa: ANN001
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_path(tmp_path / "w.pth") as tmp:
        tmp.write_bytes(b"weights")
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "w.pth").read_bytes() == b"weights"


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("disk on fire")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_text("new, half")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_an_existing_output_is_refused_unless_overwrite(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("x")
    with pytest.raises(FileExistsError, match=r"a\.txt.*overwrite"):
        with atomic_path(target):
            pass
