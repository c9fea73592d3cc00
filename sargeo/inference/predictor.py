"""The predictor protocol, and two real baselines that need no trained network.

The engine is model-agnostic: it plans windows, reads, batches, merges and writes; a
:class:`Predictor` turns a batch of raw tiles into per-tile results. Anything with these
attributes and this call works (a trained OpenMMLab model is wrapped by
:func:`sargeo.inference.mm_predictor.load_predictor`):

- ``task``: ``"detection"`` (horizontal boxes), ``"rotated_detection"`` (oriented boxes) or
  ``"segmentation"``;
- ``classes``: class names, indexed by the labels / probability channels;
- ``in_channels``: number of bands it expects (``None``: any, it picks what it needs);
- ``tile_size``: the tile it was made for (the engine's default window size);
- optional ``overlap``: the default overlap between windows, in pixels;
- optional ``input_units``: the :class:`~sargeo.units.Units` it wants its images in (e.g.
  ``sigma0-linear:VV,VH``; quantity None: any). The engine converts each scene to them or
  refuses it, naming both sides (:mod:`sargeo.inference.inputs`); without it the predictor gets
  the scene's values as they are;
- optional ``prepare(scene: SceneInfo) -> None``: called once per scene before its first batch;
- optional ``fingerprint``: a string that changes when the model does (e.g. checkpoint path,
  size and modification time); ``--resume`` starts a scene over when it differs. Simple public
  attributes (numbers, strings) and ``config``/``checkpoint`` attributes count too;
- ``__call__(images, valid) -> list[dict]``: ``images`` float32 ``(B, C, H, W)`` scene values in
  ``input_units`` on the CPU (0 where invalid), ``valid`` bool ``(B, H, W)`` (False at nodata,
  NaN and padding). Normalisation (mean/std, device placement) belongs to the predictor. One
  dict per image, tensors or arrays:

  - detection: ``boxes`` ``(N, 4)`` ``x1 y1 x2 y2`` in tile pixels (pixel corners at integers),
    ``scores`` ``(N,)``, ``labels`` ``(N,)`` int;
  - rotated detection: ``rboxes`` ``(N, 5)`` ``cx cy w h t`` le90 in tile pixels (see
    :mod:`sargeo.geo`), ``scores``, ``labels``;
  - segmentation: ``probs`` ``(K, H, W)`` class probabilities (or ``logits``, soft-maxed by the
    engine).

The baselines are classic SAR methods, useful on their own and to exercise the engine end to end:
:class:`CFARShipDetector` (ESA SNAP's adaptive-threshold CFAR with windows in metres, a
false-alarm probability and object discrimination by size: :mod:`sargeo.inference.cfar`) and
:class:`ThresholdWaterSegmenter` (smoothed backscatter below a threshold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch

TASKS = ("detection", "rotated_detection", "segmentation")


@runtime_checkable
class Predictor(Protocol):
    """What the engine needs from a model; see the module docstring."""

    task: str
    classes: tuple[str, ...]
    in_channels: int | None
    tile_size: int

    def __call__(self, images: torch.Tensor, valid: torch.Tensor) -> list[dict[str, Any]]: ...


def check_predictor(predictor: Any) -> None:
    """Raise ``TypeError``/``ValueError`` naming what a predictor lacks."""
    missing = [a for a in ("task", "classes", "in_channels", "tile_size")
               if not hasattr(predictor, a)]
    if missing or not callable(predictor):
        raise TypeError(f"{type(predictor).__name__} is not a Predictor: missing "
                        f"{missing or ['__call__']} (see sargeo.inference.predictor)")
    if predictor.task not in TASKS:
        raise ValueError(f"predictor task {predictor.task!r} is not one of {TASKS}")
    if not predictor.classes:
        raise ValueError("predictor has no classes")
    if predictor.task == "segmentation" and len(predictor.classes) > 255:
        raise ValueError(f"{len(predictor.classes)} classes do not fit a uint8 mask "
                         "(255 is nodata)")
    if int(predictor.tile_size) < 1:
        raise ValueError(f"predictor tile_size must be positive, got {predictor.tile_size}")


# The baselines run on the CPU in numpy/scipy; their plumbing is in sargeo.inference.baseline,
# the CFAR ship detector in sargeo.inference.cfar (imported here, where it has always been).
from sargeo.inference.baseline import IntegralImage, _Baseline, box_sum  # noqa: E402
from sargeo.inference.cfar import CFARShipDetector  # noqa: E402

__all__ = ["TASKS", "CFARShipDetector", "IntegralImage", "Predictor", "ThresholdWaterSegmenter",
           "box_sum", "check_predictor"]


class ThresholdWaterSegmenter(_Baseline):
    """Open water as low backscatter: the co-polarised power averaged over a
    ``(2 smooth + 1)^2`` box (valid pixels only, which suppresses speckle), in dB, below
    ``threshold_db``. Probabilities for ``("land", "water")`` are a logistic of the margin,
    ``sigmoid((threshold_db - smoothed_db) / softness_db)``.

    The default -16 dB lies between calm-to-moderate sea (about -20 dB VV in Sentinel-1 IW) and
    most land; wind-roughened sea and wet snow break it, as they break every threshold method.
    It assumes calibrated backscatter: on DN (``--units dn``: dB of DN^2) choose
    ``threshold_db`` for the product's calibration.
    """

    classes = ("land", "water")
    task = "segmentation"

    def __init__(self, *, threshold_db: float = -16.0, smooth: int = 3, softness_db: float = 1.0,
                 channel: int = 0, tile_size: int = 512,
                 overlap: int = 64, in_channels: int | None = None) -> None:
        super().__init__(channel=channel, tile_size=tile_size, overlap=overlap,
                         in_channels=in_channels)
        if softness_db <= 0 or smooth < 0:
            raise ValueError(f"need softness_db > 0 and smooth >= 0, got {softness_db}, {smooth}")
        self.threshold_db, self.smooth, self.softness_db = threshold_db, int(smooth), softness_db

    def __call__(self, images: Any, valid: Any) -> list[dict[str, Any]]:
        x, ok = self._power(images, valid)
        mean = box_sum(x, self.smooth) / np.maximum(box_sum(ok, self.smooth), 1.0)
        db = 10 * np.log10(np.maximum(mean, 1e-12))
        water = (1 / (1 + np.exp((db - self.threshold_db) / self.softness_db)))
        water = water.astype(np.float32)
        return [{"probs": np.stack([1 - w, w])} for w in water]
