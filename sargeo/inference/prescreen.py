"""A prescreen cascade for ship detection: a CFAR pass over the whole scene sends to the network
only the windows that hold a candidate.

Most windows of a sea scene hold no ship. :func:`plan_prescreen` reads the scene once in large
blocks (one band, linear power), averages ``factor`` x ``factor`` pixels (a cheaper, multilooked
image: a 50 m ship is still several pixels at 20 m), and runs the SNAP-style CFAR of
:mod:`sargeo.inference.cfar` over it, vectorised with integral images. Every object it finds,
whatever its size above ``min_size_m`` (bright land and ships against a coast stay candidates:
nothing large is discarded), becomes a candidate box; the windows of the plan that meet a
candidate box grown by ``margin_m`` are kept, the others are never read by the network and
are counted (``result.prescreen["windows_skipped_prescreen"]``).

The network then sees every window holding a candidate exactly as an exhaustive run would, so
what it finds there is what it finds exhaustively; what it would find only in windows without
a candidate (ships the CFAR misses, and its own false alarms) is lost. A false candidate costs
one window, a missed ship is lost: ``pfa`` is 10^-6 per averaged pixel, three times SNAP's
(a full IW product averaged 2 x 2 has 122 M pixels: about a hundred false pixels against
8,000 windows; at 10^-3.5 every window would hold one), with SNAP's 50/500/800 m windows and
its 30 m minimum size (a single averaged pixel is no candidate). Recall against the exhaustive
run is measured by ``benchmarks/perf_scene.py``.

Exhaustive inference stays the default of :func:`~sargeo.inference.engine.predict_scene` and of
segmentation; ``sargeo infer`` prescreens network detectors unless ``--no-prescreen``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasterio.windows import Window

from sargeo.errors import error_text
from sargeo.inference.baseline import scene_pixel_size_m
from sargeo.inference.cfar import RULES, CFARShipDetector

__all__ = ["Prescreen", "candidate_boxes", "plan_prescreen", "windows_meeting"]


@dataclass(frozen=True)
class Prescreen:
    """Settings of the prescreen (see the module docstring).

    Args:
        pfa: false-alarm probability of the CFAR (per pixel of the averaged image).
        rule: the CFAR's threshold rule (``"gamma"`` or ``"gaussian"``).
        target_m, guard_m, background_m: CFAR window sides in metres.
        min_size_m: candidates smaller than this (box diagonal) are dropped.
        margin_m: candidate boxes grow by this much before windows are matched to them.
        factor: pixels averaged along each axis before the CFAR (1: none).
        block: side in scene pixels of the blocks read at a time (memory: about 60 bytes per
            pixel of the averaged block).
        channel: the band the CFAR runs on (0: the first read, VV in sargeo's scenes).
        pixel_size_m: the scene's pixel size in metres when its CRS cannot say (pixel
            coordinates); default: from the scene (Sentinel-1 products: their spacing).
    """

    pfa: float = 1e-6
    rule: str = "gamma"
    target_m: float = 50.0
    guard_m: float = 500.0
    background_m: float = 800.0
    min_size_m: float = 30.0
    margin_m: float = 100.0
    factor: int = 2
    block: int = 2048
    channel: int = 0
    pixel_size_m: float | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"prescreen rule must be one of {RULES}, got {self.rule!r}")
        if self.factor < 1 or self.block < 64 or self.margin_m < 0:
            raise ValueError(f"prescreen needs factor >= 1, block >= 64 px and margin_m >= 0, "
                             f"got {self.factor}, {self.block}, {self.margin_m}")

    def detector(self, pixel: tuple[float, float]) -> CFARShipDetector:
        """The CFAR run on the averaged image, whose pixels are ``factor`` times ``pixel``."""
        f = self.factor
        return CFARShipDetector(target_m=self.target_m, guard_m=self.guard_m,
                                background_m=self.background_m, pfa=self.pfa, rule=self.rule,
                                min_size_m=self.min_size_m, max_size_m=math.inf,
                                pixel_size_m=(pixel[0] * f, pixel[1] * f), mode="ca",
                                censor=True, channel=0)


def scene_pixel_m(info: Any, given: float | None = None) -> tuple[float, float]:
    """The scene's pixel size ``(x, y)`` in metres: ``given``, a product's spacing, or from
    its CRS and transform."""
    pixel = (float(given), float(given)) if given is not None else scene_pixel_size_m(info)
    if pixel is None:
        raise ValueError(f"{info.path}: the prescreen needs the pixel size in metres and the "
                         "image has no CRS; give Prescreen(pixel_size_m=...)")
    return pixel


def _average(x: np.ndarray, ok: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """``f`` x ``f`` means of the valid pixels of ``(H, W)`` (H, W multiples of f); a cell is
    valid when half its pixels are."""
    if f == 1:
        return x, ok
    h, w = x.shape
    n = ok.reshape(h // f, f, w // f, f).sum((1, 3))
    s = np.where(ok, x, 0).reshape(h // f, f, w // f, f).sum((1, 3), dtype=np.float64)
    return s / np.maximum(n, 1), n * 2 >= f * f


def candidate_boxes(info: Any, prescreen: Prescreen, to_units: Any,
                    wanted: list[Window] | None = None) -> np.ndarray:
    """Candidate boxes ``(N, 4)`` ``x1 y1 x2 y2`` in scene pixels over the whole scene (or over
    the blocks that meet ``wanted`` windows)."""
    from sargeo.inference.reader import SceneError, read_window

    f, pixel = prescreen.factor, scene_pixel_m(info, prescreen.pixel_size_m)
    detector = prescreen.detector(pixel)
    win = detector.windows()
    # context around each block: the CFAR's reach, in scene pixels, a multiple of f
    reach = (max(win.background) + max(win.target) + 1) * f
    block = -(-prescreen.block // f) * f
    band = info.bands[prescreen.channel]
    one = dataclasses.replace(info, bands=(band,), count=1,
                              nodata=(info.nodata[prescreen.channel],),
                              descriptions=(info.descriptions[prescreen.channel],)
                              if info.descriptions else ())
    spans = None
    if wanted is not None:
        spans = np.array([[w.col_off, w.row_off, w.col_off + w.width, w.row_off + w.height]
                          for w in wanted]).reshape(-1, 4)
    found = []
    with info.open() as src:
        for r0 in range(0, info.height, block):
            for c0 in range(0, info.width, block):
                r1, c1 = min(r0 + block, info.height), min(c0 + block, info.width)
                if spans is not None and not ((spans[:, 0] < c1) & (spans[:, 2] > c0)
                                              & (spans[:, 1] < r1) & (spans[:, 3] > r0)).any():
                    continue
                rr0, cc0 = max(r0 - reach, 0), max(c0 - reach, 0)
                rr1, cc1 = min(r1 + reach, info.height), min(c1 + reach, info.width)
                h, w = -(-(rr1 - rr0) // f) * f, -(-(cc1 - cc0) // f) * f
                window = Window(cc0, rr0, cc1 - cc0, rr1 - rr0)
                try:
                    img, ok = read_window(src, one, window, max(h, w), to_units=to_units)
                except Exception as err:
                    raise SceneError(f"{info.path}: prescreen cannot read rows {rr0}-{rr1}, "
                                     f"columns {cc0}-{cc1}: {error_text(err)}") from err
                if not ok.any():
                    continue
                x, v = _average(img[0, :h, :w], ok[:h, :w], f)
                for o in detector.objects(x[None, None], v[None])[0]:
                    bx = np.asarray(o["box"], np.float64) * f + [cc0, rr0, cc0, rr0]
                    cx, cy = (bx[0] + bx[2]) / 2, (bx[1] + bx[3]) / 2
                    if c0 <= cx < c1 and r0 <= cy < r1:  # each object once: in its block
                        found.append(bx)
    return np.asarray(found, np.float64).reshape(-1, 4)


def windows_meeting(windows: list[Window], boxes: np.ndarray, margin: tuple[float, float]
                    ) -> np.ndarray:
    """Whether each window meets any box grown by ``margin`` ``(x, y)`` pixels."""
    keep = np.zeros(len(windows), bool)
    if not len(boxes) or not windows:
        return keep
    grown = boxes + [-margin[0], -margin[1], margin[0], margin[1]]
    for i, w in enumerate(windows):
        keep[i] = ((grown[:, 0] < w.col_off + w.width) & (grown[:, 2] > w.col_off)
                   & (grown[:, 1] < w.row_off + w.height) & (grown[:, 3] > w.row_off)).any()
    return keep


def plan_prescreen(info: Any, task: str, prescreen: Prescreen | bool | None,
                   windows: list[Window], meta: dict[str, Any], result: Any
                   ) -> list[Window]:
    """The engine's prescreen step for one scene (``prescreen`` None or False: off, True:
    default settings): the windows that meet a candidate. Records the settings in the
    journal's ``meta`` and the counts in ``result.prescreen``.

    Raises:
        ValueError: a segmentation task (the prescreen is for detection).
    """
    if prescreen is None or prescreen is False:
        return windows
    if task == "segmentation":
        raise ValueError(f"{info.path}: the prescreen is for detection; segmentation runs on "
                         "every window (drop prescreen / use --no-prescreen)")
    from sargeo.inference.inputs import model_units

    prescreen = Prescreen() if prescreen is True else prescreen
    t0 = time.perf_counter()
    linear = model_units(info, CFARShipDetector.input_units)
    boxes = candidate_boxes(info, prescreen, linear, windows)
    pixel = scene_pixel_m(info, prescreen.pixel_size_m)
    keep = windows_meeting(windows, boxes, (prescreen.margin_m / pixel[0],
                                            prescreen.margin_m / pixel[1]))
    meta["prescreen"] = dataclasses.asdict(prescreen)
    result.prescreen = {"windows_skipped_prescreen": int((~keep).sum()),
                        "candidates": len(boxes),
                        "seconds": round(time.perf_counter() - t0, 3)}
    return [w for w, k in zip(windows, keep, strict=True) if k]
