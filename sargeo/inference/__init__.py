"""Streaming tiled inference over whole SAR scenes (``sargeo infer``).

Model-agnostic: windows are planned over a scene (:func:`plan_windows`), read on a background
thread, run through any :class:`Predictor` (a trained OpenMMLab model via
:mod:`sargeo.inference.mm_predictor`, or the CFAR / threshold baselines of
:mod:`sargeo.inference.predictor`), merged (NMS for boxes, a seamless blended mosaic for
segmentation) and written as georeferenced GeoPackage / GeoJSON / Cloud-Optimized GeoTIFF files,
atomically and resumably. See :mod:`sargeo.inference.engine`.

Importing this package is light: the engine (and torch) load on first use of its names.
"""

from __future__ import annotations

import importlib
from typing import Any

from sargeo.inference.windows import plan_windows

_LAZY = {
    "predict_scene": "sargeo.inference.engine",
    "predict_scenes": "sargeo.inference.engine",
    "InferenceResult": "sargeo.inference.engine",
    "NoDataWarning": "sargeo.inference.engine",
    "Predictor": "sargeo.inference.predictor",
    "CFARShipDetector": "sargeo.inference.predictor",
    "ThresholdWaterSegmenter": "sargeo.inference.predictor",
    "SceneError": "sargeo.inference.reader",
    "OutputError": "sargeo.inference.writers",
}

__all__ = ["plan_windows", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sargeo.inference' has no attribute {name!r}")
