"""Speckle filtering of Sentinel-1 tiles with torchgeo's Lee filter (torchgeo >= 0.10).

Opt-in: SARMAE was pretrained on speckled images (SARE even adds speckle), so nothing in sargeo
filters by default. :class:`LeeFilter` wraps :func:`torchgeo.transforms.sar.lee_filter` for
sargeo's samples: it runs on linear power only (the filter's multiplicative-noise model) and
keeps nodata: invalid pixels are filled with the tile's mean while filtering and restored after.
"""

from __future__ import annotations

from typing import Any

import torch


class LeeFilter:
    """Lee (1980) filter on ``sample["image"]`` (``(C, H, W)`` or ``(B, C, H, W)``, linear
    power, NaN or non-positive values as nodata).

    Args:
        window_size: odd side of the local statistics window, in pixels.
        num_looks: equivalent number of looks of the input (Sentinel-1 IW GRDH: about 4.4).
    """

    def __init__(self, window_size: int = 7, num_looks: float = 4.4) -> None:
        if window_size < 1 or window_size % 2 == 0:
            raise ValueError(f"window_size must be a positive odd integer, not {window_size}")
        if not num_looks > 0:
            raise ValueError(f"num_looks must be > 0, not {num_looks}")
        self.window_size, self.num_looks = int(window_size), float(num_looks)

    def filter(self, image: torch.Tensor) -> torch.Tensor:
        """The filtered image; nodata pixels stay as they were."""
        from torchgeo.transforms.sar import lee_filter

        batched = image.ndim == 4
        x = image if batched else image.unsqueeze(0)
        valid = torch.isfinite(x) & (x > 0)
        if not valid.any():
            return image.clone()
        fill = x[valid].mean()
        filled = torch.where(valid, x, fill).float()
        out = lee_filter(filled, window_size=self.window_size, num_looks=self.num_looks)
        out = torch.where(valid, out.to(x.dtype), x)
        return out if batched else out.squeeze(0)

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        sample["image"] = self.filter(sample["image"])
        return sample

    def __repr__(self) -> str:
        return f"LeeFilter(window_size={self.window_size}, num_looks={self.num_looks})"
