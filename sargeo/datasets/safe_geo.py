"""Georeferencing of a Sentinel-1 GRD image through its geolocation grid.

The annotation's tie points (line, pixel, latitude, longitude, height) are mapped between pixel
and longitude/latitude by a thin-plate spline (exact at the tie points; the same interpolant as
GDAL's ``GCP_TPS``) or a least-squares polynomial of order 1-3 (GDAL's ``GCP_POLYNOMIAL``), each
fitted in both directions as GDAL does. Warps go through GDAL with the same method, so a point
mapped here and a pixel warped there agree.

Pixel coordinates: integers are pixel centres, as the annotation's line/pixel numbers. GDAL
counts from a pixel's corner: :attr:`Georeferencing.gcps` adds the half pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.windows import Window

#: points evaluated at once by the spline (bounds its temporary memory)
CHUNK = 65536
LONLAT = CRS.from_epsg(4326)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone of a point."""
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    lon = (lon + 180.0) % 360.0 - 180.0
    info = query_utm_crs_info(datum_name="WGS 84",
                              area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return CRS.from_epsg(int(info[0].code))


def _poly_terms(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    return np.stack([x ** i * y ** (d - i) for d in range(order + 1) for i in range(d + 1)],
                    axis=-1)


class _Fit:
    """A map from 2-D points to 2-D points fitted to pairs: thin-plate spline or polynomial."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, method: str, order: int) -> None:
        self.centre, self.scale = src.mean(axis=0), src.std(axis=0).max() or 1.0
        self.method, self.order = method, order
        s = (src - self.centre) / self.scale
        if method == "tps":
            from scipy.interpolate import RBFInterpolator

            self.rbf = RBFInterpolator(s, dst, kernel="thin_plate_spline", degree=1)
        else:
            self.coef, *_ = np.linalg.lstsq(_poly_terms(s[:, 0], s[:, 1], order), dst,
                                            rcond=None)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        s = (pts - self.centre) / self.scale
        if self.method != "tps":
            return _poly_terms(s[:, 0], s[:, 1], self.order) @ self.coef
        out = np.empty((len(s), 2))
        for i in range(0, len(s), CHUNK):
            out[i:i + CHUNK] = self.rbf(s[i:i + CHUNK])
        return out


@dataclass(frozen=True)
class MapGrid:
    """A north-up map grid: ``crs``, ``transform``, ``width``, ``height``."""

    crs: CRS
    transform: Affine
    width: int
    height: int


class Georeferencing:
    """Pixel <-> longitude/latitude through tie points, and warps onto map grids.

    Args:
        line, pixel, longitude, latitude, height: the tie points, arrays of shape (n,).
        method: ``"tps"`` or ``"polynomial"``; ``order``: the polynomial's order (1 to 3).
    """

    def __init__(self, line: np.ndarray, pixel: np.ndarray, longitude: np.ndarray,
                 latitude: np.ndarray, height: np.ndarray, *, method: str = "tps",
                 order: int = 2) -> None:
        self.method, self.order = method, order
        lon = np.asarray(longitude, dtype=np.float64)
        #: a product over the antimeridian: longitudes made continuous (0..360)
        self.wraps = bool(np.ptp(lon) > 180)
        lon = np.where(lon < 0, lon + 360.0, lon) if self.wraps else lon
        self.points = np.column_stack([line, pixel, lon, latitude, height]).astype(np.float64)
        rc, ll = self.points[:, :2], self.points[:, 2:4]
        self._forward = _Fit(rc, ll, method, order)
        self._inverse = _Fit(ll, rc, method, order)

    @property
    def gcps(self) -> list[GroundControlPoint]:
        """The tie points as GDAL ground control points (row = line + 0.5, col = pixel + 0.5,
        x = longitude, y = latitude, z = height), in EPSG:4326."""
        return [GroundControlPoint(row=r + 0.5, col=c + 0.5, x=x, y=y, z=z, id=str(i))
                for i, (r, c, x, y, z) in enumerate(self.points.tolist())]

    def gdal_options(self) -> dict[str, Any]:
        if self.method == "tps":
            return {"SRC_METHOD": "GCP_TPS"}
        return {"SRC_METHOD": "GCP_POLYNOMIAL", "MAX_GCP_ORDER": self.order}

    def pixel_to_lonlat(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Longitude (-180..180) and latitude of pixels ``(rows, cols)``, any shape."""
        rows, cols = np.broadcast_arrays(np.asarray(rows, float), np.asarray(cols, float))
        out = self._forward(np.column_stack([rows.ravel(), cols.ravel()]))
        lon = (out[:, 0] + 180.0) % 360.0 - 180.0
        return lon.reshape(rows.shape), out[:, 1].reshape(rows.shape)

    def lonlat_to_pixel(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fractional ``(rows, cols)`` of longitude/latitude points, any shape."""
        lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
        x = lon.ravel()
        x = np.where(x < 0, x + 360.0, x) if self.wraps else x
        out = self._inverse(np.column_stack([x, lat.ravel()]))
        return out[:, 0].reshape(lon.shape), out[:, 1].reshape(lon.shape)

    def centre(self) -> tuple[float, float]:
        """Longitude and latitude of the tie points' centre."""
        lon = float(self.points[:, 2].mean())
        return (lon + 180.0) % 360.0 - 180.0, float(self.points[:, 3].mean())

    def _window_gcps(self, window: Window) -> list[GroundControlPoint]:
        return [GroundControlPoint(row=g.row - window.row_off, col=g.col - window.col_off,
                                   x=g.x, y=g.y, z=g.z, id=g.id) for g in self.gcps]

    def map_grid(self, window: Window, *, dst_crs: Any = None,
                 resolution: float = 10.0) -> MapGrid:
        """The map grid covering ``window`` in ``dst_crs`` (default: the UTM zone of the tie
        points' centre) at ``resolution``, its pixel edges on multiples of ``resolution``
        (so the grids of neighbouring windows line up)."""
        from rasterio.warp import aligned_target, calculate_default_transform

        crs = utm_crs(*self.centre()) if dst_crs is None else CRS.from_user_input(dst_crs)
        transform, width, height = calculate_default_transform(
            LONLAT, crs, int(window.width), int(window.height),
            gcps=self._window_gcps(window), resolution=resolution, **self.gdal_options())
        transform, width, height = aligned_target(transform, width, height, resolution)
        return MapGrid(crs, transform, int(width), int(height))

    def warp(self, array: np.ndarray, window: Window, grid: MapGrid, *,
             resampling: str = "bilinear", src_nodata: float | None = None,
             dst_nodata: float | None = None) -> np.ndarray:
        """``array`` ((h, w) or (bands, h, w): the pixels of ``window``) resampled onto
        ``grid``; pixels of the grid off the window get ``dst_nodata`` (NaN for floats,
        else 0)."""
        from rasterio.enums import Resampling
        from rasterio.warp import reproject

        src = np.asarray(array)
        if src.shape[-2:] != (int(window.height), int(window.width)):
            raise ValueError(f"array of shape {src.shape} does not match window {window}")
        floating = np.issubdtype(src.dtype, np.floating)
        if dst_nodata is None:
            dst_nodata = float("nan") if floating else 0
        if src_nodata is None and floating:
            src_nodata = float("nan")
        shape = (*src.shape[:-2], grid.height, grid.width)
        dst = np.full(shape, dst_nodata, dtype=src.dtype)
        reproject(src, dst, gcps=self._window_gcps(window), src_crs=LONLAT,
                  dst_transform=grid.transform, dst_crs=grid.crs, src_nodata=src_nodata,
                  dst_nodata=dst_nodata, resampling=Resampling[resampling],
                  **self.gdal_options())
        return dst
