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
        assert frame.crs == src.crs
    if len(frame):  # boxes lie on the scene in map coordinates
        minx, miny, maxx, maxy = frame.total_bounds
        assert left <= minx < maxx <= right + TILE * 10 and bottom - TILE * 10 <= miny < maxy <= top


def test_memory_run_in_a_fresh_process(small_scene, tmp_path):
    run = perf.measure_memory(small_scene, tmp_path, tile=TILE, overlap=OVERLAP,
                              batch_size=BATCH, gdal_cachemax_mb=64)
    assert run["peak_rss_mb"] >= run["rss_before_predict_mb"] > 0
    assert run["tiles"] == 9 and run["gdal_cachemax_env"] == "64"
