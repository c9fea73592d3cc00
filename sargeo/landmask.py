"""Sea and land for ship detection: a global land mask whose data ship with a package.

Data. ``roaring-landmask`` (PyPI, MIT) embeds two global land data sets in its wheel, so nothing
is downloaded at run time:

- ``"osm"`` (the default): OpenStreetMap land polygons (osmdata.openstreetmap.de's complete land
  polygons, simplified by the package with a 0.0005 degree tolerance, so within about 55 m of
  OSM's coastline). (c) OpenStreetMap contributors, ODbL 1.0: results derived from it carry
  that attribution (:attr:`LandMask.attribution`, written into sargeo's outputs);
- ``"gshhg"``: GSHHG at full resolution (Wessel and Smith 1996, LGPL 3), largely from the
  World Vector Shoreline (1:250,000). Along the Dutch coast it lies a median 80 m (90th
  percentile 430 m, at most 730 m) from the OSM line.

Both count inland water (lakes, rivers, port basins behind the coastline) as land.

Queries. :meth:`LandMask.is_land` is the package's exact, vectorised point-in-polygon test on
its vector shapes (2 to 8 us a point). Its bitmap short cut (``RoaringLandmask.contains``) is not
used: with the OSM source of roaring-landmask 0.11.0 it calls land within about 250 m of the
coast sea (0.2 % of random points around the Dutch coast, 2 % in Norwegian fjords; the GSHHG
bitmap agrees with the shapes). Geometry uses the same polygons, read once through the
package's WKB export into shapely: the coastline is cut into short pieces (an STR tree over
them), and everything else is computed on the land of the area asked about, clipped and
projected to metres (:class:`LandArea`):
:meth:`LandMask.distance_to_shore_m` (signed geodesic metres: positive at sea, negative on
land), :meth:`LandMask.window_on_land` and :meth:`LandMask.raster`. The geometry is exact for
the data, so results are as accurate as the source (about 50 m for ``osm``, a few hundred
metres for ``gshhg``), not to a 10 m pixel.

Cost. The first use in a process loads the data (measured on the 2-core reference machine with
other jobs running: 20 s for ``gshhg``, 38 s for ``osm``, peak memory 2.2 and 2.5 GB; about half
that on an idle machine); :meth:`LandMask.load` keeps one instance per source for the process.
:class:`SeaFilter` is what ``sargeo infer --sea-only`` does with it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyproj
import shapely

from sargeo.geo import pixel_to_map

#: land sources and their attribution (written into outputs derived from them)
SOURCES = {
    "osm": "OpenStreetMap land polygons (c) OpenStreetMap contributors, ODbL 1.0, "
           "via roaring-landmask",
    "gshhg": "GSHHG full resolution (Wessel and Smith 1996), LGPL 3, via roaring-landmask",
}
DEFAULT_SOURCE = "osm"
#: ``--land-buffer-m``: a window is skipped only when no sea lies within this distance
DEFAULT_BUFFER_M = 500.0
#: land read around an area beyond what a query needs (metres)
AREA_MARGIN_M = 1_000.0
#: vertices per piece of coastline in the STR tree (bounds the cost of a nearest query)
PIECE = 256
#: the largest area (degrees) measured in one local projection by distance_to_shore_m
GROUP_DEG = 10.0
_M_PER_DEG_LAT = 110_000.0  #: a little under the shortest degree of latitude (110.57 km)
_M_PER_DEG_LON = 111_400.0  #: a little over a degree of longitude at the equator (111.32 km)
_GEOD = pyproj.Geod(ellps="WGS84")
_WGS84 = pyproj.CRS.from_epsg(4326)


def _roaring() -> Any:
    try:
        import roaring_landmask
    except ImportError as err:
        raise ImportError("sea/land masking needs the roaring-landmask package, which ships the "
                          "land data: pip install roaring-landmask (a dependency of sargeo; "
                          f"{err})") from err
    return roaring_landmask


def check_lonlat(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """``lon``, ``lat`` as broadcast float64 arrays, longitudes wrapped into [-180, 180).

    Raises:
        ValueError: a coordinate is not finite or a latitude lies outside [-90, 90].
    """
    lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} of {bad.size} longitude/latitude pair(s) are not "
                         "finite")
    if (np.abs(lat) > 90).any():
        raise ValueError(f"latitudes must lie in [-90, 90], got {lat.min()} .. {lat.max()}; "
                         "were longitude and latitude swapped?")
    return (lon + 180.0) % 360.0 - 180.0, lat.copy()


def _reproject(geoms: Any, transformer: pyproj.Transformer) -> Any:
    return shapely.transform(geoms, lambda xy: np.column_stack(
        transformer.transform(xy[:, 0], xy[:, 1])))


def _aeqd(lon0: float, lat0: float) -> pyproj.CRS:
    return pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0:.9f} +lon_0={lon0:.9f} "
                                 "+datum=WGS84 +units=m +no_defs")


def metric_crs(crs: Any, lon0: float, lat0: float) -> pyproj.CRS:
    """``crs`` when it measures metres on the ground at (``lon0``, ``lat0``) within 1 % (UTM,
    national grids), else an azimuthal equidistant projection centred there."""
    crs = pyproj.CRS.from_user_input(crs)
    if crs.is_projected and all((a.unit_name or "").lower() in ("metre", "meter")
                                for a in crs.axis_info[:2]):
        try:
            f = pyproj.Proj(crs).get_factors(lon0, lat0)
            if abs(f.meridional_scale - 1) < 0.01 and abs(f.parallel_scale - 1) < 0.01:
                return crs
        except pyproj.exceptions.ProjError:
            pass
    return _aeqd(lon0, lat0)


def _expand(bounds: Sequence[float], metres: float) -> tuple[float, float, float, float]:
    """Lon/lat ``bounds`` grown by at least ``metres`` on the ground (whole longitudes near the
    poles or across the antimeridian)."""
    west, south, east, north = (float(b) for b in bounds)
    dlat = metres / _M_PER_DEG_LAT
    south, north = max(-90.0, south - dlat), min(90.0, north + dlat)
    top = max(abs(south), abs(north))
    if top >= 89.0:
        return -180.0, south, 180.0, north
    dlon = metres / (_M_PER_DEG_LON * math.cos(math.radians(top)))
    west, east = west - dlon, east + dlon
    if west < -180.0 or east > 180.0 or east - west >= 360.0:
        west, east = -180.0, 180.0
    return west, south, east, north


@dataclass(frozen=True)
class LandArea:
    """The land of an area, in a metric CRS, complete within ``box``.

    ``crs`` is the CRS of the caller's coordinates; ``metric`` the CRS of ``land`` and ``box``
    (``crs`` itself when it is metric, see :func:`metric_crs`).
    """

    crs: pyproj.CRS
    metric: pyproj.CRS
    land: Any  #: shapely (Multi)Polygon in ``metric`` (empty when the area is all sea)
    box: Any  #: shapely Polygon in ``metric``: where ``land`` is complete

    def _to_metric(self, geoms: Any) -> Any:
        if self.metric == self.crs:
            return geoms
        return _reproject(geoms, pyproj.Transformer.from_crs(self.crs, self.metric,
                                                             always_xy=True))

    def covers(self, polygons: Any, buffer_m: float = 0.0) -> np.ndarray:
        """For each polygon (in ``crs``): whether it lies wholly on land with no sea within
        ``buffer_m`` metres. A polygon reaching outside ``box`` is never covered."""
        polygons = np.asarray(polygons, dtype=object).ravel()
        if len(polygons) == 0 or self.land.is_empty:
            return np.zeros(len(polygons), bool)
        size = np.sqrt(np.maximum(shapely.area(polygons), 0.0))
        dense = shapely.segmentize(polygons, np.maximum(size / 16, 1e-9))
        grown = self._to_metric(dense)
        if buffer_m > 0:
            grown = shapely.buffer(grown, buffer_m, quad_segs=8)
        shapely.prepare(self.land)
        return shapely.covered_by(grown, self.land) & shapely.covered_by(grown, self.box)

    def contains_xy(self, x: Any, y: Any) -> np.ndarray:
        """Whether points (``crs`` coordinates) lie on land (shapely's test on this area's
        polygons; points outside ``box`` are False)."""
        x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        if self.metric != self.crs:
            t = pyproj.Transformer.from_crs(self.crs, self.metric, always_xy=True)
            x, y = (np.asarray(v) for v in t.transform(x, y))
        shapely.prepare(self.land)
        return shapely.contains_xy(self.land, x, y)

    def land_in_crs(self, buffer_m: float = 0.0) -> Any:
        """The land less a ``buffer_m`` strip along the coast, in ``crs``."""
        land = shapely.buffer(self.land, -buffer_m, quad_segs=8) if buffer_m > 0 else self.land
        if self.metric == self.crs or land.is_empty:
            return land
        return _reproject(shapely.segmentize(land, 100.0),
                          pyproj.Transformer.from_crs(self.metric, self.crs, always_xy=True))


class LandMask:
    """Land and sea from one source of :data:`SOURCES`; see the module docstring.

    ``LandMask(source)`` loads the data (seconds, about 2 GB); :meth:`load` returns one shared
    instance per source.

    Raises:
        ValueError: an unknown source.
        ImportError: roaring-landmask is not installed.
        RuntimeError: the package failed to load its data (the message shows its error).
    """

    def __init__(self, source: str = DEFAULT_SOURCE) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown land source {source!r}; choose one of {sorted(SOURCES)}")
        rl = _roaring()
        provider = {"osm": rl.LandmaskProvider.Osm, "gshhg": rl.LandmaskProvider.Gshhg}[source]
        try:
            self._shapes = rl.Shapes.new(provider)
            wkb = self._shapes.wkb(provider)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # the package's Rust panics are BaseExceptions
            raise RuntimeError(f"roaring-landmask could not load its {source} land data "
                               f"({type(err).__name__}: {err}); reinstall it "
                               "(pip install --force-reinstall roaring-landmask)") from err
        self.source = source
        self.attribution = SOURCES[source]
        self.polygons = shapely.get_parts(shapely.from_wkb(wkb))  #: land, lon/lat
        del wkb
        self._tree = shapely.STRtree(self.polygons)
        self.pieces = _coast_pieces(self.polygons)  #: coastline in short pieces, lon/lat
        self._coast_tree = shapely.STRtree(self.pieces)

    @staticmethod
    def load(source: str = DEFAULT_SOURCE) -> LandMask:
        """The process's shared instance for ``source`` (loaded on first use)."""
        return _shared(source)

    # -- points ------------------------------------------------------------------------------
    def is_land(self, lon: Any, lat: Any) -> np.ndarray:
        """Whether each (lon, lat) point (WGS84 degrees, any shape) lies on land."""
        lon, lat = check_lonlat(lon, lat)
        flat_lat = np.maximum(lat.ravel(), -90.0 + 1e-9)  # the package refuses -90 itself
        out = self._shapes.contains_many(np.ascontiguousarray(lon.ravel()),
                                         np.ascontiguousarray(flat_lat))
        return np.asarray(out, bool).reshape(lon.shape)

    def distance_to_shore_m(self, lon: Any, lat: Any) -> np.ndarray:
        """Signed geodesic distance (metres, WGS84 ellipsoid) from each point to the nearest
        coastline: positive at sea, negative on land.

        Exact for the source's polygons: the nearest coast point is found in a local azimuthal
        equidistant projection around each group of points (within :data:`GROUP_DEG`) over all
        the coastline that can be nearer than an upper bound, then measured on the
        ellipsoid. The error against the real coast is the source's (module docstring).
        """
        lon, lat = check_lonlat(lon, lat)
        shape = lon.shape
        lon, lat = lon.ravel(), lat.ravel()
        out = np.zeros(lon.size)
        if lon.size == 0:
            return out.reshape(shape)
        groups = np.floor(lon / GROUP_DEG) * 1000 + np.floor(lat / GROUP_DEG)
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            out[idx] = self._distance(lon[idx], lat[idx])
        return np.where(self.is_land(lon, lat), -out, out).reshape(shape)

    def _distance(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Unsigned distances of a compact group of points to the coastline."""
        pts = shapely.points(lon, lat)
        # an upper bound per point: the nearest piece in degrees, measured on the ellipsoid
        ip, ic = self._coast_tree.query_nearest(pts, all_matches=False)
        bound = np.full(len(pts), np.inf)
        ends = shapely.get_point(shapely.shortest_line(pts[ip], self.pieces[ic]), 1)
        bound[ip] = _GEOD.inv(lon[ip], lat[ip], shapely.get_x(ends), shapely.get_y(ends))[2]
        # every piece that can be nearer than that, in a local projection
        box = _expand((lon.min(), lat.min(), lon.max(), lat.max()), float(bound.max()) + 1.0)
        lines = self.coastline(box)
        if len(lines) == 0:
            return bound
        lon0, lat0 = float(np.mean(lon)), float(np.mean(lat))
        local = pyproj.Transformer.from_crs(_WGS84, _aeqd(lon0, lat0), always_xy=True)
        lines_m = _reproject(lines, local)
        pts_m = shapely.points(*local.transform(lon, lat))
        ip, il = shapely.STRtree(lines_m).query_nearest(pts_m, all_matches=False)
        ends = shapely.get_point(shapely.shortest_line(pts_m[ip], lines_m[il]), 1)
        elon, elat = local.transform(shapely.get_x(ends), shapely.get_y(ends),
                                     direction=pyproj.enums.TransformDirection.INVERSE)
        d = bound.copy()
        d[ip] = np.minimum(bound[ip], _GEOD.inv(lon[ip], lat[ip], elon, elat)[2])
        return d

    # -- geometry ----------------------------------------------------------------------------
    def land(self, bounds: Sequence[float]) -> np.ndarray:
        """Land polygons (lon/lat) cut to ``bounds`` = (west, south, east, north) degrees."""
        box = shapely.box(*bounds)
        parts = self.polygons[self._tree.query(box)]
        cut = shapely.intersection(parts, box)
        cut = shapely.get_parts(cut[~shapely.is_empty(cut)])
        return cut[shapely.get_type_id(cut) == 3]  # polygons only (no slivers of lines)

    def coastline(self, bounds: Sequence[float]) -> np.ndarray:
        """The coastline (lines, lon/lat) within ``bounds`` = (west, south, east, north)
        degrees; edges along the antimeridian and the south pole are not coast."""
        west, south, east, north = bounds
        eps = 1e-9
        rect = (max(west, -180 + eps), max(south, -90 + eps), min(east, 180 - eps), north)
        pieces = self.pieces[self._coast_tree.query(shapely.box(*rect))]
        cut = shapely.clip_by_rect(pieces, *rect)
        cut = shapely.get_parts(cut[~shapely.is_empty(cut)])
        return cut[shapely.get_type_id(cut) == 1]  # line strings (drop single points)

    def area(self, crs: Any, bounds: Sequence[float],
             margin_m: float = AREA_MARGIN_M) -> LandArea:
        """The land around ``bounds`` = (xmin, ymin, xmax, ymax) in ``crs``, complete within
        ``margin_m`` metres of them, in a metric CRS (:func:`metric_crs`)."""
        crs = pyproj.CRS.from_user_input(crs)
        to_ll = pyproj.Transformer.from_crs(crs, _WGS84, always_xy=True)
        west, south, east, north = to_ll.transform_bounds(*bounds, densify_pts=21)
        if east < west:  # across the antimeridian
            west, east = -180.0, 180.0
        lon0, lat0 = to_ll.transform((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
        metric = metric_crs(crs, lon0, lat0)
        ll_box = _expand((west, south, east, north), margin_m)
        to_m = pyproj.Transformer.from_crs(_WGS84, metric, always_xy=True)
        box = _reproject(shapely.segmentize(shapely.box(*ll_box), 1e-3), to_m)
        parts = self.land(ll_box)
        land = shapely.union_all(_reproject(shapely.segmentize(parts, 1e-3), to_m)) \
            if len(parts) else shapely.Polygon()
        return LandArea(crs=crs, metric=metric, land=shapely.make_valid(land), box=box)

    def window_on_land(self, polygon: Any, crs: Any,
                       buffer_m: float = DEFAULT_BUFFER_M) -> bool:
        """Whether ``polygon`` (a shapely polygon in ``crs``, e.g. a window's footprint) lies
        wholly on land with no sea within ``buffer_m`` metres, i.e. inside the land shrunk by
        ``buffer_m``."""
        _check_buffer(buffer_m)
        area = self.area(crs, shapely.bounds(polygon), margin_m=buffer_m + AREA_MARGIN_M)
        return bool(area.covers([polygon], buffer_m)[0])

    def raster(self, transform: Any, shape: tuple[int, int], crs: Any,
               buffer_m: float = 0.0) -> np.ndarray:
        """Land mask (bool, True on land) of a ``shape`` = (rows, cols) grid with affine
        ``transform`` in ``crs``: a pixel is land when its centre lies on the land shrunk by
        ``buffer_m`` metres."""
        from rasterio.features import rasterize

        _check_buffer(buffer_m)
        rows, cols = int(shape[0]), int(shape[1])
        x, y = pixel_to_map(transform, [0, cols, cols, 0], [0, 0, rows, rows])
        area = self.area(crs, (x.min(), y.min(), x.max(), y.max()),
                         margin_m=buffer_m + AREA_MARGIN_M)
        land = area.land_in_crs(buffer_m)
        if land.is_empty:
            return np.zeros((rows, cols), bool)
        return rasterize([land], out_shape=(rows, cols), transform=transform, fill=0,
                         default_value=1, dtype="uint8").astype(bool)


@functools.lru_cache(maxsize=len(SOURCES))
def _shared(source: str) -> LandMask:
    return LandMask(source)


def _check_buffer(buffer_m: float) -> None:
    if not (math.isfinite(buffer_m) and buffer_m >= 0):
        raise ValueError(f"the land buffer must be a finite distance >= 0 m, got {buffer_m}")


def _coast_pieces(polygons: np.ndarray) -> np.ndarray:
    """The rings of ``polygons`` cut into line strings of at most :data:`PIECE` segments."""
    rings = shapely.get_rings(polygons)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    starts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1]
    counts = np.diff(np.r_[starts, len(ring)])
    pos = np.arange(len(ring)) - np.repeat(starts, counts)
    per_ring = np.maximum((counts - 2) // PIECE + 1, 1)  # pieces per ring (segments / PIECE)
    first = np.repeat(np.r_[0, np.cumsum(per_ring)[:-1]], counts)
    piece = first + np.minimum(pos // PIECE, np.repeat(per_ring, counts) - 1)
    # a vertex where a piece starts also ends the previous one: a copy goes just before it
    shared = np.flatnonzero((pos % PIECE == 0) & (pos > 0)
                            & (pos // PIECE < np.repeat(per_ring, counts)))
    xy = np.insert(coords, shared, coords[shared], axis=0)
    return shapely.linestrings(xy, indices=np.insert(piece, shared, piece[shared] - 1))


#: points per window edge mapped to the ground (the geolocation grid of a product bends them)
EDGE_POINTS = 8
#: points per scene edge when bounding the land to load
OUTLINE_POINTS = 64

#: scene pixel positions (col, row from the pixel corner, as windows count) -> map x, y
PixelsToMap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def window_outlines(boxes: Any, points: int = EDGE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (cols, rows), shape ``(n, 4 points)``, along the edges of ``boxes`` ``(n, 4)``
    = (col_off, row_off, width, height), clockwise from the top-left corner."""
    w = np.asarray(boxes, np.float64).reshape(-1, 4)
    t = np.arange(points) / points
    c0, r0, cw, rh = (w[:, k:k + 1] for k in range(4))
    cols = np.concatenate([c0 + t * cw, c0 + cw + 0 * t, c0 + cw - t * cw, c0 + 0 * t], 1)
    rows = np.concatenate([r0 + 0 * t, r0 + t * rh, r0 + rh + 0 * t, r0 + rh - t * rh], 1)
    return cols, rows


def product_to_map(product: Any) -> tuple[pyproj.CRS, PixelsToMap]:
    """The UTM zone of a Sentinel-1 product's centre and the map from its pixels (corner
    convention) to that zone through its geolocation grid
    (:meth:`~sargeo.datasets.safe.Sentinel1Product.pixel_to_lonlat`, pixel centres)."""
    from sargeo.datasets.safe_geo import utm_crs

    crs = pyproj.CRS.from_user_input(utm_crs(*product.georef.centre()))
    to_utm = pyproj.Transformer.from_crs(_WGS84, crs, always_xy=True)

    def to_map(cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = product.pixel_to_lonlat(np.asarray(rows, np.float64) - 0.5,
                                           np.asarray(cols, np.float64) - 0.5)
        x, y = to_utm.transform(lon, lat)
        return np.asarray(x, np.float64), np.asarray(y, np.float64)
    return crs, to_map


class SeaFilter:
    """``sea_only`` for one scene: windows wholly on land are skipped, detections whose centre
    is on land are dropped, and the others get their distance to the shore.

    The scene is any grid whose pixels map to a CRS: a map grid (:meth:`on_grid`) or a
    Sentinel-1 product in its image geometry, mapped through its geolocation grid
    (:meth:`on_product`). A window's footprint is its outline, :data:`EDGE_POINTS` points per
    edge, mapped to the ground; it is judged against the land in metres as for any map grid.

    Args:
        crs: the CRS ``to_map`` maps to.
        to_map: scene pixel (col, row), corner convention -> ``crs`` x, y.
        width, height: the scene's size in pixels.
        buffer_m: a window is skipped only when no sea lies within this distance of it.
        source: land source (:data:`SOURCES`), ignored when ``mask`` is given.
        mask: a :class:`LandMask` (default: the shared one of ``source``).
    """

    def __init__(self, crs: Any, to_map: PixelsToMap, width: int, height: int, *,
                 buffer_m: float = DEFAULT_BUFFER_M, source: str = DEFAULT_SOURCE,
                 mask: LandMask | None = None) -> None:
        _check_buffer(buffer_m)
        self.mask = mask if mask is not None else LandMask.load(source)
        self.crs, self.to_map = pyproj.CRS.from_user_input(crs), to_map
        self.buffer_m = float(buffer_m)
        x, y = to_map(*window_outlines([0, 0, width, height], OUTLINE_POINTS))
        self.area = self.mask.area(self.crs, (x.min(), y.min(), x.max(), y.max()),
                                   margin_m=self.buffer_m + AREA_MARGIN_M)
        self._to_ll = pyproj.Transformer.from_crs(self.crs, _WGS84, always_xy=True)
        #: what was skipped and dropped so far
        self.counts = {"windows_skipped_land": 0, "detections_dropped_land": 0}

    @classmethod
    def on_grid(cls, crs: Any, transform: Any, width: int, height: int,
                **kwargs: Any) -> SeaFilter:
        """The filter of a map grid: ``crs`` and affine ``transform``."""
        return cls(crs, functools.partial(pixel_to_map, transform), width, height, **kwargs)

    @classmethod
    def on_product(cls, product: Any, width: int, height: int, **kwargs: Any) -> SeaFilter:
        """The filter of a Sentinel-1 product in its image geometry (:func:`product_to_map`)."""
        return cls(*product_to_map(product), width, height, **kwargs)

    def footprints(self, windows: Sequence[Any]) -> np.ndarray:
        """Polygons (in :attr:`crs`) of rasterio windows (``col_off``, ``row_off``,
        ``width``, ``height`` in scene pixels)."""
        if not windows:
            return np.zeros(0, dtype=object)
        boxes = [[v.col_off, v.row_off, v.width, v.height] for v in windows]
        x, y = self.to_map(*window_outlines(boxes))
        return shapely.polygons(np.stack([x, y], -1))

    def land_windows(self, windows: Sequence[Any]) -> np.ndarray:
        """Whether each window lies wholly on land with no sea within the buffer."""
        return self.area.covers(self.footprints(windows), self.buffer_m)

    def sea_windows(self, windows: Sequence[Any]) -> list[Any]:
        """The windows to read, in order (the others are counted)."""
        land = self.land_windows(windows)
        self.counts["windows_skipped_land"] = int(land.sum())
        return [w for w, skip in zip(windows, land, strict=True) if not skip]

    def lonlat(self, cols: Any, rows: Any) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 longitude, latitude of scene pixel positions."""
        lon, lat = self._to_ll.transform(*self.to_map(cols, rows))
        return np.asarray(lon, np.float64), np.asarray(lat, np.float64)

    def keep_at_sea(self, dets: Any) -> tuple[Any, dict[str, np.ndarray], dict[str, str]]:
        """Detections whose centre is at sea, their ``distance_to_shore_m`` column, and the
        output's metadata (what was done, the land data's attribution).

        ``dets`` has ``boxes`` in scene pixels (``(N, 4)`` x1 y1 x2 y2, or ``(N, 5)`` rboxes
        whose first two values are the centre) and ``select(mask)``.
        """
        b = np.asarray(dets.boxes, np.float64)
        if b.shape[1] == 5:
            cols, rows = b[:, 0], b[:, 1]
        else:
            cols, rows = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        lon, lat = self.lonlat(cols, rows)
        sea = ~self.mask.is_land(lon, lat) if len(b) else np.zeros(0, bool)
        self.counts["detections_dropped_land"] = int((~sea).sum())
        distance = self.mask.distance_to_shore_m(lon[sea], lat[sea])
        meta = {"sargeo_sea_only": "1", "sargeo_land_source": self.mask.attribution,
                "sargeo_land_buffer_m": f"{self.buffer_m:g}",
                **{f"sargeo_{k}": str(v) for k, v in self.counts.items()}}
        return dets.select(sea), {"distance_to_shore_m": distance}, meta


def plan_sea_only(info: Any, task: str, buffer_m: float | None, windows: list[Any],
                  meta: dict[str, Any], result: Any) -> tuple[SeaFilter | None, list[Any]]:
    """The engine's ``sea_only`` step for one scene (``buffer_m`` None: off): the filter and the
    windows to read. Records the settings in the journal's ``meta`` (a resumed run with other
    settings or land data starts over) and shares the counts with ``result.land``.

    Raises:
        ValueError: a segmentation task (sea_only is for detection) or a bad buffer.
    """
    if buffer_m is None:
        return None, windows
    product = getattr(info, "product", None)  # a Sentinel-1 product, in image geometry
    if info.crs is None and product is None:
        raise ValueError(f"{info.path}: sea_only / --sea-only needs a scene on the ground (a "
                         "CRS or a Sentinel-1 product's geolocation grid); drop --sea-only")
    if task == "segmentation":
        raise ValueError(f"{info.path}: sea_only / --sea-only is for detection tasks; this "
                         "predictor segments (drop the option)")
    from importlib.metadata import version

    sea = (SeaFilter.on_grid(info.crs, info.transform, info.width, info.height,
                             buffer_m=buffer_m) if info.crs is not None
           else SeaFilter.on_product(product, info.width, info.height, buffer_m=buffer_m))
    meta["sea_only"] = {"source": sea.mask.source, "buffer_m": sea.buffer_m,
                        "data": f"roaring-landmask {version('roaring-landmask')}"}
    result.land = sea.counts
    return sea, sea.sea_windows(windows)
