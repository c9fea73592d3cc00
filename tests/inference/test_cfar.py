"""The SNAP-style CFAR ship detector: windows in metres, threshold from a false-alarm
probability, objects kept by size in metres."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from scipy import special, stats

from sargeo.inference import predict_scene
from sargeo.inference.baseline import pixel_size_m
from sargeo.inference.cfar import (
    SNAP_PFA,
    CFARShipDetector,
    CFARWindows,
    gamma_factor,
    gaussian_factor,
)
from sargeo.inference.reader import open_scene
from tests.inference.conftest import ORIGIN, speckle, write_raster


# -- the threshold ---------------------------------------------------------------------------
@pytest.mark.parametrize("pfa", [SNAP_PFA, 1e-3, 1e-9])
def test_gamma_threshold_is_the_quantile_of_gamma_clutter(pfa):
    looks = np.array([0.3, 1.0, 2.5, 4.4, 17.0, 49.0, 196.0, 3000.0])
    want = stats.gamma.isf(pfa, looks, scale=1 / looks)
    np.testing.assert_allclose(gamma_factor(looks, pfa), want, rtol=2e-5)
    # single-look (exponential) clutter: -ln(pfa) times the mean
    assert gamma_factor(1.0, pfa) == pytest.approx(-math.log(pfa), rel=2e-5)


def test_gaussian_threshold_is_snaps_design_parameter():
    # SNAP: t = sqrt(2) erfinv(1 - 2 pfa), pfa = 10^-6.5 by default
    t = gaussian_factor(SNAP_PFA)
    assert t == pytest.approx(math.sqrt(2) * special.erfinv(1 - 2 * SNAP_PFA), rel=1e-9)
    assert t == pytest.approx(stats.norm.isf(SNAP_PFA), rel=1e-12)
    assert round(t, 2) == 4.98


def _clutter_rate(rule: str, looks: float, pfa: float) -> float:
    x = speckle((4, 1, 384, 384), mean=0.01, looks=looks, seed=11).astype(np.float64)
    det = CFARShipDetector(rule=rule, pfa=pfa, target_m=0, pixel_size_m=10, mode="ca",
                           censor=False)
    mask, _, th = det.detect_mask(x, np.ones((4, 384, 384), bool))
    return float(mask[th["enough"]].mean())


def test_gamma_rule_holds_the_false_alarm_rate_on_speckle_and_the_gaussian_does_not():
    pfa = 1e-3  # 590 false alarms expected in 590k pixels: measurable
    for looks in (1.0, 4.4):
        gamma_rate = _clutter_rate("gamma", looks, pfa)
        gauss_rate = _clutter_rate("gaussian", looks, pfa)
        assert 0.8 * pfa < gamma_rate < 1.25 * pfa, (looks, gamma_rate)
        assert gauss_rate > 5 * pfa, (looks, gauss_rate)  # exponential tails: 5-10x more
    # SNAP's defaults on single-look sea: the Gaussian rule flags ~2.5e-3 of all pixels
    assert _clutter_rate("gaussian", 1.0, SNAP_PFA) > 1e-3
    assert _clutter_rate("gamma", 1.0, SNAP_PFA) < 1e-5


# -- windows and sizes in metres -------------------------------------------------------------
def test_windows_are_converted_as_snap_converts_them():
    assert CFARWindows.from_metres(50, 500, 800, (10.0, 10.0)) == CFARWindows(
        target=(3, 3), guard=(25, 25), background=(40, 40))
    assert CFARWindows.from_metres(50, 500, 800, (20.0, 20.0)) == CFARWindows(
        target=(1, 1), guard=(13, 13), background=(20, 20))
    # rectangular pixels (x 10 m, y 20 m): halves per axis (rows, columns)
    assert CFARWindows.from_metres(0, 500, 800, (10.0, 20.0)) == CFARWindows(
        target=(0, 0), guard=(13, 25), background=(20, 40))
    with pytest.raises(ValueError, match=r"the background window \(520 m\) must be larger than "
                                         r"the guard window \(500 m\) by a pixel at least: "
                                         r"halves \(13, 13\) vs \(13, 13\) px at 20 x 20 m"):
        CFARWindows.from_metres(50, 500, 520, (20.0, 20.0))


def test_pixel_size_comes_from_the_crs_in_metres():
    utm = Affine.translation(*ORIGIN) * Affine.scale(10.0, -10.0)
    assert pixel_size_m("EPSG:32631", utm, 100, 100) == (10.0, 10.0)
    feet = Affine.translation(980_000, 200_000) * Affine.scale(30.0, -30.0)
    us_foot = 1200 / 3937  # New York Long Island, US survey feet
    assert pixel_size_m("EPSG:2263", feet, 100, 100) == pytest.approx((30 * us_foot,) * 2,
                                                                     rel=1e-12)
    # lon/lat degrees at 52 N: 1e-4 degree is about 6.87 m east, 11.13 m north
    ll = Affine.translation(4.0, 52.005) * Affine.scale(1e-4, -1e-4)
    x, y = pixel_size_m("EPSG:4326", ll, 100, 100)
    assert x == pytest.approx(6.866, rel=2e-3) and y == pytest.approx(11.131, rel=2e-3)


def _ship_scene(tmp_path, name: str, factor: int):
    """Sea 10 m speckle with rectangles in metres, averaged ``factor`` x ``factor`` (20 m:
    a product of half the resolution): two ships (60 x 20 m, 200 x 40 m), a 20 x 20 m speck
    (diagonal 28 m: too small) and a 1 km long bright breakwater (too large)."""
    data = speckle((600, 600), seed=2)
    for r0, r1, c0, c1 in ((100, 102, 100, 106), (300, 304, 200, 220), (460, 462, 400, 402),
                           (500, 504, 100, 200)):
        data[r0:r1, c0:c1] = 1.0  # +20 dB
    if factor > 1:
        data = data.reshape(600 // factor, factor, 600 // factor, factor).mean((1, 3))
    transform = Affine.translation(*ORIGIN) * Affine.scale(10.0 * factor, -10.0 * factor)
    return write_raster(tmp_path / name, data, transform=transform)


@pytest.mark.slow
def test_windows_in_metres_find_the_same_objects_at_10_and_20_m(tmp_path):
    frames = {}
    for factor in (1, 2):
        scene = _ship_scene(tmp_path, f"s{factor}.tif", factor)
        det = CFARShipDetector()
        res = predict_scene(scene, det, tmp_path / f"o{factor}", tile=256 // factor,
                            overlap=96 // factor, progress=False)
        assert det.pixel == (10.0 * factor, 10.0 * factor)  # learnt from the scene
        frames[factor] = gpd.read_file(res.outputs["detections"]).sort_values("px_y1")
    # the same two ships, boxed to the metre (the 20 m pixels fall on their edges); no speck,
    # no breakwater
    for frame in frames.values():
        np.testing.assert_allclose(frame.total_bounds, [501_000, 5_796_960, 502_200, 5_799_000])
        assert len(frame) == 2
    np.testing.assert_allclose(frames[1].geometry.bounds, frames[2].geometry.bounds)
    # windows in pixels would not: a 1 km breakwater is 100 px at 10 m and 50 px at 20 m
    big = CFARShipDetector(max_size_m=1100)
    res = predict_scene(_ship_scene(tmp_path, "b.tif", 1), big, tmp_path / "b", tile=256,
                        overlap=120, progress=False)
    assert len(gpd.read_file(res.outputs["detections"])) == 3


def test_a_large_bright_ship_is_one_object_not_many():
    # a 300 x 50 m ship at 10 m seen as 5 bright scatterers (4 px long, +20 dB) with 3 px of
    # sea-level hull between them, as hatch covers and superstructure show on real ships
    x = speckle((1, 1, 200, 200), seed=4).astype(np.float64)
    for c0 in range(60, 90, 7):
        x[0, 0, 80:85, c0:c0 + 4] = 1.0
    det = CFARShipDetector(pixel_size_m=10)
    objects = det.objects(x, np.ones((1, 200, 200), bool))[0]
    assert len(objects) == 1
    assert objects[0]["box"] == [60, 80, 92, 85]
    assert objects[0]["size_m"] == pytest.approx(math.hypot(320, 50))
    # pixels 13 dB over the clutter joined across gaps of up to 2 px (the former rule) make
    # one object per scatterer
    from scipy import ndimage

    joined = ndimage.binary_dilation(x[0, 0] > 20 * 0.01, np.ones((3, 3), bool))
    assert ndimage.label(joined[70:95, 50:100], structure=np.ones((3, 3), bool))[1] == 5


def test_pixel_size_is_learnt_from_the_scene_on_prepare(tmp_path):
    scene = write_raster(tmp_path / "s.tif", speckle((40, 40)),
                         transform=Affine.translation(*ORIGIN) * Affine.scale(20.0, -20.0))
    det = CFARShipDetector()
    assert det.pixel == (10.0, 10.0)  # bare arrays: Sentinel-1 IW GRD's 10 m
    det.prepare(open_scene(scene))
    assert det.pixel == (20.0, 20.0) and det.windows().guard == (13, 13)
    assert CFARShipDetector(pixel_size_m=(5, 7)).pixel == (5.0, 7.0)


def test_snap_preset_and_bad_settings():
    snap = CFARShipDetector.snap()
    assert (snap.rule, snap.mode, snap.censor, snap.pfa) == ("gaussian", "ca", False, SNAP_PFA)
    assert (snap.target_m, snap.guard_m, snap.background_m) == (50.0, 500.0, 800.0)
    assert (snap.min_size_m, snap.max_size_m) == (30.0, 600.0)
    with pytest.raises(ValueError, match=r"false-alarm probability must be in \(0, 0.5\), "
                                         "got 0.7"):
        CFARShipDetector(pfa=0.7)
    with pytest.raises(ValueError, match="CFAR rule must be one of .'gamma', 'gaussian'., "
                                         "got 'k'"):
        CFARShipDetector(rule="k")
    with pytest.raises(ValueError, match="0 <= target < guard < background metres, got "
                                         "50.0, 900, 800.0"):
        CFARShipDetector(guard_m=900)
    with pytest.raises(ValueError, match=r"pixel_size_m must be positive, got -1"):
        CFARShipDetector(pixel_size_m=-1)
