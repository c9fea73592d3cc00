"""Sentinel-1 GRD scenes as a torchgeo ``RasterDataset``.

Sentinel-1 is ESA's C-band (5.405 GHz) SAR constellation. Its Level-1 Ground Range Detected
(GRD) products hold detected backscatter in dual polarisation (VV+VH over land and most seas,
HH+HV over polar regions) at about 10 m pixels in IW mode. Where they come from:

- terrain-corrected GeoTIFF/COG products, one file per polarisation (ASF on-demand RTC
  ``..._VV.tif``; Microsoft Planetary Computer ``measurement/iw-vv.tiff`` of
  ``sentinel-1-rtc``) or stacked in one file with band descriptions "VV", "VH" (Google Earth
  Engine exports, sargeo's simulator);
- Sentinel-1 GRD products as ESA distributes them (``NAME.SAFE`` folder, its
  ``manifest.safe`` or ``NAME.zip``), read in place window by window
  (:mod:`sargeo.datasets.sentinel1_product`): calibrated sigma0 (beta0, gamma0 with
  ``quantity=``), thermal noise removed, warped from radar geometry onto the dataset's map grid
  through the product's geolocation grid; each sample reads only the product pixels under it.
  Their borders and everything off their swath are nodata;
- a single measurement TIFF taken out of a product carries no geotransform, only ground control
  points: georeference it with :func:`georeference_grd` (thin-plate spline or polynomial
  through the GCPs; one affine fitted to the GCPs is kilometres off over a scene).

torchgeo's own ``Sentinel1`` matches only ASF RTC file names; this dataset finds either layout by
itself, lets you choose polarisations, returns linear backscatter (sigma0/gamma0 power, as
distributed) or decibels, and turns nodata into NaN (or a value you choose). Scenes in different
CRSs are read in one target CRS and resolution, as torchgeo does (the first scene's by default;
a product's is the UTM zone of its centre at its pixel spacing). Where GeoTIFFs and products
overlap, GeoTIFF pixels come first and products fill their nodata.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio
import shapely
import torch
from geopandas import GeoDataFrame
from pyproj import CRS
from torchgeo.datasets import RasterDataset

if TYPE_CHECKING:
    from sargeo.datasets.sentinel1_product import ProductScene

POLARISATIONS = ("VV", "VH", "HH", "HV")
#: a polarisation token between separators, as in ``..._VV.tif`` or ``iw-vv.tiff``
BAND_TOKEN = re.compile(r"(?<=[_\-.])(vv|vh|hh|hv)(?=[_\-.])", re.IGNORECASE)


class Sentinel1Error(ValueError):
    """A scene cannot be used as given; the message names the file and what is wrong."""


def _describe_bands(src: rasterio.DatasetReader) -> list[str]:
    return [(d or "").strip().upper() for d in src.descriptions]


class Sentinel1GRD(RasterDataset):
    """Sentinel-1 GRD GeoTIFF/COG scenes and SAFE products (see the module docstring).

    Args:
        paths: files, products or folders (searched recursively for ``*.tif`` / ``*.tiff``,
            ``NAME.SAFE`` folders and product zips).
        bands: polarisations to return, in order.
        crs, res: target CRS and resolution (default: the first scene's).
        decibels: return ``10 log10(power)`` instead of linear power.
        files_in_db: the GeoTIFFs hold ``10 log10(power)`` (Sen1Floods11, Google Earth Engine
            exports), not linear power: read as power (``10 ** (dB / 10)``) like other scenes
            (products are calibrated to linear power whatever this says).
        nodata_value: value for nodata, non-positive and non-finite pixels (NaN by default).
        speckle_filter: optional filter applied to linear power before any dB conversion,
            e.g. :class:`sargeo.datasets.speckle_filter.LeeFilter` (torchgeo's Lee filter);
            off by default, as SARMAE was pretrained on speckled images.
        transforms, cache: as for torchgeo's ``RasterDataset``.
        quantity: what products are calibrated to: ``sigma0`` (default), ``beta0`` or
            ``gamma0`` (GeoTIFFs are read as they are).
    """

    filename_glob = "*.tif*"
    all_bands = POLARISATIONS
    is_image = True

    def __init__(self, paths: str | Path | Sequence[str | Path] = "data",
                 bands: Sequence[str] = ("VV", "VH"), crs: CRS | None = None,
                 res: float | tuple[float, float] | None = None, decibels: bool = False,
                 files_in_db: bool = False, nodata_value: float = float("nan"),
                 speckle_filter: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 cache: bool = True, quantity: str = "sigma0") -> None:
        bands = tuple(b.upper() for b in bands)
        unknown = [b for b in bands if b not in POLARISATIONS]
        if unknown:
            raise Sentinel1Error(f"unknown polarisation(s) {unknown}; use {POLARISATIONS}")
        self.paths = paths
        self.decibels, self.nodata_value = decibels, nodata_value
        self.files_in_db = files_in_db
        self.speckle_filter = speckle_filter
        scenes = self._find_scenes()
        products = self._open_products(scenes, bands, quantity)
        if scenes[0][1]:  # the first scene is a product: its UTM zone and pixel spacing
            crs = products[0].utm_crs() if crs is None else crs
            res = products[0].default_res(crs) if res is None else res
        self._products: dict[str, ProductScene] = {}
        if any(not is_product for _, is_product in scenes):
            self._check_and_choose_layout(bands)
            super().__init__(paths, crs=crs, res=res, bands=bands, transforms=transforms,
                             cache=cache)
        else:
            self._init_without_geotiffs(crs, res, bands, transforms, cache)
        self._index_products(products)

    # -- layout ------------------------------------------------------------------------------
    def _find_scenes(self) -> list[tuple[str, bool]]:
        """``(path, is_product)`` of every scene under the paths, in order: a folder is
        searched recursively for ``*.tif`` / ``*.tiff``, ``NAME.SAFE`` folders and product
        zips (nothing inside a product counts as a GeoTIFF)."""
        from sargeo.inference.product_source import is_product

        paths = [self.paths] if isinstance(self.paths, str | Path) else list(self.paths)
        scenes: list[tuple[str, bool]] = []
        for p in map(Path, paths):
            if is_product(p):
                scenes.append((str(p), True))
            elif p.is_dir():
                found = []
                for folder, subfolders, names in os.walk(p):
                    inside = list(subfolders)
                    subfolders[:] = [d for d in inside if not is_product(Path(folder, d))]
                    found += [(str(Path(folder, d)), True) for d in inside
                              if d not in subfolders]
                    for name in names:
                        path = Path(folder, name)
                        if path.suffix.lower() in (".tif", ".tiff"):
                            found.append((str(path), False))
                        elif path.suffix.lower() == ".zip" and is_product(path):
                            found.append((str(path), True))
                scenes += sorted(found)
            elif p.is_file():
                scenes.append((str(p), False))
            else:
                raise FileNotFoundError(f"Sentinel-1 path not found: {p}")
        if not scenes:
            raise FileNotFoundError(f"no GeoTIFF (*.tif, *.tiff) or Sentinel-1 product "
                                    f"(NAME.SAFE, NAME.zip) under {paths}")
        return scenes

    def _candidate_files(self) -> list[str]:
        return [path for path, product in self._find_scenes() if not product]

    def _check_and_choose_layout(self, bands: tuple[str, ...]) -> None:
        """Stacked files (band descriptions) or one file per polarisation (names); refuse
        rasters without georeferencing and missing bands, naming the file."""
        stacked, separate = [], []
        for path in self._candidate_files():
            try:
                with rasterio.open(path) as src:
                    has_crs = src.crs is not None
                    gcps, _ = src.gcps
                    names = _describe_bands(src)
                    count = src.count
            except rasterio.errors.RasterioIOError as err:
                raise Sentinel1Error(f"{path} is not a readable GeoTIFF: {err}") from err
            if not has_crs:
                hint = (" It carries ground control points: georeference it first with "
                        "sargeo.datasets.sentinel1.georeference_grd." if gcps else "")
                raise Sentinel1Error(f"{path} has no CRS / geotransform.{hint}")
            if count > 1 or any(n in POLARISATIONS for n in names):
                missing = [b for b in bands if b not in names]
                if missing:
                    raise Sentinel1Error(f"{path} has bands {names}, not {missing}; "
                                         "set band descriptions or choose bands it has")
                stacked.append((path, names))
            else:
                token = BAND_TOKEN.search(Path(path).name)
                if token is None:
                    raise Sentinel1Error(f"{path} has one unnamed band and no polarisation "
                                         "(VV, VH, HH, HV) in its file name")
                separate.append(path)
        if stacked and separate:
            raise Sentinel1Error("mixing stacked (multi-band) and one-file-per-polarisation "
                                 f"scenes is not supported: e.g. {stacked[0][0]} and "
                                 f"{separate[0]}")
        if stacked:
            orders = {tuple(n) for _, n in stacked}
            if len(orders) > 1:
                raise Sentinel1Error(f"stacked scenes order their bands differently: {orders}")
            self.separate_files = False
            self.all_bands = tuple(orders.pop())
            self._first_band_files = None
        else:
            self.separate_files = True
            self.filename_regex = r"^.*?[_\-.](?P<band>(?i:vv|vh|hh|hv))[_\-.].*$"
            first = [p for p in separate if BAND_TOKEN.search(Path(p).name).group(1).upper()
                     == bands[0]]
            for path in first:  # every other requested band must exist beside it
                for band in bands[1:]:
                    other = self._update_filepath(band, path)
                    if not Path(other).is_file():
                        raise Sentinel1Error(f"{path}: no {band} file beside it "
                                             f"(expected {other})")
            if not first:
                raise Sentinel1Error(f"no {bands[0]} file among {separate[:4]}")
            self._first_band_files = first

    @property
    def files(self) -> list[str]:
        """The GeoTIFFs (one per scene) and then the products (once indexed)."""
        products = list(getattr(self, "_products", {}))
        if getattr(self, "_first_band_files", None) is not None:
            return list(self._first_band_files) + products  # one entry per scene, not band
        return self._candidate_files() + products

    # -- products ----------------------------------------------------------------------------
    def _open_products(self, scenes: list[tuple[str, bool]], bands: tuple[str, ...],
                       quantity: str) -> list[ProductScene]:
        from sargeo.datasets.sentinel1_product import PRODUCT_QUANTITIES, ProductScene

        if quantity not in PRODUCT_QUANTITIES:
            raise Sentinel1Error(f"quantity must be one of {PRODUCT_QUANTITIES}, got "
                                 f"{quantity!r}")
        products = [ProductScene(path, quantity) for path, is_product in scenes if is_product]
        for product in products:
            product.check_bands(bands)
        return products

    def _init_without_geotiffs(self, crs: CRS, res: float | tuple[float, float],
                               bands: tuple[str, ...], transforms: Any, cache: bool) -> None:
        """What torchgeo's ``RasterDataset.__init__`` sets, for products only."""
        self.bands, self.transforms, self.cache, self.time_series = bands, transforms, cache, False
        self.separate_files, self._first_band_files, self.band_indexes = False, None, None
        self._res = (float(res), float(res)) if isinstance(res, int | float) else tuple(res)
        self.index = GeoDataFrame({"filepath": []}, geometry=[], crs=crs, index=pd.IntervalIndex
                                  .from_tuples([], closed="both", name="datetime"))

    def _index_products(self, products: list[ProductScene]) -> None:
        """One index row per product: the bounds of its footprint in the dataset's CRS (as
        torchgeo's samplers draw from bounds; the swath's corners read as nodata), its
        acquisition interval."""
        if not products:
            return
        times = [(p.start.as_unit("ns"), p.stop.as_unit("ns")) for p in products]
        rows = GeoDataFrame({"filepath": [str(p.path) for p in products]},
                            geometry=[shapely.box(*p.footprint(self.crs).bounds)
                                      for p in products], crs=self.crs,
                            index=pd.IntervalIndex.from_tuples(times, closed="both",
                                                               name="datetime"))
        self.index = rows if self.index.empty else pd.concat([self.index, rows])
        self._products = {str(p.path): p for p in products}

    def _update_filepath(self, band: str, filepath: str) -> str:
        """The file of ``band`` beside ``filepath``, keeping the name's letter case."""
        path = Path(filepath)
        token = BAND_TOKEN.search(path.name)
        if token is None:
            return filepath
        text = token.group(1)
        new = band.lower() if text.islower() else band.upper()
        return str(path.with_name(path.name[:token.start()] + new + path.name[token.end():]))

    # -- samples -----------------------------------------------------------------------------
    def __getitem__(self, query: Any) -> dict[str, Any]:
        rows = self._rows_under(query) if self._products else None
        if rows is None or not rows.filepath.isin(self._products).any():
            return self._finish(super().__getitem__(query), self.files_in_db)
        return self._finish(self._product_sample(query, rows), False)

    def _rows_under(self, query: Any) -> GeoDataFrame:
        """The index rows the query meets (torchgeo's own selection)."""
        x, y, t = self._disambiguate_slice(query)
        rows = self.index.iloc[self.index.index.overlaps(pd.Interval(t.start, t.stop))]
        return rows.iloc[::t.step].cx[x.start:x.stop, y.start:y.stop]

    def _product_sample(self, query: Any, rows: GeoDataFrame) -> dict[str, Any]:
        """The raw sample (linear power) where products are hit: GeoTIFF pixels first (read as
        torchgeo reads them), then each product fills what is still nodata."""
        x, y, _ = self._disambiguate_slice(query)
        products = [self._products[f] for f in rows.filepath if f in self._products]
        geotiffs = [f for f in rows.filepath if f not in self._products]
        image = self._read_geotiffs(geotiffs, query) if geotiffs else None
        bounds, res = (x.start, y.start, x.stop, y.stop), (x.step, y.step)
        for product in products:
            data = torch.from_numpy(product.read(bounds, res, self.crs, tuple(self.bands)))
            image = data if image is None else torch.where(_invalid(image), data, image)
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        sample = {"bounds": self._slice_to_tensor(query), "transform": torch.tensor(transform),
                  "image": image}
        return sample if self.transforms is None else self.transforms(sample)

    def _read_geotiffs(self, files: list[str], query: Any) -> torch.Tensor:
        """The GeoTIFFs' pixels under ``query`` as torchgeo reads them, as linear power."""
        if self.separate_files:
            image = torch.cat([self._merge_or_stack([self._update_filepath(b, f) for f in files],
                                                    query, out_crs=self.crs)
                               for b in self.bands], dim=-3)
        else:
            image = self._merge_or_stack(files, query, self.band_indexes, out_crs=self.crs)
        image = image.to(torch.float32)
        return _db_to_power(image) if self.files_in_db else image

    def _finish(self, sample: dict[str, Any], in_db: bool) -> dict[str, Any]:
        """The sample in the dataset's units: power (from dB files), speckle filter, dB,
        nodata."""
        image = sample["image"]
        if in_db:
            image = _db_to_power(image)
        if self.speckle_filter is not None:
            image = getattr(self.speckle_filter, "filter", self.speckle_filter)(image)
        invalid = _invalid(image)
        if self.decibels:
            image.masked_fill_(invalid, 1.0).log10_().mul_(10.0)
        sample["image"] = image.masked_fill_(invalid, self.nodata_value)
        # tensors only, so that torchgeo 0.10's stack_samples batches them; the CRS and bands
        # are the dataset's (ds.crs, ds.bands), LabelledScenes adds crs and the exact query
        return sample


def _db_to_power(image: torch.Tensor) -> torch.Tensor:
    """``10 ** (x / 10)`` in place; NaN stays NaN."""
    return image.mul_(math.log(10.0) / 10.0).exp_()


def _invalid(image: torch.Tensor) -> torch.Tensor:
    """NaN, -inf, 0 and negatives fail ``> 0``, +inf fails ``< inf``: one mask."""
    return ~((image > 0) & (image < float("inf")))

def georeference_grd(src_path: str | Path, dst_path: str | Path, *,
                     dst_crs: str | CRS | None = None, resolution: float = 10.0,
                     method: str = "tps", polynomial_order: int = 2,
                     overwrite: bool = False) -> Path:
    """Warp a GRD measurement TIFF that carries only GCPs onto a map grid, block by block.

    ``method="tps"`` uses a thin-plate spline through all GCPs (exact at the GCPs);
    ``"polynomial"`` a least-squares polynomial of ``polynomial_order`` (1 to 3). The target CRS
    defaults to the UTM zone of the GCPs' centre. Writes a tiled, DEFLATE-compressed GeoTIFF
    (float32, nodata NaN) atomically.
    """
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from sargeo.io import atomic_path

    if method not in ("tps", "polynomial"):
        raise ValueError(f"method must be 'tps' or 'polynomial', got {method!r}")
    with rasterio.open(src_path) as src:
        gcps, gcp_crs = src.gcps
        if not gcps:
            raise Sentinel1Error(f"{src_path} has no ground control points to warp with")
        if dst_crs is None:
            lon = float(np.mean([g.x for g in gcps]))
            lat = float(np.mean([g.y for g in gcps]))
            if gcp_crs is not None and not CRS(gcp_crs.to_wkt()).is_geographic:
                raise Sentinel1Error(f"{src_path}: GCPs are not in longitude/latitude; "
                                     "pass dst_crs")
            info = query_utm_crs_info(datum_name="WGS 84",
                                      area_of_interest=AreaOfInterest(lon, lat, lon, lat))
            dst_crs = CRS.from_epsg(int(info[0].code))
        dst_crs = CRS.from_user_input(dst_crs)
        options = ({"SRC_METHOD": "GCP_TPS"} if method == "tps" else
                   {"SRC_METHOD": "GCP_POLYNOMIAL", "MAX_GCP_ORDER": polynomial_order})
        transform, width, height = calculate_default_transform(
            gcp_crs, dst_crs.to_wkt(), src.width, src.height, gcps=gcps,
            resolution=resolution, **options)
        profile = dict(driver="GTiff", width=width, height=height, count=src.count,
                       dtype="float32", crs=dst_crs.to_wkt(), transform=transform,
                       nodata=float("nan"), tiled=True, blockxsize=512, blockysize=512,
                       compress="deflate", BIGTIFF="IF_SAFER")
        with atomic_path(dst_path, overwrite=overwrite) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.descriptions = tuple(d or "" for d in src.descriptions)
                for b in range(1, src.count + 1):
                    reproject(rasterio.band(src, b), rasterio.band(dst, b), gcps=gcps,
                              src_crs=gcp_crs, dst_transform=transform,
                              dst_crs=dst_crs.to_wkt(), dst_nodata=float("nan"),
                              resampling=Resampling.bilinear, **options)
    return Path(dst_path)
