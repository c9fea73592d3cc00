"""Atomic file output: write beside the target, then rename, so a reader never sees half a file
and an interrupted writer leaves nothing where a finished file would be.

Finished files get the mode any new file would get (``0o666`` less the process umask, not
``mkstemp``'s private ``0o600``) and reach the disk before the rename: the file is fsync'ed, then
renamed, then its folder is fsync'ed where the file system allows it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def check_writable(path: str | Path, overwrite: bool = False) -> Path:
    """Refuse an existing output unless ``overwrite``; create the parent folder."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"output exists: {path} (pass overwrite=True / --overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permission bits of a newly created regular file: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename) to the disk; a no-op where that is not supported."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success give it the normal file mode,
    fsync it and rename it onto ``path``.

    The writer may write the temporary file or delete it and create it anew (as GDAL drivers
    do). On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, new_file_mode())
        fsync_file(tmp_path)
        os.replace(tmp_path, path)
        fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)
