"""The scene-inference benchmark's pieces at toy sizes, with the CFAR baseline instead of ViT-B:
they run, see the same tiles and report the numbers the JSON needs (structure, not speed)."""

from __future__ import annotations

import pytest

from benchmarks import perf_inference as perf

TILE, OVERLAP, BATCH = 128, 16, 4


@pytest.fixture(scope="module")
def small_scene(tmp_path_factory):
    return perf.scene(tmp_path_factory.mktemp("bench"), 300)


@pytest.fixture
def cfar():
    from sargeo.inference.predictor import CFARShipDetector

    return CFARShipDetector(tile_size=TILE, overlap=OVERLAP)


def test_engine_and_pure_forward_see_the_same_tiles(small_scene, cfar, tmp_path):
    batches = perf.engine_batches(small_scene, cfar, TILE, OVERLAP, BATCH)
    assert all(b[0].shape[1:] == (2, TILE, TILE) and b[1].shape[1:] == (TILE, TILE)
               for b in batches)
    forward = perf.time_forward(cfar, batches)
    engine = perf.time_engine(small_scene, cfar, tmp_path, tile=TILE, overlap=OVERLAP,
                              batch_size=BATCH, score_thr=0.3, nms_iou=0.5)
    assert forward["tiles"] == engine["tiles"] == engine["n_windows"] == 9  # 3 x 3 windows
    assert engine["predictor_calls"] == 3 and 0 < engine["predictor_seconds"] < engine["seconds"]
    assert (tmp_path / f"{small_scene.stem}.gpkg").is_file()


def test_naive_loop_covers_the_scene_and_writes_map_boxes(small_scene, cfar, tmp_path):
    import geopandas as gpd
    import rasterio

    naive = perf.naive_torchgeo(small_scene, cfar, tmp_path, tile=TILE, overlap=OVERLAP,
                                score_thr=0.3, nms_iou=0.5)
    assert naive["tiles"] == 9 and naive["seconds"] > 0
    stages = {"read_seconds", "predictor_seconds", "to_map_seconds", "nms_write_seconds"}
    assert stages <= set(naive)
    frame = gpd.read_file(tmp_path / f"{small_scene.stem}_naive.gpkg")
    assert len(frame) == naive["n_objects"]
    with rasterio.open(small_scene) as src:
        left, bottom, right, top = src.bounds
        px = max(src.res)
        assert frame.crs == src.crs
    # ships were found, and their boxes lie on the scene in map coordinates, within a pixel of
    # its edges (the last grid tiles reach past the scene; nothing is detected out there)
    assert len(frame) > 0
    minx, miny, maxx, maxy = frame.total_bounds
    assert left - px <= minx < maxx <= right + px and bottom - px <= miny < maxy <= top + px


def test_memory_run_in_a_fresh_process(small_scene, tmp_path):
    run = perf.measure_memory(small_scene, tmp_path, tile=TILE, overlap=OVERLAP,
                              batch_size=BATCH, gdal_cachemax_mb=64)
    assert run["peak_rss_mb"] >= run["rss_before_predict_mb"] > 0
    assert run["tiles"] == 9 and run["gdal_cachemax_env"] == "64"


def test_footprint_scene_has_nodata_corners_the_engine_skips(cfar, tmp_path):
    import rasterio

    path = perf.footprint_scene(tmp_path, 600)
    # a 600 x 408 px swath turned 12 degrees: its bounding box is 672 x 524 px, 30.4 % nodata
    with rasterio.open(path) as src:
        assert (src.width, src.height) == (672, 524)
        band = src.read(1)
        assert (band[[0, 0, -1, -1], [0, -1, 0, -1]] == src.nodata).all()
        assert band[262, 336] != src.nodata
    assert abs(perf.nodata_fraction(path) - 0.304) < 0.01
    # small windows: the nodata corners hold some that have no valid pixel
    engine = perf.time_engine(path, cfar, tmp_path / "e", tile=64, overlap=8, batch_size=BATCH,
                              score_thr=0.3, nms_iou=0.5)
    naive = perf.naive_torchgeo(path, cfar, tmp_path / "n", tile=64, overlap=8, score_thr=0.3,
                                nms_iou=0.5)
    assert engine["n_windows"] == naive["tiles"] == 120  # 12 x 10 windows
    assert 0 < engine["n_nodata"] and engine["tiles"] == 120 - engine["n_nodata"]


def test_agreement_counts_detections_found_again(tmp_path):
    import geopandas as gpd
    import shapely

    def write(name, boxes, classes):
        path = tmp_path / f"{name}.gpkg"
        gpd.GeoDataFrame({"class_name": classes}, geometry=[shapely.box(*b) for b in boxes],
                         crs="EPSG:32631").to_file(path, layer="detections")
        return path

    ref = write("ref", [(0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)],
                ["ship", "ship", "ship"])
    other = write("other", [(0, 0, 10, 11), (25, 25, 35, 35), (50, 50, 60, 60)],
                  ["ship", "ship", "platform"])
    got = perf.agreement(ref, other)
    # the first box matches; the second overlaps too little; the third has another class
    assert got == {"reference": 3, "other": 3, "found_again": 1 / 3}
    assert perf.agreement(ref, ref)["found_again"] == 1.0


def test_compare_gives_the_agreement_both_ways_and_the_count_difference(tmp_path):
    import geopandas as gpd
    import shapely

    from benchmarks.perf_inference_trained import compare

    def write(name, boxes):
        path = tmp_path / f"{name}.gpkg"
        gpd.GeoDataFrame({"class_name": ["ship"] * len(boxes)},
                         geometry=[shapely.box(*b) for b in boxes],
                         crs="EPSG:32631").to_file(path, layer="detections")
        return path

    # the first pair overlaps with IoU 100 / 110 = 0.91, the second with 64 / 136 = 0.47
    fp32 = write("fp32", [(0, 0, 10, 10), (20, 20, 30, 30)])
    bf16 = write("bf16", [(0, 0, 10, 11), (22, 22, 32, 32), (50, 50, 60, 60)])
    got = compare(fp32, bf16)
    assert got == {"fp32_detections": 2, "bf16_detections": 3,
                   "count_difference_bf16_minus_fp32": 1,
                   "fp32_found_in_bf16_iou50": 0.5, "bf16_found_in_fp32_iou50": 1 / 3,
                   "fp32_found_in_bf16_iou90": 0.5, "bf16_found_in_fp32_iou90": 1 / 3}


@pytest.mark.slow
def test_trained_mode_records_how_the_network_was_trained(tmp_path):
    import json

    out = tmp_path / "trained.json"
    assert perf.main(["--trained", "--work", str(tmp_path), "--demo-steps", "2",
                      "--demo-det-iters", "2", "--demo-size", "256", "--demo-test-size", "256",
                      "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    net = result["network"]
    assert net["trained"] is True
    assert (net["pretraining_steps"], net["detector_iterations"]) == (2, 2)
    assert result["command"].startswith("python -m benchmarks.perf_inference --trained")
    agree = result["agreement"]
    assert agree["fp32_detections"] == result["fp32"]["n_objects"]
    assert agree["bf16_detections"] == result["bf16"]["n_objects"]
    assert agree["count_difference_bf16_minus_fp32"] == (
        result["bf16"]["n_objects"] - result["fp32"]["n_objects"])
