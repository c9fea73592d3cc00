"""Per-scene progress journals, so that ``--resume`` continues an interrupted run.

A journal is a hidden folder beside the output, ``.NAME.gpkg.partial`` or
``.NAME_mask.tif.partial``, holding ``meta.json`` (what the run depends on: the scene file, its
size and modification time, tile, overlap, bands, score threshold, predictor) and the work done:

- detection: ``detections.jsonl``, one line per batch with the batch's raw detections (scene
  pixels, before the final merge) and the index of the first window not yet done. Lines are
  flushed and fsync'ed; a line cut by a crash does not parse and is ignored. Floats are written
  with ``repr`` precision, so the resumed merge sees the very same numbers.
- segmentation: ``rows_<row0>_<row1>.npz``, one file per finished block of rows (class ids, and
  probabilities when they are kept), each written to a temporary name then renamed.

A resumed run with a different ``meta.json`` starts over (with a warning). When the output is
written the journal is removed; the finished output itself marks the scene as done.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.inference.merge import Detections, Strip

_STRIP = re.compile(r"^rows_(\d{9})_(\d{9})\.npz$")


def journal_dir(output: str | Path) -> Path:
    output = Path(output)
    return output.parent / f".{output.name}.partial"


class Journal:
    """The journal of one scene's output; see the module docstring."""

    def __init__(self, output: str | Path, meta: dict[str, Any], *, resume: bool) -> None:
        self.dir = journal_dir(output)
        self.meta = meta
        self.resumed = False
        if resume and self.dir.is_dir():
            try:
                old = json.loads((self.dir / "meta.json").read_text())
            except (OSError, ValueError):
                old = None
            if old == meta:
                self.resumed = True
            else:
                warnings.warn(f"{self.dir}: the interrupted run used other settings or another "
                              "scene file; starting this scene over", stacklevel=3)
        if not self.resumed:
            if self.dir.exists():
                shutil.rmtree(self.dir)
            self.dir.mkdir(parents=True)
            tmp = self.dir / "meta.json.tmp"
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
            os.replace(tmp, self.dir / "meta.json")

    # -- detection ---------------------------------------------------------------------------
    @property
    def _jsonl(self) -> Path:
        return self.dir / "detections.jsonl"

    def load_detections(self, rotated: bool) -> tuple[list[Detections], int, dict[str, int]]:
        """Detections of the finished batches, the first window not done, and counters."""
        parts: list[Detections] = []
        upto, counts = 0, {}
        if not self._jsonl.exists():
            return parts, upto, counts
        good = 0  # bytes of complete, parsable lines
        with self._jsonl.open("rb") as f:
            for raw in f:
                try:
                    if not raw.endswith(b"\n"):
                        raise ValueError("incomplete line")
                    rec = json.loads(raw)
                    dets = Detections(
                        np.asarray(rec["boxes"], np.float64).reshape(-1, 5 if rotated else 4),
                        np.asarray(rec["scores"], np.float64),
                        np.asarray(rec["labels"], np.int64),
                        np.asarray(rec["truncated"], bool))
                except (ValueError, KeyError, TypeError):
                    break  # a line cut by a crash: everything before it is good
                parts.append(dets)
                upto, counts = int(rec["upto"]), dict(rec.get("counts", {}))
                good += len(raw)
        if good != self._jsonl.stat().st_size:  # drop the cut line before appending again
            with self._jsonl.open("r+b") as f:
                f.truncate(good)
        return parts, upto, counts

    def append_detections(self, dets: Detections, upto: int, counts: dict[str, int]) -> None:
        rec = {"upto": int(upto), "counts": counts, "boxes": dets.boxes.tolist(),
               "scores": dets.scores.tolist(), "labels": dets.labels.tolist(),
               "truncated": dets.truncated.tolist()}
        with self._jsonl.open("ab") as f:
            f.write(json.dumps(rec).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())

    # -- segmentation ------------------------------------------------------------------------
    def _strip_files(self) -> list[tuple[int, int, Path]]:
        found = []
        for p in self.dir.iterdir():
            m = _STRIP.match(p.name)
            if m:
                found.append((int(m[1]), int(m[2]), p))
        return sorted(found)

    def flushed_rows(self) -> int:
        """Rows ``[0, n)`` already saved as consecutive strips."""
        n = 0
        for r0, r1, _ in self._strip_files():
            if r0 != n:
                break
            n = r1
        return n

    def save_strip(self, strip: Strip, keep_probs: bool) -> None:
        final = self.dir / f"rows_{strip.row0:09d}_{strip.row1:09d}.npz"
        tmp = self.dir / (final.name + ".tmp")
        arrays = {"classes": strip.classes}
        if keep_probs:
            arrays["probs"] = strip.probs
        with tmp.open("wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def iter_strips(self, key: str) -> Iterator[tuple[int, np.ndarray]]:
        """``(row0, array)`` of the saved strips, top to bottom; ``key`` is ``classes`` or
        ``probs``."""
        for r0, _, p in self._strip_files():
            with np.load(p) as z:
                yield r0, z[key]

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
