"""A Sentinel-1 GRD product (``NAME.SAFE``, its ``manifest.safe`` or ``NAME.zip``) as a scene of
:class:`~sargeo.datasets.sentinel1.Sentinel1GRD`, read window by window.

The dataset indexes a product by its footprint (the image border mapped through the
geolocation grid into the dataset's CRS) and hands every query that meets it to
:meth:`ProductScene.read`: the query's map grid is mapped back into radar geometry, the product
pixels under it (plus a margin for the resampling kernel) are read and calibrated by
:class:`~sargeo.datasets.safe.Sentinel1Product` (sigma0 by default, thermal noise removed as
that reader does by default) and warped onto the query's grid with the product's own
georeferencing (:meth:`~sargeo.datasets.safe.Sentinel1Product.warp`, bilinear). No full-scene
intermediate file: a sample costs the pixels under it. Values are linear power, NaN on the
product's borders (DN 0) and outside its image.

The product is opened lazily in each process (DataLoader workers reopen it; nothing open is
pickled).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.windows import Window

from sargeo.datasets.safe_geo import MapGrid, utm_crs
from sargeo.datasets.sentinel1 import Sentinel1Error
from sargeo.errors import error_text

__all__ = ["PRODUCT_QUANTITIES", "ProductScene"]

#: calibrated quantities a product scene can return
PRODUCT_QUANTITIES = ("sigma0", "beta0", "gamma0")
#: points per side of the image border in the footprint, and of a query grid mapped back
BORDER_POINTS = 33
QUERY_POINTS = 9
#: extra product pixels read around a query (bilinear kernel, scaled when downsampling)
MARGIN = 2


class ProductScene:
    """One product of a :class:`~sargeo.datasets.sentinel1.Sentinel1GRD`.

    Args:
        path: the product.
        quantity: ``sigma0`` (default), ``beta0`` or ``gamma0`` (checked by the dataset).

    Raises :class:`~sargeo.datasets.sentinel1.Sentinel1Error` naming the product and the
    reader's own message for a missing, corrupt or incomplete product.
    """

    def __init__(self, path: str | Path, quantity: str = "sigma0") -> None:
        self.path, self.quantity = Path(path), quantity
        self._product: Any = None
        self._pid = -1
        product = self.product
        self.name = product.name
        self.polarisations: tuple[str, ...] = product.polarisations
        ann = product.annotations[self.polarisations[0]]
        #: ground pixel spacing, metres (the largest of range and azimuth)
        self.spacing = float(max(ann.range_spacing, ann.azimuth_spacing))
        self.start, self.stop = pd.Timestamp(ann.start_time), pd.Timestamp(ann.stop_time)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_product"], state["_pid"] = None, -1  # reopened where it is used
        return state

    @property
    def product(self) -> Any:
        """The open :class:`~sargeo.datasets.safe.Sentinel1Product`, opened in this process."""
        if self._product is None or self._pid != os.getpid():
            from sargeo.datasets.safe import Sentinel1Product
            from sargeo.datasets.safe_metadata import ProductError

            try:
                self._product = Sentinel1Product(self.path)
            except (ProductError, OSError) as err:
                raise Sentinel1Error(f"{self.path}: cannot read this Sentinel-1 product "
                                     f"({error_text(err)})") from err
            self._pid = os.getpid()
        return self._product

    def check_bands(self, bands: tuple[str, ...]) -> None:
        missing = [b for b in bands if b not in self.polarisations]
        if missing:
            raise Sentinel1Error(f"{self.path} has polarisations {list(self.polarisations)}, "
                                 f"not {missing}; choose bands it has")

    # -- where it is ----------------------------------------------------------------------
    def utm_crs(self) -> CRS:
        """The WGS 84 UTM zone of the product's centre."""
        return CRS.from_user_input(utm_crs(*self.product.georef.centre()).to_wkt())

    def default_res(self, crs: CRS) -> float:
        """The product's pixel spacing in the units of ``crs`` (degrees at its centre for a
        geographic CRS)."""
        if crs.is_geographic:
            return self.spacing / 111_320.0
        return self.spacing / crs.axis_info[0].unit_conversion_factor

    def footprint(self, crs: CRS) -> shapely.Polygon:
        """The image border (pixel edges) mapped through the geolocation grid into ``crs``."""
        h, w = self.product.shape
        t = np.linspace(0.0, 1.0, BORDER_POINTS)[:-1]
        top, bottom = -0.5, h - 0.5
        left, right = -0.5, w - 0.5
        rows = np.concatenate([np.full_like(t, top), top + t * h, np.full_like(t, bottom),
                               bottom - t * h])
        cols = np.concatenate([left + t * w, np.full_like(t, right), right - t * w,
                               np.full_like(t, left)])
        lon, lat = self.product.pixel_to_lonlat(rows, cols)
        x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        return shapely.Polygon(np.column_stack([x, y]))

    # -- pixels ---------------------------------------------------------------------------
    def source_window(self, grid: MapGrid, src_res: float) -> Window | None:
        """The product pixels under ``grid`` plus the margin of the resampling kernel, inside
        the image; None where the grid misses the image."""
        h, w = self.product.shape
        t = np.linspace(0.0, 1.0, QUERY_POINTS)
        u, v = np.meshgrid(t * grid.width, t * grid.height)
        x, y = grid.transform * (u.ravel(), v.ravel())
        lon, lat = Transformer.from_crs(CRS.from_user_input(grid.crs.to_wkt()), "EPSG:4326",
                                        always_xy=True).transform(x, y)
        rows, cols = self.product.lonlat_to_pixel(lon, lat)
        scale = max(1.0, src_res / self.spacing)
        margin = MARGIN + math.ceil(2 * scale)
        r0 = max(0, math.floor(np.nanmin(rows)) - margin)
        r1 = min(h, math.ceil(np.nanmax(rows)) + 1 + margin)
        c0 = max(0, math.floor(np.nanmin(cols)) - margin)
        c1 = min(w, math.ceil(np.nanmax(cols)) + 1 + margin)
        if r1 <= r0 or c1 <= c0:
            return None
        return Window(c0, r0, c1 - c0, r1 - r0)

    def read(self, bounds: tuple[float, float, float, float], res: tuple[float, float],
             crs: CRS, bands: tuple[str, ...]) -> np.ndarray:
        """Calibrated linear power of ``bands`` on the grid ``bounds`` (minx, miny, maxx, maxy)
        at ``res`` in ``crs`` -- the grid torchgeo's merge would give -- float32
        ``(bands, h, w)``, NaN outside the swath."""
        from rasterio.crs import CRS as RioCRS

        from sargeo.datasets.safe_metadata import ProductError

        minx, miny, maxx, maxy = bounds
        xres, yres = res
        width, height = int(round((maxx - minx) / xres)), int(round((maxy - miny) / yres))
        grid = MapGrid(RioCRS.from_user_input(crs.to_wkt()),
                       Affine.translation(minx, maxy) * Affine.scale(xres, -yres),
                       width, height)
        out = np.full((len(bands), height, width), np.nan, np.float32)
        src_res = self._res_in_metres(crs, xres, yres)
        window = self.source_window(grid, src_res) if width and height else None
        if window is None:
            return out
        try:
            data = self.product.read(window, self.quantity, bands)
            warped, _ = self.product.warp(data, window, grid)
        except ProductError as err:
            raise Sentinel1Error(f"{self.path}: cannot read this Sentinel-1 product "
                                 f"({error_text(err)})") from err
        return warped

    def _res_in_metres(self, crs: CRS, xres: float, yres: float) -> float:
        if crs.is_geographic:
            return max(xres, yres) * 111_320.0
        return max(xres, yres) * crs.axis_info[0].unit_conversion_factor

    def __repr__(self) -> str:
        return f"ProductScene({str(self.path)!r}, quantity={self.quantity!r})"
