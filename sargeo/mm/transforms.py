"""``SARNormalize``: the one place where SAR pixels become network inputs in OpenMMLab pipelines.

mmengine's ``ImgDataPreprocessor`` accepts a mean/std of 1 or 3 values only, so 2-channel VV/VH
inputs cannot be normalised there. sargeo configs for Sentinel-1 therefore normalise in the
pipeline with ``SARNormalize`` and set the data preprocessor's ``mean=None, std=None``. Tiled
inference (:mod:`sargeo.inference.mm_predictor`) reads the same transform's settings from the
config's test pipeline and applies :func:`normalize_sar`, so training and inference cannot
disagree.

Steps: optional conversion of linear power to dB (``10 log10``), then ``(x - mean) / std`` per
channel, then an optional clip; invalid pixels (NaN, infinite, and <= 0 when converting) become
``nodata_value``. The defaults come from :mod:`sargeo.units`: mean ``DB_MEAN`` (-12.5 dB), std
``DB_STD`` (17.5 dB), clip to [-1, 1], which map ``DB_RANGE`` ([-30, 5] dB) to [-1, 1], and
nodata ``NODATA_NORMALIZED`` (-1, the bottom of the range): exactly what sargeo's scene
pretraining does (:func:`sargeo.units.power_to_unit`, nodata 0, then SARMAE's 0.5/0.5
normalisation), so a backbone pretrained on scenes sees the same values, nodata included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

from sargeo.units import DB_MEAN, DB_STD, NODATA_NORMALIZED, Units


def normalize_sar(img: np.ndarray, *, to_db: bool = True, mean: Sequence[float] = (DB_MEAN,),
                  std: Sequence[float] = (DB_STD,), clip: Sequence[float] | None = (-1.0, 1.0),
                  nodata_value: float = NODATA_NORMALIZED, channel_axis: int = -1
                  ) -> np.ndarray:
    """Normalise SAR pixels (see module docstring); returns float32, channels where they were.

    ``mean``/``std`` have one value (all channels) or one per channel.
    """
    x = np.asarray(img, dtype=np.float32)
    channels = x.shape[channel_axis]
    mean_a = np.asarray(mean, dtype=np.float32)
    std_a = np.asarray(std, dtype=np.float32)
    for name, arr in (("mean", mean_a), ("std", std_a)):
        if arr.size not in (1, channels):
            raise ValueError(f"SARNormalize: {name} has {arr.size} values for {channels} "
                             f"channels; give 1 or {channels}")
    if np.any(std_a <= 0):
        raise ValueError(f"SARNormalize: std must be positive, got {std_a.tolist()}")
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    mean_a, std_a = mean_a.reshape(shape), std_a.reshape(shape)
    valid = np.isfinite(x)
    if to_db:
        valid &= x > 0
        x = 10.0 * np.log10(np.where(valid, x, 1.0))
    out = (np.where(valid, x, 0.0) - mean_a) / std_a
    if clip is not None:
        out = np.clip(out, clip[0], clip[1])
    return np.where(valid, out, np.float32(nodata_value)).astype(np.float32)


@TRANSFORMS.register_module()
class SARNormalize(BaseTransform):
    """Pipeline transform applying :func:`normalize_sar` to ``results['img']`` (H, W, C).

    Args:
        to_db: convert linear power to dB first (Sentinel-1 GRD/RTC sigma0 or simulated scenes).
        mean, std: per channel (or one value), in dB when ``to_db``.
        clip: (low, high) after normalisation, or None.
        nodata_value: value given to invalid pixels (NaN, <= 0 when ``to_db``); by default the
            bottom of the range, as in pretraining chips (:data:`sargeo.units.NODATA_NORMALIZED`).
    """

    def __init__(self, to_db: bool = True, mean: Sequence[float] = (DB_MEAN,),
                 std: Sequence[float] = (DB_STD,), clip: Sequence[float] | None = (-1.0, 1.0),
                 nodata_value: float = NODATA_NORMALIZED) -> None:
        self.to_db = to_db
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.clip = None if clip is None else (float(clip[0]), float(clip[1]))
        self.nodata_value = float(nodata_value)

    @property
    def input_units(self) -> Units:
        """What the transform expects (sargeo's scene configs are trained on sigma0): linear
        power when it converts to dB (``to_db=True``), else dB."""
        return Units("sigma0", "linear" if self.to_db else "db")

    def settings(self) -> dict:
        return dict(to_db=self.to_db, mean=self.mean, std=self.std, clip=self.clip,
                    nodata_value=self.nodata_value)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        if img.ndim == 2:
            img = img[..., None]
        results["img"] = normalize_sar(img, **self.settings())
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings()})"
