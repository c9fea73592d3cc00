"""Command-line options of ``sargeo infer`` for the baselines (CFAR, water threshold) and the
prescreen cascade, and what they build. Declared here so that :mod:`sargeo.inference.cli` only
calls them."""

from __future__ import annotations

import argparse
from typing import Any

from sargeo.inference.cfar import RULES, SNAP_PFA


def add_baseline_arguments(group: Any) -> None:
    """Declare the CFAR, water and prescreen options on ``group`` (a parser or group)."""
    group.add_argument("--cfar-target-m", type=float, default=50.0, metavar="M",
                       help="--baseline cfar: target window side in metres (SNAP: 50)")
    group.add_argument("--cfar-guard-m", type=float, default=500.0, metavar="M",
                       help="--baseline cfar: guard window side in metres (SNAP: 500)")
    group.add_argument("--cfar-background-m", type=float, default=800.0, metavar="M",
                       help="--baseline cfar: background window side in metres (SNAP: 800)")
    group.add_argument("--cfar-pfa", type=float, default=SNAP_PFA, metavar="P",
                       help="--baseline cfar: false-alarm probability per pixel (SNAP: 10^-6.5 "
                       "= 3.2e-7)")
    group.add_argument("--cfar-rule", choices=RULES, default="gamma",
                       help="--baseline cfar: threshold from Gamma clutter with the ENL measured "
                       "around each pixel (default; holds the false-alarm rate on speckle) or "
                       "SNAP's Gaussian mean + t std (flags far more on speckle)")
    group.add_argument("--cfar-min-size-m", type=float, default=30.0, metavar="M",
                       help="--baseline cfar: drop objects whose box diagonal is shorter (30)")
    group.add_argument("--cfar-max-size-m", type=float, default=600.0, metavar="M",
                       help="--baseline cfar: drop objects whose box diagonal is longer (600)")
    group.add_argument("--cfar-pixel-m", type=float, metavar="M",
                       help="--baseline cfar: pixel size in metres (default: the scene's, from "
                       "its CRS or the product; needed with --pixel-coords, else 10)")
    group.add_argument("--water-threshold-db", type=float, default=-16.0, metavar="DB",
                       help="--baseline water: smoothed backscatter below this is water "
                       "(default -16 dB)")
    group.add_argument("--no-prescreen", action="store_true",
                       help="--config detectors: run the network on every window (default: a "
                       "CFAR pass over the scene sends it only the windows holding a "
                       "candidate; segmentation and the baselines always run every window)")


def cfar_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``CFARShipDetector`` keyword arguments from the options."""
    return {"target_m": args.cfar_target_m, "guard_m": args.cfar_guard_m,
            "background_m": args.cfar_background_m, "pfa": args.cfar_pfa,
            "rule": args.cfar_rule, "min_size_m": args.cfar_min_size_m,
            "max_size_m": args.cfar_max_size_m, "pixel_size_m": args.cfar_pixel_m}


def water_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``ThresholdWaterSegmenter`` keyword arguments from the options."""
    return {"threshold_db": args.water_threshold_db}


def prescreen_for(args: argparse.Namespace, predictor: Any) -> bool:
    """Whether ``sargeo infer`` prescreens: network detectors on georeferenced scenes or
    products, unless ``--no-prescreen``."""
    return (not args.no_prescreen and not args.baseline and predictor.task != "segmentation"
            and not getattr(args, "pixel_coords", False))
