"""Sen1Floods11 (Bonafilia et al., 2020): Sentinel-1 chips with hand-labelled water masks.

Layout, as distributed (``v1.1/data/flood_events/HandLabeled``): ``*_S1Hand.tif`` (bands VV,
VH in dB, NaN no-data) in one folder and ``*_LabelHand.tif`` (int16: 1 water, 0 not water,
-1 no data) in another, anywhere below the root, paired by chip id (``<region>_<number>``).

:func:`split_chips` lists the usable chips and a fixed train / test split; :func:`read_chip`
reads one chip and its label; :class:`Sen1Floods11` is a dataset of ``{"image": (2, H, W)
float32 dB, "mask": (H, W) long 1 / 0 / -1}`` samples. A folder without chips raises
:class:`FileNotFoundError`, too few usable chips :class:`ValueError`, a label on another grid
than its image :class:`ValueError`; each names the folder or file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from torch.utils.data import Dataset

IMAGE_SUFFIX = "_S1Hand.tif"
LABEL_SUFFIX = "_LabelHand.tif"
#: label value of pixels not to score (no-data in the label or NaN in the image)
IGNORE = -1


def _first_dir(folder: Path, pattern: str) -> Path | None:
    hit = next(iter(sorted(folder.rglob(pattern))), None)
    return None if hit is None else hit.parent


def split_chips(folder: Path) -> dict[str, Any]:
    """Chip ids, folders and the fixed deterministic split of a Sen1Floods11 folder.

    Chips whose label is all no-data (-1) or whose S1 image is all NaN are excluded. The others
    are sorted by water fraction (descending, then by name) and every third from the third on
    goes to test: both splits get wet and dry chips. Returns ``s1_dir``, ``label_dir``,
    ``train``, ``test`` (sorted ids), ``excluded`` (id -> reason) and ``water_fraction``."""
    s1_dir = _first_dir(folder, f"*{IMAGE_SUFFIX}")
    label_dir = _first_dir(folder, f"*{LABEL_SUFFIX}")
    if s1_dir is None or label_dir is None:
        raise FileNotFoundError(f"{folder} has no *{IMAGE_SUFFIX} / *{LABEL_SUFFIX} chips")
    ids = sorted(p.name[:-len(IMAGE_SUFFIX)] for p in s1_dir.glob(f"*{IMAGE_SUFFIX}")
                 if (label_dir / p.name.replace(IMAGE_SUFFIX, LABEL_SUFFIX)).is_file())
    stats, excluded = {}, {}
    for chip in ids:
        with rasterio.open(label_dir / f"{chip}{LABEL_SUFFIX}") as src:
            label = src.read(1)
        with rasterio.open(s1_dir / f"{chip}{IMAGE_SUFFIX}") as src:
            finite = np.isfinite(src.read()).all(0)
        if not (label >= 0).any():
            excluded[chip] = "label all no-data"
        elif not finite.any():
            excluded[chip] = "S1 all NaN"
        else:
            stats[chip] = float((label == 1).mean())
    order = sorted(stats, key=lambda c: (-stats[c], c))
    test = order[2::3]
    train = [c for c in order if c not in test]
    if not train or not test:
        raise ValueError(f"{folder}: {len(stats)} usable chips, too few for a train/test split")
    return {"s1_dir": s1_dir, "label_dir": label_dir, "train": sorted(train),
            "test": sorted(test), "excluded": excluded,
            "water_fraction": {c: round(v, 4) for c, v in stats.items()}}


def read_chip(image_path: Path | str, label_path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """One chip: the image (2, H, W) float32 dB (NaN kept) and its label (H, W) int64, 1 water,
    0 not water, :data:`IGNORE` where the label is no-data or any band of the image is NaN."""
    with rasterio.open(image_path) as src:
        image = src.read().astype(np.float32)
    with rasterio.open(label_path) as src:
        label = src.read(1).astype(np.int64)
    if label.shape != image.shape[1:]:
        raise ValueError(f"{label_path}: label {label.shape} and image {image.shape[1:]} "
                         "grids differ")
    label[(label < 0) | ~np.isfinite(image).all(0)] = IGNORE
    return image, label


class Sen1Floods11(Dataset):
    """The ``split`` ("train" or "test") chips of :func:`split_chips` as ``{"image": (2, H, W)
    float32 dB, NaN no-data, "mask": (H, W) long 1 / 0 / -1, "chip": id}`` samples."""

    def __init__(self, root: Path | str, split: str = "train") -> None:
        if split not in ("train", "test"):
            raise ValueError(f"Sen1Floods11 split {split!r}: use 'train' or 'test'")
        self.root = Path(root)
        self.layout = split_chips(self.root)
        self.chips: list[str] = self.layout[split]

    def __len__(self) -> int:
        return len(self.chips)

    def __getitem__(self, i: int) -> dict[str, Any]:
        chip = self.chips[i]
        image, label = read_chip(self.layout["s1_dir"] / f"{chip}{IMAGE_SUFFIX}",
                                 self.layout["label_dir"] / f"{chip}{LABEL_SUFFIX}")
        return {"image": torch.from_numpy(image), "mask": torch.from_numpy(label),
                "chip": chip}
