"""Score sargeo's outputs against truth.

  detections (GeoPackage/GeoJSON, any CRS) vs truth (points, boxes or polygons, any CRS):
      one-to-one matching by distance in metres (Hungarian, 200 m by default), precision,
      recall, F1, F1 of objects within 2 km of the shore, length error, precision-recall curve
  COCO JSON vs COCO JSON (pixel data sets):  box AP (pycocotools), precision/recall/F1 at IoU 0.5
  mask raster vs label raster (any grid/CRS): IoU per class, foreground precision/recall/F1

  sargeo evaluate results/scene.gpkg truth.gpkg --out eval.json   # + eval.md, eval.png
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pred", help="predictions: GeoPackage/GeoJSON, COCO results JSON or raster")
    p.add_argument("truth", help="truth: vector file, COCO dataset JSON or label raster")
    p.add_argument("--out", help="result JSON (a .md summary and, for detections, a .png "
                   "precision-recall curve are written beside it)")
    p.add_argument("--max-distance-m", type=float, default=200.0,
                   help="a detection matches a true object within this distance (default 200)")
    p.add_argument("--score-threshold", type=float, default=None,
                   help="keep detections scored at or above it (default: all)")
    p.add_argument("--shore-distance-m", type=float, default=2000.0,
                   help="objects this close to the shore count for f1_shore (default 2000)")
    p.add_argument("--land-mask", action="store_true",
                   help="compute distances to shore the files do not carry from the land mask "
                   "(sargeo.landmask; loads in 10-20 s)")
    p.add_argument("--ignore-value", type=int, default=-1,
                   help="label raster value to ignore (default -1, as Sen1Floods11)")
    p.add_argument("--background", type=int, default=0, help="background class id (default 0)")
    p.add_argument("--pred-layer", help="layer of a multi-layer prediction file")
    p.add_argument("--truth-layer", help="layer of a multi-layer truth file (e.g. ships)")


def run(args: argparse.Namespace) -> int:
    from sargeo.evaluation.objects import EvaluationError
    from sargeo.evaluation.run import evaluate, markdown

    land = None
    if args.land_mask:
        from sargeo.landmask import LandMask

        land = LandMask.load()
    try:
        result = evaluate(args.pred, args.truth, args.out, max_distance_m=args.max_distance_m,
                          score_threshold=args.score_threshold,
                          shore_distance_m=args.shore_distance_m, land=land,
                          ignore_value=args.ignore_value, background=args.background,
                          pred_layer=args.pred_layer, truth_layer=args.truth_layer)
    except EvaluationError as err:
        raise SystemExit(f"sargeo evaluate: {err}") from None
    print(markdown(result), end="")
    if args.out is None:
        headline = {k: result.get(k) for k in ("precision", "recall", "f1")}
        print(json.dumps(headline))
    return 0
