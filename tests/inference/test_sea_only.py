"""``--sea-only``: a simulated scene laid across the real Dutch coast (UTM 31N, Scheveningen),
run with the CFAR baseline; and the ground columns every detection carries."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
from affine import Affine

import sargeo.inference.reader as reader_module
from sargeo.cli import main
from sargeo.inference import predict_scene
from sargeo.inference.merge import Detections
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.windows import plan_windows
from sargeo.inference.writers import detections_frame
from sargeo.landmask import LandMask
from tests.inference.conftest import Wrapped

UTM31 = "EPSG:32631"
#: upper-left corner of a 10 km scene across the coast at Scheveningen (about half land)
COAST_ORIGIN = (582_000.0, 5_779_000.0)
TILE, OVERLAP, BUFFER = 256, 32, 500.0
TO_LL = pyproj.Transformer.from_crs(UTM31, "EPSG:4326", always_xy=True)
GEOD = pyproj.Geod(ellps="WGS84")


# -- the ground columns (no land data) ---------------------------------------------------------
def test_oriented_box_gets_ground_length_width_and_true_heading():
    transform = Affine.translation(587_000, 5_774_000) * Affine.scale(10.0, -10.0)
    t = 0.3  # radians, clockwise on screen from +x (east): grid azimuth 90 + 17.19 degrees
    dets = Detections(np.array([[100.0, 50.0, 20.0, 4.0, t], [300.0, 80.0, 3.0, 12.0, 0.0]]),
                      np.array([0.9, 0.8]), np.zeros(2, np.int64), np.zeros(2, bool))
    frame = detections_frame(dets, ("ship",), transform, UTM31, "s.tif")
    cx, cy = transform * (dets.boxes[:, 0], dets.boxes[:, 1])
    lon, lat = TO_LL.transform(cx, cy)
    np.testing.assert_allclose(frame.lon, lon, atol=1e-9)
    np.testing.assert_allclose(frame.lat, lat, atol=1e-9)
    # independent route: PROJ's scale factor k and meridian convergence at each centre
    f = pyproj.Proj(UTM31).get_factors(lon, lat)
    k, conv = np.asarray(f.meridional_scale), np.asarray(f.meridian_convergence)
    np.testing.assert_allclose(frame.length_m, np.array([200.0, 120.0]) / k, rtol=1e-5)
    np.testing.assert_allclose(frame.width_m, np.array([40.0, 30.0]) / k, rtol=1e-5)
    # the second box is long along its h edge: north-south on screen
    grid = np.array([90.0 + math.degrees(t), 0.0])
    np.testing.assert_allclose(frame.heading_deg, (grid + conv) % 180, atol=1e-3)
    assert (frame.heading_deg >= 0).all() and (frame.heading_deg < 180).all()


def test_horizontal_boxes_get_lon_lat_and_extra_columns():
    transform = Affine.translation(587_000, 5_774_000) * Affine.scale(10.0, -10.0)
    dets = Detections(np.array([[10.0, 20.0, 30.0, 24.0]]), np.array([0.9]),
                      np.zeros(1, np.int64), np.zeros(1, bool))
    frame = detections_frame(dets, ("ship",), transform, UTM31, "s.tif",
                             {"distance_to_shore_m": np.array([123.0])})
    lon, lat = TO_LL.transform(*(transform * (20.0, 22.0)))
    assert frame.lon[0] == pytest.approx(lon, abs=1e-9)
    assert frame.lat[0] == pytest.approx(lat, abs=1e-9)
    assert frame.distance_to_shore_m[0] == 123.0 and "length_m" not in frame
    empty = detections_frame(Detections.empty(True), ("ship",), transform, UTM31, "s.tif")
    assert len(empty) == 0 and {"lon", "lat", "length_m", "heading_deg"} <= set(empty)



def test_window_outlines_run_clockwise_along_the_edges():
    from sargeo.landmask import window_outlines

    cols, rows = window_outlines([[10, 20, 4, 8], [0, 0, 2, 2]], points=2)
    np.testing.assert_array_equal(cols[0], [10, 12, 14, 14, 14, 12, 10, 10])
    np.testing.assert_array_equal(rows[0], [20, 20, 20, 24, 28, 28, 28, 24])
    assert cols.shape == rows.shape == (2, 8) and cols[1].max() == rows[1].max() == 2

# -- refusals before any land data is loaded ---------------------------------------------------
def test_sea_only_is_for_detection(sim_scene, tmp_path):
    with pytest.raises(ValueError, match="sea_only / --sea-only is for detection tasks"):
        predict_scene(sim_scene.path, ThresholdWaterSegmenter(), tmp_path / "o",
                      sea_only=True, progress=False)
    with pytest.raises(ValueError, match="the land buffer must be a finite distance >= 0 m, "
                                         "got -5.0"):
        predict_scene(sim_scene.path, CFARShipDetector(), tmp_path / "o", sea_only=True,
                      land_buffer_m=-5.0, progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_sea_only_needs_a_scene_on_the_ground(tmp_path):
    from sargeo.inference.engine import InferenceResult
    from sargeo.inference.reader import open_scene
    from sargeo.landmask import plan_sea_only
    from tests.inference.conftest import write_raster

    plain = open_scene(write_raster(tmp_path / "chip.tif", np.ones((8, 8)), crs=None,
                                    transform=False), pixel_coords=True)
    result = InferenceResult(scene=plain.path, task="detection", status="done")
    with pytest.raises(ValueError, match=r"chip.tif: sea_only / --sea-only needs a scene on "
                                         r"the ground \(a CRS or a Sentinel-1 product's "
                                         r"geolocation grid\); drop --sea-only"):
        plan_sea_only(plain, "detection", BUFFER, [], {}, result)


# -- a scene across the coast ------------------------------------------------------------------
@pytest.fixture(scope="module")
def coast(tmp_path_factory):
    """The simulated scene (all sea as simulated: ships lie on real land too), its truth, and
    a --sea-only run of the rotated CFAR with every window read recorded."""
    from sargeo.datasets.simulate import simulate_scene

    d = tmp_path_factory.mktemp("coast")
    scene = simulate_scene(d / "coast.tif", d / "truth.gpkg", width=1024, height=1024, seed=5,
                           origin=COAST_ORIGIN, land_fraction=0.0)
    res, reads = predict_counting_reads(scene.path, CFARShipDetector(rotated=True), d / "sea",
                                        tile=TILE, overlap=OVERLAP, sea_only=True,
                                        land_buffer_m=BUFFER, progress=False)
    return scene, res, reads, LandMask.load()


def predict_counting_reads(scene, predictor, out, **kwargs) -> tuple[Any, list[tuple[int, int]]]:
    """``predict_scene`` and the (column, row) offset of every window it read."""
    reads = []
    original = reader_module.read_window

    def counting(src, info, window, *args, **kwargs):
        reads.append((int(window.col_off), int(window.row_off)))
        return original(src, info, window, *args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(reader_module, "read_window", counting)
        return predict_scene(scene, predictor, out, **kwargs), reads


def _samples(window, step: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of pixel positions every ``step`` px over a window, edges included."""
    c = np.arange(window.col_off, window.col_off + window.width + 1, step)
    r = np.arange(window.row_off, window.row_off + window.height + 1, step)
    cols, rows = np.meshgrid(c, r)
    x, y = Affine.translation(*COAST_ORIGIN) * Affine.scale(10.0, -10.0) * (cols, rows)
    return TO_LL.transform(x, y)


@pytest.mark.slow
def test_windows_wholly_on_land_are_never_read(coast):
    scene, res, reads, mask = coast
    windows = plan_windows(scene.height, scene.width, TILE, OVERLAP)
    read = {(w.col_off, w.row_off) for w in windows} & set(reads)
    assert len(reads) == len(read)  # each window read once
    skipped = res.land["windows_skipped_land"]
    assert res.n_windows == len(windows) == len(read) + skipped and skipped >= 3
    assert res.n_predicted == len(read)
    # each window's distance to the sea, from distances sampled every 40 m (true within 30 m):
    # a window is skipped exactly when no sea lies within the buffer
    samples = [_samples(w) for w in windows]
    d = mask.distance_to_shore_m(np.concatenate([s[0].ravel() for s in samples]),
                                 np.concatenate([s[1].ravel() for s in samples]))
    per_window = np.split(d, np.cumsum([s[0].size for s in samples])[:-1])
    for w, dw in zip(windows, per_window, strict=True):
        to_sea = -float(dw.max())
        if to_sea > BUFFER + 30:
            assert (w.col_off, w.row_off) not in read, (w, to_sea)
        elif to_sea < BUFFER - 30:
            assert (w.col_off, w.row_off) in read, (w, to_sea)


@pytest.mark.slow
def test_no_detection_on_land_and_each_has_lon_lat_and_distance(coast, tmp_path):
    scene, res, _, mask = coast
    found = gpd.read_file(res.outputs["detections"])
    assert len(found) == res.n_objects >= 10
    centre = found.geometry.centroid
    lon, lat = TO_LL.transform(centre.x, centre.y)
    np.testing.assert_allclose(found.lon, lon, atol=1e-7)
    np.testing.assert_allclose(found.lat, lat, atol=1e-7)
    assert not mask.is_land(found.lon, found.lat).any()
    assert (found.distance_to_shore_m > 0).all()
    np.testing.assert_allclose(found.distance_to_shore_m,
                               mask.distance_to_shore_m(found.lon, found.lat))
    # the same ships at sea as a run over every window, less those on land
    full = predict_scene(scene.path, CFARShipDetector(rotated=True), tmp_path, tile=TILE,
                         overlap=OVERLAP, progress=False)
    everything = gpd.read_file(full.outputs["detections"])
    on_land = mask.is_land(everything.lon, everything.lat)
    dropped = res.land["detections_dropped_land"]
    assert full.n_predicted == full.n_windows and full.land == {}
    assert on_land.sum() > dropped >= 1  # dropped after reading; the rest were never read
    np.testing.assert_allclose(np.sort(everything.lon[~on_land]), np.sort(found.lon))
    meta = pyogrio.read_info(res.outputs["detections"], layer="detections")["layer_metadata"]
    assert "OpenStreetMap contributors" in meta["sargeo_land_source"]
    assert meta["sargeo_detections_dropped_land"] == str(dropped)
    assert meta["sargeo_windows_skipped_land"] == str(res.land["windows_skipped_land"])


@pytest.mark.slow
def test_oriented_boxes_match_the_simulated_ships(coast):
    # CFAR boxes the pixel squares whose centres fall in the hull: sides come out up to about
    # 1.4 px (14 m) long, and the heading of a ship of 100 m (10 px) or more within 3 degrees
    scene, res, _, _ = coast
    found = gpd.read_file(res.outputs["detections"])
    truth = gpd.read_file(scene.gpkg, layer="ships")
    errors = []
    for ship in truth.itertuples():
        c = ship.geometry.centroid
        dist = found.geometry.centroid.distance(c)
        if dist.min() > 20:  # on land, or missed
            continue
        det = found.loc[dist.idxmin()]
        # the true heading is clockwise from grid north: measure its bow on the ellipsoid
        h = math.radians(ship.heading_deg)
        lon0, lat0 = TO_LL.transform(c.x, c.y)
        lon1, lat1 = TO_LL.transform(c.x + 50 * math.sin(h), c.y + 50 * math.cos(h))
        true_north = GEOD.inv(lon0, lat0, lon1, lat1)[0] % 180
        errors.append((ship.length_m, det.length_m - ship.length_m, det.width_m - ship.width_m,
                       (det.heading_deg - true_north + 90) % 180 - 90))
    e = np.array(errors)
    assert len(e) >= 15
    assert np.abs(e[:, 1]).max() <= 15 and np.abs(e[:, 2]).max() <= 15
    long = e[:, 0] >= 100
    assert np.abs(e[long, 3]).max() <= 3.0
    # no bias: grid-north headings would be 0.95 degrees off here (meridian convergence)
    assert abs(np.median(e[long, 3])) < 0.3


@pytest.mark.slow
def test_interrupted_sea_only_run_resumes_to_the_same_output(coast, tmp_path):
    scene, res, _, _ = coast
    crashing = Wrapped(CFARShipDetector(rotated=True, tile_size=TILE, overlap=OVERLAP),
                       fail_after=2)
    kwargs = dict(batch_size=2, sea_only=True, land_buffer_m=BUFFER, progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        predict_scene(scene.path, crashing, tmp_path, **kwargs)
    again = Wrapped(CFARShipDetector(rotated=True, tile_size=TILE, overlap=OVERLAP))
    resumed = predict_scene(scene.path, again, tmp_path, resume=True, **kwargs)
    assert resumed.n_resumed == 4 and again.windows_seen == res.n_predicted - 4
    assert_same_sea_output(resumed, res)


def assert_same_sea_output(resumed: Any, res: Any) -> None:
    """The same land counts and detections (ground columns) in two --sea-only results."""
    assert resumed.land == res.land
    a = gpd.read_file(resumed.outputs["detections"])
    b = gpd.read_file(res.outputs["detections"])
    np.testing.assert_allclose(a[["lon", "lat", "distance_to_shore_m", "length_m"]],
                               b[["lon", "lat", "distance_to_shore_m", "length_m"]])


@pytest.mark.slow
def test_cli_sea_only(coast, tmp_path, capsys):
    scene, res, _, _ = coast
    code = main(["infer", str(scene.path), "--baseline", "cfar", "--rotated", "--tile",
                 str(TILE), "--overlap", str(OVERLAP), "--sea-only", "--land-buffer-m",
                 str(BUFFER), "--out", str(tmp_path), "--geojson"])
    out = capsys.readouterr().out
    assert code == 0
    assert (f"{res.land['windows_skipped_land']} window(s) on land skipped, "
            f"{res.land['detections_dropped_land']} detection(s) on land dropped") in out
    gj = gpd.read_file(tmp_path / "coast.geojson")
    assert len(gj) == res.n_objects and (gj.distance_to_shore_m > 0).all()
