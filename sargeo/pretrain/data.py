"""Pretraining data: SAR image indexes (SAR-1M layout), Sentinel-1 GeoTIFF scenes sampled with
torchgeo, and a DataLoader whose position survives a resume.

Every sample is a dict with ``image`` (C, H, W) float in [0, 1]; paired samples add ``optical``
(3, H, W) in [0, 1] and ``paired`` True; scene samples add ``power`` (linear backscatter) for
SAR-W.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from sargeo.units import INPUT_MEAN, INPUT_STD, normalize

__all__ = ["IMAGE_SUFFIXES", "INPUT_MEAN", "INPUT_STD", "RELEASED_PAIRED_RATIO", "SAMPLINGS",
           "BadImageError", "EpochSampler", "ResumableDataLoader", "SARImageIndex",
           "normalize", "read_image", "released_mix", "to_tensor"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: how :class:`SARImageIndex` fills an epoch: every entry once, or the released paired mix
SAMPLINGS = ("each", "released")
RELEASED_PAIRED_RATIO = 0.7  #: share of paired samples per epoch in the released sampling
# what the encoder sees, images in [0, 1] (:func:`to_tensor`) as (x - INPUT_MEAN) / INPUT_STD,
# is defined in sargeo.units; fine-tuning and probes take it from here or there


class BadImageError(ValueError):
    """An image file cannot be decoded; the message names it."""


def read_image(path: str | Path) -> np.ndarray:
    """Read an image of any bit depth as float32 (H, W, C) in [0, 1].

    8-bit and 16-bit integers are divided by their type's maximum; float images are assumed to
    be in [0, 1] already and are clipped.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            arr = np.asarray(img)
    except Exception as err:  # PIL raises many types for undecodable files
        raise BadImageError(f"cannot decode image {path}: {err}") from err
    if arr.ndim == 2:
        arr = arr[..., None]
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    elif arr.dtype == bool:
        arr = arr.astype(np.float32)
    else:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0)
    return arr


def to_tensor(arr: np.ndarray, channels: int, size: int) -> torch.Tensor:
    """(H, W, C) -> (channels, size, size): grayscale repeated (or RGB averaged) to ``channels``,
    resized with bilinear interpolation."""
    x = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float()
    if x.shape[0] != channels:
        x = x.mean(0, keepdim=True).expand(channels, -1, -1) if channels in (1, 3) or \
            x.shape[0] == 1 else x[:channels]
    if x.shape[1:] != (size, size):
        x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)[0]
    return x.clamp(0.0, 1.0)


class SARImageIndex(Dataset):
    """SAR images listed in SAR-1M style index files.

    ``paired.json`` lists SAR images with an optical partner, ``unpaired.json`` SAR images
    alone; paths are relative to ``root``. Accepted entry forms: ``{"sar": "a.png",
    "optical": "b.png"}`` (also ``sar_path``/``opt_path``/``optical_path``), ``["a.png",
    "b.png"]``, or a plain ``"a.png"``; a file may hold a list or ``{"images": [...]}``. Users
    extend the corpus by appending entries.

    Missing files are skipped with one counted warning (``on_missing="skip"``) or raise
    (``"error"``). Images that fail to decode raise :class:`BadImageError` naming the file
    (``on_bad_image="error"``) or are replaced by the next entry with a counted warning
    (``"skip"``).

    ``sampling`` says what one epoch holds: ``"each"`` (default) every entry once;
    ``"released"`` the released ``MixedSARDataset`` mix (:func:`released_mix`): about
    ``paired_ratio`` (0.7) of every epoch from entries with an optical partner, the rest from
    entries without.
    """

    SAR_KEYS = ("sar", "sar_path", "sar_image", "image", "path")
    OPTICAL_KEYS = ("optical", "opt", "optical_path", "opt_path", "optical_image", "rgb")

    def __init__(self, root: str | Path, index_files: Sequence[str] = ("paired.json",
                 "unpaired.json"), img_size: int = 224, in_chans: int = 3,
                 on_missing: str = "skip", on_bad_image: str = "error",
                 sampling: str = "each", paired_ratio: float = RELEASED_PAIRED_RATIO) -> None:
        self.root = Path(root)
        self.img_size, self.in_chans = img_size, in_chans
        for name, value in (("on_missing", on_missing), ("on_bad_image", on_bad_image)):
            if value not in ("skip", "error"):
                raise ValueError(f"{name} must be 'skip' or 'error', got {value!r}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        self.on_bad_image = on_bad_image
        self.num_bad = 0
        self.entries: list[tuple[Path, Path | None]] = []
        missing: list[Path] = []
        found_index = False
        for name in index_files:
            index = self.root / name
            if not index.is_file():
                continue
            found_index = True
            for sar, optical in self._parse(index):
                paths = [p for p in (sar, optical) if p is not None]
                absent = [p for p in paths if not p.is_file()]
                if absent:
                    missing.extend(absent)
                    continue
                self.entries.append((sar, optical))
        if not found_index:
            raise FileNotFoundError(f"no index file {list(index_files)} in {self.root}")
        if missing:
            if on_missing == "error":
                raise FileNotFoundError(f"{len(missing)} indexed files are missing, e.g. "
                                        f"{[str(p) for p in missing[:3]]}")
            warnings.warn(f"skipped {len(missing)} index entries whose files are missing in "
                          f"{self.root}, e.g. {missing[0]}", stacklevel=2)
        self.num_missing = len(missing)
        if not self.entries:
            raise ValueError(f"no usable images listed in the index files of {self.root}")
        #: dataset index -> entry index
        self.order = list(range(len(self.entries))) if sampling == "each" else released_mix(
            [k for k, (_, opt) in enumerate(self.entries) if opt is not None],
            [k for k, (_, opt) in enumerate(self.entries) if opt is None], paired_ratio)

    def _parse(self, index: Path) -> Iterator[tuple[Path, Path | None]]:
        try:
            data = json.loads(index.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"index file {index} is not valid JSON: {err}") from err
        if isinstance(data, dict):
            data = next((data[k] for k in ("images", "data", "items", "pairs") if k in data),
                        list(data.values()))
        for i, entry in enumerate(data):
            if isinstance(entry, str):
                yield self.root / entry, None
            elif isinstance(entry, list | tuple) and entry:
                yield self.root / entry[0], (self.root / entry[1] if len(entry) > 1 else None)
            elif isinstance(entry, dict):
                sar = next((entry[k] for k in self.SAR_KEYS if k in entry), None)
                opt = next((entry[k] for k in self.OPTICAL_KEYS if k in entry), None)
                if sar is None:
                    raise ValueError(f"{index} entry {i} names no SAR image "
                                     f"(expected one of {self.SAR_KEYS}): {entry}")
                yield self.root / sar, (self.root / opt if opt else None)
            else:
                raise ValueError(f"{index} entry {i} has an unknown form: {entry!r}")

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, Any]:
        start = self.order[i]
        for attempt in range(len(self.entries)):
            try:
                return self._load((start + attempt) % len(self.entries))
            except BadImageError as err:
                if self.on_bad_image == "error":
                    raise
                self.num_bad += 1
                warnings.warn(f"skipping undecodable image ({self.num_bad} so far in this "
                              f"worker): {err}", stacklevel=2)
        raise BadImageError(f"no image under {self.root} can be decoded")

    def _load(self, i: int) -> dict[str, Any]:
        sar, optical = self.entries[i]
        sample: dict[str, Any] = {
            "image": to_tensor(read_image(sar), self.in_chans, self.img_size),
            "paired": optical is not None, "path": str(sar),
            "optical": torch.zeros(3, self.img_size, self.img_size)}
        if optical is not None:
            sample["optical"] = to_tensor(read_image(optical), 3, self.img_size)
        return sample


def released_mix(paired: Sequence[int], unpaired: Sequence[int],
                 paired_ratio: float = RELEASED_PAIRED_RATIO) -> list[int]:
    """One epoch of the released SAR-1M sampling (``MixedSARDataset``), as a list of entries.

    The epoch has ``int(len(paired) / paired_ratio)`` indices (``len(unpaired)`` when nothing
    is paired); the first ``int(length * paired_ratio)`` take ``paired[i % len(paired)]``, the
    others ``unpaired[j % len(unpaired)]`` for j = 0, 1, ... As released, the unpaired share
    does not grow with the unpaired corpus: unpaired entries past that share are never drawn.
    """
    if not 0.0 < paired_ratio <= 1.0:
        raise ValueError(f"paired_ratio must be in (0, 1], got {paired_ratio}")
    if not paired:
        return list(unpaired)
    length = int(len(paired) / paired_ratio)
    cutoff = int(length * paired_ratio)
    if cutoff < length and not unpaired:
        raise ValueError(f"sampling='released' with paired_ratio {paired_ratio} fills "
                         f"{length - cutoff} of {length} indices per epoch with unpaired "
                         "images, but the index lists none: add unpaired.json entries, use "
                         "paired_ratio=1.0 or sampling='each'")
    return [paired[i % len(paired)] for i in range(cutoff)] + [
        unpaired[j % len(unpaired)] for j in range(length - cutoff)]


class EpochSampler(Sampler[int]):
    """A permutation per (seed, epoch), sharded across ranks, that can start part-way through
    an epoch: the position a resumed run continues from."""

    def __init__(self, length: int, seed: int = 0, shuffle: bool = True,
                 rank: int | None = None, world_size: int | None = None) -> None:
        self.length, self.seed, self.shuffle = length, seed, shuffle
        dist = torch.distributed
        initialized = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if initialized else 0)
        self.world_size = world_size if world_size is not None else (
            dist.get_world_size() if initialized else 1)
        self.epoch = 0
        self.start = 0  #: indices of this rank's share to skip in the current epoch

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.start = 0
        self.epoch = epoch

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        per_rank = self.length // self.world_size  # equal shares keep ranks in step
        return order[self.rank * per_rank:(self.rank + 1) * per_rank]

    def __iter__(self) -> Iterator[int]:
        start, self.start = self.start, 0
        return iter(self.indices()[start:])

    def __len__(self) -> int:
        return self.length // self.world_size


class ResumableDataLoader(DataLoader):
    """DataLoader over an :class:`EpochSampler` with ``state_dict``/``load_state_dict``: Lightning
    stores its position in each checkpoint and a resumed run continues with the next batch.

    Not torchdata's StatefulDataLoader: over an EpochSampler it saves only the samples yielded,
    not the epoch, and a run resumed mid-epoch draws another epoch's permutation (losses differ
    from the uninterrupted run); torchdata is also not a dependency."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, shuffle: bool = True,
                 **kwargs: Any) -> None:
        self.epoch_sampler = EpochSampler(len(dataset), seed, shuffle)
        super().__init__(dataset, batch_size=batch_size, sampler=self.epoch_sampler,
                         drop_last=True, **kwargs)
        self._yielded = 0

    def __iter__(self) -> Iterator[Any]:
        self._yielded = self.epoch_sampler.start // self.batch_size
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def __len__(self) -> int:
        return len(self.epoch_sampler) // self.batch_size

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch_sampler.epoch, "batches": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch_sampler.epoch = int(state["epoch"])
        self.epoch_sampler.start = int(state["batches"]) * int(self.batch_size)
