"""Which scenes a run covers: files, folders and glob patterns expanded into a list, and the
share of one rank under torchrun (moved here from :mod:`sargeo.inference.engine`, which still
exports these names)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from sargeo.inference import pixel_coords as pxc
from sargeo.inference.product_source import is_product

SCENE_SUFFIXES = (".tif", ".tiff")


def expand_scenes(items: str | Path | Iterable[str | Path],
                  suffixes: tuple[str, ...] = SCENE_SUFFIXES) -> list[Path]:
    """Scene files from files, folders (their ``*.tif``/``*.tiff``, hidden files excluded) and
    glob patterns (``**`` recurses); in order, duplicates dropped, each folder and pattern
    sorted, so every rank sees the same list."""
    if isinstance(items, str | Path):
        items = [items]
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir() and not is_product(p):  # a .SAFE folder is one scene
            hits = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")
                          and q.suffix.lower() in suffixes)
            if not hits:
                raise FileNotFoundError(f"{p}: no {'/'.join(suffixes)} scene in this folder"
                                        + pxc.folder_hint(p, suffixes))
        elif p.is_file() or is_product(p):
            hits = [p.parent if p.name.lower() == "manifest.safe" else p]  # NAME.SAFE
        elif glob.has_magic(str(item)):
            hits = sorted(Path(q) for q in glob.glob(str(item), recursive=True)
                          if Path(q).is_file())
            if not hits:
                raise FileNotFoundError(f"{item}: no file matches")
        else:
            raise FileNotFoundError(f"{p}: no such scene file or folder")
        found.extend(hits)
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def shard_scenes(scenes: Sequence[Path], rank: int | None = None,
                 world_size: int | None = None) -> list[Path]:
    """``scenes[rank::world_size]``; by default from the ``RANK`` and ``WORLD_SIZE``
    environment variables that torchrun sets (one process: everything)."""
    if rank is None:
        rank = int(os.environ.get("RANK", 0))
    if world_size is None:
        world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, "
                         f"world_size={world_size}")
    return list(scenes)[rank::world_size]
