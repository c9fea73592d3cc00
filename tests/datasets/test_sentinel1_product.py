"""Sentinel1GRD on Sentinel-1 SAFE products: calibrated values on a map grid, window by window,
against the product reader's own warp and a GeoTIFF of the same pixels; samplers, batching,
mixing with GeoTIFFs, errors naming the file, the swath border as nodata."""

from __future__ import annotations

import pickle
import shutil
import warnings

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from torch.utils.data import DataLoader
from torchgeo.datasets import stack_samples
from torchgeo.samplers import GridGeoSampler, RandomGeoSampler

from sargeo.datasets.safe import Sentinel1Product
from sargeo.datasets.safe_geo import MapGrid
from sargeo.datasets.sentinel1 import Sentinel1Error, Sentinel1GRD, georeference_grd
from tests.datasets.safe_factory import build_product

RES = 160.0  # the factory's products keep every 16th pixel of 10 m ones
BORDER = 2  # the factory's frame of DN == 0


def aligned_query(ds, product, row, col, size):
    """A ``size`` px query whose north-west corner lies near product pixel (row, col), its
    edges on multiples of the dataset's resolution."""
    lon, lat = product.pixel_to_lonlat(row, col)
    x, y = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True).transform(lon, lat)
    res = ds.res[0]
    x0, y1 = np.floor(x / res) * res, np.floor(y / res) * res
    t = ds.bounds[2]
    return (slice(x0, x0 + size * res, res), slice(y1 - size * res, y1, res),
            slice(t.start, t.stop, 1))


def centred_query(ds, product, row, col, size):
    """A ``size`` px query centred on product pixel (row, col)."""
    query = aligned_query(ds, product, row, col, size)
    half = size // 2 * ds.res[0]
    return (slice(query[0].start - half, query[0].stop - half, query[0].step),
            slice(query[1].start + half, query[1].stop + half, query[1].step), query[2])


def query_grid(ds, query):
    x, y, _ = query
    w, h = round((x.stop - x.start) / x.step), round((y.stop - y.start) / y.step)
    return MapGrid(rasterio.crs.CRS.from_user_input(ds.crs.to_wkt()),
                   Affine.translation(x.start, y.stop) * Affine.scale(x.step, -y.step), w, h)


def reader_reference(path, grid, quantity="sigma0", pols=("VH", "VV"), block=400):
    """The product reader's own calibrated values of a generous central block, warped onto
    ``grid`` by the reader."""
    with Sentinel1Product(path) as product:
        h, w = product.shape
        window = ((h // 2 - block // 2, h // 2 + block // 2), (w // 2 - block // 2,
                                                               w // 2 + block // 2))
        data = product.read(window, quantity, pols)
        warped, _ = product.warp(data, window, grid)
    return warped


@pytest.mark.parametrize("quantity", ["sigma0", "beta0", "gamma0"])
def test_a_sample_equals_the_readers_own_warp_of_the_same_window(safe_products, quantity):
    path = safe_products[0].zip
    ds = Sentinel1GRD(path, bands=("VH", "VV"), quantity=quantity)
    with Sentinel1Product(path) as product:
        h, w = product.shape
        query = aligned_query(ds, product, h // 2 - 20, w // 2 - 20, 40)
        assert ds.crs.to_epsg() == 32653 and ds.res == (RES, RES)  # the product's UTM zone
    sample = ds[query]["image"].numpy()
    expected = reader_reference(path, query_grid(ds, query), quantity)
    assert sample.shape == (2, 40, 40) and np.isfinite(sample).all()
    np.testing.assert_allclose(sample, expected, rtol=1e-5)
    assert np.abs(sample[0] - sample[1]).mean() > 0.1 * sample.mean()  # VH, VV differ
    in_db = Sentinel1GRD(path, bands=("VH", "VV"), quantity=quantity, decibels=True)
    np.testing.assert_allclose(in_db[query]["image"].numpy(), 10 * np.log10(expected),
                               rtol=1e-5, atol=1e-4)


def write_calibrated_gcp_tiff(product_path, out):
    """The product's calibrated sigma0 (VV, VH) in radar geometry with its tie points as
    GCPs: what georeference_grd warps."""
    with Sentinel1Product(product_path) as product:
        data = product.read()
        profile = dict(driver="GTiff", width=product.width, height=product.height, count=2,
                       dtype="float32", nodata=float("nan"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(out, "w", **profile) as dst:
                dst.write(data)
                dst.descriptions = product.polarisations
                dst.gcps = (product.gcps, product.crs)


def smooth_sigma0(pol, row, rows, width):
    """A smooth sigma0 field (periods of ~100 px; DN large enough that rounding is ~0.1 %)."""
    r, c = np.mgrid[row:row + rows, 0:width].astype(np.float64)
    base = 1.0 if pol == "VV" else 0.4
    return base * (1 + 0.3 * np.sin(2 * np.pi * r / 97) * np.cos(2 * np.pi * c / 131))


def test_a_product_and_a_geotiff_of_its_pixels_give_the_same_samples(safe_sources, tmp_path):
    """GDAL warps through an approximate transformer (0.125 px): on a smooth field the two
    routes agree within 0.5 %; on speckle they would not (the values of neighbours differ)."""
    path = build_product(safe_sources[1], tmp_path, sigma0=smooth_sigma0, crop=(300, 400))
    raw = tmp_path / "raw.tif"
    write_calibrated_gcp_tiff(path, raw)
    tif = georeference_grd(raw, tmp_path / "geo" / "scene.tif", resolution=RES)
    geotiff = Sentinel1GRD(tif.parent)
    ds = Sentinel1GRD(path, crs=geotiff.crs, res=RES)
    with rasterio.open(tif) as src:  # queries on the GeoTIFF's own pixel grid
        origin = src.transform
    with Sentinel1Product(path) as product:
        h, w = product.shape
        for row, col in ((h // 4, w // 4), (h // 2, 3 * w // 5)):
            query = aligned_query(ds, product, row, col, 48)
            dx = (query[0].start - origin.c) % RES
            dy = (query[1].stop - origin.f) % RES
            query = (slice(query[0].start - dx, query[0].stop - dx, RES),
                     slice(query[1].start - dy, query[1].stop - dy, RES), query[2])
            a, b = ds[query]["image"].numpy(), geotiff[query]["image"].numpy()
            assert np.isfinite(a).all() and np.isfinite(b).all()
            print(f"largest relative difference {np.max(np.abs(a / b - 1)):.2e}")
            np.testing.assert_allclose(a, b, rtol=5e-3)
            assert np.abs(a / b - 1).mean() < 1e-3


def test_random_and_grid_samplers_batch_product_samples(safe_products):
    ds = Sentinel1GRD(safe_products[0].folder)
    sampler = RandomGeoSampler(ds, size=32, length=6, generator=torch.Generator()
                               .manual_seed(0))
    batches = list(DataLoader(ds, sampler=sampler, batch_size=3, collate_fn=stack_samples))
    assert [tuple(b["image"].shape) for b in batches] == [(3, 2, 32, 32)] * 2
    grid = GridGeoSampler(ds, size=512, stride=512)
    queries = list(grid)
    assert len(queries) == 4 * 3  # 512 px tiles over 1786 x 1528 px of footprint bounds
    images = torch.stack([ds[q]["image"] for q in queries])
    valid = torch.isfinite(images)
    assert 0.3 < valid.float().mean() < 0.9  # the swath, rotated in its bounds
    assert (images[valid] > 0).all()
    clone = pickle.loads(pickle.dumps(ds))  # as a DataLoader worker gets it: reopened there
    assert torch.equal(clone[queries[5]]["image"].nan_to_num(-1),
                       ds[queries[5]]["image"].nan_to_num(-1))


def test_the_swath_border_is_nodata(safe_products):
    path = safe_products[0].zip
    ds = Sentinel1GRD(path, decibels=True, nodata_value=-999.0)
    with Sentinel1Product(path) as product:
        h, w = product.shape
        for row, col in ((0, 0), (h - 1, w - 1), (0, w - 1)):  # corners of the image
            query = centred_query(ds, product, row, col, 32)
            image = ds[query]["image"].numpy()
            grid = query_grid(ds, query)
            cols, rows = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5)
            x, y = grid.transform * (cols, rows)
            lon, lat = Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True).transform(x,
                                                                                           y)
            r, c = product.lonlat_to_pixel(lon, lat)
            outside = ((r < BORDER - 1.1) | (c < BORDER - 1.1) | (r > h - BORDER + 0.1)
                       | (c > w - BORDER + 0.1))
            inside = ((r > BORDER + 0.1) & (c > BORDER + 0.1) & (r < h - BORDER - 1.1)
                      & (c < w - BORDER - 1.1))
            assert outside.sum() > 100 and inside.sum() > 100
            assert (image[:, outside] == -999.0).all()  # off the image and its DN 0 frame
            assert (image[:, inside] > -40).all()  # dB of calibrated sigma0, not of a 0


def test_products_and_geotiffs_mix_geotiff_pixels_first(safe_products, tmp_path):
    """A GeoTIFF (twice the product's sigma0, west half only) mixed with the product: its
    pixels where it has them, the product's where it has none."""
    path = safe_products[0].zip
    product_only = Sentinel1GRD(path)
    with Sentinel1Product(path) as product:
        h, w = product.shape
        query = aligned_query(product_only, product, h // 2, w // 2, 40)
    grid = query_grid(product_only, query)
    expected = product_only[query]["image"].numpy()
    doubled = 2 * expected
    doubled[:, :, 20:] = np.nan
    folder = tmp_path / "mixed"
    folder.mkdir()
    with rasterio.open(folder / "west.tif", "w", driver="GTiff", width=40, height=40, count=2,
                       dtype="float32", crs=grid.crs, transform=grid.transform,
                       nodata=float("nan")) as dst:
        dst.write(doubled)
        dst.descriptions = ("VV", "VH")
    shutil.copy(path, folder / path.name)
    ds = Sentinel1GRD(folder)
    assert sorted(p.rsplit("/", 1)[-1] for p in ds.files) == sorted(["west.tif", path.name])
    mixed = ds[query]["image"].numpy()
    np.testing.assert_allclose(mixed[:, :, :20], 2 * expected[:, :, :20], rtol=1e-6)
    np.testing.assert_allclose(mixed[:, :, 20:], expected[:, :, 20:], rtol=1e-6)


def test_measurement_tiffs_inside_a_product_folder_are_not_geotiffs(safe_products, tmp_path):
    folder = tmp_path / "scenes"
    shutil.copytree(safe_products[0].folder, folder / safe_products[0].folder.name)
    ds = Sentinel1GRD(folder, bands=["VV"])
    assert ds.files == [str(folder / safe_products[0].folder.name)]
    assert len(ds.index) == 1


def test_a_corrupt_or_half_product_is_a_named_error(safe_products, tmp_path):
    built = safe_products[0]
    truncated = tmp_path / built.zip.name
    truncated.write_bytes(built.zip.read_bytes()[:4096])
    with pytest.raises(Sentinel1Error, match=rf"{truncated}: cannot read this Sentinel-1 "
                                             r"product \(.*neither a SAFE folder nor a "
                                             r"readable zip"):
        Sentinel1GRD(truncated)
    half = tmp_path / "half" / built.folder.name
    shutil.copytree(built.folder, half)
    measurement = sorted((half / "measurement").glob("*-vh-*.tiff"))[0]
    measurement.unlink()
    with pytest.raises(Sentinel1Error, match=rf"{half}: cannot read .*{measurement.name} is "
                                             r"listed in manifest.safe but missing"):
        Sentinel1GRD(half)
    with pytest.raises(Sentinel1Error, match=r"has polarisations \['VV', 'VH'\], not \['HH'\]"):
        Sentinel1GRD(built.zip, bands=["HH"])
    with pytest.raises(Sentinel1Error, match=r"quantity must be one of \('sigma0', 'beta0', "
                                             r"'gamma0'\), got 'dn'"):
        Sentinel1GRD(built.zip, quantity="dn")


def test_a_measurement_cut_short_fails_when_read_naming_the_product(safe_products, tmp_path):
    built = safe_products[0]
    cut = tmp_path / built.folder.name
    shutil.copytree(built.folder, cut)
    measurement = sorted((cut / "measurement").glob("*-vv-*.tiff"))[0]
    data = measurement.read_bytes()
    measurement.write_bytes(data[:len(data) // 2])
    ds = Sentinel1GRD(cut, bands=["VV"])
    with Sentinel1Product(built.folder) as product:
        h, w = product.shape
        query = aligned_query(ds, product, h - 100, w // 2, 32)
    with pytest.raises(Sentinel1Error, match=rf"{cut}: cannot read this Sentinel-1 product "
                                             rf"\(cannot read .*{measurement.name}"):
        ds[query]


def test_a_sample_reads_only_the_product_pixels_under_it(safe_products, monkeypatch):
    """Each sample calibrates the window under its query plus the kernel's margin."""
    windows = []
    real_read = Sentinel1Product.read

    def recording_read(self, window=None, *args, **kwargs):
        windows.append(window)
        return real_read(self, window, *args, **kwargs)

    monkeypatch.setattr(Sentinel1Product, "read", recording_read)
    ds = Sentinel1GRD(safe_products[0].zip)
    with Sentinel1Product(safe_products[0].zip) as product:
        h, w = product.shape
        query = centred_query(ds, product, h // 2, w // 2, 40)
    windows.clear()
    ds[query]
    (window,) = windows
    # 40 x 40 map pixels of 160 m over 160 m product pixels, rotated by the orbit's heading
    # (a 40 px square spans at most 40 * sqrt(2) = 57 px) plus 4 px of margin on each side
    assert window.width * window.height <= 65 * 65
    assert window.width * window.height < 0.003 * h * w
    rows, cols = window.toranges()
    assert rows[0] < h // 2 < rows[1] and cols[0] < w // 2 < cols[1]
