"""Locate and load the configs that ship inside OpenMMLab wheels (``<package>/.mim/configs``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

#: import name of each OpenMMLab package sargeo builds on
PACKAGES = ("mmdet", "mmseg", "mmrotate")


def package_config_path(package: str, relative: str) -> Path:
    """Path of ``relative`` inside ``package``'s bundled configs, e.g.
    ``package_config_path("mmdet", "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py")``."""
    if package not in PACKAGES:
        raise ValueError(f"unknown OpenMMLab package {package!r}; expected one of {PACKAGES}")
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{package} is not installed; run `make test` to set it up")
    root = Path(spec.origin).parent / ".mim" / "configs"
    path = root / relative
    if not path.is_file():
        raise FileNotFoundError(f"{package} ships no config {relative!r} (looked in {root})")
    return path


def load_package_config(package: str, relative: str) -> Any:
    """Load a bundled config as an ``mmengine.Config``."""
    from mmengine.config import Config

    return Config.fromfile(str(package_config_path(package, relative)))


def replace_sync_bn(cfg: Any) -> Any:
    """Turn every ``SyncBN`` norm layer into ``BN`` (in place), for single-process CPU runs."""
    if isinstance(cfg, dict):
        if cfg.get("type") == "SyncBN":
            cfg["type"] = "BN"
        for value in cfg.values():
            replace_sync_bn(value)
    elif isinstance(cfg, list | tuple):
        for value in cfg:
            replace_sync_bn(value)
    return cfg


#: config keys that hold an input or crop size as an (h, w) pair
SIZE_KEYS = ("scale", "size", "crop_size", "img_scale")


def shrink_image_sizes(cfg: Any, size: int, keys: tuple[str, ...] = SIZE_KEYS) -> Any:
    """Replace every (h, w) pair of ints larger than ``size`` under ``keys`` (pipeline resizes,
    crops, pads, preprocessor sizes) by ``(size, size)``, in place: the same pipeline at a
    smaller input, e.g. for CPU smoke runs. Returns ``cfg``."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys and isinstance(value, tuple | list) and len(value) == 2 and \
                        all(isinstance(v, int) and v > size for v in value):
                    node[key] = (size, size)
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(getattr(cfg, "_cfg_dict", cfg))
    return cfg
