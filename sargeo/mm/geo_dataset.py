"""``GeoTileDataset``: OpenMMLab models train and validate straight from georeferenced scenes.

torchgeo reads the tiles (``Sentinel1GRD`` + a sampler: ``RandomGeoSampler`` for training,
``GridGeoSampler`` for validation, in one target CRS and resolution), sargeo's
:class:`~sargeo.datasets.labels.VectorLabels` (GeoPackage, GeoJSON, ...) or
:class:`~sargeo.datasets.raster_labels.RasterLabels` (label GeoTIFFs, segmentation only) turns
the labels into each tile's pixel grid, and this dataset hands mmdet / mmrotate / mmseg the
results dict their pipelines expect:

- ``task='detection'``: ``gt_bboxes`` (mmdet ``HorizontalBoxes``), ``gt_bboxes_labels``,
  ``gt_ignore_flags`` and ``instances`` (for ``CocoMetric`` without an annotation file);
- ``task='rotated_detection'``: ``gt_bboxes`` as mmrotate ``RotatedBoxes`` (le90);
- ``task='segmentation'``: ``gt_seg_map`` (class ids, ``ignore_index`` outside every scene and
  where raster labels have no label). Training (not ``test_mode``) skips tiles without one
  labelled pixel (e.g. an all-NaN image or an all-nodata label chip) and takes the next one.

Every sample also carries ``crs`` (WKT) and ``transform`` (the tile's affine, 6 numbers), so
predictions can go back to map coordinates. Nothing is tiled to disk. Random tile positions are
drawn once per dataset from ``seed`` (reproducible; give ``length`` enough tiles per epoch).

Config::

    train_dataloader = dict(dataset=dict(
        type='GeoTileDataset', scenes='data/s1/', labels='data/s1/ships.gpkg', layer='ships',
        task='detection', classes=('ship',), tile_size=256, sampler='random', length=2000,
        pipeline=[dict(type='SARNormalize'), dict(type='mmdet.PackDetInputs')]))

Sen1Floods11 as distributed (``S1/<id>_S1Hand.tif`` in dB, ``Labels/<id>_LabelHand.tif`` with
1 water, 0 land, -1 no data)::

    dataset=dict(type='GeoTileDataset', data_root='data/sen1floods11/', scenes='S1/',
                 labels='Labels/', label_type='raster', ignore_value=-1, scenes_in_db=True,
                 task='segmentation', classes=('background', 'water'), ...)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import DATASETS

TASKS = ("detection", "rotated_detection", "segmentation")
LABEL_TYPES = ("vector", "raster")
#: file endings read as vector labels when ``label_type`` is not given
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".gml", ".kml")


def label_type_of(labels: str | Sequence[str]) -> str:
    """``'vector'`` or ``'raster'`` from the label paths: vector file endings
    (:data:`VECTOR_SUFFIXES`) are vector; raster endings (``.tif``, ``.tiff``, ...), folders and
    lists are raster."""
    from sargeo.datasets.raster_labels import RASTER_SUFFIXES

    if not isinstance(labels, str | os.PathLike):
        return "raster"
    path = os.fspath(labels)
    if path.lower().endswith(VECTOR_SUFFIXES):
        return "vector"
    if path.lower().endswith(RASTER_SUFFIXES) or os.path.isdir(path):
        return "raster"
    if not os.path.exists(path):
        raise FileNotFoundError(f"GeoTileDataset: labels not found: {labels}")
    raise ValueError(f"GeoTileDataset: cannot tell whether {labels} holds vector or raster "
                     "labels; pass label_type='vector' or 'raster'")


@DATASETS.register_module()
class GeoTileDataset(torch.utils.data.Dataset):
    """Tiles of georeferenced SAR scenes with vector or raster labels, as OpenMMLab samples.

    Args:
        scenes: GeoTIFF/COG files or folders (read by :class:`sargeo.datasets.Sentinel1GRD`).
        labels: a vector file (GeoPackage, GeoJSON, Shapefile) with the objects or regions, or
            label rasters (files, a folder or a glob; any CRS and grid; segmentation only).
        task: ``detection``, ``rotated_detection`` or ``segmentation``.
        classes: class names, in label-id order (``class_column`` holds them in a vector file;
            a label raster holds the ids, or values mapped by ``value_map``).
        data_root: folder that relative ``scenes`` and ``labels`` paths start from.
        label_type: ``'vector'`` or ``'raster'``; default: from ``labels``
            (:func:`label_type_of`: ``.gpkg``/``.geojson``/... vector; ``.tif``/``.tiff``,
            folders and lists raster).
        ignore_value, value_map: raster labels' "no label" value(s) and value -> class id map
            (see :class:`~sargeo.datasets.raster_labels.RasterLabels`).
        scenes_in_db: the scenes hold dB (``10 log10`` power), e.g. Sen1Floods11 or Google
            Earth Engine exports; read as linear power like every other scene.
        layer: layer of the vector file.
        bands: polarisations to read.
        tile_size: tile side in pixels.
        sampler: ``random`` (torchgeo ``RandomGeoSampler``) or ``grid`` (``GridGeoSampler``).
        length: tiles per epoch for ``random``.
        stride: grid stride in pixels (default: ``tile_size``, no overlap).
        crs, res: target CRS and resolution (default: the first scene's).
        min_visible: share of an object's area that must lie in a tile to keep it.
        point_size: side in map units of the square given to point labels.
        background: class id of pixels outside every region (segmentation, vector labels).
        ignore_index: class id of unlabelled pixels: outside every scene, and for raster labels
            outside every label raster or ``ignore_value`` (segmentation).
        pipeline: OpenMMLab transforms applied to each results dict.
        test_mode: validation/test: keep every tile, unlabelled ones too (the metric ignores
            them); otherwise training skips segmentation tiles with no labelled pixel.
    """

    def __init__(self, scenes: str | Sequence[str], labels: str | Sequence[str], *, task: str,
                 classes: Sequence[str], data_root: str | None = None,
                 label_type: str | None = None,
                 ignore_value: float | Sequence[float] | None = None,
                 value_map: dict | None = None, scenes_in_db: bool = False,
                 layer: str | None = None,
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
        from sargeo.datasets.raster_labels import RasterLabels
        from sargeo.datasets.sentinel1 import Sentinel1GRD

        if task not in TASKS:
            raise ValueError(f"GeoTileDataset: task must be one of {TASKS}, got {task!r}")
        if sampler not in ("random", "grid"):
            raise ValueError(f"GeoTileDataset: sampler must be 'random' or 'grid', got "
                             f"{sampler!r}")
        if data_root:
            scenes, labels = _under(data_root, scenes), _under(data_root, labels)
        label_type = label_type or label_type_of(labels)
        if label_type not in LABEL_TYPES:
            raise ValueError(f"GeoTileDataset: label_type must be one of {LABEL_TYPES}, got "
                             f"{label_type!r}")
        self.task, self.tile_size = task, tile_size
        self.ignore_index = ignore_index
        self.test_mode = test_mode
        self.images = Sentinel1GRD(scenes, bands=bands, crs=crs, res=res,
                                   files_in_db=scenes_in_db)
        if label_type == "raster":
            self.labels = RasterLabels(labels, classes=tuple(classes), ignore_value=ignore_value,
                                       value_map=value_map, ignore_index=ignore_index,
                                       crs=self.images.crs)
        else:
            self.labels = VectorLabels(labels, layer=layer, class_column=class_column,
                                       classes=tuple(classes), crs=self.images.crs,
                                       min_visible=min_visible, point_size=point_size)
        self.scenes = LabelledScenes(self.images, self.labels, task=task,
                                     background=background)
        if sampler == "random":
            generator = torch.Generator().manual_seed(seed)
            queries = RandomGeoSampler(self.scenes, size=tile_size, length=length,
                                       generator=generator)
            # torchgeo 0.10 draws the scene of each tile from torch's global generator (not
            # from ``generator``): seed it too, for this draw only, so ``seed`` decides it all
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.queries = list(queries)
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
            "crs": self.scenes.crs.to_wkt(), "transform": tuple(transform)[:6]}
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
        results = self.results(index)
        if self.task == "segmentation" and not self.test_mode:
            for step in range(1, len(self)):  # unlabelled tile: the next one that has labels
                if (results["gt_seg_map"] != self.ignore_index).any():
                    break
                results = self.results((index + step) % len(self))
            if not (results["gt_seg_map"] != self.ignore_index).any():
                raise ValueError(f"GeoTileDataset: none of the {len(self)} tiles has a labelled "
                                 "pixel (all outside the labels, label nodata or image nodata); "
                                 "check that labels and scenes overlap and ignore_value")
        return self.pipeline(results)


def _under(root: str, paths: str | Sequence[str]) -> str | list[str]:
    """``paths`` joined to ``root`` where relative."""
    if isinstance(paths, str | os.PathLike):
        return os.path.join(root, paths)
    return [os.path.join(root, p) for p in paths]
