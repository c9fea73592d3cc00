"""Pretraining chips drawn straight from Sentinel-1 GeoTIFF scenes or SAFE products (through
:class:`~sargeo.datasets.sentinel1.Sentinel1GRD`: calibrated sigma0 on a map grid, read window
by window) with torchgeo random geo sampling: no pre-tiling. Chips are fixed per (seed, count)
so that runs are reproducible and resumable; linear backscatter becomes dB, then [0, 1] over a
fixed dB range, nodata the bottom of that range (:mod:`sargeo.units`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from sargeo.units import DB_RANGE, power_to_unit

__all__ = ["DB_RANGE", "SceneChips", "power_to_unit", "random_chip_queries"]


def random_chip_queries(dataset: Any, size: int, length: int, seed: int) -> list[tuple]:
    """``length`` chip windows of ``size`` pixels inside the dataset's footprints, drawn with
    probability proportional to footprint area and aligned to its pixel grid; the same for the
    same seed (torchgeo's RandomGeoSampler is not reproducible across dataset instances)."""
    xres, yres = dataset.res
    w, h = size * xres, size * yres
    boxes = sorted(tuple(g.bounds) for g in dataset.index.geometry)
    boxes = [b for b in boxes if b[2] - b[0] >= w and b[3] - b[1] >= h]
    if not boxes:
        raise ValueError(f"no scene (or overlap) is at least {size} x {size} pixels")
    areas = torch.tensor([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    picks = torch.multinomial(areas, length, replacement=True, generator=g).tolist()
    offsets = torch.rand(length, 2, generator=g, dtype=torch.float64).tolist()
    t = dataset.bounds[2]
    queries = []
    for k, (u, v) in zip(picks, offsets, strict=True):
        minx, miny, maxx, maxy = boxes[k]
        x0 = minx + math.floor(u * ((maxx - minx - w) / xres + 1e-9)) * xres
        y0 = miny + math.floor(v * ((maxy - miny - h) / yres + 1e-9)) * yres
        queries.append((slice(x0, x0 + w), slice(y0, y0 + h), slice(t.start, t.stop)))
    return queries


def _raster_folder(paths: str | Path | Sequence[str | Path], glob: str, what: str):
    from torchgeo.datasets import RasterDataset

    class _Rasters(RasterDataset):
        filename_glob = glob

    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f"{what} path not found: {p}")
    try:
        return _Rasters(paths=[str(p) for p in paths])
    except Exception as err:  # torchgeo raises DatasetNotFoundError and others
        raise FileNotFoundError(f"no readable GeoTIFF {what} ({glob}) under {paths}: "
                                f"{err}") from err


def _products_among(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The Sentinel-1 products named by ``paths`` or lying in its folders."""
    from sargeo.inference.product_source import is_product

    found = []
    for p in map(Path, [paths] if isinstance(paths, str | Path) else paths):
        if is_product(p):
            found.append(p)
        elif p.is_dir():
            found += sorted(c for c in p.rglob("*") if c.suffix.upper() in (".SAFE", ".ZIP")
                            and is_product(c))
    return found


def _product_scenes(paths: str | Path | Sequence[str | Path], first: Path):
    """Products (and GeoTIFFs beside them) as a Sentinel1GRD of linear sigma0 in the first
    product's polarisations."""
    from sargeo.datasets.sentinel1 import Sentinel1GRD
    from sargeo.datasets.sentinel1_product import ProductScene

    listed = [paths] if isinstance(paths, str | Path) else list(paths)
    return Sentinel1GRD(listed, bands=ProductScene(first).polarisations)


class SceneChips(Dataset):
    """``length`` random chips of ``size`` pixels from the GeoTIFFs under ``paths``, or from the
    Sentinel-1 products there (``NAME.SAFE``, ``NAME.zip``: calibrated sigma0 in the first
    product's polarisations, co-polarised first; GeoTIFFs beside them then need their bands
    named, as :class:`~sargeo.datasets.sentinel1.Sentinel1GRD` reads them).

    Scenes in different CRSs are read in the first scene's CRS and resolution (torchgeo warps
    them). ``band_index`` picks the band repeated to ``in_chans`` channels (the published models
    see grayscale SAR three times); ``in_chans=2`` stacks the first two bands (VV, VH) instead.
    Samples carry ``power`` (linear backscatter of the used bands) for SAR-W.

    With ``optical`` (co-registered optical GeoTIFFs, e.g. Sentinel-2 RGB), chips are drawn
    only where both exist (torchgeo's dataset intersection, optical warped onto the SAR grid)
    and carry ``optical`` (first three bands times ``optical_scale``, clipped to [0, 1]) with
    ``paired=True``, so SARC works on scenes.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path], size: int = 224,
                 length: int = 1000, seed: int = 0, in_chans: int = 3, band_index: int = 0,
                 glob: str = "*.tif", db_range: tuple[float, float] = DB_RANGE,
                 optical: str | Path | Sequence[str | Path] | None = None,
                 optical_scale: float = 1e-4) -> None:
        products = _products_among(paths)
        if products:
            self.scenes = _product_scenes(paths, products[0])
            self.num_sar_bands = len(self.scenes.bands)
        else:
            self.scenes = _raster_folder(paths, glob, "scene")
            import rasterio

            with rasterio.open(self.scenes.index.iloc[0]["filepath"]) as src:
                self.num_sar_bands = src.count
        dataset = self.scenes
        if optical is not None:
            try:
                dataset = self.scenes & _raster_folder(optical, glob, "optical raster")
            except RuntimeError as err:  # torchgeo: "Datasets have no spatial intersection"
                raise ValueError(f"the optical rasters {optical} do not overlap the scenes "
                                 f"{paths}") from err
        self.dataset, self.optical_scale, self.paired = dataset, optical_scale, optical is not None
        self.queries = random_chip_queries(dataset, size, length, seed)
        self.in_chans, self.band_index, self.db_range = in_chans, band_index, db_range


    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.dataset[self.queries[i]]
        stack = sample["image"].float()
        power, optical = stack[:self.num_sar_bands], stack[self.num_sar_bands:]
        if self.in_chans == 2:
            power = power[:2]
        else:
            power = power[self.band_index:self.band_index + 1]
        unit = power_to_unit(power, self.db_range)
        image = unit.expand(self.in_chans, -1, -1).clone() if unit.shape[0] == 1 else unit
        if self.paired:
            optical = (torch.nan_to_num(optical[:3]) * self.optical_scale).clamp(0.0, 1.0)
        else:
            optical = torch.zeros(3, *image.shape[1:])
        return {"image": image, "power": torch.nan_to_num(power, nan=0.0),
                "paired": self.paired, "optical": optical}
