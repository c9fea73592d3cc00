"""Scoring sargeo's outputs: detections in metres, COCO box AP, IoU per class of masks.

Objects are matched by distance in metres (xView3's rule), pixel data sets get COCO box AP,
masks IoU per class. Used by ``sargeo evaluate``, the demo and the benchmarks alike.

Importing this package is light: each name loads its module on first use (:mod:`sargeo._lazy`).
"""

from __future__ import annotations

from sargeo._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "matching": ("match_by_distance",),
    "detections": ("evaluate_detections", "DetectionScores"),
    "objects": ("EvaluationError",),
    "coco": ("coco_box_scores",),
    "masks": ("mask_scores",),
    "run": ("evaluate",),
})
