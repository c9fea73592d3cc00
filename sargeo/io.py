"""Atomic file output: write beside the target, then rename, so a reader never sees half a file
and an interrupted writer leaves nothing where a finished file would be."""

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


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
