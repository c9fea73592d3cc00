"""Streaming tiled inference over whole SAR scenes (``sargeo infer``).

Model-agnostic: windows are planned over a scene (:func:`plan_windows`), read on a background
thread, run through any :class:`Predictor` (a trained OpenMMLab model via
:mod:`sargeo.inference.mm_predictor`, or the CFAR / threshold baselines of
:mod:`sargeo.inference.predictor`), merged (NMS for boxes, a seamless blended mosaic for
segmentation) and written as georeferenced GeoPackage / GeoJSON / Cloud-Optimized GeoTIFF files,
atomically and resumably. See :mod:`sargeo.inference.engine`.

Importing this package is light: the engine (and torch) load on first use of its names
(:mod:`sargeo._lazy`).
"""

from __future__ import annotations

from sargeo._lazy import lazy_exports
from sargeo.inference.windows import plan_windows

_lazy_names, __getattr__ = lazy_exports(__name__, {
    "engine": ("predict_scene", "predict_scenes", "InferenceResult", "NoDataWarning"),
    "predictor": ("Predictor", "CFARShipDetector", "ThresholdWaterSegmenter"),
    "reader": ("SceneError",),
    "writers": ("OutputError",),
})
__all__ = ["plan_windows", *_lazy_names]
