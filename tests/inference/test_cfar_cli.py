"""``sargeo infer``'s options for the baselines and the prescreen."""

from __future__ import annotations

import argparse

import pytest

from sargeo.inference.cfar import SNAP_PFA, CFARShipDetector
from sargeo.inference.cli import add_infer_arguments, build_predictor
from sargeo.inference.predictor import ThresholdWaterSegmenter


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_infer_arguments(parser)
    return parser.parse_args(["s.tif", "--out", "o", *extra])


def test_cfar_options_reach_the_detector():
    det = build_predictor(_args("--baseline", "cfar", "--cfar-target-m", "30", "--cfar-guard-m",
                                "400", "--cfar-background-m", "1000", "--cfar-pfa", "1e-5",
                                "--cfar-rule", "gaussian", "--cfar-min-size-m", "15",
                                "--cfar-max-size-m", "450", "--cfar-pixel-m", "3"))
    assert isinstance(det, CFARShipDetector)
    assert (det.target_m, det.guard_m, det.background_m) == (30.0, 400.0, 1000.0)
    assert (det.pfa, det.rule, det.min_size_m, det.max_size_m) == (1e-5, "gaussian", 15.0,
                                                                    450.0)
    assert det.pixel == (3.0, 3.0)
    default = build_predictor(_args("--baseline", "cfar"))
    assert (default.target_m, default.guard_m, default.background_m, default.pfa,
            default.rule, default.min_size_m, default.max_size_m, default.pixel_size_m) == (
        50.0, 500.0, 800.0, SNAP_PFA, "gamma", 30.0, 600.0, None)


def test_water_threshold_option():
    seg = build_predictor(_args("--baseline", "water", "--water-threshold-db", "-18.5"))
    assert isinstance(seg, ThresholdWaterSegmenter) and seg.threshold_db == -18.5
    assert build_predictor(_args("--baseline", "water")).threshold_db == -16.0


def test_bad_cfar_options_are_refused_naming_them():
    with pytest.raises(ValueError, match="CFAR windows need 0 <= target < guard < background "
                                         "metres, got 50.0, 900.0, 800.0"):
        build_predictor(_args("--baseline", "cfar", "--cfar-guard-m", "900"))


def test_prescreen_is_on_for_network_detectors_only():
    from sargeo.inference.baseline_args import prescreen_for

    class Net:
        task = "detection"

    class Seg:
        task = "segmentation"

    assert prescreen_for(_args("--config", "c.py", "--checkpoint", "c.pth"), Net())
    assert not prescreen_for(_args("--config", "c.py", "--checkpoint", "c.pth",
                                   "--no-prescreen"), Net())
    assert not prescreen_for(_args("--config", "c.py", "--checkpoint", "c.pth"), Seg())
    assert not prescreen_for(_args("--baseline", "cfar"), Net())
    assert not prescreen_for(_args("--config", "c.py", "--checkpoint", "c.pth",
                                   "--pixel-coords"), Net())
