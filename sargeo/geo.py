"""Pixel <-> map coordinates and box geometry, in one place.

Every tile carries an affine ``transform`` (pixel (col, row) -> map (x, y), rasterio/GDAL
convention, pixel corners at integer coordinates). Labels go from map to a tile's pixels with
:func:`map_to_pixel`; predictions go back with :func:`pixel_to_map`. Training (labels) and
inference (outputs) both use these functions, so the two directions cannot drift apart.

Oriented boxes follow mmrotate's ``rbox`` convention: ``(cx, cy, w, h, t)`` in pixels, ``t`` in
radians, the ``w`` edge along ``(cos t, sin t)`` in image coordinates (y down, so a positive ``t``
turns clockwise on screen). ``le90``: ``w >= h`` and ``t`` in ``[-pi/2, pi/2)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from affine import Affine

#: length of a torchgeo >= 0.9 sample ``bounds`` tensor:
#: ``[xmin, xmax, xres, ymin, ymax, yres, tmin, tmax, tstep]``
TORCHGEO_BOUNDS_LEN = 9


def bounds_slices(bounds: Any) -> tuple[slice, slice, slice]:
    """A torchgeo sample's ``bounds`` as the query that reads the same tile again:
    ``(slice(xmin, xmax, xres), slice(ymin, ymax, yres), slice(tmin, tmax, tstep))``.

    Accepts torchgeo >= 0.9's 9-value tensor and a query of slices (returned as is); refuses
    four plain numbers, whose order differs between libraries."""
    if len(bounds) and isinstance(bounds[0], slice):
        x, y, *t = bounds
        return x, y, (t[0] if t else slice(None))
    values = [float(v) for v in np.asarray(bounds, dtype=np.float64).ravel()]
    if len(values) != TORCHGEO_BOUNDS_LEN:
        raise ValueError(f"expected torchgeo bounds [xmin, xmax, xres, ymin, ymax, yres, tmin, "
                         f"tmax, tstep] ({TORCHGEO_BOUNDS_LEN} values), got {len(values)}")
    xmin, xmax, xres, ymin, ymax, yres, tmin, tmax, tstep = values
    t = slice(None) if math.isnan(tmin) and math.isnan(tmax) else slice(tmin, tmax, tstep)
    return slice(xmin, xmax, xres), slice(ymin, ymax, yres), t


def tile_transform(bounds: Sequence[Any], res: float | tuple[float, float]) -> Affine:
    """Affine transform of a tile at resolution ``res``: ``bounds`` is a query of slices
    (x slice, y slice[, t slice]), a torchgeo >= 0.9 ``bounds`` tensor (9 values), or
    ``(xmin, ymin, xmax, ymax)`` numbers."""
    xres, yres = (res, res) if np.isscalar(res) else (float(res[0]), float(res[1]))
    if len(bounds) == TORCHGEO_BOUNDS_LEN or isinstance(bounds[0], slice):
        x, y, _ = bounds_slices(bounds)
        xmin, ymax = float(x.start), float(y.stop)
    elif len(bounds) == 4:
        xmin, ymax = float(bounds[0]), float(bounds[3])
    else:
        raise ValueError(f"bounds must be slices, 9 torchgeo values or 4 numbers, not "
                         f"{len(bounds)} values")
    return Affine(xres, 0.0, xmin, 0.0, -yres, ymax)


def pixel_to_map(transform: Affine, cols: Any, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates of pixel positions (arrays of any shape; 0.5 is a pixel centre)."""
    a, b, c, d, e, f = transform[:6]
    cols, rows = np.asarray(cols, dtype=np.float64), np.asarray(rows, dtype=np.float64)
    return a * cols + b * rows + c, d * cols + e * rows + f


def map_to_pixel(transform: Affine, xs: Any, ys: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (col, row), fractional, of map coordinates: the inverse of
    :func:`pixel_to_map`."""
    return pixel_to_map(~transform, xs, ys)


def points_to_map(transform: Affine, points: np.ndarray) -> np.ndarray:
    """``(..., 2)`` pixel (col, row) points -> ``(..., 2)`` map (x, y) points."""
    points = np.asarray(points, dtype=np.float64)
    x, y = pixel_to_map(transform, points[..., 0], points[..., 1])
    return np.stack([x, y], axis=-1)


def points_to_pixel(transform: Affine, points: np.ndarray) -> np.ndarray:
    """``(..., 2)`` map (x, y) points -> ``(..., 2)`` pixel (col, row) points."""
    return points_to_map(~transform, points)


def hbox_corners(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` boxes ``x1 y1 x2 y2`` -> ``(N, 4, 2)`` corners (clockwise on screen)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b.T
    return np.stack([np.stack([x1, y1], -1), np.stack([x2, y1], -1), np.stack([x2, y2], -1),
                     np.stack([x1, y2], -1)], axis=1)


def rbox_corners(rboxes: np.ndarray) -> np.ndarray:
    """``(N, 5)`` rboxes ``cx cy w h t`` -> ``(N, 4, 2)`` corners (mmrotate's ``rbox2qbox``
    order)."""
    r = np.asarray(rboxes, dtype=np.float64).reshape(-1, 5)
    ctr, w, h, t = r[:, None, :2], r[:, 2, None], r[:, 3, None], r[:, 4, None]
    cos, sin = np.cos(t), np.sin(t)
    v1 = np.concatenate([w / 2 * cos, w / 2 * sin], axis=-1)[:, None, :]
    v2 = np.concatenate([-h / 2 * sin, h / 2 * cos], axis=-1)[:, None, :]
    return np.concatenate([ctr + v1 + v2, ctr + v1 - v2, ctr - v1 - v2, ctr - v1 + v2], axis=1)


def le90(cx: float, cy: float, w: float, h: float, t: float) -> tuple[float, ...]:
    """Normalise one rbox to le90: long edge first, angle in ``[-pi/2, pi/2)``."""
    if w < h:
        w, h, t = h, w, t + math.pi / 2
    t = (t + math.pi / 2) % math.pi - math.pi / 2
    return cx, cy, w, h, t


def corners_to_rbox(corners: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` polygon points -> ``(N, 5)`` le90 rboxes of their minimum-area rectangles
    (shapely's ``minimum_rotated_rectangle``)."""
    from shapely import MultiPoint

    pts = np.asarray(corners, dtype=np.float64).reshape(len(corners), -1, 2)
    out = np.zeros((len(pts), 5), dtype=np.float64)
    for i, p in enumerate(pts):
        rect = MultiPoint(p).minimum_rotated_rectangle
        if rect.geom_type != "Polygon":  # degenerate: a point or a segment
            (x0, y0), (x1, y1) = p.min(0), p.max(0)
            out[i] = le90((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, 0.0), max(y1 - y0, 0.0),
                          0.0)
            continue
        q = np.asarray(rect.exterior.coords)[:4]
        e1, e2 = q[1] - q[0], q[2] - q[1]
        cx, cy = q.mean(0)
        out[i] = le90(cx, cy, float(np.hypot(*e1)), float(np.hypot(*e2)),
                      math.atan2(e1[1], e1[0]))
    return out
