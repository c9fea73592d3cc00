"""mask_scores: IoU per class against label rasters on other grids and CRSs, ignore value kept."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import rasterio
from rasterio.transform import from_origin

from sargeo.evaluation.masks import mask_scores
from sargeo.evaluation.objects import EvaluationError

UTM = "EPSG:32631"
X0, Y0 = 500_000.0, 5_800_000.0


def write(path, data, transform, crs=UTM, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def test_coarser_label_grid_in_the_same_crs_is_read_nearest(tmp_path):
    rng = np.random.default_rng(0)
    label = rng.integers(-1, 3, (32, 32)).astype(np.int16)  # -1 ignore, classes 0..2
    fine = np.kron(label, np.ones((2, 2), np.int16))           # the label on the 10 m grid
    pred = np.where(rng.uniform(size=fine.shape) < 0.8, np.clip(fine, 0, None),
                    rng.integers(0, 3, fine.shape)).astype(np.uint8)
    pred[:4, :4] = 255  # prediction nodata
    lp = write(tmp_path / "label.tif", label, from_origin(X0, Y0, 20.0, 20.0))
    pp = write(tmp_path / "pred.tif", pred, from_origin(X0, Y0, 10.0, 10.0), nodata=255)
    s = mask_scores(pp, lp)
    valid = (fine != -1) & (pred != 255)
    p, t = pred[valid].astype(int), fine[valid].astype(int)
    for c in (0, 1, 2):
        expected = np.sum((p == c) & (t == c)) / np.sum((p == c) | (t == c))
        assert s["iou"][str(c)] == pytest.approx(expected)
    assert s["pixels"] == int(valid.sum())
    assert s["recall"] == pytest.approx(np.sum((p > 0) & (t > 0)) / np.sum(t > 0))


def test_label_in_lon_lat_over_a_utm_prediction(tmp_path):
    # water west of x = X0 + 1000 m in the prediction; the label draws the same line in lon/lat
    pred = np.zeros((200, 200), np.uint8)
    pred[:, :100] = 1
    pp = write(tmp_path / "pred.tif", pred, from_origin(X0, Y0, 10.0, 10.0))
    to_ll = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    lon0, lat1 = to_ll.transform(X0 - 500, Y0 + 500)
    lon1, lat0 = to_ll.transform(X0 + 2500, Y0 - 2500)
    res = 5e-5
    w, h = int((lon1 - lon0) / res), int((lat1 - lat0) / res)
    lons = lon0 + (np.arange(w) + 0.5) * res
    lats = lat1 - (np.arange(h) + 0.5) * res
    lon, lat = np.meshgrid(lons, lats)
    x, _ = pyproj.Transformer.from_crs(4326, UTM, always_xy=True).transform(lon, lat)
    label = (x < X0 + 1000).astype(np.int16)
    lp = write(tmp_path / "label.tif", label, from_origin(lon0, lat1, res, res), crs="EPSG:4326")
    s = mask_scores(pp, lp)
    assert s["iou"]["1"] > 0.97 and s["iou"]["0"] > 0.97  # only the boundary column differs
    assert s["pixels"] == 200 * 200


def test_no_shared_pixels_and_unreadable_files_are_named(tmp_path):
    pred = write(tmp_path / "pred.tif", np.zeros((8, 8), np.uint8), from_origin(X0, Y0, 10, 10))
    far = write(tmp_path / "far.tif", np.ones((8, 8), np.int16),
                from_origin(X0 + 1e5, Y0, 10, 10))
    with pytest.raises(EvaluationError, match="share no valid pixel"):
        mask_scores(pred, far)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00garbage")
    with pytest.raises(EvaluationError, match="junk.tif: cannot be read as a raster"):
        mask_scores(pred, junk)
