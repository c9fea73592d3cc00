"""Masks against a label raster on any grid and CRS: IoU per class, with precision, recall and
F1 of the foreground (pixels of every class but the background)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sargeo.errors import error_text
from sargeo.evaluation.objects import EvaluationError

IGNORE = 255


def _read_label_on(pred: Any, label_path: str | Path, ignore_value: int | None) -> np.ndarray:
    """The label raster resampled (nearest) onto the prediction's grid; outside it and
    ``ignore_value`` become :data:`IGNORE`."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    try:
        with rasterio.open(label_path) as src:
            if src.crs is None and pred.crs is not None:
                raise EvaluationError(f"{label_path}: no CRS, the prediction has one; assign "
                                      "it (gdal_edit.py -a_srs) or compare on the same grid")
            data = src.read(1)
            out = np.full((pred.height, pred.width), -32768, dtype=np.int32)
            reproject(data.astype(np.int32), out, src_transform=src.transform, src_crs=src.crs,
                      dst_transform=pred.transform, dst_crs=pred.crs,
                      src_nodata=src.nodata, dst_nodata=-32768, resampling=Resampling.nearest)
    except rasterio.errors.RasterioError as err:
        raise EvaluationError(f"{label_path}: cannot be read as a raster "
                              f"({error_text(err)})") from err
    invalid = out == -32768
    if ignore_value is not None:
        invalid |= out == ignore_value
    return np.where(invalid, IGNORE, out)


def mask_scores(pred_path: str | Path, label_path: str | Path, *, background: int = 0,
                ignore_value: int | None = -1, band: int = 1) -> dict[str, Any]:
    """IoU per class of a class-id mask (``pred_path``, e.g. ``sargeo infer``'s COG) against a
    label raster (reprojected with nearest neighbour onto the prediction's grid)."""
    import rasterio

    try:
        with rasterio.open(pred_path) as pred:
            values = pred.read(band)
            pred_nodata = pred.nodata
            label = _read_label_on(pred, label_path, ignore_value)
    except rasterio.errors.RasterioError as err:
        raise EvaluationError(f"{pred_path}: cannot be read as a raster "
                              f"({error_text(err)})") from err
    valid = label != IGNORE
    if pred_nodata is not None:
        valid &= values != pred_nodata
    if not valid.any():
        raise EvaluationError(f"{label_path} and {pred_path} share no valid pixel: do they "
                              "cover the same place?")
    p, t = values[valid].astype(np.int64), label[valid].astype(np.int64)
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
