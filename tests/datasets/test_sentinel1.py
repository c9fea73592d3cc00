"""Sentinel1GRD: layouts, polarisations, dB, nodata, CRS handling, GCP georeferencing."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import rasterio
import torch
from rasterio.control import GroundControlPoint
from torchgeo.datasets import stack_samples
from torchgeo.samplers import GridGeoSampler, RandomGeoSampler

from sargeo.datasets.sentinel1 import Sentinel1Error, Sentinel1GRD, georeference_grd
from sargeo.datasets.simulate import simulate_scene


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("stacked")
    simulate_scene(root / "scene.tif", width=256, height=192, seed=2)
    return root


def split_bands(src_path, folder, pattern):
    """Write one file per polarisation, named by ``pattern.format(band)``."""
    folder.mkdir(parents=True, exist_ok=True)
    with rasterio.open(src_path) as src:
        profile = src.profile | {"count": 1}
        for i, band in enumerate(("VV", "VH")):
            name = pattern.format(band.lower() if pattern.startswith("iw-") else band)
            with rasterio.open(folder / name, "w", **profile) as dst:
                dst.write(src.read(i + 1), 1)


@pytest.mark.parametrize("pattern", ["S1A_IW_20200101T000000_DVP_RTC10_G_gpuned_ABCD_{}.tif",
                                     "iw-{}.tiff"])
def test_one_file_per_polarisation_reads_like_the_stacked_file(stacked, tmp_path, pattern):
    split_bands(stacked / "scene.tif", tmp_path / "scene", pattern)
    ref = Sentinel1GRD(stacked, bands=["VH", "VV"])
    ds = Sentinel1GRD(tmp_path, bands=["VH", "VV"])
    assert len(ds.files) == 1  # one index entry per scene, not per band
    for query in list(GridGeoSampler(ref, size=64))[:4]:
        torch.testing.assert_close(ds[query]["image"], ref[query]["image"])


def test_bands_decibels_and_nodata(stacked, tmp_path):
    with rasterio.open(stacked / "scene.tif") as src:
        truth = src.read()
        profile = src.profile
    truth[:, :5, :5] = 0.0  # nodata corner
    truth[1, 10, 10] = np.nan
    with rasterio.open(tmp_path / "s.tif", "w", **profile) as dst:
        dst.write(truth)
        dst.descriptions = ("VV", "VH")
    ds = Sentinel1GRD(tmp_path, bands=["VH"], decibels=True)
    x0, y1 = profile["transform"] * (0, 0)
    query = (slice(x0, x0 + 320), slice(y1 - 320, y1), slice(None))
    image = ds[query]["image"]
    assert image.shape == (1, 32, 32)
    assert torch.isnan(image[0, :5, :5]).all() and torch.isnan(image[0, 10, 10])
    np.testing.assert_allclose(image[0, 20:, 20:].numpy(), 10 * np.log10(truth[1, 20:32, 20:32]),
                               rtol=1e-5)
    zeros = Sentinel1GRD(tmp_path, bands=["VV"], nodata_value=0.0)[query]["image"]
    assert (zeros[0, :5, :5] == 0).all()


def test_scenes_in_two_utm_zones_are_sampled_in_one_crs(tmp_path):
    simulate_scene(tmp_path / "a.tif", width=200, height=200, crs="EPSG:32631",
                   origin=(700_000.0, 5_800_000.0), seed=1)
    # the same area, as the neighbouring zone numbers it
    x, y = pyproj.Transformer.from_crs(32631, 32632, always_xy=True).transform(700_000.0,
                                                                               5_800_000.0)
    simulate_scene(tmp_path / "b.tif", width=200, height=200, crs="EPSG:32632",
                   origin=(x, y), seed=2)
    ds = Sentinel1GRD(tmp_path)
    assert ds.crs == pyproj.CRS.from_epsg(32631) and ds.res == (10.0, 10.0)
    sample = ds[next(iter(RandomGeoSampler(ds, size=32, length=1)))]
    assert sample["image"].shape == (2, 32, 32) and ds.crs.to_epsg() == 32631
    # tensors only: torchgeo 0.10's stack_samples (torch.stack on every key) batches them
    batch = stack_samples([sample, ds[next(iter(RandomGeoSampler(ds, size=32, length=1)))]])
    assert batch["image"].shape == (2, 2, 32, 32) and batch["bounds"].shape == (2, 9)
    utm32 = Sentinel1GRD(tmp_path, crs=pyproj.CRS.from_epsg(32632), res=20.0)
    assert utm32.crs.to_epsg() == 32632 and utm32.res == (20.0, 20.0)


def test_bad_inputs_name_the_file(tmp_path, stacked):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Sentinel1GRD(tmp_path / "nowhere")
    with pytest.raises(Sentinel1Error, match="has bands \\['VV', 'VH'\\], not \\['HH'\\]"):
        Sentinel1GRD(stacked, bands=["HH"])
    with pytest.raises(Sentinel1Error, match="unknown polarisation"):
        Sentinel1GRD(stacked, bands=["RR"])
    plain = tmp_path / "nocrs"
    plain.mkdir()
    with rasterio.open(plain / "x_VV.tif", "w", driver="GTiff", width=8, height=8, count=1,
                       dtype="float32") as dst:
        dst.write(np.ones((1, 8, 8), np.float32))
    with pytest.raises(Sentinel1Error, match="x_VV.tif has no CRS"):
        Sentinel1GRD(plain)
    lone = tmp_path / "lone"
    split_bands(stacked / "scene.tif", lone, "S1A_{}_x.tif")
    (lone / "S1A_VH_x.tif").unlink()
    with pytest.raises(Sentinel1Error, match="no VH file beside it"):
        Sentinel1GRD(lone)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "b_VV.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(Sentinel1Error, match="b_VV.tif is not a readable GeoTIFF"):
        Sentinel1GRD(broken)


def curved_geolocation(row, col):
    """A smooth, non-affine pixel -> (lon, lat) mapping, like a GRD swath's."""
    lon = 3.0 + 0.0012 * col + 2e-5 * row + 3e-7 * col**2
    lat = 52.0 - 0.0009 * row + 1e-5 * col + 4e-7 * row * col
    return lon, lat


def test_gcp_only_grd_is_refused_then_georeferenced_through_its_gcps(tmp_path):
    h = w = 240
    data = np.full((1, h, w), 0.01, np.float32)
    data[0, 150:153, 90:93] = 5.0  # a bright target
    gcps = [GroundControlPoint(row=r, col=c, x=curved_geolocation(r, c)[0],
                               y=curved_geolocation(r, c)[1])
            for r in np.linspace(0, h, 7) for c in np.linspace(0, w, 7)]
    raw = tmp_path / "raw" / "s1a-iw-grd-vv-20200101t000000-001.tiff"
    raw.parent.mkdir()
    with rasterio.open(raw, "w", driver="GTiff", width=w, height=h, count=1,
                       dtype="float32") as dst:
        dst.write(data)
        dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))
    with pytest.raises(Sentinel1Error, match="ground control points.*georeference_grd"):
        Sentinel1GRD(raw.parent)
    out = georeference_grd(raw, tmp_path / "geo" / "scene_VV.tif", resolution=20.0)
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32631  # UTM zone of the GCPs' centre
        warped = np.nan_to_num(src.read(1))
        rows, cols = np.nonzero(warped > 1.0)  # the target spans a few source pixels (~90 m)
        x, y = src.transform * (cols.mean() + 0.5, rows.mean() + 0.5)
    lon, lat = curved_geolocation(151.5, 91.5)
    ex, ey = pyproj.Transformer.from_crs(4326, 32631, always_xy=True).transform(lon, lat)
    assert np.hypot(x - ex, y - ey) < 2 * 20.0  # within two output pixels
    # one affine fitted to the GCPs misplaces the target by far more
    a = np.array([[g.col, g.row, 1.0] for g in gcps])
    px = np.linalg.lstsq(a, [g.x for g in gcps], rcond=None)[0] @ [91.5, 151.5, 1.0]
    py = np.linalg.lstsq(a, [g.y for g in gcps], rcond=None)[0] @ [91.5, 151.5, 1.0]
    fx, fy = pyproj.Transformer.from_crs(4326, 32631, always_xy=True).transform(px, py)
    tps_error, affine_error = np.hypot(x - ex, y - ey), np.hypot(fx - ex, fy - ey)
    print(f"target misplaced by {tps_error:.1f} m (TPS) vs {affine_error:.1f} m (affine)")
    assert affine_error > 5 * tps_error
    ds = Sentinel1GRD(out.parent, bands=["VV"])
    assert ds.crs.to_epsg() == 32631

