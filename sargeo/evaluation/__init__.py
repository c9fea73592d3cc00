"""Scoring sargeo's outputs the way analysts do: objects matched by distance in metres (xView3's
rule), COCO box AP for pixel data sets, IoU per class for masks. Used by ``sargeo evaluate``,
the demo and the benchmarks alike.

Importing this package is light: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "match_by_distance": "sargeo.evaluation.matching",
    "evaluate_detections": "sargeo.evaluation.detections",
    "DetectionScores": "sargeo.evaluation.detections",
    "EvaluationError": "sargeo.evaluation.objects",
    "coco_box_scores": "sargeo.evaluation.coco",
    "mask_scores": "sargeo.evaluation.masks",
    "evaluate": "sargeo.evaluation.run",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sargeo.evaluation' has no attribute {name!r}")
