"""The engine end to end, with the CFAR and threshold baselines on generated scenes."""

from __future__ import annotations

import errno
import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from geopandas.testing import assert_geodataframe_equal

from sargeo.inference import predict_scene, predict_scenes
from sargeo.inference.engine import NoDataWarning, expand_scenes, shard_scenes
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.reader import SceneError
from sargeo.inference.writers import OutputError
from tests.inference.conftest import Wrapped, speckle, write_raster


def _leftovers(folder):
    """Temporary files an interrupted write could leave (journals excluded)."""
    return [p.name for p in folder.iterdir() if ".part" in p.name and "partial" not in p.name
            or p.name.endswith(".tiled.tif")]


def _bright_rect_scene(tmp_path, cols, rows=(20, 28), name="rect.tif"):
    data = speckle((200, 300), seed=5)
    data[rows[0]:rows[1], cols[0]:cols[1]] = 1.0  # +20 dB over the sea clutter
    return write_raster(tmp_path / name, data)


# -- merging across windows -------------------------------------------------------------------
@pytest.mark.parametrize("rotated", [False, True])
@pytest.mark.parametrize("cols", [(100, 120), (120, 140)], ids=["in-overlap", "cut-by-edge"])
def test_an_object_seen_by_two_windows_is_found_once(tmp_path, rotated, cols):
    # windows of 128 px overlapping by 32: columns [0, 128), [96, 224), [172, 300).
    # (100, 120) lies whole in two windows; (120, 140) is cut by the first window's edge
    scene = _bright_rect_scene(tmp_path, cols)
    det = CFARShipDetector(rotated=rotated)
    res = predict_scene(scene, det, tmp_path / "out", tile=128, overlap=32, progress=False)
    frame = gpd.read_file(res.outputs["detections"])
    assert len(frame) == 1
    row = frame.iloc[0]
    np.testing.assert_allclose([row.px_x1, row.px_y1, row.px_x2, row.px_y2],
                               [cols[0], 20, cols[1], 28], atol=1e-6)
    if rotated:
        assert row.px_w == pytest.approx(20) and row.px_h == pytest.approx(8)
        assert abs(math.sin(row.px_angle)) < 1e-6


# -- outputs ----------------------------------------------------------------------------------
def test_detections_are_georeferenced_in_the_scene_crs_and_geojson_in_4326(sim_scene, tmp_path):
    res = predict_scene(sim_scene.path, CFARShipDetector(), tmp_path, tile=512, overlap=64,
                        geojson=True, preview=tmp_path / "q.png", progress=False)
    frame = gpd.read_file(res.outputs["detections"], layer="detections")
    assert frame.crs == sim_scene.crs and len(frame) == res.n_objects > 0
    with rasterio.open(sim_scene.path) as src:
        left, bottom, right, top = src.bounds
    x0, y0, x1, y1 = frame.total_bounds
    assert left <= x0 < x1 <= right and bottom <= y0 < y1 <= top
    assert set(frame.columns) >= {"score", "class_name", "class_id", "scene", "px_x1", "px_y2"}
    assert (frame.class_name == "ship").all() and (frame.scene == "sim.tif").all()
    # pixel boxes and polygons agree through the scene transform
    t = sim_scene.transform
    np.testing.assert_allclose(frame.geometry.bounds.minx, t.c + frame.px_x1 * t.a)
    gj = gpd.read_file(res.outputs["geojson"])
    assert gj.crs.to_epsg() == 4326 and len(gj) == len(frame)
    np.testing.assert_allclose(gj.to_crs(frame.crs).centroid.x, frame.centroid.x, atol=0.05)
    assert (tmp_path / "q.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _leftovers(tmp_path) == [] and not list(tmp_path.glob(".*partial"))


def test_cfar_finds_the_simulated_ships(sim_scene, tmp_path):
    res = predict_scene(sim_scene.path, CFARShipDetector(), tmp_path, tile=512, overlap=64,
                        progress=False)
    found = gpd.read_file(res.outputs["detections"])
    truth = gpd.read_file(sim_scene.gpkg, layer="ships")
    assert len(truth) >= 10
    # a true ship is found when a detection's centre lies within half its length (>= 20 m)
    d = truth.centroid.apply(lambda c: found.centroid.distance(c).min())
    hit = d <= np.maximum(truth.length_m / 2, 20.0)
    assert hit.mean() >= 0.8, f"recall {hit.mean():.2f}"
    # and most detections are ships (the coast and land must not light up)
    near = found.centroid.apply(lambda c: truth.centroid.distance(c).min())
    assert (near <= 150).mean() >= 0.8


def test_segmentation_mask_is_a_cog_on_the_scene_grid(sim_scene, tmp_path):
    res = predict_scene(sim_scene.path, ThresholdWaterSegmenter(), tmp_path, tile=256,
                        overlap=32, save_probs=True, preview=tmp_path, progress=False)
    with rasterio.open(sim_scene.path) as src, rasterio.open(res.outputs["mask"]) as m:
        assert (m.crs, m.transform, m.width, m.height) == (src.crs, src.transform, src.width,
                                                             src.height)
        assert m.dtypes[0] == "uint8" and m.nodata == 255
        assert m.profile["tiled"] and m.overviews(1)
        assert m.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        mask = m.read(1)
    with rasterio.open(res.outputs["probs"]) as p:
        assert p.count == 2 and p.descriptions == ("land", "water") and p.overviews(1)
        probs = p.read()
    np.testing.assert_array_equal(mask, probs.argmax(0))
    np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)
    # the mask matches the simulator's water where it is unambiguous
    truth = gpd.read_file(sim_scene.gpkg, layer="water")
    from rasterio.features import rasterize

    water = rasterize(truth.geometry, out_shape=mask.shape, transform=sim_scene.transform)
    assert ((mask == 1) == (water == 1)).mean() > 0.95
    assert (tmp_path / "sim_preview.png").exists()
    assert _leftovers(tmp_path) == []


def test_constant_scene_segments_without_seams(tmp_path):
    scene = write_raster(tmp_path / "flat.tif", np.full((2, 700, 600), 0.01, np.float32))
    res = predict_scene(scene, ThresholdWaterSegmenter(), tmp_path / "o", tile=256,
                        overlap=48, save_probs=True, progress=False)
    with rasterio.open(res.outputs["probs"]) as p:
        water = p.read(2)
    assert np.ptp(water) < 1e-6 and water.mean() > 0.9
    with rasterio.open(res.outputs["mask"]) as m:
        assert (m.read(1) == 1).all()


def test_nan_pixels_are_nodata_in_the_mask(tmp_path):
    data = np.full((300, 300), 0.01, np.float32)
    data[100:150, 30:90] = np.nan
    scene = write_raster(tmp_path / "nan.tif", data)
    res = predict_scene(scene, ThresholdWaterSegmenter(), tmp_path / "o", tile=128,
                        overlap=16, progress=False)
    with rasterio.open(res.outputs["mask"]) as m:
        mask = m.read(1)
    assert ((mask == 255) == np.isnan(data)).all()


# -- resume -----------------------------------------------------------------------------------
def test_detection_resumes_after_a_crash_with_the_same_result(sim_scene, tmp_path):
    kw = dict(tile=256, overlap=48, batch_size=2, progress=False)  # 25 windows, 13 batches
    ref = predict_scene(sim_scene.path, Wrapped(CFARShipDetector(rotated=True)),
                        tmp_path / "ref", **kw)
    crashing = Wrapped(CFARShipDetector(rotated=True), fail_after=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        predict_scene(sim_scene.path, crashing, tmp_path / "run", **kw)
    out = tmp_path / "run" / "sim.gpkg"
    assert not out.exists() and (tmp_path / "run" / ".sim.gpkg.partial").is_dir()
    again = Wrapped(CFARShipDetector(rotated=True))
    res = predict_scene(sim_scene.path, again, tmp_path / "run", resume=True, **kw)
    assert res.n_windows == 25 and res.n_resumed == 6 and again.windows_seen == 25 - 6
    assert_geodataframe_equal(gpd.read_file(out), gpd.read_file(ref.outputs["detections"]))
    assert not (tmp_path / "run" / ".sim.gpkg.partial").exists()


def test_segmentation_resumes_after_a_crash_with_the_same_result(tmp_path):
    from sargeo.datasets.simulate import simulate_scene

    scene = simulate_scene(tmp_path / "tall.tif", width=300, height=1100, seed=4).path
    kw = dict(tile=256, overlap=32, batch_size=2, save_probs=True, progress=False)
    ref = predict_scene(scene, Wrapped(ThresholdWaterSegmenter()), tmp_path / "ref", **kw)
    with pytest.raises(RuntimeError, match="simulated crash"):
        predict_scene(scene, Wrapped(ThresholdWaterSegmenter(), fail_after=4),
                      tmp_path / "run", **kw)
    partial = tmp_path / "run" / ".tall_mask.tif.partial"
    assert [p.name for p in sorted(partial.glob("rows_*.npz"))] == [
        "rows_000000000_000000512.npz"]
    again = Wrapped(ThresholdWaterSegmenter())
    res = predict_scene(scene, again, tmp_path / "run", resume=True, **kw)
    assert res.n_resumed > 0 and again.windows_seen < res.n_windows
    for key in ("mask", "probs"):
        with rasterio.open(res.outputs[key]) as a, rasterio.open(ref.outputs[key]) as b:
            np.testing.assert_array_equal(a.read(), b.read())


def test_resume_with_other_settings_starts_over(sim_scene, tmp_path):
    with pytest.raises(RuntimeError):
        predict_scene(sim_scene.path, Wrapped(CFARShipDetector(), fail_after=1), tmp_path,
                      tile=256, overlap=48, progress=False)
    again = Wrapped(CFARShipDetector())
    with pytest.warns(UserWarning, match="starting this scene over"):
        res = predict_scene(sim_scene.path, again, tmp_path, tile=256, overlap=32,
                            resume=True, progress=False)
    assert res.n_resumed == 0 and again.windows_seen == res.n_windows


def test_finished_scenes_are_skipped_and_ranks_take_disjoint_scenes(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    for i in range(5):
        write_raster(folder / f"s{i}.tif", speckle((64, 64), seed=i))
    scenes = expand_scenes([folder])
    assert [p.name for p in scenes] == [f"s{i}.tif" for i in range(5)]
    parts = [shard_scenes(scenes, r, 3) for r in range(3)]
    assert sorted(p.name for part in parts for p in part) == [p.name for p in scenes]
    assert all(not set(a) & set(b) for a in parts for b in parts if a is not b)

    det = Wrapped(CFARShipDetector(tile_size=64))
    first = predict_scenes(str(folder / "s*.tif"), det, tmp_path / "out", rank=1,
                           world_size=2, progress=False)
    assert [r.scene.name for r in first] == ["s1.tif", "s3.tif"]
    assert all(r.status == "done" for r in first)
    again = Wrapped(CFARShipDetector(tile_size=64))
    second = predict_scenes(folder, again, tmp_path / "out", resume=True, progress=False)
    assert [r.status for r in second] == ["done", "skipped", "done", "skipped", "done"]
    assert again.windows_seen == 3


def test_rank_comes_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert shard_scenes(list(range(8))) == [2, 5]
    with pytest.raises(ValueError, match="rank"):
        shard_scenes([1], rank=3, world_size=3)


# -- bad input --------------------------------------------------------------------------------
def test_scene_without_crs_fails_before_any_output(tmp_path):
    scene = write_raster(tmp_path / "nocrs.tif", speckle((64, 64)), crs=None)
    with pytest.raises(SceneError, match=r"nocrs\.tif.*no CRS"):
        predict_scene(scene, CFARShipDetector(), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_wrong_band_count_is_refused(tmp_path):
    scene = write_raster(tmp_path / "one.tif", speckle((64, 64)))
    with pytest.raises(SceneError, match=r"one\.tif.*expects 2"):
        predict_scene(scene, CFARShipDetector(in_channels=2), tmp_path / "out", progress=False)


def test_truncated_scene_leaves_no_output(tmp_path):
    scene = write_raster(tmp_path / "cut.tif", speckle((512, 512)))
    scene.write_bytes(scene.read_bytes()[: scene.stat().st_size * 6 // 10])
    out = tmp_path / "out"
    with pytest.raises(SceneError, match=r"cut\.tif"):
        predict_scene(scene, CFARShipDetector(), out, tile=256, progress=False)
    assert not out.exists() or list(out.iterdir()) == []


def test_all_nodata_scene_gives_empty_results_with_a_warning(tmp_path):
    scene = write_raster(tmp_path / "empty.tif", np.zeros((2, 300, 300), np.float32))
    with pytest.warns(NoDataWarning, match="no valid pixel"):
        res = predict_scene(scene, CFARShipDetector(rotated=True), tmp_path, tile=128,
                            geojson=True, preview=True, progress=False)
    frame = gpd.read_file(res.outputs["detections"])
    assert len(frame) == 0 and frame.crs.to_epsg() == 32631
    assert gpd.read_file(res.outputs["geojson"]).empty and res.outputs["preview"].exists()
    assert res.n_nodata == res.n_windows > 1 and res.n_predicted == 0
    with pytest.warns(NoDataWarning):
        res = predict_scene(scene, ThresholdWaterSegmenter(), tmp_path, tile=128,
                            progress=False)
    with rasterio.open(res.outputs["mask"]) as m:
        assert (m.read(1) == 255).all()


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    scene = _bright_rect_scene(tmp_path, (120, 140))
    out = tmp_path / "rect.gpkg"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match=r"rect\.gpkg"):
        predict_scene(scene, CFARShipDetector(), tmp_path, progress=False)
    with pytest.raises(FileExistsError, match=r"rect\.gpkg"):
        predict_scenes([scene], CFARShipDetector(), tmp_path, progress=False)
    assert out.read_bytes() == b"precious"
    predict_scene(scene, CFARShipDetector(), tmp_path, overwrite=True, progress=False)
    assert len(gpd.read_file(out)) == 1


def test_disk_full_while_writing_leaves_no_output_and_resume_finishes(tmp_path, monkeypatch):
    scene = _bright_rect_scene(tmp_path, (120, 140))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(gpd.GeoDataFrame, "to_file", full)
        with pytest.raises(OutputError, match=r"rect\.gpkg.*No space left") as info:
            predict_scene(scene, CFARShipDetector(), tmp_path / "det", progress=False)
    assert info.value.errno == errno.ENOSPC
    assert not (tmp_path / "det" / "rect.gpkg").exists() and _leftovers(tmp_path / "det") == []

    import rasterio.shutil

    with monkeypatch.context() as m:
        m.setattr(rasterio.shutil, "copy", full)
        with pytest.raises(OutputError, match=r"rect_mask\.tif.*No space left"):
            predict_scene(scene, Wrapped(ThresholdWaterSegmenter()), tmp_path / "seg",
                          tile=128, progress=False)
    assert not (tmp_path / "seg" / "rect_mask.tif").exists()
    assert _leftovers(tmp_path / "seg") == []
    again = Wrapped(ThresholdWaterSegmenter())
    res = predict_scene(scene, again, tmp_path / "seg", tile=128, resume=True, progress=False)
    assert again.windows_seen == 0 and res.outputs["mask"].exists()


# -- command line -----------------------------------------------------------------------------
def test_cli_runs_a_baseline_and_reports(tmp_path, capsys):
    import argparse

    from sargeo.inference.cli import add_infer_arguments, run_infer

    scene = _bright_rect_scene(tmp_path, (120, 140))
    parser = argparse.ArgumentParser()
    add_infer_arguments(parser)
    args = parser.parse_args([str(scene), "--baseline", "cfar", "--rotated", "--out",
                              str(tmp_path / "o"), "--tile", "128", "--quiet", "--geojson"])
    assert run_infer(args) == 0
    assert "1 done" in capsys.readouterr().out and (tmp_path / "o" / "rect.geojson").exists()
    assert run_infer(args) == 2  # outputs exist
    assert "output" in capsys.readouterr().err
    args = parser.parse_args([str(scene), "--config", "x.py", "--out", str(tmp_path / "p")])
    assert run_infer(args) == 2
    assert "--checkpoint" in capsys.readouterr().err
    args = parser.parse_args([str(scene), "--baseline", "cfar", "--precision", "bf16",
                              "--out", str(tmp_path / "q")])
    assert run_infer(args) == 2
    assert "--precision applies to --config" in capsys.readouterr().err
    args = parser.parse_args([str(scene), "--baseline", "cfar", "--proposals", "100",
                              "--out", str(tmp_path / "q")])
    assert run_infer(args) == 2
    assert "--proposals applies to --config" in capsys.readouterr().err


# -- scene values and predictors ---------------------------------------------------------------
def test_linear_db_and_amplitude_scenes_give_the_same_detections(tmp_path):
    data = speckle((200, 300), seed=5)
    data[20:28, 120:140] = 1.0
    data[150:153, 40:70] = 0.5
    scenes = {"lin": write_raster(tmp_path / "lin.tif", data),
              "db": write_raster(tmp_path / "db.tif", 10 * np.log10(data), nodata=-9999.0,
                                 units="sigma0-db"),
              "dn": write_raster(tmp_path / "dn.tif", np.round(np.sqrt(data) * 3000),
                                 dtype="uint16", units="dn")}
    boxes = {}
    for name, scene in scenes.items():
        res = predict_scene(scene, CFARShipDetector(mode="ca"), tmp_path / name, tile=128,
                            overlap=32, progress=False)
        frame = gpd.read_file(res.outputs["detections"])
        boxes[name] = frame[["px_x1", "px_y1", "px_x2", "px_y2"]].to_numpy()
    assert len(boxes["lin"]) == 2
    np.testing.assert_array_equal(boxes["db"], boxes["lin"])
    np.testing.assert_array_equal(boxes["dn"], boxes["lin"])


class _Oracle:
    """A network stand-in: torch tensors out, two classes, a box in every tile's centre."""

    task, classes, in_channels, tile_size = "detection", ("ship", "platform"), 1, 64

    def __call__(self, images, valid):
        import torch

        b = images.shape[0]
        return [{"boxes": torch.tensor([[28.0, 28.0, 36.0, 36.0], [28.0, 28.0, 36.0, 36.0]]),
                 "scores": torch.tensor([0.9, 0.2 + i / (2 * b)]),
                 "labels": torch.tensor([0, 1])} for i in range(b)]


def test_any_predictor_plugs_in_and_score_threshold_applies(tmp_path):
    scene = write_raster(tmp_path / "s.tif", speckle((128, 128)))
    res = predict_scene(scene, _Oracle(), tmp_path, overlap=0, score_thr=0.3, progress=False)
    frame = gpd.read_file(res.outputs["detections"])
    assert res.n_windows == 4 and len(frame) == 4 + 3  # 4 ships, 3 platforms above 0.3
    assert set(frame.class_name) == {"ship", "platform"}
    assert frame.score.is_monotonic_decreasing


class _TopEdgeSliver:
    """A model artefact seen in practice: a thin box along every tile's top edge."""

    task, classes, in_channels, tile_size = "detection", ("ship",), 1, 64

    def __call__(self, images, valid):
        import torch

        return [{"boxes": torch.tensor([[20.0, 0.0, 30.0, 2.0]]), "scores": torch.tensor([0.9]),
                 "labels": torch.tensor([0])} for _ in range(images.shape[0])]


def test_slivers_along_inner_tile_edges_are_dropped(tmp_path):
    # 160 x 128 scene, 64 px tiles overlapping by 16: rows start at 0, 48, 96; only the top
    # row's slivers lie on the scene's edge (not truncated), the rest another window saw whole
    scene = write_raster(tmp_path / "s.tif", speckle((160, 128)))
    res = predict_scene(scene, _TopEdgeSliver(), tmp_path / "out", overlap=16, progress=False)
    frame = gpd.read_file(res.outputs["detections"])
    assert res.n_windows == 9
    assert sorted(frame.px_y1.tolist()) == [0.0, 0.0, 0.0]


def test_many_scenes_keep_going_past_a_bad_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_raster(folder / "a.tif", speckle((64, 64)))
    write_raster(folder / "b.tif", speckle((64, 64)), crs=None)
    res = predict_scenes(folder, CFARShipDetector(tile_size=64), tmp_path / "out",
                         keep_going=True, progress=False)
    assert [r.status for r in res] == ["done", "failed"] and "no CRS" in res[1].error
    with pytest.raises(SceneError):
        predict_scenes(folder, CFARShipDetector(tile_size=64), tmp_path / "out2",
                       progress=False)
    with pytest.raises(ValueError, match="output folder"):
        predict_scenes(folder, CFARShipDetector(tile_size=64), tmp_path / "x.gpkg",
                       progress=False)


def test_scene_smaller_than_the_tile_is_padded(tmp_path):
    scene = write_raster(tmp_path / "tiny.tif", np.full((40, 70), 0.01, np.float32))
    res = predict_scene(scene, ThresholdWaterSegmenter(), tmp_path, tile=128, progress=False)
    assert res.n_windows == 1
    with rasterio.open(res.outputs["mask"]) as m:
        assert m.shape == (40, 70) and (m.read(1) == 1).all()


def test_a_journal_line_cut_by_a_crash_is_dropped(tmp_path):
    from sargeo.inference.journal import Journal
    from sargeo.inference.merge import Detections

    out = tmp_path / "x.gpkg"
    j = Journal(out, {"a": 1}, resume=False)
    d = Detections(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([0.1 + 0.2]), np.array([0]),
                   np.array([True]))
    j.append_detections(d, 3, {"data": 3})
    with j._jsonl.open("ab") as f:
        f.write(b'{"upto": 5, "boxes": [[1.0, 2')  # killed mid-write
    j = Journal(out, {"a": 1}, resume=True)
    parts, upto, counts = j.load_detections(rotated=False)
    assert j.resumed and upto == 3 and counts == {"data": 3} and len(parts) == 1
    assert parts[0].scores[0] == 0.1 + 0.2  # floats survive exactly
    j.append_detections(d, 6, {"data": 6})
    assert Journal(out, {"a": 1}, resume=True).load_detections(False)[1] == 6


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, sargeo.inference; sargeo.inference.plan_windows; " \
           "print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_gdal_block_cache_is_bounded_during_inference_unless_the_user_sets_it(tmp_path,
                                                                             monkeypatch):
    """GDAL's default cache (5% of RAM) fills with a large scene's blocks; the engine caps it,
    so memory does not grow with the scene."""
    import rasterio.env

    from sargeo.inference import predict_scene
    from sargeo.inference.engine import GDAL_CACHE_MB
    from sargeo.inference.predictor import ThresholdWaterSegmenter

    from .conftest import speckle, write_raster

    seen = []

    class Recording(ThresholdWaterSegmenter):
        def __call__(self, images, valid):
            seen.append(rasterio.env.getenv().get("GDAL_CACHEMAX"))
            return super().__call__(images, valid)

    scene = write_raster(tmp_path / "s.tif", speckle((1, 128, 128)))
    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    predict_scene(scene, Recording(tile_size=64), tmp_path / "a", progress=False)
    assert seen and all(v == GDAL_CACHE_MB * 2**20 for v in seen)
    seen.clear()
    monkeypatch.setenv("GDAL_CACHEMAX", "512")
    predict_scene(scene, Recording(tile_size=64), tmp_path / "b", progress=False)
    assert seen and all(v is None for v in seen)  # the user's setting stands
