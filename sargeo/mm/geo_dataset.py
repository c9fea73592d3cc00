"""``GeoTileDataset``: OpenMMLab models train and validate straight from georeferenced scenes.

torchgeo reads the tiles (``Sentinel1GRD`` + a sampler: ``RandomGeoSampler`` for training,
``GridGeoSampler`` for validation, in one target CRS and resolution), sargeo's
:class:`~sargeo.datasets.labels.VectorLabels` turns the vector labels into each tile's pixel
grid, and this dataset hands mmdet / mmrotate / mmseg the results dict their pipelines expect:

- ``task='detection'``: ``gt_bboxes`` (mmdet ``HorizontalBoxes``), ``gt_bboxes_labels``,
  ``gt_ignore_flags`` and ``instances`` (for ``CocoMetric`` without an annotation file);
- ``task='rotated_detection'``: ``gt_bboxes`` as mmrotate ``RotatedBoxes`` (le90);
- ``task='segmentation'``: ``gt_seg_map`` (class ids, ``ignore_index`` outside every scene).

Every sample also carries ``crs`` (WKT) and ``transform`` (the tile's affine, 6 numbers), so
predictions can go back to map coordinates. Nothing is tiled to disk. Random tile positions are
drawn once per dataset from ``seed`` (reproducible; give ``length`` enough tiles per epoch).

Config::

    train_dataloader = dict(dataset=dict(
        type='GeoTileDataset', scenes='data/s1/', labels='data/s1/ships.gpkg', layer='ships',
        task='detection', classes=('ship',), tile_size=256, sampler='random', length=2000,
        pipeline=[dict(type='SARNormalize'), dict(type='mmdet.PackDetInputs')]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import DATASETS

TASKS = ("detection", "rotated_detection", "segmentation")


@DATASETS.register_module()
class GeoTileDataset(torch.utils.data.Dataset):
    """Tiles of georeferenced SAR scenes with vector labels, as OpenMMLab samples.

    Args:
        scenes: GeoTIFF/COG files or folders (read by :class:`sargeo.datasets.Sentinel1GRD`).
        labels: vector file (GeoPackage, GeoJSON, Shapefile) with the objects or regions.
        task: ``detection``, ``rotated_detection`` or ``segmentation``.
        classes: class names, in label-id order (``class_column`` holds them in the file).
        layer: layer of the vector file.
        bands: polarisations to read.
        tile_size: tile side in pixels.
        sampler: ``random`` (torchgeo ``RandomGeoSampler``) or ``grid`` (``GridGeoSampler``).
        length: tiles per epoch for ``random``.
        stride: grid stride in pixels (default: ``tile_size``, no overlap).
        crs, res: target CRS and resolution (default: the first scene's).
        min_visible: share of an object's area that must lie in a tile to keep it.
        point_size: side in map units of the square given to point labels.
        background: class id of pixels outside every region (segmentation).
        ignore_index: class id of pixels outside every scene (segmentation).
        pipeline: OpenMMLab transforms applied to each results dict.
        test_mode: accepted for OpenMMLab compatibility.
    """

    def __init__(self, scenes: str | Sequence[str], labels: str, *, task: str,
                 classes: Sequence[str], layer: str | None = None,
                 class_column: str = "class_name", bands: Sequence[str] = ("VV", "VH"),
                 tile_size: int = 256, sampler: str = "random", length: int = 100,
                 stride: int | None = None, seed: int = 0, crs: Any = None,
                 res: float | None = None, min_visible: float = 0.5,
                 point_size: float | None = None, background: int = 0,
                 ignore_index: int = 255, pipeline: Sequence[dict] = (),
                 test_mode: bool = False, metainfo: dict | None = None,
                 lazy_init: bool = False) -> None:
        from torchgeo.samplers import GridGeoSampler, RandomGeoSampler

        from sargeo.datasets.labelled import LabelledScenes
        from sargeo.datasets.labels import VectorLabels
        from sargeo.datasets.sentinel1 import Sentinel1GRD

        if task not in TASKS:
            raise ValueError(f"GeoTileDataset: task must be one of {TASKS}, got {task!r}")
        if sampler not in ("random", "grid"):
            raise ValueError(f"GeoTileDataset: sampler must be 'random' or 'grid', got "
                             f"{sampler!r}")
        self.task, self.tile_size = task, tile_size
        self.ignore_index = ignore_index
        self.images = Sentinel1GRD(scenes, bands=bands, crs=crs, res=res)
        self.labels = VectorLabels(labels, layer=layer, class_column=class_column,
                                   classes=tuple(classes), crs=self.images.crs,
                                   min_visible=min_visible, point_size=point_size)
        self.scenes = LabelledScenes(self.images, self.labels, task=task,
                                     background=background)
        if sampler == "random":
            generator = torch.Generator().manual_seed(seed)
            queries = RandomGeoSampler(self.scenes, size=tile_size, length=length,
                                       generator=generator)
        else:
            queries = GridGeoSampler(self.scenes, size=tile_size, stride=stride or tile_size)
        self.queries = list(queries)
        if not self.queries:
            raise ValueError(f"GeoTileDataset: no {tile_size} px tile fits in the scenes "
                             f"{scenes}")
        self._metainfo = {"classes": tuple(classes), **(metainfo or {})}
        self.pipeline = Compose(list(pipeline))

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def __len__(self) -> int:
        return len(self.queries)

    def results(self, index: int) -> dict[str, Any]:
        """The results dict of tile ``index`` before the pipeline."""
        sample = self.scenes[self.queries[index]]
        image = sample["image"].numpy().astype(np.float32)  # (C, H, W), linear power / NaN
        h, w = image.shape[-2:]
        transform = sample["transform"]
        results: dict[str, Any] = {
            "img": np.ascontiguousarray(image.transpose(1, 2, 0)), "img_id": index,
            "img_path": f"tile_{index:06d}", "img_shape": (h, w), "ori_shape": (h, w),
            "scale_factor": (1.0, 1.0),
            "crs": sample["crs"].to_wkt(), "transform": tuple(transform)[:6]}
        if self.task == "segmentation":
            mask = sample["mask"].numpy().astype(np.uint8)
            mask[~np.isfinite(image).any(0)] = self.ignore_index  # outside every scene
            results.update(gt_seg_map=mask, seg_fields=["gt_seg_map"], reduce_zero_label=False)
            return results
        labels = sample["labels"].numpy().astype(np.int64)
        if self.task == "detection":
            from mmdet.structures.bbox import HorizontalBoxes

            boxes = sample["hboxes"].numpy().astype(np.float32).reshape(-1, 4)
            results["gt_bboxes"] = HorizontalBoxes(boxes)
            results["instances"] = [
                {"bbox": b.tolist(), "bbox_label": int(c), "ignore_flag": 0}
                for b, c in zip(boxes, labels, strict=True)]
        else:
            from mmrotate.structures.bbox import RotatedBoxes

            rboxes = sample["rboxes"].numpy().astype(np.float32).reshape(-1, 5)
            results["gt_bboxes"] = RotatedBoxes(rboxes)
        results["gt_bboxes_labels"] = labels
        results["gt_ignore_flags"] = np.zeros(len(labels), dtype=bool)
        return results

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.pipeline(self.results(index))
