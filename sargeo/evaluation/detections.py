"""Detections against truth in metres: precision, recall, F1, close-to-shore F1, length error and
a precision-recall curve over score thresholds (xView3's rules: one-to-one matching within
200 m, shore objects within 2 km)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.evaluation.matching import match_by_distance
from sargeo.evaluation.objects import (
    EvaluationError,
    Objects,
    metric_crs_for,
    read_frame,
    to_objects,
)

MAX_DISTANCE_M = 200.0
SHORE_DISTANCE_M = 2000.0
#: thresholds on the precision-recall curve at most
CURVE_POINTS = 200


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class DetectionScores:
    """Scores of one comparison; ``None`` where a ratio has no denominator."""

    precision: float | None
    recall: float | None
    f1: float | None
    tp: int
    fp: int
    fn: int
    n_pred: int
    n_truth: int
    score_threshold: float | None
    max_distance_m: float
    median_distance_m: float | None
    f1_shore: float | None = None
    n_truth_shore: int | None = None
    length_error: float | None = None
    length_pairs: int = 0
    best_f1: float | None = None
    best_f1_threshold: float | None = None
    pr_curve: list[dict[str, float | None]] = field(default_factory=list)
    crs: str = ""
    pred: str = ""
    truth: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prf(n_pred: int, n_truth: int, tp: int) -> tuple[float | None, float | None, float | None]:
    p, r = _ratio(tp, n_pred), _ratio(tp, n_truth)
    return p, r, _f1(p, r)


def pr_curve(pred: Objects, truth: Objects, max_distance: float) -> list[dict[str, float | None]]:
    """Precision and recall keeping the predictions scored at or above each threshold."""
    scores = np.unique(pred.score)[::-1]
    if len(scores) > CURVE_POINTS:
        scores = np.unique(np.quantile(pred.score, np.linspace(0, 1, CURVE_POINTS)))[::-1]
    curve = []
    for t in scores:
        kept = pred.subset(pred.score >= t)
        tp = len(match_by_distance(kept.xy, truth.xy, max_distance)[0])
        p, r, f = _prf(len(kept), len(truth), tp)
        curve.append({"threshold": float(t), "precision": p, "recall": r, "f1": f})
    return curve


def _shore_f1(pred: Objects, truth: Objects, max_distance: float, shore_m: float
              ) -> tuple[float | None, int | None]:
    """F1 of the objects within ``shore_m`` of the shore (None when distances are unknown)."""
    if np.isnan(truth.shore_m).all() or (len(pred) and np.isnan(pred.shore_m).all()):
        return None, None
    near_t = truth.subset(np.abs(truth.shore_m) <= shore_m)
    near_p = pred.subset(np.abs(pred.shore_m) <= shore_m)
    tp = len(match_by_distance(near_p.xy, near_t.xy, max_distance)[0])
    return _prf(len(near_p), len(near_t), tp)[2], len(near_t)


def add_shore_distance(objects: Objects, land: Any) -> None:
    """Fill missing distances to shore from a :class:`sargeo.landmask.LandMask`."""
    missing = np.isnan(objects.shore_m)
    if missing.any():
        lon, lat = objects.lonlat[missing, 0], objects.lonlat[missing, 1]
        objects.shore_m[missing] = land.distance_to_shore_m(lon, lat)


def evaluate_detections(pred_path: str | Path, truth_path: str | Path, *,
                        max_distance_m: float = MAX_DISTANCE_M,
                        score_threshold: float | None = None,
                        shore_distance_m: float = SHORE_DISTANCE_M, land: Any = None,
                        pred_layer: str | None = None, truth_layer: str | None = None
                        ) -> DetectionScores:
    """Score detections (points, boxes or polygons, any CRS) against truth (likewise).

    Args:
        max_distance_m: a prediction matches a truth within this many metres (xView3: 200).
        score_threshold: keep predictions scored at or above it (default: all).
        shore_distance_m: objects this close to the shore count for ``f1_shore``.
        land: a :class:`sargeo.landmask.LandMask` to compute distances to shore the files do
            not carry (``distance_to_shore_m``); without one, ``f1_shore`` needs them in both.
    """
    pred_frame = read_frame(pred_path, pred_layer)
    truth_frame = read_frame(truth_path, truth_layer)
    for frame, path in ((pred_frame, pred_path), (truth_frame, truth_path)):
        if frame.crs is None:
            raise EvaluationError(f"{path}: no CRS; write it with its CRS (sargeo infer does) "
                                  "or use COCO JSON for pixel coordinates")
    crs = metric_crs_for([truth_frame, pred_frame])
    pred = to_objects(pred_frame, str(pred_path), crs)
    truth = to_objects(truth_frame, str(truth_path), crs)
    if land is not None:
        add_shore_distance(pred, land)
        add_shore_distance(truth, land)
    curve = pr_curve(pred, truth, max_distance_m) if len(pred) else []
    best = max((c for c in curve if c["f1"] is not None), key=lambda c: c["f1"], default=None)
    if score_threshold is not None:
        pred = pred.subset(pred.score >= score_threshold)
    pi, ti, dist = match_by_distance(pred.xy, truth.xy, max_distance_m)
    p, r, f = _prf(len(pred), len(truth), len(pi))
    lengths = [(pred.length_m[a], truth.length_m[b]) for a, b in zip(pi, ti, strict=True)
               if math.isfinite(pred.length_m[a]) and truth.length_m[b] > 0]
    length_error = (float(np.mean([abs(a - b) / b for a, b in lengths])) if lengths else None)
    f1_shore, n_shore = _shore_f1(pred, truth, max_distance_m, shore_distance_m)
    return DetectionScores(
        precision=p, recall=r, f1=f, tp=len(pi), fp=len(pred) - len(pi),
        fn=len(truth) - len(pi), n_pred=len(pred), n_truth=len(truth),
        score_threshold=score_threshold, max_distance_m=float(max_distance_m),
        median_distance_m=float(np.median(dist)) if len(dist) else None,
        f1_shore=f1_shore, n_truth_shore=n_shore, length_error=length_error,
        length_pairs=len(lengths), best_f1=best["f1"] if best else None,
        best_f1_threshold=best["threshold"] if best else None, pr_curve=curve,
        crs=crs.to_string(), pred=str(pred_path), truth=str(truth_path))
