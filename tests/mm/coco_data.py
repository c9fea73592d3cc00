"""Tiny COCO-format detection data (bright rectangles on speckle), written by tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_coco(root: Path, n: int = 4, size: int = 64, seed: int = 0,
               category_id: int = 1) -> Path:
    """``root/images/*.png`` and ``root/ann.json`` with one 'ship' per image."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        img = (rng.gamma(4.0, 10.0, (size, size))).clip(0, 255)
        x, y = int(rng.integers(8, size - 28)), int(rng.integers(8, size - 20))
        w, h = int(rng.integers(10, 20)), int(rng.integers(6, 12))
        img[y:y + h, x:x + w] = 240
        Image.fromarray(img.astype(np.uint8)).convert("RGB").save(root / "images" / f"{i}.png")
        images.append({"id": i, "file_name": f"{i}.png", "width": size, "height": size})
        annotations.append({"id": i, "image_id": i, "category_id": category_id,
                            "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    ann = root / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": annotations,
                               "categories": [{"id": category_id, "name": "ship"}]}))
    return ann
