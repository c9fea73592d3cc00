"""sargeo demo --product: the demo's test scene run as a Sentinel-1 GRD product zip."""

from __future__ import annotations

import numpy as np
import pytest

from sargeo.datasets.safe import Sentinel1Product
from sargeo.datasets.simulate import simulate_scene
from sargeo.demo_product import default_source, run_product, scene_to_product
from sargeo.inference.predictor import CFARShipDetector
from tests.datasets.safe_factory import source_products
from tests.inference.test_product_infer import true_lonlat


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    if not source_products():
        pytest.skip("real Sentinel-1 product metadata not found in ../shared/data")
    out = tmp_path_factory.mktemp("scene")
    simulate_scene(out / "test.tif", out / "truth.gpkg", width=512, height=384, seed=1001,
                   progress=False)
    return out / "test.tif", out / "truth.gpkg"


def test_the_scene_becomes_a_product_with_its_sigma0_and_ships_at_lonlat(scene, tmp_path):
    import geopandas as gpd
    import rasterio
    from pyproj import Geod

    tif, truth = scene
    source = default_source()
    assert source == source_products()[0]
    archive, points = scene_to_product(tif, truth, source, tmp_path)
    with Sentinel1Product(archive) as product, rasterio.open(tif) as src:
        assert product.shape == (384, 512) and product.polarisations == ("VV", "VH")
        assert product.profile["pixel_spacing"] == pytest.approx((10.0, 10.0), rel=0.01)
        inner = ((2, 382), (2, 510))  # inside the product's 2 px nodata border
        got = product.read(inner)
        want = src.read(window=inner).astype(np.float64)
    ok = want > 0.01  # DN rounding: relative error ~1/DN, DN > 20 above 0.01
    np.testing.assert_allclose(got[ok], want[ok], rtol=0.06)
    assert np.median(np.abs(got[ok] / want[ok] - 1)) < 0.01
    ships = gpd.read_file(truth, layer="ships")
    found = gpd.read_file(points, layer="ships")
    assert found.crs.to_epsg() == 4326 and len(found) == len(ships)
    with rasterio.open(tif) as src:
        cols, rows = ~src.transform * (ships.centroid.x.to_numpy(), ships.centroid.y.to_numpy())
    lon, lat = true_lonlat(source, rows - 0.5, cols - 0.5)  # full size: scale 1
    dist = Geod(ellps="WGS84").inv(lon, lat, found.geometry.x, found.geometry.y)[2]
    assert np.max(dist) < 5.0


@pytest.mark.slow
def test_cfar_over_the_product_zip_finds_the_demo_ships(scene, tmp_path):
    tif, truth = scene
    score = run_product(CFARShipDetector(), tif, truth, tmp_path, score_thr=0.3,
                        progress=False)
    assert score["product"].suffix == ".zip" and score["n_truth"] >= 5
    assert score["recall"] >= 0.9 and score["precision"] >= 0.9, score
    assert score["median_distance_m"] <= 20.0
    assert (tmp_path / "evaluation_product.json").is_file()


def test_sargeo_demo_takes_product_with_or_without_a_safe_folder():
    import argparse

    import sargeo.datasets
    from sargeo.demo import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).product is None
    assert parser.parse_args(["--product"]).product is True
    assert parser.parse_args(["--product", "X.SAFE"]).product == "X.SAFE"
    assert sargeo.datasets.Sentinel1Product is Sentinel1Product
