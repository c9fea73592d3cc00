"""Train and test mmdet, mmrotate and mmseg configs with mmengine's ``Runner`` (what
``sargeo mm train`` / ``sargeo mm test`` run), so users never copy OpenMMLab's ``tools/``
scripts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: default_scope of a config -> the package whose modules it needs registered
SCOPES = {"mmdet": "mmdet.utils", "mmseg": "mmseg.utils", "mmrotate": "mmrotate.utils"}


def load_config(config: str | Path, work_dir: str | None = None,
                cfg_options: dict[str, Any] | None = None) -> Any:
    """Read an OpenMMLab config, apply overrides, set the work dir and sargeo's imports."""
    from mmengine.config import Config

    import sargeo.mm  # noqa: F401  (compat fixes and sargeo's registered modules)

    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    imports = list(cfg.get("custom_imports", {}).get("imports", []))
    if "sargeo.mm" not in imports:
        cfg.custom_imports = dict(imports=[*imports, "sargeo.mm"], allow_failed_imports=False)
    cfg.work_dir = work_dir or cfg.get("work_dir") or str(Path("work_dirs") / path.stem)
    scope = cfg.get("default_scope", "mmdet")
    if scope in SCOPES:
        __import__(SCOPES[scope], fromlist=["register_all_modules"]).register_all_modules(
            init_default_scope=False)
    return cfg


class DatasetError(ValueError):
    """A config's dataset path or annotation file is missing or not in the expected format."""


#: how many missing images an error names
SHOW_MISSING = 5


def _missing_files(folder: Path, names: list[str]) -> list[str]:
    """The ``names`` (relative to ``folder``) that are not files there."""
    try:
        present = {e.name for e in os.scandir(folder) if e.is_file()}
    except OSError:
        present = set()
    return [n for n in names if n not in present and not (folder / n).is_file()]


def _check_images(where: str, listed_in: Path, folder: Path, names: list[str]) -> None:
    """Fail naming the first few of ``names`` (listed in ``listed_in``) missing in ``folder``."""
    missing = _missing_files(folder, names)
    if missing:
        shown = ", ".join(missing[:SHOW_MISSING]) + (", ..." if len(missing) > SHOW_MISSING
                                                      else "")
        raise DatasetError(f"{where}: {len(missing)} of the {len(names)} images listed in "
                           f"{listed_in} are not in {folder}: {shown} (check data_root and "
                           f"data_prefix, or the annotation file)")


def _check_coco(path: Path) -> list[str]:
    """Check a COCO annotation file's keys; returns its images' file names."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{path}: not a readable COCO json file ({err})") from err
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if not isinstance(data, dict) or missing:
        raise DatasetError(f"{path}: a COCO annotation file needs the keys images, "
                           f"annotations and categories; missing {missing}")
    try:
        return [str(image["file_name"]) for image in data["images"]]
    except (KeyError, TypeError) as err:
        raise DatasetError(f"{path}: every COCO image needs a file_name ({err!r})") from err


def _check_dota(folder: Path) -> None:
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise DatasetError(f"{folder}: no DOTA annotation files (*.txt) found")
    for path in files[:20]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            parts = line.split()
            if not parts or parts[0] in ("imagesource:", "gsd:") or line.startswith(
                    ("imagesource", "gsd")):
                continue
            try:
                [float(v) for v in parts[:8]]
                ok = len(parts) in (9, 10)
            except ValueError:
                ok = False
            if not ok:
                raise DatasetError(f"{path}:{n}: expected DOTA 'x1 y1 x2 y2 x3 y3 x4 y4 class "
                                   f"difficulty', got {line!r}")


def check_datasets(cfg: Any, loaders: tuple[str, ...] = ("train_dataloader", "val_dataloader",
                                                         "test_dataloader")) -> None:
    """Fail early, naming the file, when a dataset folder or annotation file of the config is
    missing or its annotations are not in the expected format (COCO json, DOTA txt)."""
    for name in loaders:
        dataset = (cfg.get(name) or {}).get("dataset")
        if not dataset:
            continue
        kind = str(dataset.get("type", "")).split(".")[-1]
        if kind == "GeoTileDataset":
            continue  # checks its own scenes and labels
        root = Path(dataset.get("data_root") or "")
        if dataset.get("data_root") and not root.is_dir():
            raise DatasetError(f"{name}: data_root {root} does not exist (set it with "
                               f"--cfg-options {name}.dataset.data_root=DIR)")
        prefix = dataset.get("data_prefix") or {}
        for key in ("img", "img_path", "seg_map_path"):
            if prefix.get(key) and not (root / prefix[key]).is_dir():
                raise DatasetError(f"{name}: image folder {root / prefix[key]} does not exist")
        ann = dataset.get("ann_file")
        if ann:
            path = root / ann
            if not path.exists():
                raise DatasetError(f"{name}: annotation file {path} does not exist")
            if kind == "CocoDataset":
                images = _check_coco(path)
                _check_images(name, path, root / prefix.get("img", ""), images)
            elif kind == "DOTADataset" and path.is_dir():
                _check_dota(path)
                suffix = dataset.get("img_suffix", "png")
                images = [f"{p.stem}.{suffix}" for p in sorted(path.glob("*.txt"))]
                _check_images(name, path, root / prefix.get("img_path", ""), images)


def _runner(cfg: Any, launcher: str) -> Any:
    from mmengine.runner import Runner

    cfg.launcher = launcher
    if "runner_type" in cfg:
        from mmengine.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def limit_iterations(cfg: Any, max_iters: int) -> Any:
    """Make ``cfg`` train for ``max_iters`` iterations, whatever its loop (in place; returns
    ``cfg``). An epoch-based loop becomes iteration-based: validation (if the config has it),
    a checkpoint and a log line after the last iteration. Learning-rate schedules keep their
    settings: epoch milestones beyond the run are not reached."""
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"max_iters must be a whole number >= 1, got {max_iters!r}")
    loop = dict(cfg.get("train_cfg") or {})
    val_interval = max_iters
    if str(loop.get("type", "")).endswith("IterBasedTrainLoop"):
        val_interval = min(int(loop.get("val_interval", max_iters)), max_iters)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters,
                         val_interval=val_interval)
    hooks = cfg.get("default_hooks") or {}
    checkpoint = hooks.get("checkpoint")
    if checkpoint:
        by_epoch = checkpoint.get("by_epoch", True)  # CheckpointHook's default
        interval = max_iters if by_epoch else min(int(checkpoint.get("interval", 1)), max_iters)
        checkpoint.update(by_epoch=False, interval=interval)
    if hooks.get("logger"):
        hooks["logger"]["interval"] = min(int(hooks["logger"].get("interval", 1)), max_iters)
    if cfg.get("log_processor"):
        cfg.log_processor.by_epoch = False
    return cfg


def train(config: str | Path, *, work_dir: str | None = None, resume: str | bool = False,
          cfg_options: dict[str, Any] | None = None, launcher: str = "none",
          max_iters: int | None = None, threads: int | None = None) -> Any:
    """Train from ``config``; ``resume=True`` continues from the work dir's last checkpoint,
    a path resumes from that checkpoint; ``max_iters`` stops after that many iterations
    (:func:`limit_iterations`); ``threads`` sets torch's CPU threads
    (:func:`sargeo.threads.set_threads`). Returns the trained model."""
    if threads is not None:
        from sargeo.threads import set_threads

        set_threads(threads)
    cfg = load_config(config, work_dir, cfg_options)
    if max_iters is not None:
        limit_iterations(cfg, max_iters)
    check_datasets(cfg)
    if resume is True or resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif resume:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"checkpoint to resume from not found: {resume}")
        cfg.resume, cfg.load_from = True, str(resume)
    return _runner(cfg, launcher).train()


def test(config: str | Path, checkpoint: str | Path, *, work_dir: str | None = None,
         cfg_options: dict[str, Any] | None = None, launcher: str = "none",
         threads: int | None = None) -> dict:
    """Evaluate ``checkpoint`` with the config's test dataloader and evaluator; returns the
    metrics (also printed by mmengine). ``threads`` as in :func:`train`."""
    if threads is not None:
        from sargeo.threads import set_threads

        set_threads(threads)
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    cfg = load_config(config, work_dir, cfg_options)
    check_datasets(cfg, ("test_dataloader",))
    cfg.load_from = str(checkpoint)
    return _runner(cfg, launcher).test()


def build_model(cfg: Any) -> Any:
    """Build ``cfg.model`` in the config's default scope (mmdet, mmseg or mmrotate)."""
    from mmengine.registry import MODELS, DefaultScope

    with DefaultScope.overwrite_default_scope(cfg.get("default_scope", "mmdet")):
        return MODELS.build(cfg.model)
