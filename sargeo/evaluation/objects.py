"""Reading predicted and true objects (points, boxes or polygons, any CRS) into one metric frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.errors import error_text

#: attribute names read when present
SCORE, LENGTH, SHORE = "score", "length_m", "distance_to_shore_m"


class EvaluationError(ValueError):
    """Predictions or truth cannot be scored as given; the message names the file."""


@dataclass
class Objects:
    """Centres of objects in a metric CRS plus the attributes the scores use (NaN if absent)."""

    path: str
    xy: np.ndarray          # (N, 2) metres
    lonlat: np.ndarray      # (N, 2) degrees (NaN without a CRS)
    score: np.ndarray       # (N,) 1.0 when the file has no score
    length_m: np.ndarray    # (N,)
    shore_m: np.ndarray     # (N,) distance to shore when the file carries it

    def __len__(self) -> int:
        return len(self.xy)

    def subset(self, keep: np.ndarray) -> Objects:
        return Objects(self.path, self.xy[keep], self.lonlat[keep], self.score[keep],
                       self.length_m[keep], self.shore_m[keep])


def read_frame(path: str | Path, layer: str | None = None) -> Any:
    """A GeoDataFrame of ``path`` (GeoPackage, GeoJSON, Shapefile...), or a named error."""
    import geopandas as gpd
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise EvaluationError(f"{path}: no such file")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        if layer is None and len(layers) > 1:
            raise EvaluationError(f"{path} has layers {layers}: name the one to score "
                                  "(--pred-layer / --truth-layer)")
        if layer is not None and layer not in layers:
            raise EvaluationError(f"{path} has no layer {layer!r} (it has {layers})")
        frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except EvaluationError:
        raise
    except Exception as err:  # pyogrio/fiona raise many types for unreadable files
        raise EvaluationError(f"{path}: cannot be read as vector data ({error_text(err)}); "
                              "pass a GeoPackage or GeoJSON of points, boxes or polygons") from err
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame


def metric_crs_for(frames: list[Any]) -> Any:
    """The CRS distances are measured in: the first projected CRS in metres among the frames,
    else the UTM zone of the objects' centre."""
    import pyproj
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    for frame in frames:
        crs = frame.crs
        if crs is not None and crs.is_projected and crs.axis_info[0].unit_name in ("metre",
                                                                                  "meter"):
            return crs
    lonlat = np.concatenate([f.to_crs(4326).geometry.centroid.get_coordinates().to_numpy()
                             for f in frames if len(f)] or [np.zeros((1, 2))])
    lon, lat = float(np.median(lonlat[:, 0])), float(np.median(lonlat[:, 1]))
    info = query_utm_crs_info(datum_name="WGS 84",
                              area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return pyproj.CRS.from_epsg(int(info[0].code))


def _column(frame: Any, name: str, default: float) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=np.float64)
    return frame[name].astype("float64").fillna(default).to_numpy()


def to_objects(frame: Any, path: str, crs: Any) -> Objects:
    """Centres (in ``crs``) and attributes of a frame's objects."""
    import warnings

    if frame.crs is None:
        raise EvaluationError(f"{path}: no CRS; write it with its CRS (sargeo infer does) or "
                              "use COCO JSON for pixel coordinates")
    metric = frame.to_crs(crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # centroids in a metric CRS are right
        xy = metric.geometry.centroid.get_coordinates().to_numpy()
    lonlat = metric.geometry.centroid.to_crs(4326).get_coordinates().to_numpy()
    return Objects(path, xy, lonlat, _column(frame, SCORE, 1.0),
                   _column(frame, LENGTH, np.nan), _column(frame, SHORE, np.nan))
