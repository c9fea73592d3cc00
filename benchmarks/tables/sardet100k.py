"""SARDet-100K (multi-class detection, COCO format): Table 2's second horizontal-detection
task."""

from __future__ import annotations

from pathlib import Path

from benchmarks.tables.coco import coco_images, point_coco
from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, at_most, image_crops, require


def sardet_task(folder: Path, work: Path) -> MMTask:
    """SARDet-100K: ``Annotations/{train,val,test}.json`` and ``JPEGImages/{train,val,test}``;
    the small budget pretrains on (at most 5,000 evenly spaced) training images."""
    splits = {s: (f"Annotations/{s}.json", f"JPEGImages/{s}") for s in ("train", "val", "test")}
    require(folder, *(p for pair in splits.values() for p in pair))
    files = at_most(coco_images(folder, *splits["train"]), 5000)
    return MMTask(
        key="sardet_100k", config=CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_sardet100k.py",
        point=point_coco(folder, splits), dataset=f"SARDet-100K ({folder})",
        pretrain_data=image_crops(files, "sardet_100k"),
        metrics={"mAP": ("coco/bbox_mAP", 100.0), "AP50": ("coco/bbox_mAP_50", 100.0)})
