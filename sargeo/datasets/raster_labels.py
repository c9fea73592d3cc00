"""Raster labels (class masks in GeoTIFFs, as segmentation data sets ship them) read per tile.

Segmentation labels usually come as rasters, one per image chip, in any CRS and on any grid:
Sen1Floods11's ``Labels/<id>_LabelHand.tif`` holds 1 for water, 0 for land and -1 for no data
(and no nodata tag). :class:`RasterLabels` indexes the footprints of such rasters and, for a
tile given by its affine transform, shape and CRS, warps them onto the tile's grid with
nearest-neighbour resampling (class ids are never blended). Pixels that no label raster
covers, the rasters' nodata and the ``ignore_value`` become ``ignore_index`` (255, what mmseg
ignores). It offers what :class:`~sargeo.datasets.labelled.LabelledScenes` needs of labels
(``mask_for_tile``, ``check_coverage``, ``classes``, ``crs``) beside
:class:`~sargeo.datasets.labels.VectorLabels`; it has no objects, so no boxes (detection needs
vector labels).
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import shapely
from affine import Affine
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from sargeo.datasets.labels import LabelError, LabelWarning, footprint_geometries

#: file name endings read as label rasters when a folder is given
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".jp2")
#: glob characters: a path containing one is a pattern
GLOB_CHARS = "*?["


def raster_label_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Label rasters from files, folders (searched recursively for :data:`RASTER_SUFFIXES`)
    and glob patterns, in the order given (each folder and pattern sorted)."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise FileNotFoundError("no label rasters given (empty list of paths)")
    files: list[Path] = []
    for item in items:
        text = str(item)
        if any(c in text for c in GLOB_CHARS):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise FileNotFoundError(f"no label raster matches {text}")
            files += found
        elif Path(text).is_dir():
            found = sorted(p for p in Path(text).rglob("*")
                           if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"no label raster ({', '.join(RASTER_SUFFIXES)}) under "
                                        f"{text}")
            files += found
        elif Path(text).is_file():
            files.append(Path(text))
        else:
            raise FileNotFoundError(f"label raster not found: {text}")
    return files


class RasterLabels:
    """Class masks from label rasters, warped onto any tile (nearest neighbour).

    Args:
        paths: label rasters: files, folders or glob patterns (see :func:`raster_label_files`).
            Where several rasters cover a pixel, the first listed that labels it wins.
        classes: class names in class-id order; a mapped value outside ``range(len(classes))``
            (other than ``ignore_index``) is an error. ``None``: any id below ``ignore_index``.
        ignore_value: raster value(s) meaning "no label" (Sen1Floods11: -1); the rasters'
            own nodata tag counts too.
        value_map: raster value -> class id (or ``ignore_index``), e.g. ``{0: 0, 1: 1, 2: 255}``;
            a value found in a tile that is neither mapped nor ignored is an error. ``None``:
            raster values are the class ids.
        ignore_index: mask value of unlabelled pixels (outside every raster, nodata,
            ``ignore_value``); 255 for mmseg.
        band: the band holding the labels.
        crs: the CRS to work in (that of the imagery); default: the first raster's.

    Raises:
        FileNotFoundError: a path does not exist or finds no raster.
        LabelError: a raster is unreadable, has no CRS or no such band; bad arguments.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path], *,
                 classes: Sequence[str] | None = None,
                 ignore_value: float | Sequence[float] | None = None,
                 value_map: Mapping[float, int] | None = None, ignore_index: int = 255,
                 band: int = 1, crs: Any = None) -> None:
        self.files = raster_label_files(paths)
        self.path = self.files[0].parent if len(self.files) > 1 else self.files[0]
        if not 0 <= int(ignore_index) <= 255:
            raise LabelError(f"ignore_index must be in [0, 255] (masks are uint8), got "
                             f"{ignore_index}")
        self.ignore_index = int(ignore_index)
        self.classes: tuple[str, ...] | None = (None if classes is None
                                                 else tuple(str(c) for c in classes))
        n_ids = self.ignore_index if self.classes is None else len(self.classes)
        if self.classes is not None and len(self.classes) > self.ignore_index:
            raise LabelError(f"{len(self.classes)} classes do not fit below ignore_index "
                             f"{self.ignore_index}")
        self._n_ids = n_ids
        values = ([] if ignore_value is None else
                  [ignore_value] if np.isscalar(ignore_value) else list(ignore_value))
        self.ignore_values = np.asarray(values, dtype=np.float64)
        self.value_map = None if value_map is None else {float(k): int(v)
                                                         for k, v in value_map.items()}
        if self.value_map is not None:
            bad = {k: v for k, v in self.value_map.items()
                   if v != self.ignore_index and not 0 <= v < n_ids}
            if bad:
                raise LabelError(f"value_map sends {bad} outside the class ids 0..{n_ids - 1} "
                                 f"(and ignore_index {self.ignore_index})")
        self.band = int(band)
        self._read_footprints()
        self.crs = self._crs[0] if crs is None else pyproj.CRS.from_user_input(crs)
        self._by_crs: dict[str, gpd.GeoDataFrame] = {}

    # -- index --------------------------------------------------------------------------------
    def _read_footprints(self) -> None:
        """Each raster's CRS and bounds (read once; pixels are read per tile)."""
        self._crs: list[pyproj.CRS] = []
        self._bounds: list[tuple[float, float, float, float]] = []
        for path in self.files:
            try:
                with rasterio.open(path) as src:
                    crs, bounds, count = src.crs, tuple(src.bounds), src.count
            except rasterio.errors.RasterioIOError as err:
                raise LabelError(f"{path} is not a readable label raster: {err}") from err
            if crs is None:
                raise LabelError(f"{path} has no CRS / geotransform; label rasters must be "
                                 "georeferenced (assign one with gdal_edit -a_srs)")
            if not 1 <= self.band <= count:
                raise LabelError(f"{path} has {count} band(s), no band {self.band}; pass band=")
            self._crs.append(pyproj.CRS.from_user_input(crs.to_wkt()))
            self._bounds.append(bounds)

    def footprints(self, crs: Any = None) -> gpd.GeoDataFrame:
        """The rasters' footprints (column ``path``) in ``crs`` (default: ``self.crs``),
        densified before reprojection; computed once per CRS."""
        crs = self.crs if crs is None else pyproj.CRS.from_user_input(crs)
        key = crs.to_wkt()
        if key not in self._by_crs:
            geoms = []
            for raster_crs, bounds in zip(self._crs, self._bounds, strict=True):
                outline = box(*bounds)
                if raster_crs != crs:
                    step = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 32 or 1.0
                    outline = gpd.GeoSeries([shapely.segmentize(outline, step)],
                                            crs=raster_crs).to_crs(crs).iloc[0]
                geoms.append(outline)
            self._by_crs[key] = gpd.GeoDataFrame({"path": [str(p) for p in self.files]},
                                                 geometry=geoms, crs=crs)
        return self._by_crs[key]

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return (f"RasterLabels({str(self.path)!r}, {len(self)} rasters, classes="
                f"{None if self.classes is None else list(self.classes)}, "
                f"crs={self.crs.to_string()!r})")

    # -- tiles --------------------------------------------------------------------------------
    def _warp_one(self, i: int, transform: Affine, shape: tuple[int, int],
                  crs: pyproj.CRS) -> np.ndarray | None:
        """Raster ``i`` on the tile's grid (float64, NaN where it has no value), or None when
        it does not reach the tile."""
        height, width = shape
        left, top = transform * (0, 0)
        right, bottom = transform * (width, height)
        bounds = (min(left, right), min(top, bottom), max(left, right), max(top, bottom))
        path = self.files[i]
        with rasterio.open(path) as src:
            if self._crs[i] != crs:
                bounds = transform_bounds(crs.to_wkt(), src.crs, *bounds, densify_pts=21)
            window = from_bounds(*bounds, transform=src.transform)
            col0, row0 = int(np.floor(window.col_off)) - 1, int(np.floor(window.row_off)) - 1
            col1 = int(np.ceil(window.col_off + window.width)) + 1
            row1 = int(np.ceil(window.row_off + window.height)) + 1
            col0, row0 = max(col0, 0), max(row0, 0)
            col1, row1 = min(col1, src.width), min(row1, src.height)
            if col1 <= col0 or row1 <= row0:
                return None
            window = Window(col0, row0, col1 - col0, row1 - row0)
            data = src.read(self.band, window=window, out_dtype="float64")
            if src.nodata is not None:
                data[data == src.nodata] = np.nan
            src_transform, src_crs = src.window_transform(window), src.crs
        out = np.full(shape, np.nan, dtype=np.float64)
        reproject(data, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
                  dst_transform=transform, dst_crs=crs.to_wkt(), dst_nodata=np.nan,
                  resampling=Resampling.nearest, tolerance=0.0)  # exact: no approximation
        return out

    def _class_ids(self, values: np.ndarray, path: Path) -> np.ndarray:
        """Raster values (finite, not ignored) -> class ids, refusing unknown values."""
        if self.value_map is not None:
            keys = np.array(sorted(self.value_map), dtype=np.float64)
            ids = np.array([self.value_map[k] for k in keys], dtype=np.int64)
            at = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
            known = keys[at] == values
            if not known.all():
                unknown = np.unique(values[~known])[:8].tolist()
                raise LabelError(f"{path}: label value(s) {unknown} are neither in value_map "
                                 f"{self.value_map} nor ignore_value "
                                 f"{self.ignore_values.tolist()}; add them to one of them")
            return ids[at]
        whole = values == np.round(values)
        inside = whole & (values >= 0) & (values < self._n_ids)
        if not inside.all():
            unknown = np.unique(values[~inside])[:8].tolist()
            raise LabelError(f"{path}: label value(s) {unknown} are not class ids 0.."
                             f"{self._n_ids - 1}"
                             + (f" of classes {list(self.classes)}" if self.classes else "")
                             + "; pass value_map= (value -> class id) or ignore_value=")
        return values.astype(np.int64)

    def mask_for_tile(self, transform: Affine, shape: Sequence[int], crs: Any = None, *,
                      background: int = 0) -> np.ndarray:
        """``(H, W)`` uint8 class mask of a tile: each pixel centre takes the class of the
        label pixel it falls in (nearest neighbour), ``ignore_index`` where no raster labels it.

        ``background`` is accepted for the interface :class:`LabelledScenes` shares with
        :class:`~sargeo.datasets.labels.VectorLabels` and not used: a label raster states its
        own background; a pixel outside every raster is unlabelled, not background.
        """
        del background
        height, width = int(shape[-2]), int(shape[-1])
        crs = self.crs if crs is None else pyproj.CRS.from_user_input(crs)
        mask = np.full((height, width), self.ignore_index, dtype=np.uint8)
        corners = np.array([transform * (0, 0), transform * (width, 0),
                            transform * (width, height), transform * (0, height)])
        tile = shapely.Polygon(corners)
        hits = np.sort(self.footprints(crs).sindex.query(tile, predicate="intersects"))
        todo = np.ones((height, width), dtype=bool)
        for i in hits:
            values = self._warp_one(int(i), transform, (height, width), crs)
            if values is None:
                continue
            labelled = todo & np.isfinite(values)
            if self.ignore_values.size:
                labelled &= ~np.isin(values, self.ignore_values)
            if not labelled.any():
                continue
            mask[labelled] = self._class_ids(values[labelled], self.files[i])
            todo &= ~labelled
            if not todo.any():
                break
        return mask

    def check_coverage(self, footprints: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry,
                       crs: Any = None) -> int:
        """Warn when label rasters lie outside every scene footprint (they are never read) and
        when scenes lie outside every label raster (their tiles are all ``ignore_index``);
        return how many label rasters lie outside. ``footprints`` and ``crs`` as
        :func:`~sargeo.datasets.labels.footprint_geometries` takes them."""
        fcrs, scenes = footprint_geometries(footprints, crs)
        labels = self.footprints(fcrs)
        scene_union = shapely.union_all(scenes)
        outside = int((~labels.intersects(scene_union)).sum()) if len(labels) else 0
        if outside:
            warnings.warn(f"{outside} of {len(labels)} label rasters under {self.path} lie "
                          "outside every scene", LabelWarning, stacklevel=2)
        label_union = shapely.union_all(list(labels.geometry.values))
        unlabelled = sum(1 for s in scenes if not s.intersects(label_union))
        if unlabelled:
            warnings.warn(f"{unlabelled} of {len(scenes)} scenes lie outside every label "
                          f"raster under {self.path}; their pixels are ignored (value "
                          f"{self.ignore_index})", LabelWarning, stacklevel=2)
        return outside
