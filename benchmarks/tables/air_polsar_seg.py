"""AIR-PolSAR-Seg (Gaofen-3 land cover): Table 3's six-class and binary-water tasks."""

from __future__ import annotations

from pathlib import Path

from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, image_crops, point_root, require

#: AIR-PolSAR-Seg class names (config order) -> Table 3 columns
AIR_COLUMNS = {"Industrial": "industrial_area", "Natural": "natural_area", "Water": "water",
               "Land_Use": "land_use", "Housing": "housing", "Other": "other"}


def air_polsar_seg_task(folder: Path, work: Path, water: bool) -> MMTask:
    """AIR-PolSAR-Seg as released with SARMAE: ``{train,test}_set/images`` and
    ``{train,test}_set/annotations`` (six classes) or ``{train,test}_set_water/annotations``."""
    ann = "_water/annotations" if water else "/annotations"
    require(folder, "train_set/images", "test_set/images", f"train_set{ann}", f"test_set{ann}")
    files = sorted((folder / "train_set/images").glob("*.png"))
    n_test = len(list((folder / "test_set/images").glob("*.png")))
    classes = ("background", "Water") if water else tuple(AIR_COLUMNS)
    name = "sarmae_vit-b16_upernet_air-polsar-seg" + ("-water" if water else "")
    return MMTask(
        key="air_polsar_seg", config=CONFIGS / f"mmseg/{name}.py",
        point=point_root(folder, n_test),
        dataset=f"AIR-PolSAR-Seg{' water' if water else ''} ({folder})",
        pretrain_data=image_crops(files, "air_polsar_seg"),
        metrics={"mIoU": ("mIoU", 1.0)} | {c: (f"IoU.{c}", 1.0) for c in classes})
