"""SEN12-FLOOD (Rambour et al., 2020): Sentinel-1 image time series labelled flooded / not
flooded, one label per image (date) of a sequence.

Layout, as distributed (IEEE DataPort / Source Cooperative ``esa/sen12flood``) and as the
SAR-W-MixMAE release reads it (``sarwmix/sen12_data_prep.py``): ``root/S1list.json`` and one
folder per sequence holding ``<filename>_corrected_VV.tif`` and ``<filename>_corrected_VH.tif``.
``S1list.json`` maps each sequence (key = folder name) to ``{"count": n, "folder": name,
"geometry": ..., "0": {"filename": prefix, "FLOODING": bool, "date": ..., "orbit": ...},
"1": ...}``. The rasters hold linear backscatter (the release takes ``10 log10`` of them, zeros
as 1e-6); ``units="db"`` reads rasters already in dB. Once a flood has occurred in a sequence,
its later images are labelled flooded too (the dataset's convention), so train and test images
must come from different sequences: splits here are by sequence.

Each sample: ``{"image": (2, H, W) float32 dB (VH, VV), "label": 0 / 1 long, "sequence": folder,
"date": str}``. Bad inputs raise :class:`SEN12FloodError` naming the file or entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

INDEX = "S1list.json"
CLASSES = ("not flooded", "flooded")
#: zero power becomes this before log10, as released
POWER_FLOOR = 1e-6


class SEN12FloodError(ValueError):
    """A SEN12-FLOOD entry, label file or raster cannot be used; the message names it."""


def read_index(root: Path) -> dict[str, dict[str, Any]]:
    """``S1list.json`` of ``root``, checked to be a mapping of sequences."""
    path = root / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"SEN12-FLOOD label file not found: {path} (the dataset's "
                                f"{INDEX} lists every Sentinel-1 image and its FLOODING label)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SEN12FloodError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SEN12FloodError(f"{path} must map sequence ids to objects, as SEN12-FLOOD's "
                              f"{INDEX}; got {type(data).__name__}")
    return data


class SEN12Flood(Dataset):
    """SEN12-FLOOD Sentinel-1 images, one sample per image of each sequence.

    Args:
        root: folder with ``S1list.json`` and the sequence folders.
        sequences: the sequences (folder names / keys) to use; all by default.
        units: ``linear`` (the distributed rasters) or ``db``.
        bands: polarisations in channel order (VH, VV as released).
        transforms: applied to each sample dict.
    """

    def __init__(self, root: str | Path, sequences: Sequence[str] | None = None,
                 units: str = "linear", bands: Sequence[str] = ("VH", "VV"),
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        if units not in ("linear", "db"):
            raise ValueError(f"units must be 'linear' or 'db', got {units!r}")
        self.root, self.units = Path(root), units
        self.bands = tuple(b.upper() for b in bands)
        self.transforms = transforms
        index = read_index(self.root)
        keys = list(index) if sequences is None else list(sequences)
        unknown = [k for k in keys if k not in index]
        if unknown:
            raise SEN12FloodError(f"sequences {unknown[:5]} are not in {self.root / INDEX}")
        self.entries: list[tuple[str, Path, str, int]] = []  # (sequence, folder, prefix, label)
        self.dates: list[str] = []
        for key in keys:
            seq = index[key]
            folder = self.root / str(seq.get("folder", key))
            for name in sorted((k for k in seq if k.isdigit()), key=int):
                entry = seq[name]
                where = f"{self.root / INDEX} sequence {key!r} image {name}"
                if not isinstance(entry, dict) or "filename" not in entry or \
                        "FLOODING" not in entry:
                    raise SEN12FloodError(f"{where}: expected 'filename' and 'FLOODING', got "
                                          f"{entry!r}")
                if not isinstance(entry["FLOODING"], bool):
                    raise SEN12FloodError(f"{where}: FLOODING must be true or false, got "
                                          f"{entry['FLOODING']!r}")
                self.entries.append((key, folder, str(entry["filename"]),
                                     int(entry["FLOODING"])))
                self.dates.append(str(entry.get("date", "")))
        if not self.entries:
            raise SEN12FloodError(f"no images listed in {self.root / INDEX} for the sequences "
                                  f"{keys[:5]}")

    @property
    def labels(self) -> list[int]:
        return [e[3] for e in self.entries]

    @property
    def sequences(self) -> list[str]:
        return [e[0] for e in self.entries]

    def band_file(self, index: int, band: str) -> Path:
        _, folder, prefix, _ = self.entries[index]
        return folder / f"{prefix}_corrected_{band}.tif"

    def __len__(self) -> int:
        return len(self.entries)

    def _read(self, path: Path) -> np.ndarray:
        import rasterio

        if not path.is_file():
            raise SEN12FloodError(f"missing band file {path} (SEN12-FLOOD names them "
                                  "<filename>_corrected_VV.tif / _VH.tif)")
        try:
            with rasterio.open(path) as src:
                data = src.read(1).astype(np.float32)
        except rasterio.errors.RasterioError as err:
            raise SEN12FloodError(f"cannot read {path}: {err}") from err
        if self.units == "linear":
            data = np.where(np.isfinite(data), data, 0.0)
            data = 10.0 * np.log10(np.maximum(data, POWER_FLOOR))
        elif not np.isfinite(data).all():
            raise SEN12FloodError(f"{path} holds non-finite dB values")
        return data.astype(np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        arrays = [self._read(self.band_file(index, band)) for band in self.bands]
        if len({a.shape for a in arrays}) > 1:
            raise SEN12FloodError(f"bands of {self.band_file(index, self.bands[0])} differ in "
                                  f"size: {[a.shape for a in arrays]}")
        sequence, _, _, label = self.entries[index]
        sample = {"image": torch.from_numpy(np.stack(arrays)),
                  "label": torch.tensor(label, dtype=torch.long), "sequence": sequence,
                  "date": self.dates[index]}
        return self.transforms(sample) if self.transforms is not None else sample
