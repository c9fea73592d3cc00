"""The prescreen cascade: a CFAR pass over the scene, the network only on windows holding a
candidate."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from rasterio.windows import Window

import sargeo.inference.reader as reader_module
from sargeo.evaluation import match_by_distance
from sargeo.inference import predict_scene
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.prescreen import Prescreen, candidate_boxes, windows_meeting
from sargeo.inference.reader import open_scene
from sargeo.inference.windows import plan_windows
from sargeo.units import Units
from tests.inference.conftest import Wrapped, speckle, write_raster

TILE, OVERLAP = 128, 16


def test_windows_meet_grown_boxes():
    windows = [Window(0, 0, 100, 100), Window(90, 0, 100, 100), Window(0, 90, 100, 100)]
    boxes = np.array([[10.0, 10.0, 20.0, 20.0], [150.0, 50.0, 160.0, 60.0]])
    assert windows_meeting(windows, boxes, (0, 0)).tolist() == [True, True, False]
    # grown by 75 px down, the first box reaches the third window (rows 90-190)
    assert windows_meeting(windows, boxes, (0, 75)).tolist() == [True, True, True]
    assert windows_meeting(windows, np.zeros((0, 4)), (5, 5)).tolist() == [False] * 3


@pytest.fixture(scope="module")
def three_ships(tmp_path_factory):
    """A 1024 px sea scene (10 m) with three ships: two in open water, one on a window edge."""
    data = speckle((1024, 1024), seed=8)
    ships = [(200, 205, 300, 320), (700, 703, 150, 160), (500, 506, 448, 470)]
    for r0, r1, c0, c1 in ships:
        data[r0:r1, c0:c1] = 0.5  # +17 dB
    path = write_raster(tmp_path_factory.mktemp("ps") / "three.tif", data)
    return path, ships


def test_candidates_are_the_ships(three_ships):
    path, ships = three_ships
    boxes = candidate_boxes(open_scene(path), Prescreen(), Units(None, "linear"))
    assert len(boxes) == 3
    found = np.sort(boxes, axis=0)
    want = np.sort(np.array([[c0, r0, c1, r1] for r0, r1, c0, c1 in ships], float), axis=0)
    np.testing.assert_allclose(found, want, atol=2)  # 2 x 2 averaged pixels


def test_windows_without_candidates_are_never_read_or_run(three_ships, tmp_path, monkeypatch):
    path, ships = three_ships
    reads = []
    original = reader_module.read_window

    def counting(src, info, window, tile, **kw):
        if tile == TILE:  # the engine's windows; the prescreen reads large blocks
            reads.append(window)
        return original(src, info, window, tile, **kw)

    monkeypatch.setattr(reader_module, "read_window", counting)
    net = Wrapped(CFARShipDetector(tile_size=TILE, overlap=OVERLAP))
    res = predict_scene(path, net, tmp_path / "p", prescreen=True, progress=False)
    skipped = res.prescreen["windows_skipped_prescreen"]
    assert res.n_windows == 81 and res.prescreen["candidates"] == 3
    assert res.n_predicted == net.windows_seen == len(reads) == res.n_windows - skipped
    assert skipped >= 60  # three ships touch a few windows each
    # every window read meets a ship (grown by the 100 m margin), every window holding a ship
    # was read
    margin = 10
    grown = np.array([[c0 - margin, r0 - margin, c1 + margin, r1 + margin]
                      for r0, r1, c0, c1 in ships], float)
    assert windows_meeting(reads, grown, (0, 0)).all()
    holding = [w for w in plan_windows(1024, 1024, TILE, OVERLAP)
               if any(w.col_off <= c0 and c1 <= w.col_off + w.width and w.row_off <= r0
                      and r1 <= w.row_off + w.height for r0, r1, c0, c1 in ships)]
    key = lambda w: (w.col_off, w.row_off)  # noqa: E731
    assert len(holding) >= 3 and {key(w) for w in holding} <= {key(w) for w in reads}
    assert res.n_objects == 3


def test_prescreen_finds_what_the_exhaustive_run_finds(sim_scene, tmp_path):
    kw = dict(tile=256, overlap=32, progress=False)
    full = predict_scene(sim_scene.path, CFARShipDetector(), tmp_path / "full", **kw)
    fast = predict_scene(sim_scene.path, CFARShipDetector(), tmp_path / "fast", prescreen=True,
                         **kw)
    a = gpd.read_file(full.outputs["detections"])
    b = gpd.read_file(fast.outputs["detections"])
    assert full.prescreen == {} and fast.prescreen["windows_skipped_prescreen"] > 0
    assert fast.n_predicted == full.n_predicted - fast.prescreen["windows_skipped_prescreen"]
    xy = lambda f: np.c_[f.centroid.x, f.centroid.y]  # noqa: E731
    matched = match_by_distance(xy(a), xy(b), 200.0)[0]
    assert len(a) > 10 and len(matched) / len(a) >= 0.98


def test_segmentation_is_never_prescreened(tmp_path):
    scene = write_raster(tmp_path / "s.tif", speckle((64, 64)))
    with pytest.raises(ValueError, match="the prescreen is for detection; segmentation runs on "
                                         "every window"):
        predict_scene(scene, ThresholdWaterSegmenter(), tmp_path / "o", prescreen=True,
                      progress=False)


def test_prescreen_settings_are_checked():
    with pytest.raises(ValueError, match="prescreen rule must be one of"):
        Prescreen(rule="ratio")
    with pytest.raises(ValueError, match="prescreen needs factor >= 1, block >= 64 px and "
                                         "margin_m >= 0, got 0, 2048, 100.0"):
        Prescreen(factor=0)
