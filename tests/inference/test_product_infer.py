"""sargeo infer on Sentinel-1 GRD products (SAFE folder or zip): image geometry, calibrated
sigma0, detections georeferenced through the geolocation grid."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from sargeo.cli import main
from sargeo.datasets.safe import Sentinel1Product
from sargeo.inference.engine import expand_scenes, predict_scene
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.reader import SceneError, open_scene, read_window
from sargeo.units import Units, UnitsError
from tests.datasets.safe_factory import build_product, source_products

#: every 8th line and pixel of the first shared product (3140 x 2438 px of about 80 m)
SCALE = 8
#: ships: (first row, first column) in the reduced product, SHIP rows x columns each
SHIP = (5, 3)
ROI = (750, 900, 550, 750)  #: rows, columns with data (the rest is nodata: quick to skip)
SHIPS = [(ROI[0] + 40 + (i % 2) * 60, ROI[2] + 30 + 22 * i) for i in range(7)]


@pytest.fixture(scope="module")
def source() -> Path:
    sources = source_products()
    if not sources:
        pytest.skip("real Sentinel-1 product metadata not found in ../shared/data")
    return sources[0]


def sea_with_ships(pol: str, row: int, rows: int, width: int) -> np.ndarray:
    """Gamma speckle (4 looks) over the ROI, bright rectangles at SHIPS, NaN elsewhere."""
    out = np.full((rows, width), np.nan, np.float32)
    a, b = max(row, ROI[0]), min(row + rows, ROI[1])
    if a < b:
        rng = np.random.default_rng([7, ("VV", "VH").index(pol), row])
        mean = 0.03 if pol == "VV" else 0.006
        out[a - row:b - row, ROI[2]:ROI[3]] = rng.gamma(4.0, mean / 4, (b - a, ROI[3] - ROI[2]))
    for y, x in SHIPS:
        lo, hi = max(y - row, 0), max(min(y + SHIP[0] - row, rows), 0)
        out[lo:hi, x:x + SHIP[1]] = 5.0 if pol == "VV" else 1.0
    return out


@pytest.fixture(scope="module")
def ship_product(source, tmp_path_factory) -> Path:
    return build_product(source, tmp_path_factory.mktemp("ships"), scale=SCALE,
                         sigma0=sea_with_ships)


def true_lonlat(source: Path, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Longitude, latitude of full-size (line, pixel) points by bilinear interpolation of the
    shared annotation's geolocation grid (independent of sargeo)."""
    ann = sorted((source / "annotation").glob("*.xml"))[0]
    points = ET.parse(ann).getroot().findall(
        "geolocationGrid/geolocationGridPointList/geolocationGridPoint")
    table = np.array([[float(p.findtext(k)) for k in ("line", "pixel", "longitude", "latitude")]
                      for p in points])
    lines, pixels = np.unique(table[:, 0]), np.unique(table[:, 1])
    grid = table[np.lexsort((table[:, 1], table[:, 0]))].reshape(len(lines), len(pixels), 4)
    at = np.column_stack([rows, cols])
    return tuple(RegularGridInterpolator((lines, pixels), grid[..., k])(at) for k in (2, 3))


@pytest.mark.slow
def test_sargeo_infer_on_a_product_zip_finds_ships_at_their_true_lonlat(
        source, ship_product, tmp_path):
    import geopandas as gpd
    from pyproj import Geod

    out = tmp_path / "ships"
    assert main(["infer", str(ship_product), "--baseline", "cfar", "--out", str(out),
                 "--quiet"]) == 0
    frame = gpd.read_file(out / f"{ship_product.stem}.gpkg")
    assert len(frame) == len(SHIPS)
    assert frame.crs.to_epsg() == 32653  # the UTM zone of the product (134.7 E)
    # truth: the ship's centre pixel (s r, s c) of the full-size product, from the tie points
    centres = np.array([(y + (SHIP[0] - 1) / 2, x + (SHIP[1] - 1) / 2) for y, x in SHIPS])
    lon, lat = true_lonlat(source, SCALE * centres[:, 0], SCALE * centres[:, 1])
    geod = Geod(ellps="WGS84")
    dist = np.array([[geod.inv(a, b, c, d)[2] for a, b in zip(lon, lat, strict=True)]
                     for c, d in zip(frame["lon"], frame["lat"], strict=True)])
    nearest = dist.min(axis=0)
    assert np.median(nearest) <= 20.0 and nearest.max() <= 40.0, nearest
    # the polygons (UTM) hold their lon/lat centre
    centroids = frame.geometry.centroid.to_crs(4326)
    gap = [geod.inv(p.x, p.y, a, b)[2] for p, a, b in zip(centroids, frame["lon"],
                                                            frame["lat"], strict=True)]
    assert max(gap) < 1.0


def test_a_product_is_one_scene_in_image_geometry_with_calibrated_sigma0(source, tmp_path):
    folder = build_product(source, tmp_path, scale=16, as_zip=False)
    assert expand_scenes([folder]) == [folder]
    info = open_scene(folder)
    with Sentinel1Product(folder) as product:
        assert (info.height, info.width) == product.shape
        assert info.crs is None and info.input_units == Units("sigma0", "linear", ("VV", "VH"))
        assert info.pixel_spacing_m == pytest.approx((16 * 10.0, 16 * 10.0), rel=0.01)
        window = product.read(((100, 164), (200, 264)))
        from rasterio.windows import Window

        with info.open() as src:
            got, valid = read_window(src, info, Window(200, 100, 64, 64), 64,
                                     to_units=Units("sigma0", "db", ("VV", "VH")))
    assert valid.all()
    np.testing.assert_allclose(got, 10 * np.log10(window), rtol=1e-5)
    vh = open_scene(folder, bands=[2])
    assert vh.input_units == Units("sigma0", "linear", ("VH",)) and vh.count == 1


def test_a_product_states_its_units_and_refuses_units_and_band_errors(source, tmp_path):
    archive = build_product(source, tmp_path, scale=32)
    with pytest.raises(UnitsError, match=r"states its units .*drop --units sigma0-db"):
        open_scene(archive, units="sigma0-db")
    with pytest.raises(SceneError, match=r"band\(s\) \[3\] do not exist; the product has 2 "
                                         r"polarisation\(s\) \['VV', 'VH'\]"):
        open_scene(archive, bands=[3])
    with pytest.raises(SceneError, match=r"expects 1; choose them with --bands \(the "
                                         r"product's bands are 1 VV, 2 VH\)"):
        open_scene(archive, in_channels=1)


def test_a_damaged_product_zip_is_a_scene_error_naming_it(tmp_path):
    bad = tmp_path / "S1A_IW_GRDH_broken.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("S1A_IW_GRDH_broken.SAFE/manifest.safe", "<not xml")
    with pytest.raises(SceneError, match=r"S1A_IW_GRDH_broken.zip: cannot read the Sentinel-1 "
                                         "product"):
        open_scene(bad)


def test_cfar_on_a_product_uses_its_pixel_spacing(source, tmp_path):
    archive = build_product(source, tmp_path, scale=32)
    detector = CFARShipDetector()
    detector.prepare(open_scene(archive))
    assert detector._scene_pixel == pytest.approx((320.0, 320.0), rel=0.01)


def test_predict_scene_on_a_product_folder_writes_utm_detections(source, ship_product,
                                                                  tmp_path):
    import geopandas as gpd

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(ship_product) as zf:
        zf.extractall(folder)
    safe = next(folder.glob("*.SAFE"))
    result = predict_scene(safe, CFARShipDetector(rotated=True), tmp_path / "out",
                           progress=False, bands=[1])
    frame = gpd.read_file(result.outputs["detections"])
    assert result.outputs["detections"].name == f"{safe.stem}.gpkg"
    assert len(frame) == len(SHIPS) and frame.crs.to_epsg() == 32653
    with Sentinel1Product(safe) as product:
        ann = product.annotations["VV"]
        # SHIP rows along azimuth, columns along range: the long side is the azimuth one
        np.testing.assert_allclose(frame["length_m"], SHIP[0] * ann.azimuth_spacing, rtol=0.05)
        np.testing.assert_allclose(frame["width_m"], SHIP[1] * ann.range_spacing, rtol=0.05)


def test_a_product_mask_keeps_the_image_grid_with_the_tie_points_and_a_preview(source,
                                                                              tmp_path):
    import rasterio

    archive = build_product(source, tmp_path, scale=16)
    result = predict_scene(archive, ThresholdWaterSegmenter(), tmp_path / "out",
                           progress=False, preview=True)
    with Sentinel1Product(archive) as product, rasterio.open(result.outputs["mask"]) as mask:
        assert mask.shape == product.shape and mask.crs is None
        gcps, crs = mask.gcps
        assert crs.to_epsg() == 4326 and len(gcps) == len(product.gcps)
        assert [(g.row, g.col, g.x, g.y) for g in gcps] == [
            (g.row, g.col, g.x, g.y) for g in product.gcps]
        classes = mask.read(1)
        assert (classes[2:-2, 2:-2] <= 1).all() and (classes[:2] == 255).all()  # 2 px border
    assert result.outputs["preview"].stat().st_size > 0


def test_a_manifest_names_its_product_folder(source, tmp_path):
    folder = build_product(source, tmp_path, scale=32, as_zip=False)
    assert expand_scenes([folder / "manifest.safe", folder]) == [folder]


@pytest.mark.slow
def test_a_sarmae_detector_finds_the_same_ships_in_a_product_and_in_its_sigma0(
        ship_product, tmp_path):
    """DN as distributed (the product zip) and the same scene as calibrated sigma0 (a plain
    TIFF of the product's grid) give the SARMAE detector the same detections."""
    import geopandas as gpd
    import rasterio
    import torch

    from sargeo.inference.mm_predictor import load_predictor
    from sargeo.mm.runner import build_model, load_config
    from tests.inference.test_inputs import assert_same_detections
    from tests.mm.test_configs import CONFIGS, shrink

    cfg = load_config(CONFIGS / "mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py")
    shrink(cfg, size=128)
    cfg.dump(str(tmp_path / "model.py"))
    torch.manual_seed(0)
    torch.save({"state_dict": build_model(cfg).state_dict()}, tmp_path / "model.pth")
    predictor = load_predictor(tmp_path / "model.py", tmp_path / "model.pth")
    with Sentinel1Product(ship_product) as product:
        sigma0 = product.read(((0, product.shape[0]), (0, product.shape[1])))
    sigma0 = np.where(np.isfinite(sigma0) & (sigma0 > 0), sigma0, 0).astype(np.float32)
    tif = tmp_path / "sigma0.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=sigma0.shape[2], height=sigma0.shape[1],
                       count=2, dtype="float32", nodata=0.0, tiled=True) as dst:
        dst.write(sigma0)
        dst.update_tags(SARGEO_UNITS="sigma0-linear:VV,VH")
    boxes = {}
    for name, scene, kw in (("dn", ship_product, {}), ("sigma0", tif, {"pixel_coords": True})):
        res = predict_scene(scene, predictor, tmp_path / name, progress=False, score_thr=0.1,
                            **kw)
        frame = gpd.read_file(res.outputs["detections"])
        boxes[name] = frame[["px_x1", "px_y1", "px_x2", "px_y2"]].to_numpy()
    assert len(boxes["dn"]) >= len(SHIPS)
    assert_same_detections(boxes["dn"], boxes["sigma0"])
