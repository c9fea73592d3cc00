"""Merging per-window results into per-scene results.

Detections. Windows overlap, so an object near a window edge is seen twice or more: whole in one
window, possibly cut in another. Two steps turn these into one detection per object:

1. a detection that touches an inner window edge (a "truncated" one: the window cuts the object)
   is dropped when another window saw its whole area away from that window's own inner edges
   (that window's verdict stands, whether it found the object or not: a model's spurious
   slivers along tile edges vanish), or when a detection of the same class that does not touch
   an inner edge covers most of it (intersection over the truncated box's area >= ``ios_thr``):
   the window that saw the whole object wins, even when the cut view scored higher;
2. class-aware non-maximum suppression: :func:`torchvision.ops.batched_nms` for horizontal boxes,
   :func:`mmcv.ops.nms_rotated` for oriented ones (with an exact shapely fallback when mmcv's
   compiled ops are missing).

An object larger than the overlap can be cut in every window that sees it; then both halves
survive. Choose an overlap larger than the largest object.

Segmentation. :class:`BlendedMosaic` blends per-window class probabilities with a weight window
(a raised-cosine ramp across the overlap at inner edges, flat elsewhere), so the result has no
seams, and it streams: it holds only the rows that windows still to come may touch, ``tile +
block`` rows of the scene's width, and hands finished row blocks to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from sargeo.geo import hbox_corners, rbox_corners

NODATA_CLASS = 255  #: class id of pixels no window saw validly
#: a box within this many pixels of an inner window edge is truncated (cut by the window); the
#: same margin bounds the window interiors where a box counts as seen whole
EDGE_MARGIN = 1.0


# -- detections --------------------------------------------------------------------------------
@dataclass
class Detections:
    """Detections in scene pixel coordinates (float64)."""

    boxes: np.ndarray  #: (N, 4) x1 y1 x2 y2, or (N, 5) cx cy w h t (le90) when rotated
    scores: np.ndarray  #: (N,) float64
    labels: np.ndarray  #: (N,) int64
    truncated: np.ndarray  #: (N,) bool: touches an inner edge of its window

    @classmethod
    def empty(cls, rotated: bool) -> Detections:
        return cls(np.zeros((0, 5 if rotated else 4)), np.zeros(0), np.zeros(0, np.int64),
                   np.zeros(0, bool))

    @classmethod
    def concat(cls, parts: Sequence[Detections], rotated: bool) -> Detections:
        if not parts:
            return cls.empty(rotated)
        return cls(np.concatenate([p.boxes for p in parts]).reshape(-1, 5 if rotated else 4),
                   np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.labels for p in parts]).astype(np.int64),
                   np.concatenate([p.truncated for p in parts]).astype(bool))

    @property
    def rotated(self) -> bool:
        return self.boxes.shape[1] == 5

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.labels[index],
                          self.truncated[index])

    def corners(self) -> np.ndarray:
        """``(N, 4, 2)`` corner points in scene pixels."""
        return rbox_corners(self.boxes) if self.rotated else hbox_corners(self.boxes)

    def polygons(self) -> np.ndarray:
        """shapely polygons in scene pixels."""
        import shapely

        return shapely.polygons(self.corners())


def _pairs_intersecting(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of polygons ``a[i]``, ``b[j]`` that intersect (STR tree)."""
    import shapely

    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    tree = shapely.STRtree(b)
    ia, ib = tree.query(a, predicate="intersects")
    return ia, ib


def window_interiors(windows: Sequence[Window], height: int, width: int,
                     margin: float = EDGE_MARGIN) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 of each window less ``margin`` pixels along its inner edges (those
    that are not the scene's edge): where a detection counts as whole, not truncated."""
    box = np.array([[w.col_off, w.row_off, w.col_off + w.width, w.row_off + w.height]
                    for w in windows], np.float64).reshape(-1, 4)
    inner = np.stack([box[:, 0] > 0, box[:, 1] > 0, box[:, 2] < width, box[:, 3] < height], 1)
    return box + np.array([margin, margin, -margin, -margin]) * inner


def seen_whole_elsewhere(polys: np.ndarray, interiors: np.ndarray) -> np.ndarray:
    """Boolean mask over ``polys`` (truncated detections' polygons): those inside some
    window's interior (see :func:`window_interiors`); their own window cannot be one, since
    they touch its edge."""
    import shapely

    out = np.zeros(len(polys), bool)
    if len(polys) == 0 or len(interiors) == 0:
        return out
    tree = shapely.STRtree(shapely.box(*interiors.T))
    inside, _ = tree.query(polys, predicate="within")
    out[np.unique(inside)] = True
    return out


def suppress_truncated(dets: Detections, ios_thr: float = 0.6,
                       interiors: np.ndarray | None = None) -> np.ndarray:
    """Boolean keep mask: False for truncated detections that another window saw whole
    (inside one of ``interiors``, when given) or that a non-truncated detection of the same
    class mostly covers (intersection over their own area >= ``ios_thr``)."""
    import shapely

    keep = np.ones(len(dets), bool)
    if not dets.truncated.any():
        return keep
    polys = dets.polygons()
    if interiors is not None:
        cut = np.flatnonzero(dets.truncated)
        keep[cut[seen_whole_elsewhere(polys[cut], interiors)]] = False
    cut, whole = np.flatnonzero(dets.truncated & keep), np.flatnonzero(~dets.truncated)
    if len(cut) == 0 or len(whole) == 0:
        return keep
    ic, iw = _pairs_intersecting(polys[cut], polys[whole])
    ic, iw = cut[ic], whole[iw]
    same = dets.labels[ic] == dets.labels[iw]
    ic, iw = ic[same], iw[same]
    if len(ic) == 0:
        return keep
    area = np.maximum(shapely.area(polys[ic]), 1e-12)
    ios = shapely.area(shapely.intersection(polys[ic], polys[iw])) / area
    keep[np.unique(ic[ios >= ios_thr])] = False
    return keep


def nms_boxes(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
              iou_thr: float) -> np.ndarray:
    """Class-aware NMS of horizontal boxes; indices kept, by decreasing score."""
    import torch
    from torchvision.ops import batched_nms

    if len(scores) == 0:
        return np.zeros(0, np.int64)
    keep = batched_nms(torch.as_tensor(boxes, dtype=torch.float64),
                       torch.as_tensor(scores, dtype=torch.float64),
                       torch.as_tensor(labels, dtype=torch.int64), float(iou_thr))
    return keep.numpy()


def _mmcv_nms_rotated() -> Callable | None:
    try:
        from mmcv.ops import nms_rotated
    except Exception:  # mmcv absent, or built without compiled ops
        return None
    return nms_rotated


def nms_rotated_shapely(rboxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                        iou_thr: float) -> np.ndarray:
    """Exact greedy class-aware rotated NMS with shapely polygons (the fallback)."""
    import shapely

    if len(scores) == 0:
        return np.zeros(0, np.int64)
    polys = shapely.polygons(rbox_corners(rboxes))
    ia, ib = _pairs_intersecting(polys, polys)
    sel = (ia != ib) & (labels[ia] == labels[ib])
    ia, ib = ia[sel], ib[sel]
    inter = shapely.area(shapely.intersection(polys[ia], polys[ib]))
    union = shapely.area(polys[ia]) + shapely.area(polys[ib]) - inter
    over = inter / np.maximum(union, 1e-12) > iou_thr
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(ia[over].tolist(), ib[over].tolist(), strict=True):
        neighbours.setdefault(a, []).append(b)
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(scores), bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        for j in neighbours.get(i, ()):
            suppressed[j] = True
    return np.asarray(keep, np.int64)


def nms_rotated(rboxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                iou_thr: float) -> np.ndarray:
    """Class-aware NMS of le90 oriented boxes; indices kept, by decreasing score.
    :func:`mmcv.ops.nms_rotated` (clockwise angles, as :mod:`sargeo.geo`) when available."""
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    op = _mmcv_nms_rotated()
    if op is None:
        return nms_rotated_shapely(rboxes, scores, labels, iou_thr)
    import torch

    keep = []
    # one class at a time: mmcv's CPU kernel ignores ``labels`` (its multi-label mode is
    # class-agnostic there)
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        # the kernels are float32: shift the boxes near 0 so that large scene coordinates keep
        # sub-pixel precision
        boxes = np.asarray(rboxes, np.float64)[idx].copy()
        boxes[:, :2] -= boxes[:, :2].min(0)
        _, k = op(torch.as_tensor(boxes, dtype=torch.float32),
                  torch.as_tensor(scores[idx], dtype=torch.float32), float(iou_thr))
        keep.append(idx[k.cpu().numpy().astype(np.int64)])
    kept = np.concatenate(keep)
    return kept[np.argsort(-scores[kept], kind="stable")]


def merge_detections(dets: Detections, iou_thr: float = 0.5, ios_thr: float = 0.6,
                     interiors: np.ndarray | None = None) -> Detections:
    """Per-window detections -> one per object (see the module docstring), sorted by
    decreasing score, then top to bottom, left to right. ``interiors``: the windows' interiors
    (:func:`window_interiors`) for dropping truncated views that another window saw whole."""
    if len(dets) == 0:
        return dets
    dets = dets.select(np.flatnonzero(suppress_truncated(dets, ios_thr, interiors)))
    nms = nms_rotated if dets.rotated else nms_boxes
    dets = dets.select(nms(dets.boxes, dets.scores, dets.labels, iou_thr))
    if dets.rotated:
        y, x = dets.boxes[:, 1], dets.boxes[:, 0]
    else:
        y, x = dets.boxes[:, 1] + dets.boxes[:, 3], dets.boxes[:, 0] + dets.boxes[:, 2]
    return dets.select(np.lexsort((x, y, -dets.scores)))


def window_detections(result: dict, window: Window, height: int, width: int, rotated: bool,
                      score_thr: float, edge_margin: float = EDGE_MARGIN) -> Detections:
    """One predictor result (tile pixels) -> :class:`Detections` in scene pixels: score
    threshold, horizontal boxes clipped to the window's part of the scene, degenerate and
    non-finite boxes dropped, and ``truncated`` set for boxes within ``edge_margin`` pixels of an
    inner window edge (one that is not the scene's edge)."""
    key = "rboxes" if rotated else "boxes"
    if key not in result:
        raise KeyError(f"predictor result lacks {key!r} (has {sorted(result)})")
    boxes = _numpy(result[key], np.float64).reshape(-1, 5 if rotated else 4)
    scores = _numpy(result["scores"], np.float64).reshape(-1)
    labels = _numpy(result["labels"], np.int64).reshape(-1)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"predictor returned {len(boxes)} boxes, {len(scores)} scores and "
                         f"{len(labels)} labels")
    c0, r0 = float(window.col_off), float(window.row_off)
    c1, r1 = c0 + float(window.width), r0 + float(window.height)
    boxes = boxes.copy()
    boxes[:, 0] += c0
    boxes[:, 1] += r0
    if not rotated:
        boxes[:, 2] += c0
        boxes[:, 3] += r0
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(c0, c1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(r0, r1)
        size_ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    else:
        size_ok = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    ok = np.isfinite(boxes).all(1) & np.isfinite(scores) & size_ok & (scores >= score_thr)
    boxes, scores, labels = boxes[ok], scores[ok], labels[ok]
    if rotated:
        pts = rbox_corners(boxes)
        x1, y1 = pts[..., 0].min(1), pts[..., 1].min(1)
        x2, y2 = pts[..., 0].max(1), pts[..., 1].max(1)
    else:
        x1, y1, x2, y2 = boxes.T
    m = edge_margin
    cut = np.zeros(len(boxes), bool)
    if c0 > 0:
        cut |= x1 <= c0 + m
    if c1 < width:
        cut |= x2 >= c1 - m
    if r0 > 0:
        cut |= y1 <= r0 + m
    if r1 < height:
        cut |= y2 >= r1 - m
    return Detections(boxes, scores, labels, cut)


def _numpy(value, dtype) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


# -- segmentation ------------------------------------------------------------------------------
def cosine_ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """1-D weights of a window side: 1, with a raised-cosine ramp (strictly positive, rising
    from about 0 to 1 across ``overlap`` pixels) at each end that meets another window."""
    w = np.ones(length, np.float64)
    n = min(int(overlap), length // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(math.pi * (np.arange(n) + 0.5) / n)
        if ramp_start:
            w[:n] = np.minimum(w[:n], ramp)
        if ramp_end:
            w[length - n:] = np.minimum(w[length - n:], ramp[::-1])
    return w


@dataclass
class Strip:
    """Finished rows ``[row0, row1)`` of a mosaic, over the full scene width."""

    row0: int
    row1: int
    classes: np.ndarray  #: uint8 (h, W); NODATA_CLASS where no window saw the pixel validly
    probs: np.ndarray  #: float32 (K, h, W); NaN where no window saw the pixel validly


class BlendedMosaic:
    """Streaming weighted blend of per-window class probabilities.

    Args:
        height, width: scene size.
        num_classes: probability channels K.
        windows: the plan, row-major (as :func:`~sargeo.inference.windows.plan_windows`).
        overlap: ramp length of the default weight window.
        block: rows per finished strip (finished rows are handed out in whole blocks, except at
            the bottom of the scene, so that strips align with the output's tiles).
        start_row: rows above it are already written (a resumed run); must be a multiple of
            ``block`` or the height.
        weight: ``"cosine"`` (default), ``"uniform"``, or a function ``window -> (h, w)``
            weights (> 0 wherever the window is valid).

    Call :meth:`add` for each window in plan order (skipped windows may be left out), and
    :meth:`advance` with the index of the next window before adding it and with
    ``len(windows)`` at the end; both return the strips that became final. The buffer holds
    ``tile + block`` rows: memory depends on the tile, not on the scene height.
    """

    def __init__(self, height: int, width: int, num_classes: int, windows: Sequence[Window],
                 *, overlap: int, block: int = 512, start_row: int = 0,
                 weight: str | Callable[[Window], np.ndarray] = "cosine") -> None:
        if start_row % block and start_row != height:
            raise ValueError(f"start_row {start_row} is not a multiple of block {block}")
        self.height, self.width, self.k = int(height), int(width), int(num_classes)
        self.windows, self.overlap, self.block = list(windows), int(overlap), int(block)
        tile_h = max((int(w.height) for w in self.windows), default=0)
        self.capacity = tile_h + self.block
        self.base = int(start_row)  #: first row not yet handed out
        self.weight = weight
        self._accum = np.zeros((self.k, self.capacity, self.width), np.float32)
        self._wsum = np.zeros((self.capacity, self.width), np.float32)
        self._weights: dict[tuple, np.ndarray] = {}

    @property
    def nbytes(self) -> int:
        """Bytes held by the blend buffers."""
        return self._accum.nbytes + self._wsum.nbytes

    def window_weight(self, window: Window) -> np.ndarray:
        """``(h, w)`` float32 weights of a window."""
        if callable(self.weight):
            return np.asarray(self.weight(window), np.float32)
        c0, r0 = int(window.col_off), int(window.row_off)
        h, w = int(window.height), int(window.width)
        if self.weight == "uniform":
            return np.ones((h, w), np.float32)
        if self.weight != "cosine":
            raise ValueError(f"unknown weight {self.weight!r}; use cosine, uniform or a function")
        key = (h, w, r0 > 0, r0 + h < self.height, c0 > 0, c0 + w < self.width)
        if key not in self._weights:
            wy = cosine_ramp(h, self.overlap, key[2], key[3])
            wx = cosine_ramp(w, self.overlap, key[4], key[5])
            self._weights[key] = np.outer(wy, wx).astype(np.float32)
        return self._weights[key]

    def add(self, window: Window, probs: np.ndarray, valid: np.ndarray) -> None:
        """Blend one window: ``probs`` ``(K, >=h, >=w)`` (a padded tile is cropped), ``valid``
        ``(>=h, >=w)``."""
        c0, r0 = int(window.col_off), int(window.row_off)
        h, w = int(window.height), int(window.width)
        if probs.shape[0] != self.k:
            raise ValueError(f"predictor returned {probs.shape[0]} probability channels, "
                             f"expected {self.k}")
        wgt = self.window_weight(window) * valid[:h, :w]
        top = max(r0, self.base)  # rows above base are already written (resume)
        if top >= r0 + h:
            return
        if r0 + h - self.base > self.capacity:
            raise RuntimeError(f"window at row {r0} is beyond the mosaic buffer (rows "
                               f"{self.base}..{self.base + self.capacity}); call advance() "
                               "before add() and add windows in plan order")
        s = top - r0
        wgt = wgt[s:]
        rows = slice(top - self.base, r0 + h - self.base)
        self._accum[:, rows, c0:c0 + w] += probs[:, s:h, :w] * wgt
        self._wsum[rows, c0:c0 + w] += wgt

    def advance(self, next_index: int) -> list[Strip]:
        """Declare windows before ``next_index`` done; return the strips now final."""
        frontier = (int(self.windows[next_index].row_off) if next_index < len(self.windows)
                    else self.height)
        end = self.height if frontier >= self.height else frontier // self.block * self.block
        strips = []
        while self.base < end:
            n = min(self.block, end - self.base)
            strips.append(self._emit(n))
        return strips

    def _emit(self, n: int) -> Strip:
        wsum = self._wsum[:n]
        seen = wsum > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            probs = np.where(seen, self._accum[:, :n] / wsum, np.float32(np.nan))
        probs = probs.astype(np.float32)
        classes = np.where(seen, np.nan_to_num(probs, nan=-1.0).argmax(0),
                           NODATA_CLASS).astype(np.uint8)
        strip = Strip(self.base, self.base + n, classes, probs)
        # shift the buffer up by n rows
        self._accum[:, :-n] = self._accum[:, n:].copy()
        self._accum[:, -n:] = 0
        self._wsum[:-n] = self._wsum[n:].copy()
        self._wsum[-n:] = 0
        self.base += n
        return strip
