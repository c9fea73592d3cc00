"""RSAR (oriented ship detection, DOTA format): Table 2's oriented-detection task."""

from __future__ import annotations

from pathlib import Path

from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, NotRun, at_most, image_crops, point_root, require


def rsar_task(folder: Path, work: Path) -> MMTask:
    """RSAR in DOTA format: ``{train,val,test}/{images,annfiles}`` (needs mmrotate)."""
    try:
        import mmrotate  # noqa: F401
    except ImportError as err:
        raise NotRun(f"mmrotate is not installed ({err})") from err
    require(folder, *(f"{s}/{d}" for s in ("train", "val", "test")
                      for d in ("images", "annfiles")))
    files = at_most(sorted(p for p in (folder / "train/images").iterdir()
                           if p.suffix.lower() in (".png", ".jpg", ".bmp", ".tif")), 5000)
    n_test = len(list((folder / "test/annfiles").glob("*.txt")))
    return MMTask(
        key="rsar", config=CONFIGS / "mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar.py",
        point=point_root(folder, n_test), dataset=f"RSAR ({folder})",
        pretrain_data=image_crops(files, "rsar"),
        metrics={"mAP": ("dota/mAP", 100.0)})
