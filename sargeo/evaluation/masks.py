"""Masks against a label raster on any grid and CRS: IoU per class, with precision, recall and
F1 of the foreground (pixels of every class but the background).

Either side may be georeferenced by a CRS and geotransform, or by ground control points only
(as ``sargeo infer`` writes masks of Sentinel-1 products, in their image geometry): the two are
compared on one map grid, the prediction's when it has one, else the label's, else a UTM grid
laid over the prediction's ground control points. A raster is brought onto that grid with
nearest neighbour, through its geotransform or through a thin-plate spline over its ground
control points (as ``gdalwarp -tps``). Label pixels equal to ``ignore_value`` or
:data:`IGNORE` are not scored. Two rasters without any georeferencing are compared
pixel for pixel when their sizes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.errors import error_text
from sargeo.evaluation.objects import EvaluationError

#: a label value never scored (besides ``ignore_value``), as mmseg's ignore index
IGNORE = 255
#: a pixel with no value (nodata, outside the raster) on the common grid
MISSING = -32768


@dataclass(frozen=True)
class _Grid:
    crs: Any
    transform: Any
    width: int
    height: int


def _georeferencing(src: Any) -> dict[str, Any] | None:
    """What ``rasterio.warp.reproject`` needs to place ``src``: its CRS and geotransform, or its
    ground control points (thin-plate spline); None when it has neither."""
    if src.crs is not None:
        return {"src_transform": src.transform, "src_crs": src.crs}
    gcps, crs = src.gcps
    if gcps and crs is not None:
        return {"gcps": gcps, "src_crs": crs, "SRC_METHOD": "GCP_TPS"}
    return None


def _own_grid(src: Any) -> _Grid:
    return _Grid(src.crs, src.transform, src.width, src.height)


def _gcp_grid(src: Any) -> _Grid:
    """A UTM grid (the zone of the ground control points' centre) over a raster placed by its
    ground control points, at GDAL's suggested resolution."""
    from pyproj import CRS
    from rasterio.warp import calculate_default_transform

    from sargeo.datasets.safe_geo import utm_crs

    gcps, crs = src.gcps
    dst = crs
    if CRS.from_user_input(crs).is_geographic:
        dst = utm_crs(float(np.mean([g.x for g in gcps])), float(np.mean([g.y for g in gcps])))
    transform, width, height = calculate_default_transform(
        crs, dst, src.width, src.height, gcps=gcps, SRC_METHOD="GCP_TPS")
    return _Grid(dst, transform, int(width), int(height))


def _common_grid(pred: Any, label: Any, pred_path: Any, label_path: Any) -> _Grid | None:
    """The map grid both rasters are compared on (None: neither is georeferenced)."""
    have_pred, have_label = _georeferencing(pred), _georeferencing(label)
    if have_pred is None and have_label is None:
        if (pred.height, pred.width) != (label.height, label.width):
            raise EvaluationError(f"{pred_path} ({pred.width} x {pred.height} px) and "
                                  f"{label_path} ({label.width} x {label.height} px) have no "
                                  "georeferencing and differ in size: give rasters of one grid")
        return None
    for path, ok in ((label_path, have_label), (pred_path, have_pred)):
        if ok is None:
            raise EvaluationError(f"{path}: no CRS and no ground control points, the other "
                                  "raster has them; assign a CRS and transform (gdal_edit.py "
                                  "-a_srs -a_ullr) or compare on the same grid")
    if pred.crs is not None:
        return _own_grid(pred)
    if label.crs is not None:
        return _own_grid(label)
    return _gcp_grid(pred)


def _class_ids_on(src: Any, band: int, grid: _Grid | None) -> np.ndarray:
    """Band ``band`` of ``src`` on ``grid`` (int32; :data:`MISSING` at nodata and off the
    raster), read as it is when it already lies on that grid."""
    from rasterio.warp import Resampling, reproject

    data = src.read(band).astype(np.int32)
    if grid is None or (src.crs is not None and _own_grid(src) == grid):
        return np.where(data == src.nodata, MISSING, data) if src.nodata is not None else data
    out = np.full((grid.height, grid.width), MISSING, dtype=np.int32)
    reproject(data, out, dst_transform=grid.transform, dst_crs=grid.crs,
              src_nodata=src.nodata, dst_nodata=MISSING, resampling=Resampling.nearest,
              **_georeferencing(src))
    return out


def _open(path: str | Path) -> Any:
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioError as err:
        raise EvaluationError(f"{path}: cannot be read as a raster ({error_text(err)})"
                              ) from err


def mask_scores(pred_path: str | Path, label_path: str | Path, *, background: int = 0,
                ignore_value: int | None = -1, band: int = 1) -> dict[str, Any]:
    """IoU per class of a class-id mask (``pred_path``, e.g. ``sargeo infer``'s COG) against a
    label raster, both on one grid (module docstring)."""
    import rasterio

    with _open(pred_path) as pred, _open(label_path) as label:
        grid = _common_grid(pred, label, pred_path, label_path)
        values = {}
        for name, path, src, b in (("pred", pred_path, pred, band),
                                   ("label", label_path, label, 1)):
            try:
                values[name] = _class_ids_on(src, b, grid)
            except (rasterio.errors.RasterioError, ValueError) as err:
                raise EvaluationError(f"{path}: cannot be read onto the grid of the comparison "
                                      f"({error_text(err)})") from err
    pred_ids, label_ids = values["pred"], values["label"]
    valid = (label_ids != MISSING) & (label_ids != IGNORE) & (pred_ids != MISSING)
    if ignore_value is not None:
        valid &= label_ids != ignore_value
    if not valid.any():
        raise EvaluationError(f"{label_path} and {pred_path} share no valid pixel: do they "
                              "cover the same place?")
    p, t = pred_ids[valid].astype(np.int64), label_ids[valid].astype(np.int64)
    classes = sorted(set(np.unique(t).tolist()) | set(np.unique(p).tolist()))
    iou = {}
    for c in classes:
        inter = int(np.sum((p == c) & (t == c)))
        union = int(np.sum((p == c) | (t == c)))
        iou[str(c)] = inter / union if union else None
    fg_p, fg_t = p != background, t != background
    tp = int(np.sum(fg_p & fg_t))
    precision = tp / int(fg_p.sum()) if fg_p.any() else None
    recall = tp / int(fg_t.sum()) if fg_t.any() else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision and recall else (0.0 if precision is not None and recall is not None
                                        else None))
    scored = [v for k, v in iou.items() if v is not None]
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou,
            "miou": float(np.mean(scored)) if scored else None, "pixels": int(valid.sum()),
            "pred": str(pred_path), "truth": str(label_path)}
