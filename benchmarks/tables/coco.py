"""COCO-format detection data sets (SSDD, SARDet-100K): image lists, the dense-probe data and
pointing an mmdet config at a folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.tables.recipe import SmallRecipe, evenly


def coco_images(folder: Path, ann: str, img_dir: str) -> list[Path]:
    """The image files a COCO annotation file lists."""
    images = json.loads((folder / ann).read_text())["images"]
    return [folder / img_dir / im["file_name"] for im in images]


def coco_probe(folder: Path, train: tuple[str, str], test: tuple[str, str]
               ) -> Callable[[SmallRecipe], tuple[Any, Any, Any, Any]]:
    """Dense-probe data of a COCO detection set: images resized to the input size, each patch
    cell 1 where a box overlaps it; at most ``eval_limit`` test images (evenly spaced)."""

    def build(recipe: SmallRecipe) -> tuple[Any, Any, Any, Any]:
        import torch

        from sargeo.pretrain.data import normalize, read_image, to_tensor
        from sargeo.probe import box_cells

        grid = (recipe.img_size // recipe.patch_size,) * 2
        out: list[Any] = []
        for (ann, img_dir), limit in ((train, None), (test, recipe.eval_limit)):
            coco = json.loads((folder / ann).read_text())
            boxes: dict[int, list[tuple[float, ...]]] = {}
            for a in coco["annotations"]:
                x, y, w, h = a["bbox"]
                boxes.setdefault(a["image_id"], []).append((x, y, x + w, y + h))
            keep = evenly(len(coco["images"]), limit)
            images, cells = [], []
            for im in (coco["images"] if keep is None else [coco["images"][i] for i in keep]):
                array = read_image(folder / img_dir / im["file_name"])
                images.append(to_tensor(array, 3, recipe.img_size))
                cells.append(box_cells(boxes.get(im["id"], []), array.shape[:2], grid))
            out += [normalize(torch.stack(images)), torch.stack(cells)]
        return tuple(out)

    return build


def point_coco(folder: Path, splits: dict[str, tuple[str, str]]
               ) -> Callable[[Any, SmallRecipe | None], None]:
    """A task's ``point`` for an mmdet COCO config: its loaders and evaluators read ``folder``;
    ``splits`` maps train/val/test to (annotation file, image folder); the small budget tests on
    at most ``eval_limit`` images (evenly spaced)."""

    def point(cfg: Any, recipe: SmallRecipe | None) -> None:
        eval_limit = None if recipe is None else recipe.eval_limit
        for split, (ann, img) in splits.items():
            loader = cfg.get(f"{split}_dataloader")
            if loader is not None:
                loader.dataset.update(data_root=str(folder) + "/", ann_file=ann,
                                      data_prefix=dict(img=img.rstrip("/") + "/"))
                if split == "test":
                    n = len(json.loads((folder / ann).read_text())["images"])
                    loader.dataset.indices = evenly(n, eval_limit)
            evaluator = cfg.get(f"{split}_evaluator")
            if evaluator is not None:
                evaluator.ann_file = str(folder / ann)

    return point
