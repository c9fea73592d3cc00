"""Tiny data in each benchmark's native format (COCO json, DOTA txt, PNG masks), written by
tests: speckled backgrounds with bright rectangular targets, so the formats are real and the
targets learnable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def _speckle(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.gamma(4.0, 10.0, (size, size)).clip(0, 255)


def write_coco_split(root: Path, ann_file: str, img_dir: str, *, n: int = 3, size: int = 96,
                     classes: tuple[str, ...] = ("ship",), seed: int = 0,
                     first_category_id: int = 0) -> None:
    """``root/ann_file`` (COCO json) and ``root/img_dir/*.jpg``, one box per class and image."""
    rng = np.random.default_rng(seed)
    (root / img_dir).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        img = _speckle(rng, size)
        for c in range(len(classes)):
            x, y = int(rng.integers(4, size - 30)), int(rng.integers(4, size - 20))
            w, h = int(rng.integers(12, 26)), int(rng.integers(8, 16))
            img[y:y + h, x:x + w] = 240
            annotations.append({"id": len(annotations), "image_id": i,
                                "category_id": first_category_id + c, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0, "ignore": 0, "segmentation": []})
        Image.fromarray(img.astype(np.uint8)).convert("RGB").save(root / img_dir / f"{i}.jpg")
        images.append({"id": i, "file_name": f"{i}.jpg", "width": size, "height": size})
    categories = [{"id": first_category_id + c, "name": name} for c, name in enumerate(classes)]
    path = root / ann_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": categories}))


def write_dota_split(root: Path, split: str, *, n: int = 3, size: int = 96,
                     classes: tuple[str, ...] = ("ship",), seed: int = 0) -> None:
    """``root/split/images/*.png`` and ``root/split/annfiles/*.txt`` (DOTA: ``x1 y1 ... x4 y4
    class difficulty``), one rotated rectangle per class and image."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "annfiles").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = _speckle(rng, size).astype(np.uint8)
        lines = []
        for name in classes:
            cx, cy = rng.uniform(25, size - 25, 2)
            w, h, angle = rng.uniform(16, 30), rng.uniform(6, 12), rng.uniform(-80, 80)
            corners = cv2.boxPoints(((cx, cy), (w, h), angle))
            cv2.fillPoly(img, [corners.astype(np.int32)], 240)
            lines.append(" ".join(f"{v:.1f}" for v in corners.ravel()) + f" {name} 0")
        Image.fromarray(img).convert("RGB").save(root / split / "images" / f"{i}.png")
        (root / split / "annfiles" / f"{i}.txt").write_text("\n".join(lines) + "\n")


def write_seg_split(root: Path, img_dir: str, ann_dir: str, *, n: int = 2, size: int = 96,
                    num_classes: int = 6, seed: int = 0) -> None:
    """PNG images and PNG label maps (class ids; a few 255 ignore pixels) with one region per
    class, each with its own brightness."""
    rng = np.random.default_rng(seed)
    (root / img_dir).mkdir(parents=True, exist_ok=True)
    (root / ann_dir).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        labels = np.zeros((size, size), np.uint8)
        stripe = size // num_classes
        for c in range(num_classes):
            labels[:, c * stripe:(c + 1) * stripe] = c
        labels = np.roll(labels, int(rng.integers(0, size)), axis=1)
        labels[:2, :2] = 255
        img = rng.gamma(4.0, 1.0, (size, size)) * (20 + 35 * labels.clip(0, num_classes))
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).convert("RGB").save(
            root / img_dir / f"{i}.png")
        Image.fromarray(labels).save(root / ann_dir / f"{i}.png")
