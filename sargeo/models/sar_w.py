"""SAR-W: backscatter-power weighting of the reconstruction loss (after SAR-W-MixMAE, Caglayan,
Imamoglu and Kouyama, arXiv 2503.01181).

For linear backscatter (sigma0, power) in polarisations p = VV, VH, ... the weight of a pixel is

    w = exp(-P / s),    P = mean_p sigma0_p   (linear scale, not dB),

with a scale ``s`` (1 by default, for sigma0 in its natural units). Dark, smooth areas (water,
P ~ 0.001-0.01) get w ~ 1; bright, speckle-dominated scatterers get less weight and extremely
bright ones (ships, urban corner reflectors, P >> s) almost none. That is the paper's intent:
emphasise low-backscatter regions and damp speckle and very high values. The paper's text
gives the averaging of VV and VH in linear scale and an exponential weighting of the normalised
power; the normalisation here (divide by ``s``) is ours, documented and tested.
"""

from __future__ import annotations

import torch


def db_to_linear(db: torch.Tensor) -> torch.Tensor:
    """Backscatter in decibels to linear power."""
    return torch.pow(10.0, db / 10.0)


def sar_w_weights(power: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Per-pixel weights (B, 1, H, W) from linear backscatter ``power`` (B, P, H, W).

    Non-finite or negative power (nodata) gets weight 0.
    """
    if scale <= 0:
        raise ValueError(f"SAR-W scale must be positive, got {scale}")
    valid = torch.isfinite(power) & (power >= 0)
    p = torch.where(valid, power, torch.zeros_like(power)).mean(dim=1, keepdim=True)
    weights = torch.exp(-p / scale)
    return torch.where(valid.all(dim=1, keepdim=True), weights, torch.zeros_like(weights))
