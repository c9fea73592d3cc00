"""SSDD (ship detection, COCO format): Table 2's horizontal-detection task."""

from __future__ import annotations

from pathlib import Path

from benchmarks.tables.coco import coco_images, coco_probe, point_coco
from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, NotRun, image_crops, require


def ssdd_task(folder: Path, work: Path) -> MMTask:
    """SSDD in COCO format: ``annotations/instances_sarship_{train,test}.json`` with ``train/``
    and ``test/``, or the 300-image subset ``instances_sarship_train_subset300.json`` with
    ``train_subset300/``."""
    test = ("annotations/instances_sarship_test.json", "test")
    require(folder, *test)
    train = next(((ann, img) for ann, img in (
        ("annotations/instances_sarship_train.json", "train"),
        ("annotations/instances_sarship_train_subset300.json", "train_subset300"))
        if (folder / ann).is_file() and (folder / img).is_dir()), None)
    if train is None:
        raise NotRun(f"{folder} has no annotations/instances_sarship_train.json + train/ "
                     "(nor the train_subset300 pair)")
    files = coco_images(folder, *train)
    n_test = len(coco_images(folder, *test))
    return MMTask(
        key="ssdd", config=CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py",
        point=point_coco(folder, {"train": train, "val": test, "test": test}),
        dataset=f"SSDD: train {train[0]} ({len(files)} images), test {test[0]} "
                f"({n_test} images)",
        pretrain_data=image_crops(files, "ssdd"),
        metrics={"mAP": ("coco/bbox_mAP", 100.0), "AP50": ("coco/bbox_mAP_50", 100.0)},
        probe=coco_probe(folder, train, test), probe_metric="ship cells, AP (%)")
