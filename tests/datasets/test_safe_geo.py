"""Georeferencing of a Sentinel-1 product through its geolocation grid: tie points, inverse,
agreement with GDAL's own transformer, warps onto map grids, the antimeridian."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from pyproj import Transformer
from rasterio.transform import GCPTransformer
from rasterio.windows import Window

from sargeo.datasets.safe import Sentinel1Product
from sargeo.datasets.safe_geo import Georeferencing
from tests.datasets.conftest import SCALE


def tie_points(source):
    """line, pixel, longitude, latitude of the real (full-size) annotation."""
    path = next((source / "annotation").glob("s1*-vv-*.xml"))
    points = ET.parse(path).getroot().findall(
        "geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    return np.array([[float(p.findtext(t)) for t in ("line", "pixel", "longitude", "latitude")]
                     for p in points]).T


def metres(lon1, lat1, lon2, lat2):
    """Ground distance between nearby points (local equirectangular, WGS 84 axes)."""
    return np.hypot((lon1 - lon2) * 111_320 * np.cos(np.radians(lat2)), (lat1 - lat2) * 110_574)


@pytest.mark.parametrize("index", [0, 1])
def test_tie_points_map_to_their_coordinates_and_back(safe_products, index):
    built = safe_products[index]
    line, pixel, lon, lat = tie_points(built.source)
    with Sentinel1Product(built.zip) as product:
        got_lon, got_lat = product.pixel_to_lonlat(line / SCALE, pixel / SCALE)
        rows, cols = product.lonlat_to_pixel(lon, lat)
        assert str(product.crs) == "EPSG:4326" and len(product.gcps) == line.size == 231
        assert (product.gcps[5].row, product.gcps[5].col) == (line[5] / SCALE + 0.5,
                                                              pixel[5] / SCALE + 0.5)
    assert metres(got_lon, got_lat, lon, lat).max() < 0.01  # the spline is exact there
    np.testing.assert_allclose(rows, line / SCALE, atol=1e-6)
    np.testing.assert_allclose(cols, pixel / SCALE, atol=1e-6)


def test_polynomial_fits_the_tie_points_in_least_squares(safe_products):
    built = safe_products[0]
    line, pixel, lon, lat = tie_points(built.source)
    errors = {}
    for order in (1, 2, 3):
        product = Sentinel1Product(built.zip, georeferencing="polynomial",
                                   polynomial_order=order)
        errors[order] = metres(*product.pixel_to_lonlat(line / SCALE, pixel / SCALE), lon,
                               lat).max()
        assert product.georef.gdal_options() == {"SRC_METHOD": "GCP_POLYNOMIAL",
                                                  "MAX_GCP_ORDER": order}
    # measured on this product: 432 m, 18 m, 0.03 m
    assert errors[1] > errors[2] > errors[3] and 10 < errors[2] < 30 and errors[3] < 0.1
    with pytest.raises(ValueError, match="polynomial_order must be 1, 2 or 3, got 4"):
        Sentinel1Product(built.zip, georeferencing="polynomial", polynomial_order=4)


def test_points_agree_with_gdal_thin_plate_spline(safe_products):
    """The same interpolant as GDAL's GCP_TPS (used by the warps), to about a centimetre."""
    with Sentinel1Product(safe_products[1].zip) as product:
        rng = np.random.default_rng(0)
        rows, cols = rng.uniform(0, product.height - 1, 500), rng.uniform(0, product.width - 1,
                                                                           500)
        lon, lat = product.pixel_to_lonlat(rows, cols)
        with GCPTransformer(product.gcps, tps=True) as gdal:
            want_lon, want_lat = gdal.xy(rows, cols, offset="center")
        back_rows, back_cols = product.lonlat_to_pixel(lon, lat)
    assert metres(lon, lat, np.asarray(want_lon), np.asarray(want_lat)).max() < 0.05
    assert np.abs(back_rows - rows).max() < 1e-3 and np.abs(back_cols - cols).max() < 1e-3


def test_warp_puts_each_pixel_at_its_ground_position(safe_products):
    """A window holding its own row and column numbers, warped to UTM: at every map cell the
    warped value is the product pixel under the cell's centre, found by lonlat_to_pixel (to
    GDAL's 1/8 px approximation). GCPs handed to GDAL half a pixel off would fail this."""
    window = Window(300, 250, 700, 600)
    rows, cols = np.mgrid[0:600, 0:700].astype(np.float32)
    with Sentinel1Product(safe_products[0].zip) as product:
        warped, grid = product.warp(np.stack([rows, cols]), window, resolution=100.0)
        assert grid.crs.to_epsg() == 32653  # UTM 53N at 135 E, 8 N
        assert grid.transform.a == 100.0 and grid.transform.c % 100 == 0 == grid.transform.f % 100
        r, c = np.mgrid[0:grid.height:7, 0:grid.width:7]
        x, y = grid.transform * (c + 0.5, r + 0.5)
        lon, lat = Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(x, y)
        want_rows, want_cols = product.lonlat_to_pixel(lon, lat)
    want_rows, want_cols = want_rows - 250, want_cols - 300
    inside = (want_rows > 1) & (want_rows < 598) & (want_cols > 1) & (want_cols < 698)
    assert inside.sum() > 1000
    np.testing.assert_allclose(warped[0, r, c][inside], want_rows[inside], atol=0.15)
    np.testing.assert_allclose(warped[1, r, c][inside], want_cols[inside], atol=0.15)
    outside = (want_rows < -1) | (want_rows > 600) | (want_cols < -1) | (want_cols > 700)
    assert outside.sum() > 100 and np.isnan(warped[0, r, c][outside]).all()


def test_warp_into_the_product_grid_and_nearest_for_classes(safe_products):
    with Sentinel1Product(safe_products[1].zip) as product:
        whole = product.map_grid(resolution=200.0)
        assert whole.crs == product.map_grid(((0, 8), (0, 8)), resolution=200.0).crs
        classes = np.zeros((100, 100), dtype=np.uint8)
        classes[:, 50:] = 3
        warped, grid = product.warp(classes, ((500, 600), (700, 800)), whole,
                                    resampling="nearest")
    assert grid == whole and warped.shape == (whole.height, whole.width)
    assert set(np.unique(warped)) == {0, 3}  # no blended classes, 0 off the window
    assert 0 < (warped == 3).sum() < 0.01 * warped.size
    with pytest.raises(ValueError, match=r"array of shape \(100, 100\) does not match window"):
        product.warp(classes, ((0, 10), (0, 10)), whole)


def test_a_product_across_the_antimeridian():
    """Tie points from 179.8 E to 179.8 W: continuous in between, longitudes within -180..180."""
    line, pixel = np.meshgrid(np.arange(0, 1001, 250.0), np.arange(0, 1001, 250.0))
    lon = 179.8 + pixel * 0.0004 - line * 0.00005
    lon = np.where(lon > 180, lon - 360, lon)
    lat = 60 + line * 0.0002
    geo = Georeferencing(line.ravel(), pixel.ravel(), lon.ravel(), lat.ravel(),
                         np.zeros(lon.size))
    assert geo.wraps
    got_lon, got_lat = geo.pixel_to_lonlat(500.0, [0.0, 500.0, 1000.0])
    np.testing.assert_allclose(got_lon, [179.775, 179.975, -179.825], atol=1e-9)
    np.testing.assert_allclose(got_lat, 60.1)
    rows, cols = geo.lonlat_to_pixel([179.775, -179.825], [60.1, 60.1])
    np.testing.assert_allclose(rows, 500.0, atol=1e-6)
    np.testing.assert_allclose(cols, [0.0, 1000.0], atol=1e-6)
