"""Running a task: pretraining the small budget's encoders, training and testing the config once
per initialisation and seed, the frozen encoders' token diversity and linear probe."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from benchmarks.tables.config_surgery import task_config
from benchmarks.tables.encoders import pretrain_encoder, pretraining_records, token_diversity
from benchmarks.tables.recipe import MMTask, NotRun, SmallRecipe
from benchmarks.tables.stats import MAE, RANDOM, SARMAE, probe_entry


def run_mm(cfg: Any, init: str | None, work: Path) -> dict[str, float]:
    """Train ``cfg`` with the backbone initialised from ``init`` (None: random), then run the
    test loop once; returns the test metrics and ``train_loss_last50``, the mean training loss
    over the last 50 iterations."""
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.pretrained = init
    cfg.work_dir = str(work)
    stamp = f"{work.parent.name}_{work.name}_{time.time_ns()}"
    cfg.experiment_name = stamp
    if cfg.get("visualizer") is not None:
        cfg.visualizer.name = stamp
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = {"train_loss_last50": float(runner.message_hub.get_scalar("train/loss").mean(50))}
    for key, value in runner.test().items():
        try:
            metrics[key] = float(value)  # numpy scalars too
        except (TypeError, ValueError):
            continue
    return metrics


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")[:40]


def run_task(task: MMTask, budget: str, checkpoint: str | None, recipe: SmallRecipe,
             work: Path, pretrained: dict[str, Path]) -> dict[str, Any]:
    """Every initialisation of ``task``: ``{"measured": {init: {metric: value %}}, "seconds":
    {...}}``. Pretrained encoders are shared through ``pretrained`` by data key."""
    seconds: dict[str, float] = {}
    if budget == "full":
        if checkpoint is None:
            raise NotRun("the full budget needs --checkpoint (a SARMAE ViT-B/16)")
        if task.small_only:
            raise NotRun(task.small_only)
        inits: dict[str, str | None] = {"SARMAE (given checkpoint)": checkpoint}
        cfg = task_config(task, None)
    else:
        inits = {RANDOM: None}
        for label, sare in ((MAE, False), (SARMAE, True)):
            key = f"{task.key}_{recipe.tag}_sare{int(sare)}"
            if key not in pretrained:
                start = time.monotonic()
                pretrained[key] = pretrain_encoder(
                    task.pretrain_data(recipe, work), work / f"{key}.pth", sare=sare,
                    steps=recipe.pretrain_steps, img_size=recipe.pretrain_size,
                    patch_size=recipe.patch_size, in_chans=task.in_chans,
                    batch_size=recipe.pretrain_batch, lr=recipe.pretrain_lr,
                    # warm-up over 5 % of the steps (formerly written warmup_epochs=0.05
                    # with max_epochs=-1: the same schedule)
                    warmup_fraction=0.05, max_epochs=-1,
                    norm_pix_loss=recipe.pretrain_norm_pix, seed=recipe.seed)
                seconds[f"pretrain {label}"] = round(time.monotonic() - start, 1)
            inits[label] = str(pretrained[key])
        cfg = task_config(task, recipe)
    measured: dict[str, list[dict[str, float]]] = {}
    seeds = [recipe.seed + i for i in range(recipe.seeds if budget == "small" else 1)]
    for label, init in inits.items():
        start = time.monotonic()
        measured[label] = []
        for seed in seeds:
            if budget == "small":
                cfg.randomness = dict(seed=seed)
            folder = work / f"{task.key}_{task.config.stem}" / _slug(label)
            metrics = run_mm(cfg, init, folder if seed == 0 else
                             folder.with_name(f"{folder.name}_seed{seed}"))
            missing = [key for key, _ in task.metrics.values() if key not in metrics]
            if missing:
                raise KeyError(f"{task.config.name}: metrics {missing} not in {sorted(metrics)}")
            values = {name: round(metrics[key] * factor, 2)
                      for name, (key, factor) in task.metrics.items()}
            measured[label].append(values | {"train loss": round(metrics["train_loss_last50"],
                                                                 4)})
        seconds[f"finetune+test {label}"] = round(time.monotonic() - start, 1)
    pretraining = pretraining_records(inits) if budget == "small" else {}
    diversity = None
    if budget == "small":  # on the first 8 pretraining crops, normalised as pretraining does
        import torch

        from sargeo.pretrain.data import normalize

        data = task.pretrain_data(recipe, work)
        images = normalize(torch.stack([data[i]["image"] for i in range(min(8, len(data)))]))
        diversity = {label: round(token_diversity(init, images, patch_size=recipe.patch_size,
                                                  seed=recipe.seed), 4)
                     for label, init in inits.items()}
    probe = None
    if budget == "small" and task.probe is not None:
        from sargeo.probe import dense_probe, frozen_tokens

        start = time.monotonic()
        train_x, train_cells, test_x, test_cells = task.probe(recipe)
        probe = probe_entry(task.probe_metric, {label: round(dense_probe(
            frozen_tokens(init, train_x, patch_size=recipe.patch_size, seed=recipe.seed),
            train_cells,
            frozen_tokens(init, test_x, patch_size=recipe.patch_size, seed=recipe.seed),
            test_cells), 2) for label, init in inits.items()})
        seconds["linear probe"] = round(time.monotonic() - start, 1)
    return {"measured": measured, "seconds": seconds, "pretraining": pretraining,
            "token_diversity": diversity, "linear_probe": probe}
