"""Plumbing shared by the numpy baselines (:mod:`sargeo.inference.cfar`,
:class:`~sargeo.inference.predictor.ThresholdWaterSegmenter`): rectangle sums by integral
images, linear power of one channel, and the size of a scene's pixels in metres.

The baselines run on the CPU in numpy/scipy: cheap per-pixel arithmetic that gains nothing from
an accelerator and suffers from torch's intra-op threads on a busy machine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sargeo.units import Units

if TYPE_CHECKING:
    from sargeo.inference.reader import SceneInfo


class IntegralImage:
    """Summed-area table of ``(B, H, W)`` values (float64, zero outside), for sums over any
    rectangle of offsets around every pixel at a cost independent of its size."""

    def __init__(self, x: np.ndarray, reach: int) -> None:
        self.h, self.w, self.reach = x.shape[1], x.shape[2], int(reach)
        r = self.reach
        b, h, w = x.shape
        s = np.zeros((b, h + 2 * r + 1, w + 2 * r + 1))  # cheaper than np.pad
        s[:, r + 1:r + 1 + h, r + 1:r + 1 + w] = x
        np.cumsum(s, axis=1, out=s)
        np.cumsum(s, axis=2, out=s)
        self.s = s

    def rect(self, dy0: int, dy1: int, dx0: int, dx1: int) -> np.ndarray:
        """Sum over rows ``i + dy0 .. i + dy1`` and columns ``j + dx0 .. j + dx1`` (inclusive,
        offsets within ``reach``) for every pixel ``(i, j)``; 0 for an empty rectangle."""
        if dy1 < dy0 or dx1 < dx0:
            return np.zeros((self.s.shape[0], self.h, self.w))
        r, h, w, s = self.reach, self.h, self.w, self.s
        a0, a1, b0, b1 = r + dy0, r + dy1 + 1, r + dx0, r + dx1 + 1
        return (s[:, a1:a1 + h, b1:b1 + w] - s[:, a0:a0 + h, b1:b1 + w]
                - s[:, a1:a1 + h, b0:b0 + w] + s[:, a0:a0 + h, b0:b0 + w])


def box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the ``(2 radius + 1)^2`` box around each pixel of ``(B, H, W)``, zero
    outside."""
    return IntegralImage(x, radius).rect(-radius, radius, -radius, radius)


def _area(rect: tuple[int, int, int, int]) -> int:
    dy0, dy1, dx0, dx1 = rect
    return max(0, dy1 - dy0 + 1) * max(0, dx1 - dx0 + 1)


def _numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


class _Baseline:
    """Shared plumbing: linear power of any quantity in (the engine converts dB and amplitude
    scenes), channel choice."""

    #: linear power; sigma0, gamma0 or DN alike (CFAR compares a pixel with its surroundings)
    input_units = Units(None, "linear")

    def __init__(self, *, channel: int, tile_size: int, overlap: int,
                 in_channels: int | None) -> None:
        if in_channels is not None and not 0 <= channel < in_channels:
            raise ValueError(f"channel {channel} does not exist with in_channels={in_channels}")
        self.channel = int(channel)
        self.tile_size, self.overlap = int(tile_size), int(overlap)
        self.in_channels = in_channels

    def prepare(self, scene: SceneInfo) -> None:
        if self.channel >= scene.count:
            raise ValueError(f"{scene.path}: channel {self.channel} requested but only "
                             f"{scene.count} band(s) are read")

    def _power(self, images: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
        power = _numpy(images)[:, self.channel].astype(np.float64)
        ok = _numpy(valid).astype(bool)
        return np.where(ok & np.isfinite(power), power, 0.0), ok


def pixel_size_m(crs: Any, transform: Any, width: int, height: int) -> tuple[float, float]:
    """Ground size ``(x, y)`` of one pixel in metres: in a projected CRS the grid step times the
    CRS's linear unit (metre, foot ...); in a geographic one the geodesic length of one column
    and one row step at the scene's centre (WGS84 ellipsoid)."""
    import pyproj

    a, b, d, e = transform.a, transform.b, transform.d, transform.e
    parsed = pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    if parsed.is_projected:
        factor = parsed.axis_info[0].unit_conversion_factor
        return math.hypot(a, d) * factor, math.hypot(b, e) * factor
    to_ll = pyproj.Transformer.from_crs(parsed, "EPSG:4326", always_xy=True)
    geod = pyproj.Geod(ellps="WGS84")
    col, row = width / 2, height / 2
    x0, y0 = a * col + b * row + transform.c, d * col + e * row + transform.f
    sizes = []
    for dc, dr in ((1, 0), (0, 1)):
        x1, y1 = x0 + a * dc + b * dr, y0 + d * dc + e * dr
        lon0, lat0 = to_ll.transform(x0, y0)
        lon1, lat1 = to_ll.transform(x1, y1)
        sizes.append(abs(geod.inv(lon0, lat0, lon1, lat1)[2]))
    return sizes[0], sizes[1]


def scene_pixel_size_m(info: Any) -> tuple[float, float] | None:
    """A scene's pixel size ``(x, y)`` in metres: a Sentinel-1 product's ground spacing
    (range, azimuth), else from its CRS and transform; None for images in pixel coordinates
    (no CRS)."""
    spacing = getattr(info, "pixel_spacing_m", None)
    if spacing is not None:
        return float(spacing[0]), float(spacing[1])
    if info.crs is None:
        return None
    return pixel_size_m(info.crs, info.transform, info.width, info.height)

