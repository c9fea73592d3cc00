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
:class:`CFARShipDetector` (cell-averaging CFAR with censoring) and
:class:`ThresholdWaterSegmenter` (smoothed backscatter below a threshold).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from sargeo.units import Units

if TYPE_CHECKING:
    import torch

    from sargeo.inference.reader import SceneInfo

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


# -- helpers shared by the baselines -----------------------------------------------------------
# The baselines run on the CPU in numpy/scipy: cheap per-pixel arithmetic that gains nothing
# from an accelerator and suffers from torch's intra-op threads on a busy machine.
class IntegralImage:
    """Summed-area table of ``(B, H, W)`` values (float64, zero outside), for sums over any
    rectangle of offsets around every pixel at a cost independent of its size."""

    def __init__(self, x: np.ndarray, reach: int) -> None:
        self.h, self.w, self.reach = x.shape[1], x.shape[2], int(reach)
        r = self.reach
        p = np.pad(np.asarray(x, np.float64), ((0, 0), (r + 1, r), (r + 1, r)))
        self.s = p.cumsum(1).cumsum(2)

    def rect(self, dy0: int, dy1: int, dx0: int, dx1: int) -> np.ndarray:
        """Sum over rows ``i + dy0 .. i + dy1`` and columns ``j + dx0 .. j + dx1`` (inclusive,
        offsets within ``reach``) for every pixel ``(i, j)``; 0 for an empty rectangle."""
        if dy1 < dy0 or dx1 < dx0:
            return np.zeros((self.s.shape[0], self.h, self.w))
        r, h, w, s = self.reach, self.h, self.w, self.s
        a0, a1, b0, b1 = r + dy0, r + dy1 + 1, r + dx0, r + dx1 + 1
        return (s[:, a1:a1 + h, b1:b1 + w] - s[:, a0:a0 + h, b1:b1 + w]
                - s[:, a1:a1 + h, b0:b0 + w] + s[:, a0:a0 + h, b0:b0 + w])


def box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the ``(2 radius + 1)^2`` box around each pixel of ``(B, H, W)``, zero
    outside."""
    return IntegralImage(x, radius).rect(-radius, radius, -radius, radius)


def _area(rect: tuple[int, int, int, int]) -> int:
    dy0, dy1, dx0, dx1 = rect
    return max(0, dy1 - dy0 + 1) * max(0, dx1 - dx0 + 1)


def _numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


class _Baseline:
    """Shared plumbing: linear power of any quantity in (the engine converts dB and amplitude
    scenes), channel choice."""

    #: linear power; sigma0, gamma0 or DN alike (CFAR compares a pixel with its surroundings)
    input_units = Units(None, "linear")

    def __init__(self, *, channel: int, tile_size: int, overlap: int,
                 in_channels: int | None) -> None:
        if in_channels is not None and not 0 <= channel < in_channels:
            raise ValueError(f"channel {channel} does not exist with in_channels={in_channels}")
        self.channel = int(channel)
        self.tile_size, self.overlap = int(tile_size), int(overlap)
        self.in_channels = in_channels

    def prepare(self, scene: SceneInfo) -> None:
        if self.channel >= scene.count:
            raise ValueError(f"{scene.path}: channel {self.channel} requested but only "
                             f"{scene.count} band(s) are read")

    def _power(self, images: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
        power = _numpy(images)[:, self.channel].astype(np.float64)
        ok = _numpy(valid).astype(bool)
        return np.where(ok & np.isfinite(power), power, 0.0), ok


class CFARShipDetector(_Baseline):
    """Ships as bright outliers over sea clutter: cell-averaging CFAR on the co-polarised band.

    A pixel is a target when its power exceeds ``k`` times the clutter mean around it, computed
    with box filters (integral images) over valid pixels only, in a background ring: a box of
    half-size ``background`` minus a guard box of half-size ``guard``, so that the target does
    not raise its own threshold. ``mode="go"`` (greatest-of, the default) takes the largest of
    the means of the four half rings (above, below, left, right), which keeps the threshold up
    at clutter edges (coasts, sea next to dark lakes) where the whole-ring mean (``"ca"``) lets
    the bright side through. A second pass recomputes the clutter with the first pass's targets
    (dilated) censored, so that a long ship or a neighbour does not mask a ship's ends.

    Targets closer than ``2 * group`` pixels form one object (speckle breaks bright land into
    fragments); objects of ``min_pixels`` to ``max_pixels`` target pixels become detections
    (bigger ones are land or infrastructure), boxed around their target pixels (oriented: the
    minimum rotated rectangle of the pixels' corners) and scored by their contrast ``c`` (mean
    power over mean clutter, in dB): ``c / (c + 10 log10 k)``, >= 0.5 for every object.

    ``k=20`` (13 dB) is far above 4-look speckle (false-alarm rate about 1e-30 per pixel) and
    below the contrast of ships in Sentinel-1 IW VV over open sea; lower it for weak targets.
    Like every CFAR without a land mask, it also reports bright islands and coast features.
    """

    classes = ("ship",)

    def __init__(self, *, rotated: bool = False, k: float = 20.0, guard: int = 15,
                 background: int = 30, min_pixels: int = 2, max_pixels: int = 5000,
                 group: int = 1, censor: bool = True, mode: str = "go", channel: int = 0,
                 tile_size: int = 512, overlap: int = 64,
                 in_channels: int | None = None) -> None:
        super().__init__(channel=channel, tile_size=tile_size, overlap=overlap,
                         in_channels=in_channels)
        if k <= 1:
            raise ValueError(f"CFAR factor k must be > 1, got {k}")
        if not 0 <= guard < background:
            raise ValueError(f"need 0 <= guard < background, got {guard}, {background}")
        if mode not in ("ca", "go"):
            raise ValueError(f"CFAR mode must be 'ca' or 'go', got {mode!r}")
        self.task = "rotated_detection" if rotated else "detection"
        self.mode, self.group = mode, int(group)
        self.k, self.guard, self.background = float(k), int(guard), int(background)
        self.min_pixels, self.max_pixels, self.censor = int(min_pixels), int(max_pixels), censor

    def _clutter(self, x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clutter mean around each pixel, and whether enough valid pixels support it."""
        v = ok.astype(np.float64)
        b, g = self.background, self.guard
        sums, counts = IntegralImage(x * v, b), IntegralImage(v, b)
        if self.mode == "ca":  # the whole ring
            parts = [((-b, b, -b, b), (-g, g, -g, g))]
        else:  # greatest of the four half rings (above, below, left, right)
            parts = [((-b, -1, -b, b), (-g, -1, -g, g)), ((1, b, -b, b), (1, g, -g, g)),
                     ((-b, b, -b, -1), (-g, g, -g, -1)), ((-b, b, 1, b), (-g, g, 1, g))]
        clutter = np.zeros_like(x)
        enough = np.zeros(x.shape, bool)
        for outer, inner in parts:
            s = sums.rect(*outer) - sums.rect(*inner)
            n = counts.rect(*outer) - counts.rect(*inner)
            area = _area(outer) - _area(inner)
            ok_part = n >= 0.1 * area
            clutter = np.where(ok_part, np.maximum(clutter, s / np.maximum(n, 1.0)), clutter)
            enough |= ok_part
        return clutter, enough

    def detect_mask(self, images: Any, valid: Any) -> tuple[np.ndarray, ...]:
        """Target mask ``(B, H, W)``, power and clutter mean (float64)."""
        from scipy import ndimage

        x, ok = self._power(images, valid)
        clutter, enough = self._clutter(x, ok)
        det = (x > self.k * clutter) & ok & enough
        if self.censor and det.any():
            grown = ndimage.binary_dilation(det, structure=np.ones((1, 5, 5), bool))
            clutter, enough = self._clutter(x, ok & ~grown)
            det = (x > self.k * clutter) & ok & enough
        return det, x, clutter

    def __call__(self, images: Any, valid: Any) -> list[dict[str, Any]]:
        from scipy import ndimage

        from sargeo.geo import corners_to_rbox

        det, x, clutter = self.detect_mask(images, valid)
        k_db = 10 * math.log10(self.k)
        out = []
        for i in range(det.shape[0]):
            grouped = det[i]
            if self.group > 0:  # targets up to 2 * group px apart form one object
                size = 2 * self.group + 1
                grouped = ndimage.binary_dilation(det[i], np.ones((size, size), bool))
            labels, _ = ndimage.label(grouped, structure=np.ones((3, 3), bool))
            labels[~det[i]] = 0  # an object's pixels are its targets
            boxes, rboxes, scores = [], [], []
            for j, sl in enumerate(ndimage.find_objects(labels), start=1):
                if sl is None:
                    continue
                comp = labels[sl] == j
                npx = int(comp.sum())
                if not self.min_pixels <= npx <= self.max_pixels:
                    continue
                power = x[i][sl][comp].mean()
                contrast = 10 * math.log10(power / max(clutter[i][sl][comp].mean(), 1e-30))
                scores.append(contrast / (contrast + k_db))
                r0, c0 = sl[0].start, sl[1].start
                boxes.append([c0, r0, sl[1].stop, sl[0].stop])
                if self.task == "rotated_detection":
                    rr, cc = np.nonzero(comp)
                    pts = np.stack([cc + c0, rr + r0], -1).astype(np.float64)
                    pts = (pts[:, None, :] + np.array([[0, 0], [1, 0], [1, 1], [0, 1]]))
                    rboxes.append(corners_to_rbox(pts.reshape(1, -1, 2))[0])
            res: dict[str, Any] = {"scores": np.asarray(scores, np.float64),
                                   "labels": np.zeros(len(scores), np.int64)}
            if self.task == "rotated_detection":
                res["rboxes"] = np.asarray(rboxes, np.float64).reshape(-1, 5)
            else:
                res["boxes"] = np.asarray(boxes, np.float64).reshape(-1, 4)
            out.append(res)
        return out


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
