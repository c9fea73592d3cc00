"""SAR target classification datasets (FUSAR-Ship, MSTAR, SAR-ACD, any class-per-folder set)
and deterministic few-shot / percentage splits.

Layouts found under ``root`` (class names are the sorted folder names):

- ``Train/<class>/*`` + ``Val/<class>/*``: the pre-made splits the SARMAE code trains on;
- ``train/<class>/*`` + ``test/<class>/*``: MSTAR's standard operating condition (17 deg
  train, 15 deg test), as in the MSTAR-10 distribution;
- ``<class>/**/*``: one folder per class (FUSAR-Ship's category folders, SAR-ACD's aircraft
  types, your own data); train and test are then drawn from it by the split.

Images of any bit depth are read with :func:`sargeo.pretrain.data.read_image` and given to the
model as the published fine-tuning does: grayscale repeated to 3 channels, resized, in [0, 1].
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from sargeo.pretrain.data import IMAGE_SUFFIXES, read_image, to_tensor

DATASETS = ("fusar_ship", "mstar", "sar_acd", "folder")
PREDEFINED = (("Train", "Val"), ("train", "test"), ("train", "val"))


@dataclass(frozen=True)
class Split:
    """A split spec: ``kind`` is ``shot`` (k images per class), ``percent`` (of each class)
    or ``predefined`` (the layout's own train/test folders)."""

    kind: str
    value: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Split:
        """``40shot``, ``30pct`` / ``30%``, or ``predefined``."""
        t = text.strip().lower()
        if t == "predefined":
            return cls("predefined")
        if m := re.fullmatch(r"(\d+)[-_ ]?shot", t):
            return cls("shot", int(m.group(1)))
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*(pct|%|percent)", t):
            pct = float(m.group(1))
            if not 0 < pct <= 100:
                raise ValueError(f"percentage split must be in (0, 100], got {text!r}")
            return cls("percent", pct)
        raise ValueError(f"unknown split {text!r}: use e.g. 40shot, 30pct or predefined")


def list_class_folder(folder: Path) -> tuple[list[Path], list[int], list[str]]:
    """Images under ``folder/<class>/`` (recursively), their labels and the class names."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise FileNotFoundError(f"no class folders in {folder}")
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (folder / name).rglob("*") if p.suffix.lower() in
                       IMAGE_SUFFIXES)
        if not found:
            raise FileNotFoundError(f"class folder {folder / name} holds no images "
                                    f"({', '.join(IMAGE_SUFFIXES)})")
        files += found
        labels += [label] * len(found)
    return files, labels, classes


def find_layout(root: Path) -> tuple[Path, Path | None]:
    """(train folder, test folder or None) for one of the layouts in the module docstring."""
    if not root.is_dir():
        raise FileNotFoundError(f"data root not found: {root}")
    for train, test in PREDEFINED:
        if (root / train).is_dir() and (root / test).is_dir():
            return root / train, root / test
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and any((subdirs[0] / t).is_dir() for t, _ in PREDEFINED):
        return find_layout(subdirs[0])  # e.g. MSTAR-10/ inside the root
    return root, None


def split_indices(labels: list[int], split: Split, seed: int) -> tuple[list[int], list[int]]:
    """Stratified (train, rest) indices, the same for the same seed, disjoint.

    ``shot``: exactly k images per class in train; a class with fewer than k raises.
    ``percent``: ``round(p% of the class)`` images (at least 1) per class in train.
    """
    g = torch.Generator().manual_seed(seed)
    counts = Counter(labels)
    train, rest = [], []
    for label in sorted(counts):
        idx = [i for i, y in enumerate(labels) if y == label]
        order = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
        if split.kind == "shot":
            k = int(split.value)
            if len(idx) < k:
                raise ValueError(f"class {label} has {len(idx)} images, fewer than the "
                                 f"{k} a {k}-shot split needs")
        elif split.kind == "percent":
            k = max(1, round(len(idx) * split.value / 100))
        else:
            raise ValueError(f"split {split} draws nothing")
        train += order[:k]
        rest += order[k:]
    return sorted(train), sorted(rest)


class ImageList(Dataset):
    """Images and labels as the fine-tuning model sees them."""

    def __init__(self, files: list[Path], labels: list[int], img_size: int = 224,
                 in_chans: int = 3) -> None:
        self.files, self.labels = files, labels
        self.img_size, self.in_chans = img_size, in_chans

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_tensor(read_image(self.files[i]), self.in_chans, self.img_size), self.labels[i]


def load_classification(root: str | Path, split: Split | str, seed: int = 0,
                        img_size: int = 224, in_chans: int = 3
                        ) -> tuple[ImageList, ImageList, list[str]]:
    """(train set, test set, class names) for ``root`` and ``split`` (see the module doc).

    With a predefined train/test layout, shot and percentage splits subsample its train folder
    and evaluate on its test folder; with one folder per class, the rest of each class is the
    test set.
    """
    split = Split.parse(split) if isinstance(split, str) else split
    root = Path(root)
    train_dir, test_dir = find_layout(root)
    files, labels, classes = list_class_folder(train_dir)
    if test_dir is not None:
        test_files, test_labels, test_classes = list_class_folder(test_dir)
        if test_classes != classes:
            raise ValueError(f"{train_dir} and {test_dir} have different classes: "
                             f"{classes} vs {test_classes}")
        if split.kind == "predefined":
            keep = list(range(len(files)))
        else:
            keep, _ = split_indices(labels, split, seed)
        train = ImageList([files[i] for i in keep], [labels[i] for i in keep], img_size,
                          in_chans)
        return train, ImageList(test_files, test_labels, img_size, in_chans), classes
    if split.kind == "predefined":
        raise ValueError(f"{root} has one folder per class and no train/test folders: "
                         "choose a shot or percentage split")
    tr, te = split_indices(labels, split, seed)
    return (ImageList([files[i] for i in tr], [labels[i] for i in tr], img_size, in_chans),
            ImageList([files[i] for i in te], [labels[i] for i in te], img_size, in_chans),
            classes)
