"""mask_scores: IoU per class against label rasters on other grids and CRSs, ignore value kept."""

from __future__ import annotations

from typing import Any

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
    georef = {} if transform is None else {"crs": crs, "transform": transform}
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, nodata=nodata, **georef) as dst:
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



@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_rasters_without_georeferencing(tmp_path):
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, (16, 16)).astype(np.int16)
    pred = label.astype(np.uint8)
    pred[0] = 1 - pred[0]  # one row of 16 wrong
    plain_pred = write(tmp_path / "pred.tif", pred, None, crs=None)
    plain_label = write(tmp_path / "label.tif", label, None, crs=None)
    s = mask_scores(plain_pred, plain_label)  # pixel for pixel
    assert s["pixels"] == 256
    p, t = pred.astype(int), label.astype(int)
    assert s["iou"]["1"] == pytest.approx(np.sum((p == 1) & (t == 1)) / np.sum((p == 1) | (t == 1)))
    utm = write(tmp_path / "utm.tif", pred, from_origin(X0, Y0, 10, 10))
    with pytest.raises(EvaluationError, match=r"label.tif: no CRS and no ground control points, "
                                              r"the other raster has them; assign a CRS"):
        mask_scores(utm, plain_label)
    small = write(tmp_path / "small.tif", label[:8], None, crs=None)
    with pytest.raises(EvaluationError, match=r"small.tif \(16 x 8 px\) have no "
                                              "georeferencing and differ in size"):
        mask_scores(plain_pred, small)

# -- a mask of a Sentinel-1 product (image geometry, ground control points) -------------------
#: every 16th line and pixel of the first shared product, its first 200 x 200 (pixels of
#: about 160 m)
SCALE, CROP = 16, (200, 200)
RADIUS = 8_000.0  #: a round lake (metres, UTM) at the ground of pixel (100, 100)
#: water and land sigma0 whose mean is the water threshold (-16 dB): the 7 x 7 box the
#: baseline averages moves no edge
WATER, LAND = 2e-4, 2 * 10 ** -1.6 - 2e-4
#: resampling edges: a truth pixel (100 m) takes the class of the nearest product pixel centre
#: (160 m apart), so one whose centre lies u metres inside the lake is classed wrongly when that
#: product centre is more than u away across the edge: the wrongly classed band along the
#: shore is as wide as the mean offset across it, 40 m for square 160 m pixels (p / 4; 38 m
#: at 45 degrees). Allowed: 60 m, for the tie points' interpolation (bilinear here, a thin-plate
#: spline in the warp) and the count of pixels along the shore (about 500)
EDGE_M = 60.0
PRODUCT_UTM = "EPSG:32653"


def _lake_truth(path, centre: tuple[float, float], bounds) -> Any:
    """A label raster on a 100 m UTM grid: 1 within RADIUS of ``centre``, else 0."""
    x0, y0 = np.floor(np.asarray(bounds[:2]) / 100) * 100 - 2000
    x1, y1 = np.ceil(np.asarray(bounds[2:]) / 100) * 100 + 2000
    w, h = int((x1 - x0) / 100), int((y1 - y0) / 100)
    xs, ys = np.meshgrid(x0 + 50 + 100 * np.arange(w), y1 - 50 - 100 * np.arange(h))
    lake = (np.hypot(xs - centre[0], ys - centre[1]) < RADIUS).astype(np.int16)
    return write(path, lake, from_origin(x0, y1, 100.0, 100.0), crs=PRODUCT_UTM)


@pytest.fixture(scope="module")
def product_lake(tmp_path_factory):
    """A product simulated with the lake, its mask from ``sargeo infer --baseline water``, the
    truth raster of the same lake on a UTM grid and the lake's centre (UTM)."""
    from sargeo.cli import main
    from tests.datasets.safe_factory import build_product, source_products
    from tests.inference.test_product_infer import true_lonlat

    sources = source_products()
    if not sources:
        pytest.skip("real Sentinel-1 product metadata not found in ../shared/data")
    to_utm = pyproj.Transformer.from_crs(4326, PRODUCT_UTM, always_xy=True)

    def ground(rows, cols):  # UTM of reduced pixels through the real tie points, bilinear
        return to_utm.transform(*true_lonlat(sources[0], SCALE * np.ravel(rows),
                                             SCALE * np.ravel(cols)))

    centre = tuple(float(v[0]) for v in ground([100.0], [100.0]))

    def sigma0(pol, row, rows, width):
        x, y = ground(*np.mgrid[row:row + rows, 0:width])
        lake = np.hypot(x - centre[0], y - centre[1]) < RADIUS
        return np.where(lake, WATER, LAND).reshape(rows, width).astype(np.float32)

    d = tmp_path_factory.mktemp("lake")
    archive = build_product(sources[0], d, scale=SCALE, crop=CROP, sigma0=sigma0)
    assert main(["infer", str(archive), "--baseline", "water", "--out", str(d / "water"),
                 "--quiet"]) == 0
    x, y = ground([0, 0, CROP[0] - 1, CROP[0] - 1], [0, CROP[1] - 1, 0, CROP[1] - 1])
    truth = _lake_truth(d / "truth.tif", centre, (x.min(), y.min(), x.max(), y.max()))
    return d / "water" / f"{archive.stem}_mask.tif", truth, centre


@pytest.mark.slow  # 5-7 s: a product built and run through sargeo infer
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the mask
def test_a_product_mask_with_ground_control_points_scores_against_a_utm_truth(product_lake,
                                                                            tmp_path):
    import json

    from sargeo.cli import main

    mask, truth, centre = product_lake
    with rasterio.open(mask) as src:
        assert src.crs is None and len(src.gcps[0]) == 231
    assert main(["evaluate", str(mask), str(truth), "--out", str(tmp_path / "r.json")]) == 0
    s = json.loads((tmp_path / "r.json").read_text())
    # a band EDGE_M wide along the shore (2 pi R long) classed wrongly: IoU 1 - band / class
    band = 2 * np.pi * RADIUS * EDGE_M
    assert s["kind"] == "masks" and s["iou"]["1"] >= 1 - band / (np.pi * RADIUS ** 2)
    assert s["iou"]["0"] >= 1 - band / (s["pixels"] * 1e4 - np.pi * RADIUS ** 2)
    # the same comparison the other way round: the truth as the prediction, the mask's ground
    # control points bringing it onto the truth's grid
    back = mask_scores(truth, mask)
    assert back["iou"]["1"] >= 1 - band / (np.pi * RADIUS ** 2)
    assert back["pixels"] == s["pixels"]
    # two rasters placed by ground control points: compared on a UTM grid over them
    itself = mask_scores(mask, mask)
    assert itself["iou"] == {"0": 1.0, "1": 1.0} and itself["pixels"] > 0.9 * 200 * 200


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_product_mask_against_a_wrong_truth_scores_low(product_lake, tmp_path):
    mask, truth, centre = product_lake
    with rasterio.open(truth) as src:
        bounds = src.bounds
    moved = _lake_truth(tmp_path / "moved.tif", (centre[0] + 2.5 * RADIUS, centre[1]),
                        (bounds.left + 2000, bounds.bottom + 2000, bounds.right - 2000,
                         bounds.top - 2000))
    s = mask_scores(mask, moved)  # two lakes 4 km apart: no water in common
    assert s["iou"]["1"] < 0.02 and s["recall"] < 0.02
