"""The exhaustive-run estimate of perf_scene: sampling the skipped windows, the interval, the
recall, and the engine steered to a sample of its windows."""

from __future__ import annotations

import pytest
from scipy.stats import poisson

from benchmarks import scene_sampling as ss


def _plan(n: int, kept: list[int]) -> dict[str, list]:
    windows = [(i * 100, 0, 128, 128) for i in range(n)]
    return {"all": windows, "kept": [windows[i] for i in kept]}


def test_draw_skipped_samples_only_skipped_windows_without_repeats_and_is_seeded():
    plan = _plan(50, kept=[0, 3, 7])
    got = ss.draw_skipped(plan, 20, seed=1)
    assert len(got) == len(set(got)) == 20
    assert not set(got) & set(plan["kept"])
    assert got == ss.draw_skipped(plan, 20, seed=1) != ss.draw_skipped(plan, 20, seed=2)
    # asking for more than were skipped gives all of them, and none when nothing was skipped
    assert sorted(ss.draw_skipped(plan, 500)) == sorted(set(plan["all"]) - set(plan["kept"]))
    assert ss.draw_skipped(_plan(4, kept=[0, 1, 2, 3]), 5) == []


def test_poisson_interval_covers_the_mean_at_its_level():
    assert ss.poisson_interval(0) == (0.0, pytest.approx(3.6889, abs=1e-4))
    low, high = ss.poisson_interval(10)
    assert (low, high) == (pytest.approx(4.7954, abs=1e-4), pytest.approx(18.3904, abs=1e-4))
    # exact (Garwood): each tail holds 2.5 % at its bound
    assert poisson.sf(9, low) == pytest.approx(0.025, abs=1e-6)
    assert poisson.cdf(10, high) == pytest.approx(0.025, abs=1e-6)


def test_estimate_recall_scales_the_sampled_misses_to_every_skipped_window():
    got = ss.estimate_recall(matched=95, n_prescreen=100, misses_in_sample=2, n_sampled=100,
                             n_skipped=1000)
    assert got["missed_estimated"] == 20.0
    assert got["exhaustive_detections_estimated"] == 120.0
    assert got["recall_vs_exhaustive_estimated"] == pytest.approx(95 / 120)
    worst, best = got["recall_95ci"]
    assert worst < 95 / 120 < best <= 95 / 100
    nothing = ss.estimate_recall(100, 100, 0, 50, 900)
    assert nothing["recall_vs_exhaustive_estimated"] == 1.0
    assert nothing["recall_95ci"][0] == pytest.approx(100 / (100 + 3.6889 * 18), abs=1e-4)


@pytest.mark.slow
def test_the_engine_runs_only_the_sampled_windows_and_records_the_kept_ones(tmp_path):
    from sargeo.datasets.simulate import simulate_scene
    from sargeo.inference import predict_scene
    from sargeo.inference.predictor import CFARShipDetector

    tif = tmp_path / "scene.tif"
    simulate_scene(tif, tmp_path / "truth.gpkg", width=512, height=384, seed=3, n_ships=4,
                   progress=False)
    det = CFARShipDetector(tile_size=128, overlap=16)
    record = tmp_path / "windows.json"
    with ss.recorded_windows(record):
        res = predict_scene(tif, det, tmp_path / "pre", prescreen=True, progress=False)
    plan = ss.load_windows(record)
    assert len(plan["all"]) == res.n_windows
    assert len(plan["kept"]) == res.n_predicted < res.n_windows
    sample = ss.draw_skipped(plan, 3, seed=0)
    with ss.restricted_windows(sample):
        got = predict_scene(tif, det, tmp_path / "sampled", progress=False)
    assert got.n_predicted == 3 and got.prescreen == {"windows_sampled": 3}
    # outside the blocks the engine is itself again
    again = predict_scene(tif, det, tmp_path / "all", progress=False)
    assert again.n_predicted == again.n_windows
    with pytest.raises(ValueError, match="1 sampled windows are not in the plan"):
        with ss.restricted_windows([*sample, (99999, 0, 128, 128)]):
            predict_scene(tif, det, tmp_path / "bad", progress=False)


@pytest.mark.slow
def test_a_sampled_window_finds_only_what_the_exhaustive_run_keeps(tmp_path):
    """Cut views at a sampled window's edge, seen whole by a window that did not run, are
    dropped as in the exhaustive run (the engine judges edges against the whole plan)."""
    import geopandas as gpd
    import numpy as np

    from sargeo.datasets.simulate import simulate_scene
    from sargeo.inference import predict_scene
    from sargeo.inference.predictor import CFARShipDetector

    tif = tmp_path / "scene.tif"
    simulate_scene(tif, None, width=512, height=512, seed=5, n_ships=40, land_fraction=0.0,
                   progress=False)
    det = CFARShipDetector(tile_size=128, overlap=32)
    record = tmp_path / "windows.json"
    with ss.recorded_windows(record):
        full = predict_scene(tif, det, tmp_path / "all", prescreen=False, progress=False)
    boxes = gpd.read_file(full.outputs["detections"])[["px_x1", "px_y1", "px_x2", "px_y2"]]
    plan = ss.load_windows(record)
    plan["kept"] = []  # every window may be drawn
    for i, window in enumerate(ss.draw_skipped(plan, 6, seed=0)):
        with ss.restricted_windows([window]):
            one = predict_scene(tif, det, tmp_path / f"w{i}", progress=False)
        got = gpd.read_file(one.outputs["detections"])[["px_x1", "px_y1", "px_x2", "px_y2"]]
        for box in got.to_numpy():
            assert np.abs(boxes.to_numpy() - box).max(axis=1).min() < 1e-6, (window, box)
