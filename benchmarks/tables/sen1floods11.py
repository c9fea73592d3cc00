"""Sen1Floods11 hand-labelled chips: the small-budget stand-in for Table 3's binary-water cell
(the data set itself: :mod:`sargeo.datasets.sen1floods11`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, NotRun, SmallRecipe

#: DB_RANGE: the dB range sargeo's scene pretraining maps to [0, 1]; SARNormalize(to_db=False,
#: mean=-12.5, std=17.5, clip=(-1, 1)) maps it to [-1, 1], the same values after SARMAE's 0.5/0.5
from sargeo.units import DB_RANGE


def db_to_unit(db: Any) -> Any:
    """dB backscatter mapped to [0, 1] over :data:`DB_RANGE`, NaN to 0 (the chips' pretraining
    and probe scale)."""
    import numpy as np

    lo, hi = DB_RANGE
    unit = np.clip((np.nan_to_num(db, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    unit[~np.isfinite(db)] = 0.0
    return unit


def sen1floods11_split(folder: Path) -> dict[str, Any]:
    """:func:`sargeo.datasets.sen1floods11.split_chips`; a folder without chips or with too few
    usable ones is a cell that cannot run (:class:`NotRun`, the same message)."""
    from sargeo.datasets.sen1floods11 import split_chips

    try:
        return split_chips(folder)
    except (FileNotFoundError, ValueError) as err:
        raise NotRun(str(err)) from err


class ChipCrops:
    """Random ``size`` px crops (and flips) of dB chips mapped to [0, 1] over :data:`DB_RANGE`,
    NaN to 0: a pretraining dataset; item ``i`` is the same crop in every run."""

    def __init__(self, files: list[Path], size: int, length: int, seed: int = 0) -> None:
        self.files, self.size, self.length, self.seed = files, size, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Any]:
        import numpy as np
        import rasterio
        import torch
        from rasterio.windows import Window

        rng = np.random.default_rng([self.seed, i])
        path = self.files[int(rng.integers(len(self.files)))]
        with rasterio.open(path) as src:
            h, w = min(src.height, self.size), min(src.width, self.size)
            y = int(rng.integers(src.height - h + 1))
            x = int(rng.integers(src.width - w + 1))
            db = src.read(window=Window(x, y, w, h)).astype(np.float32)
        unit = db_to_unit(db)
        out = np.zeros((db.shape[0], self.size, self.size), np.float32)
        out[:, :h, :w] = unit
        if rng.random() < 0.5:
            out = out[:, :, ::-1]
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return {"image": torch.from_numpy(out.copy())}


def _point(folder: Path, split: dict[str, Any], work: Path, in_chans: int):
    """The task's ``point``: chips read by ``LoadSen1Floods11Chip``, normalised by
    SARNormalize, the split's train / test lists."""

    def point(cfg: Any, recipe: SmallRecipe | None) -> None:
        size = (recipe or SmallRecipe()).img_size
        norm = dict(type="SARNormalize", to_db=False, mean=(-12.5,), std=(17.5,),
                    clip=(-1.0, 1.0), nodata_value=-1.0)
        train_pipeline = [
            dict(type="LoadSen1Floods11Chip"),
            dict(type="RandomCrop", crop_size=(size, size), cat_max_ratio=0.75),
            dict(type="RandomFlip", prob=0.5, direction="horizontal"),
            dict(type="RandomFlip", prob=0.5, direction="vertical"),
            norm, dict(type="PackSegInputs")]
        test_pipeline = [dict(type="LoadSen1Floods11Chip"), norm, dict(type="PackSegInputs")]
        dataset = dict(type="BaseSegDataset", data_root=str(folder),
                       metainfo=dict(classes=("background", "water"),
                                     palette=[[0, 0, 0], [0, 0, 255]]),
                       img_suffix="_S1Hand.tif", seg_map_suffix="_LabelHand.tif",
                       reduce_zero_label=False, ignore_index=255,
                       data_prefix=dict(img_path=str(split["s1_dir"]),
                                        seg_map_path=str(split["label_dir"])))
        cfg.train_dataloader.dataset = dict(
            dataset, ann_file=str(work / "sen1floods11_train.txt"), pipeline=train_pipeline)
        for name in ("val", "test"):
            if cfg.get(f"{name}_dataloader") is not None:
                cfg[f"{name}_dataloader"].dataset = dict(
                    dataset, ann_file=str(work / "sen1floods11_test.txt"),
                    pipeline=test_pipeline, test_mode=True)
        cfg.model.data_preprocessor.update(mean=None, std=None, bgr_to_rgb=False,
                                           size=(size, size))
        cfg.model.backbone.in_channels = in_chans

    return point


def _probe(split: dict[str, Any]):
    """The task's dense-probe data: every chip at full size, water cells from the labels."""

    def probe(recipe: SmallRecipe) -> tuple[Any, Any, Any, Any]:
        import torch

        from sargeo.datasets.sen1floods11 import IMAGE_SUFFIX, LABEL_SUFFIX, read_chip
        from sargeo.pretrain.data import normalize
        from sargeo.probe import mask_cells

        out: list[Any] = []
        for name in ("train", "test"):
            images, cells = [], []
            for chip in split[name]:
                db, label = read_chip(split["s1_dir"] / f"{chip}{IMAGE_SUFFIX}",
                                      split["label_dir"] / f"{chip}{LABEL_SUFFIX}")
                images.append(torch.from_numpy(db_to_unit(db)))
                cells.append(mask_cells(torch.from_numpy(label), recipe.patch_size))
            out += [normalize(torch.stack(images)), torch.stack(cells)]
        return tuple(out)

    return probe


def sen1floods11_task(folder: Path, work: Path) -> MMTask:
    """Binary water on Sen1Floods11 chips with the AIR-PolSAR-Seg water config's model, loss and
    optimiser; chips read by ``LoadSen1Floods11Chip``, normalised by SARNormalize."""
    split = sen1floods11_split(folder)
    work.mkdir(parents=True, exist_ok=True)
    for name in ("train", "test"):
        (work / f"sen1floods11_{name}.txt").write_text("\n".join(split[name]) + "\n")
    in_chans = 2

    def pretrain_data(recipe: SmallRecipe, _work: Path) -> ChipCrops:
        files = [split["s1_dir"] / f"{c}_S1Hand.tif" for c in split["train"]]
        return ChipCrops(files, recipe.pretrain_size,
                         recipe.pretrain_steps * recipe.pretrain_batch, recipe.seed)

    return MMTask(
        key="sen1floods11", config=CONFIGS / "mmseg/sarmae_vit-b16_upernet_air-polsar-seg-water.py",
        point=_point(folder, split, work, in_chans), pretrain_data=pretrain_data,
        in_chans=in_chans,
        dataset=f"Sen1Floods11 hand-labelled S1 chips ({folder}): train {split['train']}, "
                f"test {split['test']}, excluded {split['excluded']}",
        metrics={"water IoU": ("IoU.water", 1.0), "mIoU": ("mIoU", 1.0)},
        small_only="Sen1Floods11 stands in for AIR-PolSAR-Seg water at the small budget only",
        probe=_probe(split), probe_metric="water cells (half or more of the valid pixels), AP (%)",
        notes=["water IoU (and 2-class mIoU) on Sen1Floods11 Sentinel-1 VV/VH dB chips "
               "(-1 no-data and NaN pixels ignored), a different data set from the published "
               "AIR-PolSAR-Seg (Gaofen-3): no difference is computed",
               f"chip split (sorted by water fraction, every third to test): train "
               f"{', '.join(split['train'])}; test {', '.join(split['test'])}; excluded "
               + (", ".join(f"{c} ({r})" for c, r in split["excluded"].items()) or "none")])
