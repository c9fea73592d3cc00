"""RasterLabels: label rasters in any CRS and grid become each tile's class mask by nearest
neighbour, with the ignore index outside every raster, on nodata and on the ignore value; and
LabelledScenes serves them for segmentation only."""

from __future__ import annotations

import warnings

import numpy as np
import pyproj
import pytest
import rasterio
import shapely
import torch
from affine import Affine
from rasterio.transform import from_origin
from shapely.affinity import translate
from torchgeo.samplers import GridGeoSampler

from sargeo.datasets.labelled import LabelledScenes
from sargeo.datasets.labels import LabelError, LabelWarning
from sargeo.datasets.raster_labels import RasterLabels
from sargeo.datasets.sentinel1 import Sentinel1GRD

UTM31 = pyproj.CRS.from_epsg(32631)
RES = 10.0
ORIGIN = (500_000.0, 5_000_000.0)  # 3 deg E, about 45.2 deg N
SIZE = 96
#: a 96 x 96 px tile at 10 m in UTM zone 31
TILE = Affine(RES, 0.0, ORIGIN[0], 0.0, -RES, ORIGIN[1])
#: lon/lat label grid: 0.0002 deg pixels (about 16 x 22 m), north-west corner inside the tile
LON_RES, LAT_RES = 0.0002, 0.0002
IGNORE = 255


def write_raster(path, values, transform, crs, nodata=None):
    values = np.asarray(values)
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1],
                       height=values.shape[0], count=1, dtype=values.dtype, crs=crs,
                       transform=transform, nodata=nodata) as dst:
        dst.write(values, 1)
    return path


def lonlat_labels(tmp_path, name="labels.tif", seed=0):
    """Classes 0, 1, 2 and -1 (no label) on a lon/lat grid that covers the tile's middle and
    leaves its west and north edges uncovered."""
    to_lonlat = pyproj.Transformer.from_crs(UTM31, 4326, always_xy=True)
    west, north = to_lonlat.transform(ORIGIN[0] + 20 * RES, ORIGIN[1] - 15 * RES)
    values = np.random.default_rng(seed).integers(-1, 3, size=(60, 70)).astype(np.int16)
    transform = from_origin(west, north, LON_RES, LAT_RES)
    return write_raster(tmp_path / name, values, transform, "EPSG:4326"), values, transform


def expected_mask(values, transform, margin=1e-3):
    """Each tile pixel centre projected to lon/lat with pyproj and looked up in ``values``
    (written out here, not through rasterio); also where the centre lies within ``margin`` of
    a label pixel edge (too close to call)."""
    cols, rows = np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5)
    x, y = ORIGIN[0] + cols * RES, ORIGIN[1] - rows * RES
    lon, lat = pyproj.Transformer.from_crs(UTM31, 4326, always_xy=True).transform(x, y)
    fc, fr = (lon - transform.c) / LON_RES, (transform.f - lat) / LAT_RES
    c, r = np.floor(fc).astype(int), np.floor(fr).astype(int)
    inside = (c >= 0) & (r >= 0) & (c < values.shape[1]) & (r < values.shape[0])
    out = np.full((SIZE, SIZE), IGNORE, dtype=np.int64)
    v = values[r[inside], c[inside]].astype(np.int64)
    out[inside] = np.where(v == -1, IGNORE, v)
    edge = lambda f: np.minimum(f - np.floor(f), np.ceil(f) - f) < margin  # noqa: E731
    return out, edge(fc) | edge(fr)


def test_lonlat_labels_give_each_utm_tile_pixel_its_nearest_label_and_ignore_elsewhere(tmp_path):
    path, values, transform = lonlat_labels(tmp_path)
    labels = RasterLabels(path, classes=("land", "water", "wet"), ignore_value=-1, crs=UTM31)
    mask = labels.mask_for_tile(TILE, (SIZE, SIZE))
    want, close = expected_mask(values, transform)
    assert mask.dtype == np.uint8 and mask.shape == (SIZE, SIZE)
    assert close.mean() < 0.01  # nearly every pixel is decided away from a label edge
    np.testing.assert_array_equal(mask[~close], want[~close])
    # outside the raster (west columns, north rows) and on -1: the ignore index
    assert (mask[:, :20] == IGNORE).all() and (mask[:15] == IGNORE).all()
    assert set(np.unique(mask[20:, 25:]).tolist()) == {0, 1, 2, IGNORE}
    # the same tile asked in lon/lat-labels' own CRS default, with the tile's CRS given
    in_lonlat = RasterLabels(path, ignore_value=-1)
    assert in_lonlat.crs.to_epsg() == 4326
    np.testing.assert_array_equal(in_lonlat.mask_for_tile(TILE, (SIZE, SIZE), crs=UTM31), mask)


def test_a_tile_outside_every_raster_is_all_ignored(tmp_path):
    path, _, _ = lonlat_labels(tmp_path)
    labels = RasterLabels(path, ignore_value=-1, crs=UTM31)
    far = Affine(RES, 0.0, ORIGIN[0] + 50_000, 0.0, -RES, ORIGIN[1])
    assert (labels.mask_for_tile(far, (SIZE, SIZE)) == IGNORE).all()


def test_value_map_and_nodata_tag_and_unknown_values(tmp_path):
    values = np.array([[10, 20, 30, 99], [20, 10, 99, 30]], dtype=np.uint8)
    grid = Affine(RES, 0.0, ORIGIN[0], 0.0, -RES, ORIGIN[1])
    path = write_raster(tmp_path / "coded.tif", values, grid, UTM31.to_wkt(), nodata=99)
    labels = RasterLabels(path, classes=("land", "water"), value_map={10: 0, 20: 1, 30: 255})
    np.testing.assert_array_equal(labels.mask_for_tile(grid, (2, 4)),
                                  [[0, 1, 255, 255], [1, 0, 255, 255]])
    partial = RasterLabels(path, classes=("land", "water"), value_map={10: 0, 20: 1})
    with pytest.raises(LabelError, match=r"coded\.tif: label value\(s\) \[30\.0\] are neither "
                                         r"in value_map"):
        partial.mask_for_tile(grid, (2, 4))
    raw = RasterLabels(path, classes=("land", "water"))
    with pytest.raises(LabelError, match=r"coded\.tif: label value\(s\) \[10\.0, 20\.0, 30\.0\] "
                                         r"are not class ids 0\.\.1 .*value_map="):
        raw.mask_for_tile(grid, (2, 4))
    with pytest.raises(LabelError, match=r"value_map sends \{30\.0: 2\} outside the class ids"):
        RasterLabels(path, classes=("land", "water"), value_map={10: 0, 30: 2})


def test_first_listed_raster_that_labels_a_pixel_wins(tmp_path):
    grid = Affine(RES, 0.0, ORIGIN[0], 0.0, -RES, ORIGIN[1])
    first = write_raster(tmp_path / "a.tif", np.array([[1, -1, 0]], np.int16), grid,
                         UTM31.to_wkt())
    shifted = Affine(RES, 0.0, ORIGIN[0] + RES, 0.0, -RES, ORIGIN[1])  # one pixel east
    second = write_raster(tmp_path / "b.tif", np.array([[0, 0, 0]], np.int16), shifted,
                          UTM31.to_wkt())
    labels = RasterLabels([first, second], ignore_value=-1)
    np.testing.assert_array_equal(labels.mask_for_tile(grid, (1, 5)), [[1, 0, 0, 0, 255]])
    # a folder and a glob find both, in sorted order
    assert RasterLabels(tmp_path).files == [first, second]
    assert RasterLabels(str(tmp_path / "*.tif")).files == [first, second]


def test_missing_paths_unreadable_and_crs_less_rasters_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"label raster not found: .*nope\.tif"):
        RasterLabels(tmp_path / "nope.tif")
    with pytest.raises(FileNotFoundError, match=r"no label raster matches .*\*_LabelHand\.tif"):
        RasterLabels(str(tmp_path / "*_LabelHand.tif"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no label raster \(\.tif.*under .*empty"):
        RasterLabels(tmp_path / "empty")
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    with pytest.raises(LabelError, match=r"broken\.tif is not a readable label raster: "):
        RasterLabels(broken)
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="uint8") as dst:
        dst.write(np.zeros((4, 4), np.uint8), 1)
    with pytest.raises(LabelError, match=r"bare\.tif has no CRS / geotransform"):
        RasterLabels(bare)


def scene(tmp_path, transform, size=64):
    """A stacked VV/VH linear-power scene (UTM 31N)."""
    path = tmp_path / "scenes" / "scene.tif"
    path.parent.mkdir()
    data = np.random.default_rng(1).gamma(4.0, 0.05, size=(2, size, size)).astype(np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=2,
                       dtype="float32", crs=UTM31.to_wkt(), transform=transform,
                       nodata=float("nan")) as dst:
        dst.write(data)
        dst.descriptions = ("VV", "VH")
    return Sentinel1GRD(path.parent)


def test_labelled_scenes_take_raster_labels_for_segmentation_and_refuse_detection(tmp_path):
    path, values, transform = lonlat_labels(tmp_path)
    images = scene(tmp_path, TILE, size=SIZE)
    labels = RasterLabels(path, ignore_value=-1, crs=images.crs)
    with pytest.raises(LabelError, match=r"RasterLabels\(.*gives class masks only; task "
                                         r"'detection' needs object outlines .*vector labels"):
        LabelledScenes(images, labels, task="detection")
    with pytest.raises(LabelError, match="task 'rotated_detection' needs object outlines"):
        LabelledScenes(images, labels, task=("segmentation", "rotated_detection"))
    with pytest.raises(TypeError, match="labels must be VectorLabels or RasterLabels, not str"):
        LabelledScenes(images, str(path), task="segmentation")
    ds = LabelledScenes(images, labels, task="segmentation")
    (query,) = list(GridGeoSampler(ds, size=SIZE, stride=SIZE))
    sample = ds[query]
    assert "hboxes" not in sample and sample["mask"].dtype == torch.int64
    want, close = expected_mask(values, transform)
    np.testing.assert_array_equal(sample["mask"].numpy()[~close], want[~close])


def test_coverage_warns_about_labels_off_the_scenes_and_scenes_without_labels(tmp_path):
    path, _, _ = lonlat_labels(tmp_path)
    labels = RasterLabels(path, ignore_value=-1, crs=UTM31)
    on_tile = shapely.box(ORIGIN[0], ORIGIN[1] - SIZE * RES, ORIGIN[0] + SIZE * RES, ORIGIN[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert labels.check_coverage(on_tile, crs=UTM31) == 0
    far = translate(on_tile, 50_000)
    with pytest.warns(LabelWarning) as caught:
        assert labels.check_coverage(far, crs=UTM31) == 1
    text = [str(w.message) for w in caught]
    assert any("1 of 1 label rasters under" in t and "outside every scene" in t for t in text)
    assert any("1 of 1 scenes lie outside every label raster" in t for t in text)
