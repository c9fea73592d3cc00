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
- optional ``prepare(scene: SceneInfo) -> None``: called once per scene before its first batch
  (e.g. to learn whether the scene holds linear power, decibels or integer amplitude);
- ``__call__(images, valid) -> list[dict]``: ``images`` float32 ``(B, C, H, W)`` raw scene values
  on the CPU (0 where invalid), ``valid`` bool ``(B, H, W)`` (False at nodata, NaN and padding).
  Normalisation (dB conversion, mean/std, device placement) belongs to the predictor. One dict per
  image, tensors or arrays:

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
import torch

if TYPE_CHECKING:
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
def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over the ``(2 radius + 1)^2`` box around each pixel of ``(B, H, W)``, zero outside,
    via an integral image (cost independent of the radius)."""
    b, h, w = x.shape
    p = torch.nn.functional.pad(x.to(torch.float64), (radius + 1, radius, radius + 1, radius))
    s = p.cumsum(1).cumsum(2)
    k = 2 * radius + 1
    return s[:, k:k + h, k:k + w] - s[:, :h, k:k + w] - s[:, k:k + h, :w] + s[:, :h, :w]


def to_power(values: torch.Tensor, units: str) -> torch.Tensor:
    """Linear power from ``linear`` power, ``db`` or integer ``amplitude``."""
    if units == "db":
        return torch.pow(10.0, values / 10.0)
    if units == "amplitude":
        return values * values
    if units == "linear":
        return values
    raise ValueError(f"unknown units {units!r}; use linear, db or amplitude")


class _Baseline:
    """Shared plumbing: units (``auto`` asks the scene), channel choice, device."""

    def __init__(self, *, units: str, channel: int, tile_size: int, overlap: int,
                 in_channels: int | None, device: str | torch.device) -> None:
        if units not in ("auto", "linear", "db", "amplitude"):
            raise ValueError(f"units must be auto, linear, db or amplitude, got {units!r}")
        if in_channels is not None and not 0 <= channel < in_channels:
            raise ValueError(f"channel {channel} does not exist with in_channels={in_channels}")
        self.units, self.channel = units, int(channel)
        self.tile_size, self.overlap = int(tile_size), int(overlap)
        self.in_channels = in_channels
        self.device = torch.device(device)
        self._scene_units: str | None = None

    def prepare(self, scene: SceneInfo) -> None:
        if self.channel >= scene.count:
            raise ValueError(f"{scene.path}: channel {self.channel} requested but only "
                             f"{scene.count} band(s) are read")
        self._scene_units = scene.units

    def _power(self, images: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = images[:, self.channel].to(self.device, torch.float64)
        ok = valid.to(self.device)
        units = self.units if self.units != "auto" else self._scene_units
        if units is None:  # no prepare(): decide from the batch
            units = "db" if bool((x[ok] < 0).any()) else "linear"
        return torch.where(ok, to_power(x, units), 0.0), ok


class CFARShipDetector(_Baseline):
    """Ships as bright outliers over sea clutter: cell-averaging CFAR on the co-polarised band.

    A pixel is a target when its power exceeds ``k`` times the mean power of a background ring
    around it (a box of half-size ``background`` minus a guard box of half-size ``guard``, so
    the target itself does not raise its own threshold), computed with box filters over valid
    pixels only. A second pass recomputes the clutter with the first pass's targets (dilated)
    censored, so that a long ship or a neighbouring one does not mask its ends. Targets are
    grouped by 8-connectivity; groups of ``min_pixels`` to ``max_pixels`` pixels become
    detections (larger ones are bright land or infrastructure, not ships), scored by their
    contrast: ``c / (c + 10 log10 k)`` with ``c`` the group's mean power over its clutter in dB
    (>= 0.5 for every group that passed the threshold).

    ``k=20`` (13 dB) is far above 4-look speckle (false-alarm rate about 1e-30 per pixel) and
    below the contrast of ships in Sentinel-1 IW VV over open sea; lower it for weak targets.
    """

    classes = ("ship",)

    def __init__(self, *, rotated: bool = False, k: float = 20.0, guard: int = 15,
                 background: int = 30, min_pixels: int = 2, max_pixels: int = 5000,
                 censor: bool = True, channel: int = 0, units: str = "auto",
                 tile_size: int = 512, overlap: int = 64, in_channels: int | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(units=units, channel=channel, tile_size=tile_size, overlap=overlap,
                         in_channels=in_channels, device=device)
        if k <= 1:
            raise ValueError(f"CFAR factor k must be > 1, got {k}")
        if not 0 <= guard < background:
            raise ValueError(f"need 0 <= guard < background, got {guard}, {background}")
        self.task = "rotated_detection" if rotated else "detection"
        self.k, self.guard, self.background = float(k), int(guard), int(background)
        self.min_pixels, self.max_pixels, self.censor = int(min_pixels), int(max_pixels), censor

    def _clutter(self, x: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = ok.to(torch.float64)
        xs = x * v
        s = box_sum(xs, self.background) - box_sum(xs, self.guard)
        n = box_sum(v, self.background) - box_sum(v, self.guard)
        ring = (2 * self.background + 1) ** 2 - (2 * self.guard + 1) ** 2
        return s / n.clamp_min(1.0), n >= 0.1 * ring

    def detect_mask(self, images: torch.Tensor,
                    valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Target mask ``(B, H, W)``, power and clutter mean (float64)."""
        x, ok = self._power(images, valid)
        clutter, enough = self._clutter(x, ok)
        det = (x > self.k * clutter) & ok & enough
        if self.censor and bool(det.any()):
            grown = torch.nn.functional.max_pool2d(det[:, None].float(), 5, 1, 2)[:, 0] > 0
            clutter, enough = self._clutter(x, ok & ~grown)
            det = (x > self.k * clutter) & ok & enough
        return det, x, clutter

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, valid: torch.Tensor) -> list[dict[str, Any]]:
        from scipy import ndimage

        from sargeo.geo import corners_to_rbox

        det, x, clutter = self.detect_mask(images, valid)
        det, x, clutter = det.cpu().numpy(), x.cpu().numpy(), clutter.cpu().numpy()
        k_db = 10 * math.log10(self.k)
        out = []
        for i in range(det.shape[0]):
            labels, _ = ndimage.label(det[i], structure=np.ones((3, 3), bool))
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
    """

    classes = ("land", "water")
    task = "segmentation"

    def __init__(self, *, threshold_db: float = -16.0, smooth: int = 3, softness_db: float = 1.0,
                 channel: int = 0, units: str = "auto", tile_size: int = 512,
                 overlap: int = 64, in_channels: int | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(units=units, channel=channel, tile_size=tile_size, overlap=overlap,
                         in_channels=in_channels, device=device)
        if softness_db <= 0 or smooth < 0:
            raise ValueError(f"need softness_db > 0 and smooth >= 0, got {softness_db}, {smooth}")
        self.threshold_db, self.smooth, self.softness_db = threshold_db, int(smooth), softness_db

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, valid: torch.Tensor) -> list[dict[str, Any]]:
        x, ok = self._power(images, valid)
        v = ok.to(torch.float64)
        mean = box_sum(x, self.smooth) / box_sum(v, self.smooth).clamp_min(1.0)
        db = 10 * torch.log10(mean.clamp_min(1e-12))
        water = torch.sigmoid((self.threshold_db - db) / self.softness_db).float()
        probs = torch.stack([1 - water, water], 1).cpu()
        return [{"probs": p} for p in probs]
