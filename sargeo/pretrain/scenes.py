"""Pretraining chips drawn straight from Sentinel-1 GeoTIFF scenes with torchgeo random geo
sampling: no pre-tiling. Chips are fixed per (seed, count) so that runs are reproducible and
resumable; linear backscatter becomes dB, then [0, 1] over a fixed dB range."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

#: dB range mapped to [0, 1]: covers calm water (-30 dB) to bright land and ships (+5 dB)
DB_RANGE = (-30.0, 5.0)


def power_to_unit(power: torch.Tensor, db_range: tuple[float, float] = DB_RANGE
                  ) -> torch.Tensor:
    """Linear backscatter -> dB -> [0, 1]; nodata (NaN, <= 0) becomes 0."""
    lo, hi = db_range
    valid = torch.isfinite(power) & (power > 0)
    db = 10.0 * torch.log10(torch.where(valid, power, torch.ones_like(power)))
    unit = ((db - lo) / (hi - lo)).clamp(0.0, 1.0)
    return torch.where(valid, unit, torch.zeros_like(unit))


class SceneChips(Dataset):
    """``length`` random chips of ``size`` pixels from the GeoTIFFs under ``paths``.

    Scenes in different CRSs are read in the first scene's CRS and resolution (torchgeo warps
    them). ``band_index`` picks the band repeated to ``in_chans`` channels (the published models
    see grayscale SAR three times); ``in_chans=2`` stacks the first two bands (VV, VH) instead.
    Samples carry ``power`` (linear backscatter of the used bands) for SAR-W.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path], size: int = 224,
                 length: int = 1000, seed: int = 0, in_chans: int = 3, band_index: int = 0,
                 glob: str = "*.tif", db_range: tuple[float, float] = DB_RANGE) -> None:
        from torchgeo.datasets import RasterDataset
        from torchgeo.samplers import RandomGeoSampler

        class _Scenes(RasterDataset):
            filename_glob = glob

        paths = [paths] if isinstance(paths, str | Path) else list(paths)
        for p in paths:
            if not Path(p).exists():
                raise FileNotFoundError(f"scene path not found: {p}")
        try:
            self.scenes = _Scenes(paths=[str(p) for p in paths])
        except Exception as err:  # torchgeo raises DatasetNotFoundError and others
            raise FileNotFoundError(f"no readable GeoTIFF scene ({glob}) under {paths}: "
                                    f"{err}") from err
        sampler = RandomGeoSampler(self.scenes, size=size, length=length,
                                   generator=torch.Generator().manual_seed(seed))
        self.queries = list(sampler)
        self.in_chans, self.band_index, self.db_range = in_chans, band_index, db_range

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.scenes[self.queries[i]]
        power = sample["image"].float()
        if self.in_chans == 2:
            power = power[:2]
        else:
            power = power[self.band_index:self.band_index + 1]
        unit = power_to_unit(power, self.db_range)
        image = unit.expand(self.in_chans, -1, -1).clone() if unit.shape[0] == 1 else unit
        return {"image": image, "power": torch.nan_to_num(power, nan=0.0),
                "paired": False, "optical": torch.zeros(3, *image.shape[1:])}
