"""Sentinel-1 GRD products (``NAME.SAFE``, its ``manifest.safe`` or ``NAME.zip``) as scenes of
``sargeo infer``.

The engine reads any scene through :class:`~sargeo.inference.reader.SceneInfo`:
:func:`open_product_scene` describes a product as one (:class:`ProductSceneInfo`) whose pixels
are the product's own image grid (rows = azimuth lines, columns = ground-range samples, the
measurement TIFFs' grid), read window by window through
:class:`~sargeo.datasets.safe.Sentinel1Product`: calibrated sigma0, thermal noise removed,
linear power, NaN on the product's borders (nodata). The product states its units
(``sigma0-linear:VV,VH``): the engine converts them to what the model expects (dB for the SARMAE
configs) through the units contract, so ``--units`` and ``--nodata`` do not apply.
Bands are the polarisations, co-polarised first (``--bands 2 1`` reads VH, VV).

Outputs are georeferenced through the product's geolocation grid (thin-plate spline through its
tie points, :meth:`~sargeo.datasets.safe.Sentinel1Product.pixel_to_lonlat`):

- detections: each box's corners (scene pixels) become a polygon in the WGS 84 UTM zone of the
  product's centre (metres, so areas and lengths are plain; the layer's CRS says which zone),
  with ``lon``/``lat`` (WGS 84) of the box centre and, for oriented boxes, ``length_m``,
  ``width_m`` and ``heading_deg`` (geodesic); pixel columns ``px_*`` stay in image geometry.
- segmentation masks are written in the product's image grid, with its ground control points
  (EPSG:4326) instead of a geotransform: GDAL warps them (``gdalwarp -tps``), and
  :meth:`~sargeo.datasets.safe.Sentinel1Product.warp` onto a UTM grid (``resampling="nearest"``).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.windows import Window

from sargeo.errors import error_text
from sargeo.inference.reader import SceneError, SceneInfo
from sargeo.units import UNITS_TAG, UnitsError

__all__ = ["ProductReader", "ProductSceneInfo", "is_product", "open_product_scene"]

#: output rows per strip of a decimated read (each strip reads its span of full rows)
STRIP = 32


def is_product(path: str | Path) -> bool:
    """Whether ``path`` names a Sentinel-1 product: a ``.SAFE`` folder (or any folder with a
    ``manifest.safe``), a ``manifest.safe`` file, or a ``.zip`` holding a ``NAME.SAFE/``."""
    p = Path(path)
    if p.is_dir():
        return p.suffix.upper() == ".SAFE" or (p / "manifest.safe").is_file()
    if not p.is_file():
        return False
    if p.name.lower() == "manifest.safe":
        return True
    if p.suffix.lower() != ".zip":
        return False
    try:
        with zipfile.ZipFile(p) as zf:
            return any(n.split("/")[0].upper().endswith(".SAFE") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return True  # a damaged product zip: Sentinel1Product names what is wrong


class ProductReader:
    """The pixels of a product as the engine's window reader wants them: ``read(bands,
    window=..., out_dtype=...)`` returns calibrated sigma0 (linear, NaN at nodata)."""

    def __init__(self, info: ProductSceneInfo) -> None:
        from sargeo.datasets.safe import Sentinel1Product

        self.info = info
        self.product = Sentinel1Product(info.path)

    def read(self, indexes: list[int] | int, window: Window | None = None,
             out_dtype: str = "float32", out_shape: tuple[int, ...] | None = None,
             masked: bool = False, **_: Any) -> np.ndarray:
        """Calibrated sigma0 of 1-based bands ``indexes`` (an int: one 2-D band) over
        ``window``; ``out_shape`` (whole image only): nearest pixels on that grid, read in
        strips of rows (for previews); ``masked``: NaN masked."""
        one = isinstance(indexes, int)
        pols = [self.info.polarisations[i - 1] for i in ([indexes] if one else indexes)]
        if out_shape is None:
            data = self.product.read(window, "sigma0", pols)
        else:
            h, w = self.product.shape
            rows = np.minimum((np.arange(out_shape[-2]) + 0.5) * h / out_shape[-2], h - 1)
            cols = np.minimum((np.arange(out_shape[-1]) + 0.5) * w / out_shape[-1], w - 1)
            rows, cols = rows.astype(int), cols.astype(int)
            data = np.empty((len(pols), len(rows), len(cols)), np.float32)
            for k in range(0, len(rows), STRIP):
                r0, r1 = rows[k], rows[min(k + STRIP, len(rows)) - 1] + 1
                strip = self.product.read(((r0, r1), (0, w)), "sigma0", pols)
                data[:, k:k + STRIP] = strip[:, rows[k:k + STRIP] - r0][:, :, cols]
        data = data.astype(out_dtype, copy=False)
        data = data[0] if one else data
        return np.ma.masked_invalid(data) if masked else data

    def read_masks(self, band: int, window: Window) -> np.ndarray:  # no internal mask
        return np.full((int(window.height), int(window.width)), 255, np.uint8)

    def close(self) -> None:
        self.product.close()

    def __enter__(self) -> ProductReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ProductSceneInfo(SceneInfo):
    """A product as a scene: image geometry (``crs`` None, identity ``transform``), the
    product's georeferencing for the outputs."""

    polarisations: tuple[str, ...] = ()  #: of the bands read, in order
    pixel_spacing_m: tuple[float, float] | None = None  #: (range, azimuth) ground spacing
    product: Any = None  #: the open Sentinel1Product (georeferencing; pixels are read anew)

    @property
    def name(self) -> str:
        return self.product.name if self.product is not None else self.path.stem

    def open(self) -> ProductReader:
        return ProductReader(self)

    def grid(self) -> dict[str, Any]:
        """Masks stay in the image grid, georeferenced by the product's tie points."""
        return dict(width=self.width, height=self.height, crs=None, transform=None,
                    gcps=(self.product.gcps, self.product.crs))

    def detections_frame(self, dets: Any, classes: Any, extra: dict | None = None) -> Any:
        """The detections as polygons in the product's UTM zone (module docstring)."""
        from sargeo.inference.writers import detections_frame

        frame = detections_frame(dets, classes, Affine.identity(), None, self.path.name, extra)
        return georeference_frame(frame, dets, self.product)


def open_product_scene(path: str | Path, *, in_channels: int | None = None,
                       bands: Any = None, units: Any = None, nodata: Any = None,
                       pixel_coords: bool = False) -> ProductSceneInfo:
    """Describe the product ``path`` as a scene (see :func:`~sargeo.inference.reader.
    open_scene` for the arguments; ``units``, ``nodata`` and ``pixel_coords`` are refused: the
    product states its units, nodata and georeferencing)."""
    from sargeo.datasets.safe import Sentinel1Product
    from sargeo.datasets.safe_metadata import ProductError

    path = Path(path)
    if units is not None:
        raise UnitsError(f"{path}: a Sentinel-1 product states its units (DN, calibrated here "
                         f"to sigma0, linear); drop --units {units}")
    if nodata is not None:
        raise SceneError(f"{path}: a Sentinel-1 product marks its own nodata (DN 0 on its "
                         "borders); drop --nodata")
    if pixel_coords:
        raise SceneError(f"{path}: a Sentinel-1 product is georeferenced by its geolocation "
                         "grid; drop --pixel-coords")
    try:
        product = Sentinel1Product(path)
    except (ProductError, FileNotFoundError, OSError) as err:
        raise SceneError(f"{path}: cannot read the Sentinel-1 product ({error_text(err)})"
                         ) from err
    pols = product.polarisations
    bands = tuple(range(1, len(pols) + 1)) if bands is None else tuple(int(b) for b in bands)
    bad = [b for b in bands if not 1 <= b <= len(pols)]
    if bad or not bands:
        raise SceneError(f"{path}: band(s) {bad or list(bands)} do not exist; the product has "
                         f"{len(pols)} polarisation(s) {list(pols)}, bands 1..{len(pols)}")
    if in_channels is not None and len(bands) != in_channels:
        named = ", ".join(f"{i} {p}" for i, p in enumerate(pols, 1))
        raise SceneError(f"{path}: {len(bands)} polarisation(s) would be read but the "
                         f"predictor expects {in_channels}; choose them with --bands (the "
                         f"product's bands are {named})")
    chosen = tuple(pols[b - 1] for b in bands)
    have = product.units("sigma0", chosen)
    ann = product.annotations[pols[0]]
    return ProductSceneInfo(
        path=path, width=product.width, height=product.height, count=len(bands), bands=bands,
        dtype="float32", crs=None, transform=Affine.identity(), nodata=(None,) * len(bands),
        descriptions=chosen, units="linear", tags={UNITS_TAG: str(have)}, input_units=have,
        units_origin="from the Sentinel-1 product (DN calibrated to sigma0 with its "
                     "calibration vectors, thermal noise removed)",
        polarisations=chosen, pixel_spacing_m=(ann.range_spacing, ann.azimuth_spacing),
        product=product)


def georeference_frame(frame: Any, dets: Any, product: Any) -> Any:
    """``frame`` (detections in scene pixels, no CRS) with polygons in the product's UTM zone
    and ``lon``/``lat`` columns (oriented boxes: also ``length_m``, ``width_m``,
    ``heading_deg``)."""
    import geopandas as gpd
    import shapely
    from pyproj import Geod, Transformer

    from sargeo.datasets.safe_geo import utm_crs

    crs = utm_crs(*product.georef.centre())
    n = len(dets)
    corners = dets.corners().reshape(n, 4, 2) if n else np.zeros((0, 4, 2))
    # box coordinates count from pixel corners; the product's from pixel centres
    lon, lat = product.pixel_to_lonlat(corners[..., 1] - 0.5, corners[..., 0] - 0.5)
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_utm.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    geometry = shapely.polygons(np.stack([x, y], -1)) if n else []
    b = dets.boxes
    centre = b[:, :2] if dets.rotated else (b[:, :2] + b[:, 2:4]) / 2
    clon, clat = product.pixel_to_lonlat(centre[:, 1] - 0.5, centre[:, 0] - 0.5)
    columns = {"lon": np.asarray(clon, np.float64).reshape(n),
               "lat": np.asarray(clat, np.float64).reshape(n)}
    if dets.rotated and n:  # sargeo.geo.rbox_corners order: ends of the w and h axes
        lon, lat = np.asarray(lon).reshape(n, 4), np.asarray(lat).reshape(n, 4)
        elon = np.stack([(lon[:, 0] + lon[:, 1]) / 2, (lon[:, 0] + lon[:, 3]) / 2], 1)
        elat = np.stack([(lat[:, 0] + lat[:, 1]) / 2, (lat[:, 0] + lat[:, 3]) / 2], 1)
        az, _, half = (np.asarray(v).reshape(n, 2) for v in Geod(ellps="WGS84").inv(
            np.repeat(columns["lon"], 2), np.repeat(columns["lat"], 2), elon.ravel(),
            elat.ravel()))
        long = np.argmax(half, axis=1)[:, None]
        columns["length_m"] = 2 * np.take_along_axis(half, long, 1)[:, 0]
        columns["width_m"] = 2 * np.take_along_axis(half, 1 - long, 1)[:, 0]
        columns["heading_deg"] = np.take_along_axis(az, long, 1)[:, 0] % 180.0
    elif dets.rotated:
        columns.update(length_m=np.zeros(0), width_m=np.zeros(0), heading_deg=np.zeros(0))
    out = frame.drop(columns="geometry").copy()
    for name, values in columns.items():
        out[name] = np.asarray(values, np.float64)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)
