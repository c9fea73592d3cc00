"""Imagery plus labels as one torchgeo dataset.

:class:`LabelledScenes` wraps an image ``GeoDataset`` (e.g. :class:`~sargeo.datasets.sentinel1.
Sentinel1GRD`) and one label source: :class:`~sargeo.datasets.labels.VectorLabels` (objects and
regions) or :class:`~sargeo.datasets.raster_labels.RasterLabels` (class masks, segmentation
only). It shares the images' index, CRS and resolution, so torchgeo's samplers
(``RandomGeoSampler``, ``GridGeoSampler``) work on it unchanged; each sample is the image tile
plus its affine ``transform`` and the labels cut to the tile in pixel coordinates (boxes,
oriented boxes, class ids, and a class mask for segmentation). Batch it with
:func:`sargeo.datasets.collate.collate_geo`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from affine import Affine
from geopandas import GeoDataFrame
from torchgeo.datasets import GeoDataset

from sargeo.datasets.labels import LabelError
from sargeo.geo import tile_transform

TASKS = ("detection", "rotated_detection", "segmentation")


@runtime_checkable
class TileLabelSource(Protocol):
    """What :class:`LabelledScenes` needs of labels (``VectorLabels``, ``RasterLabels``).
    Labels that also have ``for_tile`` (objects cut to a tile) serve the box tasks."""

    def mask_for_tile(self, transform: Affine, shape: Sequence[int], crs: Any = None, *,
                      background: int = 0) -> np.ndarray: ...

    def check_coverage(self, footprints: Any, crs: Any = None) -> int: ...


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
        labels: :class:`~sargeo.datasets.labels.VectorLabels` or
            :class:`~sargeo.datasets.raster_labels.RasterLabels`; reprojected to the images'
            CRS where they differ.
        task: "detection", "rotated_detection", "segmentation", or several of them. Vector
            labels always give boxes (``hboxes``, ``rboxes``, ``labels``); raster labels give
            none and serve segmentation only. ``mask`` only when the task includes
            segmentation.
        background: mask value where no polygon is (see
            :meth:`~sargeo.datasets.labels.VectorLabels.mask_for_tile`).
        transforms: applied to each finished sample.
        check_coverage: warn when labels lie outside every scene.

    Samples: the image sample's keys plus ``crs`` (pyproj), ``query`` (the exact slices that
    read this tile; torchgeo's ``bounds`` tensor is float32), ``transform`` (affine, pixel ->
    map; torchgeo's tensor form is replaced by an exact :class:`affine.Affine`), ``hboxes``
    float32 ``(N, 4)``, ``rboxes`` float32 ``(N, 5)`` le90, ``labels`` int64 ``(N,)`` (vector
    labels) and, for segmentation, ``mask`` int64 ``(H, W)``.
    """

    def __init__(self, images: GeoDataset, labels: TileLabelSource,
                 task: str | Sequence[str] = "detection", *, background: int = 0,
                 transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 check_coverage: bool = True) -> None:
        if not isinstance(images, GeoDataset):
            raise TypeError(f"images must be a torchgeo GeoDataset, not {type(images).__name__}")
        if not isinstance(labels, TileLabelSource):
            raise TypeError(f"labels must be VectorLabels or RasterLabels, not "
                            f"{type(labels).__name__}")
        self.images = images
        self.labels = labels
        self.tasks = _parse_task(task)
        self.has_boxes = callable(getattr(labels, "for_tile", None))
        boxed = [t for t in self.tasks if t != "segmentation"]
        if boxed and not self.has_boxes:
            raise LabelError(f"{labels!r} gives class masks only; task {boxed[0]!r} needs "
                             "object outlines for its boxes: give vector labels (GeoPackage, "
                             "GeoJSON, Shapefile), or use task 'segmentation'")
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
        x, y, t = self._disambiguate_slice(query)
        transform = tile_transform((x, y), (float(x.step), float(y.step)))
        shape = tuple(sample["image"].shape[-2:])
        sample["transform"] = transform
        sample["crs"] = self.crs
        sample["query"] = (x, y, t)
        if self.has_boxes:
            tile = self.labels.for_tile(transform, shape, crs=self.crs)
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
