"""BigEarthNet-S1 multi-label patches (Sumbul et al.; BigEarthNet-MM), read as float dB.

Layout (BigEarthNet-S1 v1.0, as distributed and as in ``../shared/data/bigearthnet_s1``): one
folder per patch, ``<patch>/<patch>_VV.tif``, ``<patch>/<patch>_VH.tif`` (float32 backscatter in
dB, 120 x 120 px at 10 m) and ``<patch>/<patch>_labels_metadata.json`` whose ``labels`` list
the 43-class CORINE names; the folders lie under ``root/BigEarthNet-S1-v1.0/`` (torchgeo's
layout) or directly under ``root``. Labels map to the 19-class nomenclature with torchgeo's
table (:attr:`torchgeo.datasets.BigEarthNet.label_converter`, BigEarthNet's
``label_indices.json``); 19-class names (BigEarthNet v2) are taken as they are.

Why not torchgeo's ``BigEarthNet`` as is (0.10.1): it reads every band with
``out_dtype='int32'``, which rounds Sentinel-1 dB values to whole decibels (-19.76 dB becomes
-20), and it needs torchgeo's split files (``bigearthnet-{train,val,test}.csv``) and would try
to download the archives without them. :class:`BigEarthNetS1` subclasses it, keeps its class
names and 43-to-19 mapping, and reads the float values, with or without split files. The
channel order is (VH, VV), as torchgeo (sorted file names) and the SAR-W-MixMAE release read
them. BigEarthNet v2's patch folders (``<tile>/<patch>/``) are found too, for pretraining;
its labels, in ``metadata.parquet``, are not read here (that needs pyarrow).

Bad inputs raise :class:`BigEarthNetError` naming the file: a missing band, an unreadable or
non-finite raster, a missing or malformed label file, an unknown label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchgeo.datasets import BigEarthNet

#: torchgeo's folder name for the Sentinel-1 archive
S1_DIRECTORY = "BigEarthNet-S1-v1.0"
LABEL_SUFFIX = "_labels_metadata.json"
SPLITS = ("all", "train", "val", "test")


class BigEarthNetError(ValueError):
    """A BigEarthNet-S1 patch or split file cannot be used; the message names the file."""


def _is_patch(folder: Path) -> bool:
    return folder.is_dir() and any((folder / f"{folder.name}{suffix}").exists() for suffix in
                                   (LABEL_SUFFIX, "_VV.tif", "_VH.tif"))


def find_patches(root: str | Path) -> list[Path]:
    """Patch folders (holding ``<patch>_labels_metadata.json``, ``<patch>_VV.tif`` or
    ``<patch>_VH.tif``) under ``root`` or ``root/BigEarthNet-S1-v1.0`` (v1), else one level
    deeper (v2's ``<tile>/<patch>/`` folders), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"BigEarthNet-S1 root not found: {root}")
    base = root / S1_DIRECTORY if (root / S1_DIRECTORY).is_dir() else root
    patches = sorted(p for p in base.iterdir() if _is_patch(p))
    if not patches:
        patches = sorted((p for p in base.glob("*/*") if _is_patch(p)), key=lambda p: p.name)
    if not patches:
        raise FileNotFoundError(f"no BigEarthNet-S1 patch folders (<patch>/<patch>_VV.tif, "
                                f"<patch>/<patch>{LABEL_SUFFIX}) in {base}")
    return patches


def read_split(root: Path, split: str) -> list[str]:
    """Sentinel-1 patch names of torchgeo's split file ``bigearthnet-<split>.csv`` (lines
    ``S2 name,S1 name``)."""
    path = root / BigEarthNet.splits_metadata[split]["filename"]
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path} (torchgeo's BigEarthNet split "
                                "files, lines 'S2 patch,S1 patch'); use split='all' without one")
    names = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not parts[1]:
            raise BigEarthNetError(f"{path} line {number}: expected 'S2 patch,S1 patch', got "
                                   f"{line!r}")
        names.append(parts[1])
    return names


class BigEarthNetS1(BigEarthNet):
    """BigEarthNet-S1 patches as samples ``{"image": (2, 120, 120) float32 dB (VH, VV),
    "label": (num_classes,) multi-hot long, "patch": name}``.

    Args:
        root: the folder holding the patch folders (or ``BigEarthNet-S1-v1.0/``).
        split: ``all`` patches, or those of torchgeo's ``bigearthnet-<split>.csv`` in ``root``.
        num_classes: 19 (BigEarthNet's nomenclature, as used by SAR-W-MixMAE) or 43.
        bands: polarisations in channel order.
        transforms: applied to each sample dict.
        patches: explicit patch names (overrides ``split``).
    """

    def __init__(self, root: str | Path = "data", split: str = "all", num_classes: int = 19,
                 bands: Sequence[str] = ("VH", "VV"),
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 patches: Sequence[str] | None = None) -> None:
        # torchgeo's __init__ would verify (and try to download) its archives and split files
        if split not in SPLITS:
            raise ValueError(f"split {split!r}; choose one of {SPLITS}")
        if num_classes not in self.class_sets:
            raise ValueError(f"num_classes must be 19 or 43, got {num_classes}")
        if not bands or any(b.upper() not in ("VV", "VH") for b in bands):
            raise ValueError(f"bands must be VV and/or VH, got {list(bands)}")
        self.root, self.split, self.num_classes = Path(root), split, num_classes
        self.bands = "s1"
        self.polarisations = tuple(b.upper() for b in bands)
        self.transforms, self.download, self.checksum = transforms, False, False
        self.class2idx = {c: i for i, c in enumerate(self.class_sets[43])}
        self.class2idx19 = {c: i for i, c in enumerate(self.class_sets[19])}
        found = {p.name: p for p in find_patches(self.root)}
        if patches is not None or split != "all":
            wanted = list(patches) if patches is not None else read_split(self.root, split)
            missing = [name for name in wanted if name not in found]
            if missing:
                raise FileNotFoundError(f"{len(missing)} patches of the split are not under "
                                        f"{self.root}, e.g. {missing[:3]}")
            paths = [found[name] for name in wanted]
        else:
            paths = list(found.values())
        self.paths = paths
        self.folders = [{"s1": str(p), "s2": ""} for p in paths]

    @property
    def classes(self) -> list[str]:
        return list(self.class_sets[self.num_classes])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = {"image": self._load_image(index), "label": self._load_target(index),
                  "patch": self.paths[index].name}
        return self.transforms(sample) if self.transforms is not None else sample

    def band_file(self, index: int, band: str) -> Path:
        folder = self.paths[index]
        return folder / f"{folder.name}_{band}.tif"

    def _load_image(self, index: int) -> torch.Tensor:
        import rasterio

        arrays = []
        for band in self.polarisations:
            path = self.band_file(index, band)
            if not path.is_file():
                raise BigEarthNetError(f"patch {self.paths[index].name} has no {band} band: "
                                       f"{path} is missing")
            try:
                with rasterio.open(path) as src:
                    data = src.read(1).astype(np.float32)
            except rasterio.errors.RasterioError as err:
                raise BigEarthNetError(f"cannot read {path}: {err}") from err
            if not np.isfinite(data).all():
                raise BigEarthNetError(f"{path} holds {int((~np.isfinite(data)).sum())} "
                                       "non-finite values (NaN or infinite dB)")
            arrays.append(data)
        if len({a.shape for a in arrays}) > 1:
            raise BigEarthNetError(f"patch {self.paths[index]} has bands of different sizes: "
                                   f"{[a.shape for a in arrays]}")
        return torch.from_numpy(np.stack(arrays))

    def label_names(self, index: int) -> list[str]:
        """The label file's class names, as written."""
        folder = self.paths[index]
        path = folder / f"{folder.name}{LABEL_SUFFIX}"
        if not path.is_file():
            raise BigEarthNetError(f"patch {folder.name} has no label file: {path} is missing")
        try:
            labels = json.loads(path.read_text())["labels"]
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BigEarthNetError(f"label file {path} is not valid JSON: {err}") from err
        except (KeyError, TypeError):
            raise BigEarthNetError(f"label file {path} has no 'labels' list (a BigEarthNet "
                                   "*_labels_metadata.json holds {\"labels\": [...], ...})"
                                   ) from None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise BigEarthNetError(f"label file {path}: 'labels' must be a list of class names, "
                                   f"got {labels!r}")
        return labels

    def _load_target(self, index: int) -> torch.Tensor:
        target = torch.zeros(self.num_classes, dtype=torch.long)
        for name in self.label_names(index):
            if name in self.class2idx:
                idx43 = self.class2idx[name]
                idx = idx43 if self.num_classes == 43 else self.label_converter.get(idx43)
            elif name in self.class2idx19 and self.num_classes == 19:
                idx = self.class2idx19[name]
            else:
                folder = self.paths[index]
                raise BigEarthNetError(
                    f"label file {folder / (folder.name + LABEL_SUFFIX)}: unknown class "
                    f"{name!r} (expected BigEarthNet's 43 CORINE names"
                    f"{' or its 19-class names' if self.num_classes == 19 else ''})")
            if idx is not None:  # 43-class names without a 19-class counterpart are dropped
                target[idx] = 1
        return target


class BigEarthNetPretrain(torch.utils.data.Dataset):
    """BigEarthNet-S1 patches as pretraining samples (no labels; label files are not read), as
    sargeo's scene chips: ``power`` linear backscatter in sargeo's band order (VV, VH), resized
    to ``img_size`` in dB (bilinear, as the release's ``Resize``), ``image`` the same mapped to
    [0, 1] over :data:`sargeo.units.DB_RANGE`, ``path`` the patch name."""

    def __init__(self, root: str | Path, img_size: int = 128, split: str = "all") -> None:
        self.patches = BigEarthNetS1(root, split, bands=("VV", "VH"))
        self.img_size = img_size

    def __len__(self) -> int:
        return len(self.patches)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch.nn.functional as F

        from sargeo.units import power_to_unit

        db = self.patches._load_image(index)
        if tuple(db.shape[-2:]) != (self.img_size, self.img_size):
            db = F.interpolate(db[None], size=(self.img_size, self.img_size), mode="bilinear",
                               align_corners=False, antialias=True)[0]
        power = torch.pow(10.0, db / 10.0)
        return {"image": power_to_unit(power), "power": power,
                "path": self.patches.paths[index].name}
