"""Imagery plus vector labels as one torchgeo dataset.

:class:`LabelledScenes` wraps an image ``GeoDataset`` (e.g. :class:`~sargeo.datasets.sentinel1.
Sentinel1GRD`) and one :class:`~sargeo.datasets.labels.VectorLabels`. It shares the images'
index, CRS and resolution, so torchgeo's samplers (``RandomGeoSampler``, ``GridGeoSampler``)
work on it unchanged; each sample is the image tile plus its affine ``transform`` and the
labels cut to the tile in pixel coordinates (boxes, oriented boxes, class ids, and a class mask
for segmentation). Batch it with :func:`sargeo.datasets.collate.collate_geo`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from geopandas import GeoDataFrame
from torchgeo.datasets import GeoDataset

from sargeo.datasets.labels import VectorLabels
from sargeo.geo import tile_transform

TASKS = ("detection", "rotated_detection", "segmentation")


def _parse_task(task: str | Sequence[str]) -> tuple[str, ...]:
    tasks = (task,) if isinstance(task, str) else tuple(task)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown task {unknown[0] if unknown else task!r}; choose from "
                         f"{TASKS} (or several of them)")
    return tasks


class LabelledScenes(GeoDataset):
    """Image tiles with their vector labels.

    Args:
        images: the image dataset; its samples must have ``"image"``.
        labels: the labels; reprojected to the images' CRS where they differ.
        task: "detection", "rotated_detection", "segmentation", or several of them. Boxes
            (``hboxes``, ``rboxes``, ``labels``) are always returned; ``mask`` only when the task
            includes segmentation.
        background: mask value where no polygon is (see
            :meth:`~sargeo.datasets.labels.VectorLabels.mask_for_tile`).
        transforms: applied to each finished sample.
        check_coverage: warn when labels lie outside every scene.

    Samples: the image sample's keys plus ``transform`` (affine, pixel -> map), ``hboxes``
    float32 ``(N, 4)``, ``rboxes`` float32 ``(N, 5)`` le90, ``labels`` int64 ``(N,)`` and, for
    segmentation, ``mask`` int64 ``(H, W)``.
    """

    def __init__(self, images: GeoDataset, labels: VectorLabels,
                 task: str | Sequence[str] = "detection", *, background: int = 0,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 check_coverage: bool = True) -> None:
        if not isinstance(images, GeoDataset):
            raise TypeError(f"images must be a torchgeo GeoDataset, not {type(images).__name__}")
        if not isinstance(labels, VectorLabels):
            raise TypeError(f"labels must be VectorLabels, not {type(labels).__name__}")
        self.images = images
        self.labels = labels
        self.tasks = _parse_task(task)
        self.background = int(background)
        self.transforms = transforms
        self.paths = getattr(images, "paths", [])
        if check_coverage:
            labels.check_coverage(images.index)

    # the images' index, CRS (read from the index) and resolution, so samplers see the images
    @property  # type: ignore[override]
    def index(self) -> GeoDataFrame:
        return self.images.index

    @index.setter
    def index(self, value: GeoDataFrame) -> None:
        self.images.index = value

    @property
    def res(self) -> tuple[float, float]:
        return self.images.res

    @res.setter
    def res(self, new_res: float | tuple[float, float]) -> None:
        self.images.res = new_res

    @property
    def files(self) -> list[str]:
        return list(self.images.files)

    def __getitem__(self, query: Any) -> dict[str, Any]:
        sample = self.images[query]
        if "image" not in sample:
            raise KeyError(f"{type(self.images).__name__} samples have no 'image' "
                           f"(keys: {sorted(sample)})")
        x, y, _ = self._disambiguate_slice(query)
        transform = tile_transform((x, y), (float(x.step), float(y.step)))
        shape = tuple(sample["image"].shape[-2:])
        tile = self.labels.for_tile(transform, shape, crs=self.crs)
        sample["transform"] = transform
        sample["hboxes"] = torch.from_numpy(tile.hboxes)
        sample["rboxes"] = torch.from_numpy(tile.rboxes)
        sample["labels"] = torch.from_numpy(tile.labels)
        if "segmentation" in self.tasks:
            mask = self.labels.mask_for_tile(transform, shape, crs=self.crs,
                                             background=self.background)
            sample["mask"] = torch.from_numpy(mask).long()
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
