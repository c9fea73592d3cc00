"""Seeded corruption of real inputs, and the check that sargeo meets it with a result or a
named error (tests/inference/test_fuzz.py: GeoTIFF bytes; tests/datasets/test_safe_fuzz.py:
SAFE XML).

Every case is drawn from ``numpy.random.default_rng([SEED, index])``, so one case replays on
its own: ``SARGEO_FUZZ_CASES=17,42 pytest tests/inference/test_fuzz.py`` runs only those.
"""

from __future__ import annotations

import math
import os
import struct
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.datasets.safe_metadata import ProductError
from sargeo.inference.reader import SceneError
from sargeo.inference.writers import OutputError
from sargeo.units import UnitsError

#: the errors a corrupt input may end in: each names the file and what to do
NAMED_ERRORS: tuple[type[BaseException], ...] = (SceneError, UnitsError, ProductError,
                                                 OutputError)
SEED = 20261201


def case_indices(count: int) -> list[int]:
    """``range(count)``, or the indices in ``SARGEO_FUZZ_CASES`` (replay)."""
    chosen = os.environ.get("SARGEO_FUZZ_CASES", "").strip()
    return [int(i) for i in chosen.split(",")] if chosen else list(range(count))


def case_rng(index: int) -> np.random.Generator:
    return np.random.default_rng([SEED, index])


@dataclass
class Case:
    """One corruption: where it came from and what was done, to replay it."""

    index: int
    source: Path  #: the shared file or product it was made from
    mutation: str

    def __str__(self) -> str:
        return (f"case {self.index} (seed [{SEED}, {self.index}]; replay with "
                f"SARGEO_FUZZ_CASES={self.index}): {self.source.name}: {self.mutation}")


def leftovers(out: Path, expected: set[str]) -> list[str]:
    """Files and folders under ``out`` other than ``expected`` (names relative to ``out``)."""
    if not out.exists():
        return []
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.relative_to(out).as_posix() not in expected)


def outcome(case: Case, run: Callable[[], Any], names: tuple[str, ...],
            check: Callable[[Any], str | None] = lambda result: None) -> str | None:
    """Run one case; None when it ended in a result that ``check`` accepts or in a named error
    whose message contains one of ``names`` (the file's path), else what went wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = run()
    except NAMED_ERRORS as err:
        text = str(err)
        if not any(name in text for name in names):
            return f"{case}\n  {type(err).__name__} does not name the file: {text}"
        return None
    except Exception as err:  # what the fuzz is here to find
        tb = "".join(traceback.format_exception(err)[-6:])
        return f"{case}\n  {type(err).__module__}.{type(err).__name__}: {err}\n{tb}"
    problem = check(result)
    return None if problem is None else f"{case}\n  {problem}"


def scene_failure(case: Case, run: Callable[[], Any], scene: Path, out: Path) -> str | None:
    """One ``predict_scene`` case: None when it ended done with its GeoPackage alone in ``out``,
    or in a named error (naming ``scene``) that left nothing in ``out``; else what went wrong."""
    gpkg = f"{scene.stem}.gpkg"

    def check(result: Any) -> str | None:
        left = leftovers(out, {gpkg})
        if result.status != "done" or result.n_objects is None:
            return f"ended {result.status} with {result.n_objects} objects"
        if left or not (out / gpkg).is_file():
            return f"left {left} in the output folder"
        return None

    failure = outcome(case, run, (str(scene),), check)
    if failure is None and not (out / gpkg).is_file():
        left = leftovers(out, set())
        failure = f"{case}\n  a named error left {left}" if left else None
    return failure


# -- TIFF bytes --------------------------------------------------------------------------------
def tiff_layout(data: bytes) -> tuple[list[tuple[int, int]], int]:
    """The byte ranges of the first IFD's entries and the first pixel data offset (the end of
    the metadata when the IFD comes first, as GDAL writes it); classic TIFF and BigTIFF."""
    order = "<" if data[:2] == b"II" else ">"
    version = struct.unpack(order + "H", data[2:4])[0]
    big = version == 43
    ifd = struct.unpack(order + ("Q" if big else "I"), data[8:16] if big else data[4:8])[0]
    count_fmt, entry_size, value_at = ("Q", 20, 12) if big else ("H", 12, 8)
    n = struct.unpack(order + count_fmt, data[ifd:ifd + (8 if big else 2)])[0]
    first = ifd + (8 if big else 2)
    entries, offsets = [], []
    sizes = {3: 2, 4: 4, 16: 8}
    for k in range(n):
        at = first + k * entry_size
        entries.append((at, at + entry_size))
        tag, typ = struct.unpack(order + "HH", data[at:at + 4])
        count = struct.unpack(order + ("Q" if big else "I"),
                              data[at + 4:at + value_at])[0]
        if tag not in (273, 324) or typ not in sizes:  # StripOffsets, TileOffsets
            continue
        size = sizes[typ]
        fmt = order + {2: "H", 4: "I", 8: "Q"}[size]
        field = data[at + value_at:at + entry_size]
        if count * size <= len(field):
            offsets += [struct.unpack(fmt, field[i * size:(i + 1) * size])[0]
                        for i in range(count)]
        else:
            ptr = struct.unpack(order + ("Q" if big else "I"), field)[0]
            offsets += [struct.unpack(fmt, data[ptr + i * size:ptr + (i + 1) * size])[0]
                        for i in range(count)]
    start = min((o for o in offsets if o > 0), default=len(data) // 2)
    return entries, start


#: values written over a georeferencing double
GEO_VALUES = (math.nan, math.inf, -math.inf, 0.0, 1e300, -1e300, 1e12, 5e-324)


def _geo_doubles(data: bytes, entries: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(tag, byte offset)`` of each double of the classic-TIFF georeferencing tags (33550,
    33922, 34264) stored outside their IFD entries."""
    if len(data) < 8 or data[2:4] not in (b"*\x00", b"\x00*"):
        return []
    order = "<" if data[:2] == b"II" else ">"
    found = []
    for at, end in entries:
        tag, typ, count, ptr = struct.unpack(order + "HHII", data[at:end])
        if tag in (33550, 33922, 34264) and typ == 12 and ptr + 8 * count <= len(data):
            found += [(tag, ptr + 8 * i) for i in range(count)]
    return found


#: values written over an IFD entry's type, count or value
EXTREMES = (0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def corrupt_tiff(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """``data`` with one random corruption of its header/IFD or its pixel data, and what it
    was."""
    buf = bytearray(data)
    size = len(buf)
    try:
        entries, start = tiff_layout(data)
    except (struct.error, IndexError, ValueError):
        entries, start = [], min(size, 1024)
    start = int(min(max(start, 8), size))
    geo = _geo_doubles(data, entries)
    kinds = ["truncate-header", "truncate-data", "header-bits", "header-bytes", "data-bits",
             "data-bytes", "data-nan", "data-zero"] + ["ifd-entry"] * 3 * bool(entries) + [
             "geo-double"] * bool(geo)
    kind = str(rng.choice(kinds))
    if kind == "geo-double":  # ModelPixelScale, ModelTiepoint, ModelTransformation
        tag, at = geo[int(rng.integers(len(geo)))]
        value = float(rng.choice(GEO_VALUES))
        buf[at:at + 8] = struct.pack(("<" if buf[:2] == b"II" else ">") + "d", value)
        return bytes(buf), f"{kind}: a double of tag {tag} at byte {at} := {value!r}"
    if kind == "truncate-header":
        at = int(rng.integers(0, start))
        return bytes(buf[:at]), f"{kind}: cut at byte {at} of {size} (data from {start})"
    if kind == "truncate-data":
        at = int(rng.integers(start, size))
        return bytes(buf[:at]), f"{kind}: cut at byte {at} of {size} (data from {start})"
    if kind == "ifd-entry":
        k = int(rng.integers(len(entries)))
        at, end = entries[k]
        part = str(rng.choice(["tag", "type", "count", "value"]))
        span = {"tag": (at, at + 2), "type": (at + 2, at + 4),
                "count": (at + 4, at + (12 if end - at == 20 else 8)),
                "value": (at + (12 if end - at == 20 else 8), end)}[part]
        width = span[1] - span[0]
        value = int(rng.choice(EXTREMES)) if rng.random() < 0.6 else int(
            rng.integers(0, 2 ** (8 * min(width, 4))))
        value &= (1 << (8 * width)) - 1
        order = "little" if buf[:2] == b"II" else "big"
        tag = int.from_bytes(buf[at:at + 2], order)
        buf[span[0]:span[1]] = value.to_bytes(width, order)
        return bytes(buf), f"{kind}: entry {k} (tag {tag}) {part} := {value:#x}"
    lo, hi = (0, start) if kind.startswith("header") else (start, size)
    if hi <= lo:
        lo, hi = 0, size
    if kind.endswith("bits"):
        n = int(rng.integers(1, 9))
        where = rng.integers(lo, hi, size=n)
        for i, bit in zip(where, rng.integers(0, 8, size=n), strict=True):
            buf[int(i)] ^= 1 << int(bit)
        return bytes(buf), f"{kind}: flipped bits at bytes {sorted(int(i) for i in where)}"
    length = int(rng.integers(1, 33 if kind.startswith("header") else 4097))
    at = int(rng.integers(lo, hi))
    end = min(at + length, size)
    fill = {"data-nan": b"\xff", "data-zero": b"\x00"}.get(kind)
    buf[at:end] = fill * (end - at) if fill else rng.bytes(end - at)
    return bytes(buf), f"{kind}: bytes {at}..{end} of {size} overwritten"
