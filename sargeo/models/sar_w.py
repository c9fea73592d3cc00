"""SAR-W: backscatter-power weighting of the reconstruction loss, as released with SAR-W-MixMAE
(Caglayan, Imamoglu and Kouyama, arXiv 2503.01181; acaglayan/SAR-W-MixMAE,
``util/weighting.py``).

For linear backscatter ``P = 10^(dB / 10)`` of each polarisation (VH, VV, ...) the weight of a
pixel is

    w = exp(s * (1 - minmax(P))),     minmax(P) = (P - min P) / (max P - min P + 1e-6),

min and max taken per image over its pixels, ``s`` = 1 as published. Modes:

- ``per_channel`` (the release's default): per image and per polarisation, one weight per
  pixel and channel;
- ``shared_avg``: ``P`` averaged over the polarisations first (linear scale), one weight per
  pixel shared by all channels.

Weights lie in [1, e^s]: the darkest pixel of an image (water, smooth surfaces) gets e^s, the
brightest (ships, corner reflectors, speckle peaks) 1. Nodata (non-finite or negative power;
a non-finite dB) gets weight 0 and is left out of the minimum and maximum. This is the only
implementation of the weights in sargeo: SARMAE's ``sar_w`` option and SAR-W-MixMAE both call
:func:`sar_w_weights`.
"""

from __future__ import annotations

from typing import Literal

import torch

#: the two weight modes of the release
SAR_W_MODES = ("per_channel", "shared_avg")
SarWMode = Literal["per_channel", "shared_avg"]
MINMAX_EPS = 1e-6  #: as released


def db_to_linear(db: torch.Tensor) -> torch.Tensor:
    """Backscatter in decibels to linear power."""
    return torch.pow(10.0, db / 10.0)


def _minmax(power: torch.Tensor, valid: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-image, per-channel min-max over the valid pixels of (B, C, H, W)."""
    inf = torch.full_like(power, float("inf"))
    low = torch.where(valid, power, inf).amin(dim=(-2, -1), keepdim=True)
    high = torch.where(valid, power, -inf).amax(dim=(-2, -1), keepdim=True)
    return (power - low) / (high - low + eps)


def sar_w_weights(power: torch.Tensor, scale: float = 1.0, mode: SarWMode = "shared_avg",
                  eps: float = MINMAX_EPS) -> torch.Tensor:
    """SAR-W weights from linear backscatter ``power`` (B, P, H, W).

    Returns (B, 1, H, W) for ``shared_avg`` and (B, P, H, W) for ``per_channel`` (see the
    module docstring); ``scale`` is the release's ``exp_scale`` s.
    """
    if mode not in SAR_W_MODES:
        raise ValueError(f"SAR-W mode {mode!r}; choose one of {SAR_W_MODES}")
    if scale <= 0:
        raise ValueError(f"SAR-W scale must be positive, got {scale}")
    if power.ndim != 4:
        raise ValueError(f"SAR-W expects power of shape (B, P, H, W), got {tuple(power.shape)}")
    power = power.float()
    valid = torch.isfinite(power) & (power >= 0)
    if mode == "shared_avg":
        valid = valid.all(dim=1, keepdim=True)
        power = torch.where(valid, power, torch.zeros_like(power)).mean(dim=1, keepdim=True)
    clean = torch.where(valid, power, torch.zeros_like(power))
    weights = torch.exp(scale * (1.0 - _minmax(clean, valid, eps)))
    return torch.where(valid, weights, torch.zeros_like(weights))


def sar_w_weights_db(db: torch.Tensor, scale: float = 1.0, mode: SarWMode = "per_channel",
                     eps: float = MINMAX_EPS) -> torch.Tensor:
    """SAR-W weights from backscatter in dB (B, P, H, W), as the release computes them
    (``compute_weights``: dB -> linear -> min-max -> exp); per channel by default, as
    released."""
    return sar_w_weights(db_to_linear(db.float()), scale, mode, eps)
