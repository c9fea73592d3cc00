"""Tables 2 and 3's small-budget recipe, and what a task (one benchmark config on one data set)
gives the harness; helpers the per-data-set task modules share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.tables.encoders import RandomCrops, image_index


class NotRun(Exception):
    """A cell that cannot run here; the message is its reason."""


@dataclass(frozen=True)
class SmallRecipe:
    """The small-budget protocol of Tables 2 and 3, equal for every initialisation.

    Pretraining: ViT-Tiny/``patch_size`` SARMAE (SARE on) or MAE (SARE off), decoder 128-d x 2,
    mask ratio 0.75, ``pretrain_steps`` x ``pretrain_batch`` random ``pretrain_size`` px crops
    (and flips) of the cell's training images at the fine-tuning scale, AdamW ``pretrain_lr``,
    5% warm-up then cosine. Fine-tuning: the benchmark config with the encoder shrunk to
    ViT-Tiny (192-d, 12 blocks; position embedding resampled to the ``img_size`` grid), necks
    and heads ``width`` channels, inputs ``img_size`` px, ``iters`` iterations of
    ``batch_size`` images, AdamW ``lr`` (the config's betas, weight decay, layer decay and
    gradient clipping), linear warm-up over ``warmup_iters`` then cosine to 0; evaluation once
    at the end on at most ``eval_limit`` test images (evenly spaced). 8-bit inputs are
    normalised with 127.5 / 127.5, as the pretraining sees them. Horizontal detection:
    ``detector="centernet"`` (the default) puts sargeo's CPU ship-detector head in place of the
    config's Faster R-CNN heads (a CenterNet head on the stride-4 pyramid level, as
    ``configs/mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py``): at this budget the Faster
    R-CNN scores 0.0 AP whatever the initialisation (measured), so it shows no direction.
    ``detector="config"`` keeps the Faster R-CNN: anchor scales shrink with the input, heads
    sample ``rois`` RoIs per image (RoIAlign with 2 x 2 samples per bin) from 500 proposals
    after NMS over the 1,000 best per level, test score threshold 0.001 (also the oriented
    detector's settings).
    """

    img_size: int = 256
    patch_size: int = 16
    pretrain_size: int = 128
    pretrain_steps: int = 150
    pretrain_batch: int = 32
    pretrain_lr: float = 1.5e-3
    pretrain_norm_pix: bool = False  #: MAE's norm_pix_loss (per-patch normalised targets)
    iters: int = 300
    batch_size: int = 4
    lr: float = 5e-4
    warmup_iters: int = 20
    width: int = 64
    rois: int = 128
    detector: str = "centernet"
    seeds: int = 1  #: fine-tuning runs per initialisation (seeds seed, seed + 1, ...)
    eval_limit: int = 500
    seed: int = 0

    @property
    def tag(self) -> str:
        """Names the pretrained encoders, which depend on these settings only."""
        return (f"s{self.img_size}c{self.pretrain_size}p{self.patch_size}_steps"
                f"{self.pretrain_steps}x{self.pretrain_batch}_lr{self.pretrain_lr:g}"
                f"{'_normpix' if self.pretrain_norm_pix else ''}_seed{self.seed}")


#: Table 3's UPerNet iterations cost about 1.5 times Faster R-CNN's here, CenterNet's less;
#: Table 2 pretrains 600 steps (SSDD box mAP MAE 2.3 -> 4.4, SARMAE 2.7 -> 2.8 over 150 steps)
RECIPES = {2: SmallRecipe(iters=500, pretrain_steps=600), 3: SmallRecipe(iters=250)}


@dataclass
class MMTask:
    """One benchmark config on one data set.

    ``point(cfg, recipe)`` points the loaded config at the data (``recipe`` None: full budget,
    otherwise the small-budget subsets); ``pretrain_data(recipe, work)`` returns the training
    images as a pretraining dataset; ``metrics`` maps output names to (runner metric key,
    factor to %)."""

    key: str
    dataset: str
    config: Path
    point: Callable[[Any, SmallRecipe | None], None]
    pretrain_data: Callable[[SmallRecipe, Path], Any]
    metrics: dict[str, tuple[str, float]]
    in_chans: int = 3
    small_only: str | None = None  #: reason why the full budget does not apply
    notes: list[str] = field(default_factory=list)
    #: ``probe(recipe)``: (train images, train cells, test images, test cells) for the frozen
    #: encoders' dense linear probe (images normalised as pretraining saw them, cells 1 / 0 /
    #: -1 ignored, one per patch); ``probe_metric`` names what it measures
    probe: Callable[[SmallRecipe], tuple[Any, Any, Any, Any]] | None = None
    probe_metric: str = ""


def evenly(n: int, limit: int | None) -> list[int] | None:
    """Indices of ``limit`` evenly spaced items of ``n`` (None: all)."""
    if limit is None or n <= limit:
        return None
    return sorted({int(i * n / limit) for i in range(limit)})


def at_most(files: list[Path], limit: int) -> list[Path]:
    """At most ``limit`` evenly spaced items of ``files``."""
    keep = evenly(len(files), limit)
    return files if keep is None else [files[i] for i in keep]


def require(folder: Path, *paths: str) -> None:
    """Raise :class:`NotRun` naming the ``paths`` missing under ``folder``."""
    missing = [p for p in paths if not (folder / p).exists()]
    if missing:
        raise NotRun(f"{folder} lacks {', '.join(missing)}")


def image_crops(files: list[Path], key: str) -> Callable[[SmallRecipe, Path], RandomCrops]:
    """Pretraining data of a task: random crops of ``files`` resized to the input size."""

    def build(recipe: SmallRecipe, work: Path) -> RandomCrops:
        base = image_index(files, work / f"{key}_index", recipe.img_size)
        return RandomCrops(base, recipe.pretrain_size,
                           recipe.pretrain_steps * recipe.pretrain_batch, recipe.seed)

    return build


def point_root(folder: Path, n_test: int) -> Callable[[Any, SmallRecipe | None], None]:
    """A task's ``point``: every dataloader reads ``folder``; the small budget evaluates on an
    evenly spaced subset of the ``n_test`` test images."""

    def point(cfg: Any, recipe: SmallRecipe | None) -> None:
        for split in ("train", "val", "test"):
            if cfg.get(f"{split}_dataloader") is not None:
                cfg[f"{split}_dataloader"].dataset.data_root = str(folder) + "/"
        if recipe is not None:
            cfg.test_dataloader.dataset.indices = evenly(n_test, recipe.eval_limit)

    return point


def small_protocol(recipe: SmallRecipe, detection: bool = False) -> dict[str, Any]:
    """The small-budget protocol of a table, in words and as the recipe (recorded in the JSON)."""
    return {"recipe": asdict(recipe),
            "pretraining": f"ViT-Tiny/{recipe.patch_size}, {recipe.pretrain_steps} steps x "
                           f"{recipe.pretrain_batch} random {recipe.pretrain_size} px crops of "
                           f"the cell's training images at the {recipe.img_size} px fine-tuning "
                           "scale (no labels), sargeo's pretraining module"
                           + (", per-patch normalised targets (norm_pix_loss)"
                              if recipe.pretrain_norm_pix else "")
                           + ", once with SARE (SARMAE) and once without (MAE ablation)",
            "finetuning": f"the cell's config shrunk to ViT-Tiny/{recipe.patch_size} at "
                          f"{recipe.img_size} px, {recipe.iters} iterations x "
                          f"{recipe.batch_size} images, "
                          + (f"one run per initialisation, seed {recipe.seed}"
                             if recipe.seeds == 1 else
                             f"{recipe.seeds} runs per initialisation, seeds {recipe.seed}-"
                             f"{recipe.seed + recipe.seeds - 1} (pretraining: seed "
                             f"{recipe.seed})") + (
                              "; horizontal detection with the CPU ship detector's CenterNet "
                              "head in place of Faster R-CNN's"
                              if detection and recipe.detector == "centernet" else "")}
