"""torchgeo 0.10 reads GeoTIFFs written by rasterio with a real CRS: the dataset has the right
CRS, samples the right bounds and pixels (the georeferenced path everything else stands on).

Since torchgeo 0.9 a sample carries no ``crs`` and its ``bounds`` is a float32 tensor
``[xmin, xmax, xres, ymin, ymax, yres, tmin, tmax, tstep]``; :func:`sargeo.geo.bounds_slices`
reads it back as a query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import rasterio
import torch
from rasterio.transform import from_origin
from torchgeo.datasets import RasterDataset
from torchgeo.samplers import GridGeoSampler

from sargeo.geo import bounds_slices

UTM33N = "EPSG:32633"
ORIGIN = (400_000.0, 5_600_000.0)  # upper-left corner, metres
RES = 10.0


class TiffFolder(RasterDataset):
    filename_glob = "*.tif"


def write_utm_tiff(path: Path, height: int = 96, width: int = 128) -> np.ndarray:
    data = np.arange(2 * height * width, dtype=np.float32).reshape(2, height, width)
    profile = dict(driver="GTiff", height=height, width=width, count=2, dtype="float32",
                   crs=UTM33N, transform=from_origin(*ORIGIN, RES, RES))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return data


def test_grid_sampler_yields_tiles_with_right_crs_bounds_and_pixels(tmp_path):
    data = write_utm_tiff(tmp_path / "scene.tif")
    ds = TiffFolder(paths=tmp_path)
    assert ds.crs == pyproj.CRS.from_user_input(UTM33N)
    assert ds.res == (RES, RES)

    sampler = GridGeoSampler(ds, size=32, stride=32)
    queries = list(sampler)
    assert len(queries) == (96 // 32) * (128 // 32)
    for query in queries:
        sample = ds[query]
        assert "crs" not in sample and sample["bounds"].dtype == torch.float32
        xs, ys, _ = bounds_slices(sample["bounds"])
        assert (xs.start, xs.stop, ys.start, ys.stop) == (query[0].start, query[0].stop,
                                                          query[1].start, query[1].stop)
        assert xs.stop - xs.start == ys.stop - ys.start == 32 * RES
        assert (xs.step, ys.step) == (RES, RES)
        col = round((xs.start - ORIGIN[0]) / RES)
        row = round((ORIGIN[1] - ys.stop) / RES)
        expected = data[:, row:row + 32, col:col + 32]
        np.testing.assert_array_equal(sample["image"].numpy(), expected)
