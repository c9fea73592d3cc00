"""Train and test mmdet, mmrotate and mmseg configs with mmengine's ``Runner`` (what
``sargeo mm train`` / ``sargeo mm test`` run), so users never copy OpenMMLab's ``tools/``
scripts."""

from __future__ import annotations

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


def _runner(cfg: Any, launcher: str) -> Any:
    from mmengine.runner import Runner

    cfg.launcher = launcher
    if "runner_type" in cfg:
        from mmengine.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def train(config: str | Path, *, work_dir: str | None = None, resume: str | bool = False,
          cfg_options: dict[str, Any] | None = None, launcher: str = "none") -> Any:
    """Train from ``config``; ``resume=True`` continues from the work dir's last checkpoint,
    a path resumes from that checkpoint. Returns the trained model."""
    cfg = load_config(config, work_dir, cfg_options)
    if resume is True or resume == "auto":
        cfg.resume, cfg.load_from = True, None
    elif resume:
        if not Path(resume).is_file():
            raise FileNotFoundError(f"checkpoint to resume from not found: {resume}")
        cfg.resume, cfg.load_from = True, str(resume)
    return _runner(cfg, launcher).train()


def test(config: str | Path, checkpoint: str | Path, *, work_dir: str | None = None,
         cfg_options: dict[str, Any] | None = None, launcher: str = "none") -> dict:
    """Evaluate ``checkpoint`` with the config's test dataloader and evaluator; returns the
    metrics (also printed by mmengine)."""
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    cfg = load_config(config, work_dir, cfg_options)
    cfg.load_from = str(checkpoint)
    return _runner(cfg, launcher).test()


def build_model(cfg: Any) -> Any:
    """Build ``cfg.model`` in the config's default scope (mmdet, mmseg or mmrotate)."""
    from mmengine.registry import MODELS, DefaultScope

    with DefaultScope.overwrite_default_scope(cfg.get("default_scope", "mmdet")):
        return MODELS.build(cfg.model)
