"""The whole-product benchmark at a tiny size, with the CFAR baseline as the detector: the JSON
it writes, and a prescreen that finds what the exhaustive run finds."""

from __future__ import annotations

import json

import pytest

from benchmarks import perf_scene


@pytest.mark.slow
def test_perf_scene_writes_the_result_and_the_prescreen_keeps_the_detections(tmp_path):
    out = tmp_path / "perf_scene.json"
    assert perf_scene.main(["--size", "640", "--detector", "cfar", "--configs",
                            "prescreen_fp32", "--work", str(tmp_path / "work"), "--out",
                            str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"width", "height", "minutes", "recall_vs_exhaustive", "peak_rss_mb", "runs",
            "command", "full_product"} <= set(result)
    assert (result["width"], result["height"]) == (640, 497)
    runs = result["runs"]
    assert set(runs) == {"exhaustive_fp32", "prescreen_fp32"}  # the reference always runs
    ref, fast = runs["exhaustive_fp32"], runs["prescreen_fp32"]
    assert "error" not in ref and "error" not in fast
    # a scene with few ships: every exhaustive detection found again within 200 m, on fewer
    # windows
    assert ref["n_objects"] >= 3 and ref["vs_truth"]["n_truth"] <= 10
    assert fast["matched_exhaustive"] == ref["n_objects"] == fast["n_exhaustive"]
    assert fast["recall_vs_exhaustive"] == 1.0
    skipped = fast["prescreen"]["windows_skipped_prescreen"]
    assert fast["n_predicted"] == fast["n_windows"] - skipped
    assert fast["n_predicted"] < ref["n_predicted"] == ref["n_windows"]
    assert result["configuration"] in runs and result["minutes"] > 0 and result["goal_met"]
    assert result["configuration_basis"] == "the fastest keeping the recall goal"
    best = runs[result["configuration"]]
    assert result["minutes"] == round((best["seconds"] + best["load_seconds"]) / 60, 3)
    assert result["peak_rss_mb"] == runs[result["configuration"]]["peak_rss_mb"] > 0
    assert fast["full_product"]["windows"] > ref["n_windows"]


@pytest.mark.slow
def test_perf_scene_estimates_the_exhaustive_run_from_sampled_windows(tmp_path):
    out = tmp_path / "perf_scene.json"
    assert perf_scene.main(["--size", "640", "--detector", "cfar", "--configs",
                            "prescreen_fp32", "--sample-windows", "5", "--work",
                            str(tmp_path / "work"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert set(runs) == {"prescreen_fp32", "sampled_skipped_fp32"}  # no exhaustive run
    fast, sample = runs["prescreen_fp32"], runs["sampled_skipped_fp32"]
    skipped = fast["prescreen"]["windows_skipped_prescreen"]
    assert sample["n_predicted"] == min(5, skipped) == fast["sampled"]["windows_sampled"]
    assert fast["sampled"]["windows_skipped"] == skipped
    assert fast["sampled"]["misses_in_sample"] == sample["misses"] <= sample["n_objects"]
    assert fast["recall_vs_exhaustive"] == fast["sampled"]["recall_vs_exhaustive_estimated"]
    assert result["recall_basis"] == "estimated from 5 sampled skipped windows"
    assert result["goal_met"] == (fast["recall_vs_exhaustive"] >= 0.98)
    assert result["configuration"] == "prescreen_fp32"


def test_proposals_and_calibration_reach_the_speed_configurations_only(tmp_path, monkeypatch):
    specs = {}

    def record(name, spec):
        specs[name] = spec
        return {"error": "not run (test)"}

    monkeypatch.setattr(perf_scene, "run_config", record)
    monkeypatch.setattr(perf_scene, "train_centernet", lambda work: ("c.py", "c.pth"))
    out = tmp_path / "perf_scene.json"
    assert perf_scene.main(["--size", "320", "--configs", "prescreen_fp32", "prescreen_bf16",
                            "prescreen_ov_int8", "--proposals", "100", "--work",
                            str(tmp_path / "work"), "--out", str(out)]) == 0
    assert set(specs) == {"exhaustive_fp32", "prescreen_fp32", "prescreen_bf16",
                          "prescreen_ov_int8"}
    # the references run the detector as configured; int8 calibrates on the training scene
    assert "proposals" not in specs["exhaustive_fp32"] | specs["prescreen_fp32"]
    assert specs["prescreen_bf16"]["proposals"] == specs["prescreen_ov_int8"]["proposals"] == 100
    assert specs["prescreen_ov_int8"]["runtime"] == "openvino"
    assert specs["prescreen_ov_int8"]["calibration"] == str(
        (tmp_path / "work").resolve() / "demo" / "train_scene.tif")
    assert "calibration" not in specs["prescreen_bf16"]
    result = json.loads(out.read_text())
    # the speed configurations are reported under their proposals, beside the references
    assert set(result["runs"]) == {"exhaustive_fp32", "prescreen_fp32", "prescreen_bf16_p100",
                                   "prescreen_ov_int8_p100"}
    assert result["proposals"] == 100 and result["runs"]["prescreen_bf16_p100"]["proposals"] == 100
    assert specs["prescreen_bf16"]["out"].endswith("prescreen_bf16_p100")


@pytest.mark.slow
def test_reuse_takes_earlier_runs_and_scores_them_beside_new_ones(tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    base = ["--size", "640", "--detector", "cfar", "--work", str(tmp_path / "work")]
    assert perf_scene.main([*base, "--configs", "prescreen_fp32", "--out", str(first)]) == 0
    assert perf_scene.main([*base, "--configs", "prescreen_fp32", "prescreen_bf16",
                            "--reuse", str(first), "--out", str(second)]) == 0
    old, new = json.loads(first.read_text())["runs"], json.loads(second.read_text())["runs"]
    assert set(new) == {"exhaustive_fp32", "prescreen_fp32", "prescreen_bf16"}
    for name in ("exhaustive_fp32", "prescreen_fp32"):  # not run again: the same seconds
        assert new[name]["reused_from"] == str(first)
        assert new[name]["seconds"] == old[name]["seconds"]
    assert "reused_from" not in new["prescreen_bf16"]
    assert new["prescreen_bf16"]["recall_vs_exhaustive"] == 1.0
    with pytest.raises(ValueError, match="first.json: another detector or scene size"):
        perf_scene.main(["--size", "320", "--detector", "cfar", "--work",
                         str(tmp_path / "work"), "--reuse", str(first), "--out",
                         str(tmp_path / "third.json")])
