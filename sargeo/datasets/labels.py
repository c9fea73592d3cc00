"""Vector labels (GeoPackage, GeoJSON, Shapefile) cut into per-tile targets.

Object labels are drawn in map coordinates, often in another CRS than the imagery (lon/lat,
a neighbouring UTM zone). :class:`VectorLabels` reads them once, checks them (CRS, class names,
geometry types), repairs what can be repaired, reprojects them to the imagery's CRS and keeps a
spatial index. :meth:`VectorLabels.for_tile` then returns the objects of one tile in that tile's
pixel coordinates, clipped to it, as horizontal boxes, oriented boxes (le90) and polygons;
:meth:`VectorLabels.mask_for_tile` rasterises them into a class mask. Map -> pixel goes through
:func:`sargeo.geo.points_to_pixel` only, so labels and predictions share one convention.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from affine import Affine
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry

from sargeo.geo import corners_to_rbox, points_to_map, points_to_pixel

POINT_TYPES = ("Point", "MultiPoint")
POLYGON_TYPES = ("Polygon", "MultiPolygon")
LINE_TYPES = ("LineString", "MultiLineString", "LinearRing")
#: class name that may share the mask's background value
BACKGROUND_CLASS = "background"


class LabelError(ValueError):
    """A label file cannot be used as given; the message names the file and the value."""


class LabelWarning(UserWarning):
    """Labels were repaired, dropped or lie where no imagery is."""


def _polygonal(geom: BaseGeometry | None) -> BaseGeometry:
    """The polygonal part of a geometry (``make_valid`` and clipping can add points and lines
    to a collection); an empty Polygon when there is none."""
    if geom is None or geom.is_empty:
        return Polygon()
    if geom.geom_type in POLYGON_TYPES:
        return geom
    if geom.geom_type == "GeometryCollection":
        parts = [_polygonal(g) for g in geom.geoms]
        polys = [p for part in parts if not part.is_empty for p in shapely.get_parts(part)]
        if not polys:
            return Polygon()
        return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
    return Polygon()


def _objects(items: Any) -> np.ndarray:
    """A 1-d object array of geometries (never unpacked into coordinates by numpy)."""
    items = list(items)
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


@dataclass
class TileLabels:
    """The labels of one tile, in its pixel coordinates (col, row; y down).

    Attributes:
        hboxes: ``(N, 4)`` float32 ``x1 y1 x2 y2`` of the clipped objects.
        rboxes: ``(N, 5)`` float32 le90 ``cx cy w h t`` (see :mod:`sargeo.geo`) of the clipped
            objects' minimum-area rectangles.
        labels: ``(N,)`` int64 class ids (indices into ``classes``).
        polygons: the clipped objects, shapely (Multi)Polygons in pixel coordinates.
        visible: ``(N,)`` float32 fraction of each object's area inside the tile.
        shape: ``(height, width)`` of the tile in pixels.
        transform: the tile's affine transform (pixel -> map).
        crs: the tile's CRS.
        classes: class names, in label-id order.
    """

    hboxes: np.ndarray
    rboxes: np.ndarray
    labels: np.ndarray
    polygons: list[BaseGeometry]
    visible: np.ndarray
    shape: tuple[int, int]
    transform: Affine
    crs: pyproj.CRS
    classes: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.labels)

    def mask(self, background: int = 0) -> np.ndarray:
        """``(H, W)`` uint8 raster: each polygon's class id where it covers a pixel centre
        (``all_touched=False``), ``background`` elsewhere. Later objects are drawn over earlier
        ones."""
        from rasterio.features import rasterize

        if not 0 <= background <= 255:
            raise LabelError(f"mask background must be in 0..255 (uint8), got {background}")
        if len(self.labels) and int(self.labels.max()) > 255:
            raise LabelError(f"class id {int(self.labels.max())} does not fit a uint8 mask")
        out_shape = (int(self.shape[0]), int(self.shape[1]))
        if not self.polygons:
            return np.full(out_shape, background, dtype=np.uint8)
        return rasterize(list(zip(self.polygons, (int(v) for v in self.labels), strict=True)),
                         out_shape=out_shape, fill=background, transform=Affine.identity(),
                         all_touched=False, dtype="uint8")



def footprint_geometries(footprints: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry,
                         crs: Any = None) -> tuple[Any, list[BaseGeometry]]:
    """The CRS and the geometries of scene ``footprints`` (a torchgeo dataset's ``index``, a
    GeoSeries, or one shapely geometry); ``crs`` stands for a CRS they do not carry.

    Raises:
        TypeError: ``footprints`` is none of those.
        LabelError: neither ``footprints`` nor ``crs`` gives a CRS.
    """
    if isinstance(footprints, gpd.GeoDataFrame | gpd.GeoSeries):
        fcrs = footprints.crs if footprints.crs is not None else crs
        geoms = list(footprints.geometry.values)
    elif isinstance(footprints, BaseGeometry):
        fcrs, geoms = crs, [footprints]
    else:
        raise TypeError(f"footprints must be a GeoDataFrame, GeoSeries or shapely geometry, "
                        f"not {type(footprints).__name__}")
    if fcrs is None:
        raise LabelError("scene footprints have no CRS; pass crs=")
    return fcrs, geoms


class VectorLabels:
    """Object or region labels from one vector file, reprojected to a target CRS.

    Args:
        path: a GeoPackage, GeoJSON, Shapefile, ... that geopandas reads.
        classes: class names in label-id order; ``None``: the sorted unique names in the file.
            A name in the file that is not listed is an error.
        class_column: the column holding each object's class name.
        layer: the layer to read (required when the file has several).
        crs: the CRS to work in (that of the imagery); default: the file's.
        point_size: side, in units of ``crs``, of the square drawn around each Point label;
            required when the file has points.
        min_visible: edge rule of :meth:`for_tile`: an object cut by the tile's edge is kept when
            at least this fraction of its area lies inside the tile.

    Invalid geometries are repaired with ``shapely.make_valid`` and empty ones dropped, each with
    a :class:`LabelWarning` giving the counts; lines are refused.
    """

    def __init__(self, path: str | Path, *, classes: Sequence[str] | None = None,
                 class_column: str = "class_name", layer: str | int | None = None,
                 crs: Any = None, point_size: float | None = None,
                 min_visible: float = 0.5) -> None:
        self.path = Path(path)
        self.class_column = class_column
        self.layer = layer
        if not 0.0 <= min_visible <= 1.0:
            raise LabelError(f"min_visible must be in [0, 1], got {min_visible}")
        if point_size is not None and not point_size > 0:
            raise LabelError(f"point_size must be positive, got {point_size}")
        self.min_visible = float(min_visible)
        self.point_size = point_size
        frame = self._read()
        source_crs = pyproj.CRS.from_user_input(frame.crs)
        self.crs = source_crs if crs is None else pyproj.CRS.from_user_input(crs)
        names = self._class_names(frame)
        self.classes: tuple[str, ...] = (tuple(sorted(set(names))) if classes is None
                                         else tuple(str(c) for c in classes))
        if len(set(self.classes)) != len(self.classes):
            raise LabelError(f"{self.path}: classes {list(self.classes)} are not unique")
        unknown = sorted(set(names) - set(self.classes))
        if unknown:
            raise LabelError(f"{self.path}: class {unknown[0]!r} in column {class_column!r} is "
                             f"not one of the expected classes {list(self.classes)}"
                             + (f" ({len(unknown)} unknown names: {unknown[:5]})"
                                if len(unknown) > 1 else ""))
        lookup = {name: i for i, name in enumerate(self.classes)}
        labels = np.array([lookup[n] for n in names], dtype=np.int64)
        geoms, keep = self._clean_geometries(np.asarray(frame.geometry.values, dtype=object))
        self.frame = gpd.GeoDataFrame(
            {"label": labels[keep], "class_name": np.asarray(names, dtype=object)[keep],
             "source_row": np.flatnonzero(keep)},
            geometry=list(geoms), crs=source_crs)
        self.frame = self._to_target(self.frame)
        self._by_crs: dict[str, gpd.GeoDataFrame] = {}

    # -- reading and checking -------------------------------------------------------------
    def _read(self) -> gpd.GeoDataFrame:
        import pyogrio

        if not self.path.exists():
            raise FileNotFoundError(f"label file not found: {self.path}")
        try:
            if self.layer is None:
                layers = [str(name) for name, _ in pyogrio.list_layers(self.path)]
                if len(layers) > 1:
                    raise LabelError(f"{self.path} has layers {layers}; choose one with layer=")
            frame = gpd.read_file(self.path, layer=self.layer)
        except LabelError:
            raise
        except Exception as err:  # pyogrio's DataSourceError, DataLayerError, ...
            raise LabelError(f"{self.path} (layer {self.layer!r}) is not a readable vector "
                             f"file: {err}") from err
        if frame.crs is None:
            raise LabelError(f"{self.path} has no CRS; set one (e.g. with "
                             "GeoDataFrame.set_crs) so labels are not misplaced")
        if self.class_column not in frame.columns:
            raise LabelError(f"{self.path} has no column {self.class_column!r} (columns: "
                             f"{[c for c in frame.columns if c != frame.geometry.name]}); "
                             "pass class_column=")
        return frame

    def _class_names(self, frame: gpd.GeoDataFrame) -> list[str]:
        values = frame[self.class_column]
        missing = values.isna().to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)
            raise LabelError(f"{self.path}: {len(rows)} objects have no {self.class_column!r} "
                             f"(rows {rows[:5].tolist()})")
        return [str(v) for v in values]

    def _clean_geometries(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Refuse lines; repair invalid polygons; flag empty geometries for dropping."""
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        n_empty = int((~keep).sum())
        types = np.array([g.geom_type if k else "" for g, k in zip(geoms, keep, strict=True)])
        lines = np.isin(types, LINE_TYPES)
        if lines.any():
            kinds = sorted(set(types[lines]))
            raise LabelError(f"{self.path}: {int(lines.sum())} of {len(geoms)} labels are lines "
                             f"({', '.join(kinds)}); labels must be polygons or points (buffer "
                             "lines into polygons first)")
        other = keep & ~np.isin(types, POINT_TYPES + POLYGON_TYPES)
        if other.any():
            raise LabelError(f"{self.path}: {int(other.sum())} labels are "
                             f"{sorted(set(types[other]))}; labels must be polygons or points")
        points = np.isin(types, POINT_TYPES)
        if points.any() and self.point_size is None:
            raise LabelError(f"{self.path} has {int(points.sum())} point labels; pass point_size="
                             " (side of the square drawn around each point, in units of the "
                             "target CRS)")
        geoms = geoms.copy()
        polygons = keep & ~points
        invalid = polygons & ~shapely.is_valid(geoms)
        if invalid.any():
            geoms[invalid] = _objects(_polygonal(g) for g in shapely.make_valid(geoms[invalid]))
            warnings.warn(f"{self.path}: repaired {int(invalid.sum())} of {len(geoms)} invalid "
                          "geometries with shapely.make_valid", LabelWarning, stacklevel=3)
        now_empty = polygons & (shapely.is_empty(geoms) | (shapely.area(geoms) <= 0))
        n_empty += int(now_empty.sum())
        keep &= ~now_empty
        if n_empty:
            warnings.warn(f"{self.path}: dropped {n_empty} of {len(geoms)} empty geometries"
                          + (f" ({int(now_empty.sum())} empty after repair)"
                             if now_empty.any() else ""), LabelWarning, stacklevel=3)
        return geoms[keep], keep

    def _to_target(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Reproject to ``self.crs``; draw the point squares there."""
        if pyproj.CRS.from_user_input(frame.crs) != self.crs:
            frame = frame.to_crs(self.crs)
            finite = np.isfinite(shapely.bounds(np.asarray(frame.geometry.values))).all(axis=1)
            if not finite.all():
                warnings.warn(f"{self.path}: dropped {int((~finite).sum())} of {len(frame)} "
                              f"labels that cannot be projected to {self.crs.name}",
                              LabelWarning, stacklevel=3)
                frame = frame[finite]
        is_point = frame.geom_type.isin(POINT_TYPES).to_numpy()
        if is_point.any():
            geoms = np.asarray(frame.geometry.values, dtype=object).copy()
            geoms[is_point] = shapely.buffer(geoms[is_point], self.point_size / 2,
                                             cap_style="square")
            frame = frame.set_geometry(list(geoms), crs=self.crs)
        return frame.reset_index(drop=True)

    # -- queries ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"VectorLabels({str(self.path)!r}, {len(self)} objects, classes="
                f"{list(self.classes)}, crs={self.crs.to_string()!r})")

    def frame_in(self, crs: Any = None) -> gpd.GeoDataFrame:
        """The labels in ``crs`` (default: ``self.crs``); reprojected once, then cached."""
        crs = self.crs if crs is None else pyproj.CRS.from_user_input(crs)
        if crs == self.crs:
            return self.frame
        key = crs.to_wkt()
        if key not in self._by_crs:
            self._by_crs[key] = self.frame.to_crs(crs)
        return self._by_crs[key]

    def for_tile(self, transform: Affine, shape: Sequence[int], crs: Any = None, *,
                 min_visible: float | None = None) -> TileLabels:
        """The objects intersecting a tile, clipped to it, in its pixel coordinates.

        Args:
            transform: the tile's affine transform (pixel -> map, in ``crs``).
            shape: ``(height, width)`` of the tile in pixels (a longer shape: the last two).
            crs: the tile's CRS (default: ``self.crs``).
            min_visible: overrides the constructor's edge rule; an object is kept when at least
                this fraction of its area lies in the tile (and the inside part has an area).
        """
        height, width = int(shape[-2]), int(shape[-1])
        crs = self.crs if crs is None else pyproj.CRS.from_user_input(crs)
        rule = self.min_visible if min_visible is None else float(min_visible)
        frame = self.frame_in(crs)
        corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
        footprint = Polygon(points_to_map(transform, corners))
        hits = np.sort(frame.sindex.query(footprint, predicate="intersects"))
        geoms = np.asarray(frame.geometry.values, dtype=object)[hits]
        pixel = shapely.transform(geoms, lambda pts: points_to_pixel(transform, pts))
        clipped = _objects(_polygonal(g) for g in
                           shapely.intersection(pixel, box(0, 0, width, height)))
        full_area = shapely.area(pixel) if len(pixel) else np.zeros(0)
        inside_area = shapely.area(clipped) if len(clipped) else np.zeros(0)
        visible = np.divide(inside_area, full_area, out=np.zeros_like(inside_area),
                            where=full_area > 0)
        keep = (inside_area > 0) & (visible >= rule - 1e-9)
        kept = list(clipped[keep])
        labels = frame["label"].to_numpy(dtype=np.int64)[hits][keep]
        n = len(kept)
        hboxes = (shapely.bounds(_objects(kept)).astype(np.float32) if n
                  else np.zeros((0, 4), np.float32))
        rboxes = np.zeros((n, 5), np.float32)
        for i, geom in enumerate(kept):
            rboxes[i] = corners_to_rbox(shapely.get_coordinates(geom)[None])[0]
        return TileLabels(hboxes=hboxes, rboxes=rboxes, labels=labels, polygons=kept,
                          visible=visible[keep].astype(np.float32), shape=(height, width),
                          transform=transform, crs=crs, classes=self.classes)

    def mask_for_tile(self, transform: Affine, shape: Sequence[int], crs: Any = None, *,
                      background: int = 0) -> np.ndarray:
        """``(H, W)`` uint8 class mask of a tile: class id where a polygon covers a pixel centre,
        ``background`` elsewhere. Every part of every polygon in the tile is drawn (the edge
        rule is for objects, not for masks).

        ``background`` must not be the id of a class that has labels (it could not be told
        apart); list a class named "background" first, e.g. ``classes=("background",
        "water")``, or choose another value such as 255.
        """
        if 0 <= background < len(self.classes):
            name = self.classes[background]
            if name.lower() != BACKGROUND_CLASS and (self.frame["label"] == background).any():
                raise LabelError(
                    f"{self.path}: mask background value {background} is also the id of class "
                    f"{name!r}; put a class named 'background' first (classes="
                    f"{('background', *self.classes)}) or pass another background value")
        tile = self.for_tile(transform, shape, crs, min_visible=0.0)
        return tile.mask(background)

    def check_coverage(self, footprints: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry,
                       crs: Any = None) -> int:
        """Warn when labels lie outside every scene footprint; return how many do.
        ``footprints`` and ``crs`` as :func:`footprint_geometries` takes them."""
        fcrs, geoms = footprint_geometries(footprints, crs)
        union = shapely.union_all(geoms)
        total = len(self.frame)
        if union.is_empty:
            outside = total
        else:
            # densify so straight footprint edges stay close to straight after reprojection
            xmin, ymin, xmax, ymax = union.bounds
            step = max(xmax - xmin, ymax - ymin) / 64 or 1.0
            area = gpd.GeoSeries([shapely.segmentize(union, step)], crs=fcrs).to_crs(self.crs)
            inside = np.unique(self.frame.sindex.query(area.iloc[0], predicate="intersects"))
            outside = total - len(inside)
        if outside:
            warnings.warn(f"{outside} of {total} labels in {self.path} lie outside every scene",
                          LabelWarning, stacklevel=2)
        return outside
