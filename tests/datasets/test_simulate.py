"""The SAR scene simulator: georeferencing, determinism, speckle statistics, ground truth."""

from __future__ import annotations

import tracemalloc

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.features import rasterize

from sargeo.cli import main
from sargeo.datasets.simulate import simulate_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    return simulate_scene(d / "s.tif", d / "s.gpkg", width=768, height=640, seed=3,
                          crs="EPSG:32633", n_ships=12)


def read(path):
    """Pixels and the metadata the tests look at."""
    from types import SimpleNamespace

    with rasterio.open(path) as src:
        meta = SimpleNamespace(crs=src.crs, descriptions=src.descriptions,
                               transform=src.transform, nodata=src.nodata,
                               block_shapes=src.block_shapes, tags=src.tags)
        meta.tags = src.tags()
        return src.read(), meta


def test_written_file_is_georeferenced_float32_vv_vh(scene):
    data, src = read(scene.path)
    assert src.crs.to_epsg() == 32633 and src.descriptions == ("VV", "VH")
    assert data.dtype == np.float32 and data.shape == (2, 640, 768)
    assert src.transform.a == 10.0 and src.transform.e == -10.0 and src.nodata == 0.0
    assert src.block_shapes[0] == (512, 512) and np.all(data > 0)
    assert src.tags["UNITS"] == "sigma0 linear power"
    # the units contract (sargeo.units): what sargeo infer reads back
    assert src.tags["SARGEO_UNITS"] == "sigma0-linear:VV,VH"


def test_same_seed_same_bytes_other_seed_differs(tmp_path, scene):
    from sargeo.datasets import simulate as sim

    layout = sim._Layout(3, 768, 640, 0.3)  # any block can be rendered alone, in any order
    alone = sim._render_block(layout, scene.ships, np.random.default_rng([3, 13]).uniform(
        *sim.SHIP_DB_RANGE, size=12), scene.transform, 3, 4.0, 512, 512, 128, 256, 10.0)
    np.testing.assert_array_equal(alone, read(scene.path)[0][:, 512:, 512:])
    again = simulate_scene(tmp_path / "a.tif", width=768, height=640, seed=3, crs="EPSG:32633",
                           n_ships=12)
    np.testing.assert_array_equal(read(again.path)[0], read(scene.path)[0])
    other = simulate_scene(tmp_path / "b.tif", width=768, height=640, seed=4, crs="EPSG:32633")
    assert not np.array_equal(read(other.path)[0], read(scene.path)[0])


@pytest.mark.parametrize("looks", [1.0, 4.0])
def test_speckle_has_unit_mean_and_enl_equal_to_looks(tmp_path, looks):
    s = simulate_scene(tmp_path / "s.tif", width=512, height=512, seed=1, looks=looks,
                       land_fraction=0.0, n_ships=0)
    vh = read(s.path)[0][1]  # no streak texture in VH: homogeneous sea
    expected_mean = 10 ** (-27 / 10)
    assert vh.mean() / expected_mean == pytest.approx(1.0, rel=0.02)
    assert vh.mean() ** 2 / vh.var() == pytest.approx(looks, rel=0.05)


def test_ships_are_bright_and_on_water(scene):
    data, src = read(scene.path)
    ships = gpd.read_file(scene.gpkg, layer="ships")
    water = gpd.read_file(scene.gpkg, layer="water")
    assert len(ships) == 12 and ships.crs.to_epsg() == 32633
    assert {"ship_id", "length_m", "width_m", "heading_deg", "class_name"} <= set(ships)
    assert ships.within(water.union_all().buffer(1.0)).all()
    mask = rasterize(ships.geometry, out_shape=(640, 768), transform=src.transform)
    sea = rasterize(water.geometry, out_shape=(640, 768), transform=src.transform)
    assert np.median(data[0][mask == 1]) > 100 * np.median(data[0][(sea == 1) & (mask == 0)])
    lengths = ships.geometry.apply(lambda g: max(
        np.hypot(*np.diff(np.array(g.exterior.coords)[:3], axis=0).T)))
    np.testing.assert_allclose(lengths, ships.length_m, rtol=1e-6)


def test_water_polygons_agree_with_dark_pixels(scene):
    data, src = read(scene.path)
    water = gpd.read_file(scene.gpkg, layer="water")
    polygon_water = rasterize(water.geometry, out_shape=(640, 768), transform=src.transform)
    dark = 10 * np.log10(data[1]) < -20  # VH: water about -27..-30 dB, land about -14 dB
    from scipy.ndimage import median_filter

    dark = median_filter(dark.astype(np.uint8), size=7) == 1  # beat the speckle
    assert (polygon_water == dark).mean() > 0.95


def test_outputs_are_atomic_and_not_overwritten(tmp_path):
    simulate_scene(tmp_path / "s.tif", width=64, height=64)
    with pytest.raises(FileExistsError, match="s.tif"):
        simulate_scene(tmp_path / "s.tif", width=64, height=64)
    simulate_scene(tmp_path / "s.tif", width=64, height=64, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.tif"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=16), "16 x 64 px is too small"), (dict(looks=0), "looks must be positive"),
    (dict(crs="EPSG:4326"), "'EPSG:4326' is not projected"),
    (dict(crs="EPSG:999999"), "unknown CRS 'EPSG:999999'"),
    (dict(resolution=-1), "resolution must be positive")])
def test_bad_arguments_name_the_value(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_scene(tmp_path / "x.tif", **({"width": 64, "height": 64} | kwargs))
    assert not (tmp_path / "x.tif").exists()


def test_large_scene_is_written_block_by_block(tmp_path):
    tracemalloc.start()
    simulate_scene(tmp_path / "big.tif", width=4096, height=4096, n_ships=20, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB; the whole scene is 128 MiB"


def test_simulate_command(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "c.tif"), "--gpkg", str(tmp_path / "c.gpkg"),
                 "--width", "128", "--height", "96", "--ships", "2"]) == 0
    assert "128 x 96 px" in capsys.readouterr().out and (tmp_path / "c.gpkg").is_file()
