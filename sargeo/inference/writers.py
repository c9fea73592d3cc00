"""Georeferenced outputs, written atomically (temporary file beside the target, then rename).

- Detections: a GeoPackage layer ``detections`` with one polygon per object in the scene CRS and
  the columns ``class_id``, ``class_name``, ``score``, ``scene`` (file name), ``px_x1 px_y1
  px_x2 px_y2`` (axis-aligned box in scene pixels) and, for oriented boxes, ``px_cx px_cy px_w
  px_h px_angle`` (le90, radians, clockwise on screen; see :mod:`sargeo.geo`), ``lon lat`` (WGS84
  degrees of the centre) and, for oriented boxes, ``length_m width_m`` (long and short side,
  geodesic metres) and ``heading_deg`` (of the long axis, clockwise from true north, in
  [0, 180)); with ``--sea-only`` also ``distance_to_shore_m`` (:mod:`sargeo.landmask`);
  optionally the same as GeoJSON in EPSG:4326 (RFC 7946).
- Rasters: finished row strips go into a tiled GeoTIFF (a temporary file), which GDAL's COG
  driver then copies, with overviews, into a second temporary file that is renamed onto the
  target. A failed write (disk full included) leaves neither temporary file nor target, and the
  error names the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.errors import error_text
from sargeo.geo import pixel_to_map, points_to_map
from sargeo.inference.merge import Detections
from sargeo.io import atomic_path

BLOCK = 512  #: tile size of the raster outputs, and rows per streamed strip
LAYER = "detections"


class OutputError(OSError):
    """Writing an output failed; the message names the file (errno kept, e.g. ENOSPC)."""


@contextlib.contextmanager
def naming_errors(path: str | Path) -> Iterator[None]:
    """Re-raise any error of the block as :class:`OutputError` naming ``path``."""
    try:
        yield
    except OutputError:
        raise
    except FileExistsError:
        raise
    except Exception as err:
        errno = getattr(err, "errno", None)
        reason = os.strerror(errno) if isinstance(errno, int) and errno else error_text(err)
        hint = " (free some space; --resume continues the run)" if errno == 28 else ""
        raise OutputError(errno, f"cannot write {path}: {reason}{hint}") from err


# -- detections --------------------------------------------------------------------------------
def detections_frame(dets: Detections, classes: Sequence[str], transform: Any, crs: Any,
                     scene: str, extra: dict[str, np.ndarray] | None = None):
    """A GeoDataFrame of detections (scene pixels -> map coordinates with
    :func:`sargeo.geo.points_to_map`); ``extra`` adds float columns (one value per
    detection)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    corners = dets.corners()
    geometry = shapely.polygons(points_to_map(transform, corners)) if len(dets) else []
    labels = dets.labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"predictor returned labels outside 0..{len(classes) - 1}: "
                         f"{sorted(set(labels.tolist()))}")
    names = np.asarray(classes, dtype=object)[labels] if len(labels) else []
    cols: dict[str, Any] = {
        "class_id": pd.Series(labels, dtype="int32"),
        "class_name": pd.Series(names, dtype=object),
        "score": pd.Series(dets.scores, dtype="float64"),
        "scene": pd.Series([scene] * len(dets), dtype=object),
    }
    if len(dets):
        lo, hi = corners.min(1), corners.max(1)
    else:
        lo = hi = np.zeros((0, 2))
    for name, values in (("px_x1", lo[:, 0]), ("px_y1", lo[:, 1]), ("px_x2", hi[:, 0]),
                         ("px_y2", hi[:, 1])):
        cols[name] = pd.Series(values, dtype="float64")
    if dets.rotated:
        for i, name in enumerate(("px_cx", "px_cy", "px_w", "px_h", "px_angle")):
            cols[name] = pd.Series(dets.boxes[:, i], dtype="float64")
    ground = ground_columns(dets, transform, crs) if crs is not None else {}  # pixel coords
    for name, values in {**ground, **(extra or {})}.items():
        cols[name] = pd.Series(np.asarray(values, np.float64).reshape(len(dets)),
                               dtype="float64")
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)


def ground_columns(dets: Detections, transform: Any, crs: Any) -> dict[str, np.ndarray]:
    """``lon``, ``lat`` (WGS84) of each detection's centre and, for oriented boxes,
    ``length_m``, ``width_m`` (long and short side, geodesic metres on the WGS84 ellipsoid) and
    ``heading_deg`` (the long axis, clockwise from true north, in [0, 180)), from the box's
    centre and edge midpoints in map coordinates (:mod:`sargeo.geo`)."""
    from pyproj import CRS, Geod, Transformer

    b = dets.boxes
    centre = b[:, :2] if dets.rotated else (b[:, :2] + b[:, 2:4]) / 2
    to_ll = Transformer.from_crs(CRS.from_user_input(crs), "EPSG:4326", always_xy=True)
    lon, lat = (np.asarray(v, np.float64).reshape(len(dets))
                for v in to_ll.transform(*pixel_to_map(transform, centre[:, 0], centre[:, 1])))
    out = {"lon": lon, "lat": lat}
    if not dets.rotated:
        return out
    c = points_to_map(transform, dets.corners())  # sargeo.geo.rbox_corners order:
    ends = np.stack([(c[:, 0] + c[:, 1]) / 2, (c[:, 0] + c[:, 3]) / 2], 1)  # ends of w, h axes
    elon, elat = (np.asarray(v, np.float64).reshape(-1, 2)
                  for v in to_ll.transform(ends[..., 0], ends[..., 1]))
    az, _, half = (np.asarray(v).reshape(-1, 2) for v in Geod(ellps="WGS84").inv(
        np.repeat(lon, 2), np.repeat(lat, 2), elon.ravel(), elat.ravel()))
    long = np.argmax(half, axis=1)[:, None]
    out["length_m"] = 2 * np.take_along_axis(half, long, 1)[:, 0]
    out["width_m"] = 2 * np.take_along_axis(half, 1 - long, 1)[:, 0]
    out["heading_deg"] = np.take_along_axis(az, long, 1)[:, 0] % 180.0
    return out


def write_gpkg(frame, path: str | Path, *, overwrite: bool = False,
               metadata: dict[str, str] | None = None) -> Path:
    """Write the ``detections`` layer of a new GeoPackage, atomically."""
    path = Path(path)
    with naming_errors(path), atomic_path(path, overwrite=overwrite) as tmp:
        tmp.unlink()  # the driver creates the file itself
        frame.to_file(tmp, layer=LAYER, driver="GPKG", engine="pyogrio",
                      geometry_type="Polygon", layer_metadata=metadata or None)
    return path


def write_geojson(frame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write detections as RFC 7946 GeoJSON (EPSG:4326), atomically; its ``name`` is the
    file's stem (GDAL would take the temporary file's name)."""
    path = Path(path)
    with naming_errors(path), atomic_path(path, overwrite=overwrite) as tmp:
        tmp.unlink()
        frame.to_crs("EPSG:4326").to_file(tmp, layer=path.stem, driver="GeoJSON",
                                          engine="pyogrio", geometry_type="Polygon",
                                          RFC7946="YES")
    return path


# -- rasters -----------------------------------------------------------------------------------
def class_colormap(n: int) -> dict[int, tuple[int, int, int, int]]:
    """A GDAL colour table for ``n`` class ids (matplotlib's tab20), nodata 255 transparent."""
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    table = {i: tuple(int(round(255 * c)) for c in cmap(i % cmap.N)) for i in range(n)}
    table[255] = (0, 0, 0, 0)
    return table


def write_cog(path: str | Path, strips: Iterable[tuple[int, np.ndarray]], *, width: int,
              height: int, count: int, dtype: str, nodata: float | None, crs: Any,
              transform: Any, resampling: str = "nearest",
              descriptions: Sequence[str] | None = None,
              colormap: dict[int, tuple[int, ...]] | None = None,
              tags: dict[str, str] | None = None, overwrite: bool = False,
              work_dir: str | Path | None = None, gcps: Any = None) -> Path:
    """Stream ``(row0, array (count, h, width))`` strips, top to bottom, into a
    Cloud-Optimized GeoTIFF with overviews, atomically.

    The strips go into a tiled, DEFLATE-compressed GeoTIFF in ``work_dir`` (default: the
    target's folder), which ``rasterio.shutil.copy(..., driver="COG")`` turns into the COG.
    ``gcps``: ``(ground control points, their CRS)`` instead of ``crs`` and ``transform``.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.windows import Window

    path = Path(path)
    work_dir = Path(work_dir) if work_dir is not None else path.parent
    with naming_errors(path), atomic_path(path, overwrite=overwrite) as tmp_cog:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tiled.tif", dir=work_dir)
        os.close(fd)
        tiled = Path(name)
        try:
            profile = dict(driver="GTiff", width=width, height=height, count=count, dtype=dtype,
                           nodata=nodata, crs=None if gcps else crs,
                           transform=None if gcps else transform, tiled=True,
                           blockxsize=BLOCK, blockysize=BLOCK, compress="deflate",
                           BIGTIFF="IF_SAFER")
            with rasterio.open(tiled, "w", **profile) as dst:
                if gcps:
                    dst.gcps = gcps
                done = 0
                for row0, arr in strips:
                    if row0 != done:
                        raise RuntimeError(f"strip at row {row0}, expected row {done}")
                    arr = np.asarray(arr).reshape(count, -1, width)
                    dst.write(arr, window=Window(0, row0, width, arr.shape[1]))
                    done = row0 + arr.shape[1]
                if done != height:
                    raise RuntimeError(f"strips cover rows 0..{done}, the scene has {height}")
                for i, d in enumerate(descriptions or (), start=1):
                    dst.set_band_description(i, d)
                if colormap:
                    dst.write_colormap(1, colormap)
                if tags:
                    dst.update_tags(**tags)
            tmp_cog.unlink()
            rasterio.shutil.copy(tiled, tmp_cog, driver="COG", COMPRESS="DEFLATE",
                                 BLOCKSIZE=str(BLOCK), RESAMPLING=resampling.upper(),
                                 OVERVIEWS="AUTO", BIGTIFF="IF_SAFER")
        finally:
            tiled.unlink(missing_ok=True)
    return path
