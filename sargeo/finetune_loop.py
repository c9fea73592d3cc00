"""The fine-tuning loop that sargeo's two classification protocols share.

:mod:`sargeo.finetune` (SARMAE's ViT, single label) and :mod:`sargeo.finetune_s1`
(SAR-W-MixMAE's MixMIM, Sentinel-1 multi-label) follow the same released recipe around
different models, losses and metrics: seeded loaders, AdamW on layer-decayed parameter groups
(``lr_scale``) with a per-iteration warm-up cosine from ``blr x batch / 256`` to ``min_lr``,
optional bfloat16 autocast, a progress line every few batches and an evaluation every
``eval_every`` epochs and after the last.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Schedule", "base_lr", "check_run", "init_head", "loaders", "log_batch", "mean_std",
           "train_epochs", "write_result"]


@dataclass
class Schedule:
    """Model size and schedule of a fine-tuning; defaults are SARMAE's published protocol."""

    size: str = "base"
    img_size: int = 224
    patch_size: int = 16
    epochs: int = 30
    batch_size: int = 8
    blr: float = 1e-3
    min_lr: float = 1e-6
    warmup_epochs: float = 5.0
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    drop_path: float = 0.1


def base_lr(cfg: Schedule) -> float:
    """The peak learning rate: ``blr`` scaled by ``batch_size / 256``."""
    return cfg.blr * cfg.batch_size / 256


def check_run(cfg: Any, train_set: Any) -> None:
    """Raise ValueError, before any work, for a precision sargeo does not know, ``eval_every``
    below 1 or fewer training images than one batch."""
    from sargeo.precision import check_precision

    check_precision(cfg.precision)
    if cfg.eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {cfg.eval_every}")
    if len(train_set) < cfg.batch_size:
        raise ValueError(f"{len(train_set)} training images are fewer than one batch "
                         f"({cfg.batch_size}): lower --batch-size")


def loaders(train_set: Any, test_set: Any, cfg: Any, seed: int) -> tuple[Any, Any]:
    """The training loader (shuffled with ``seed``, last partial batch dropped) and the test
    loader (batches of 32)."""
    import torch
    from torch.utils.data import DataLoader

    train = DataLoader(train_set, cfg.batch_size, shuffle=True, drop_last=True,
                       num_workers=cfg.num_workers,
                       generator=torch.Generator().manual_seed(seed))
    return train, DataLoader(test_set, 32, num_workers=cfg.num_workers)


def init_head(model: Any) -> Any:
    """Re-initialise ``model.head`` as released: weights N(0, 2e-5) truncated, bias 0."""
    import torch

    torch.nn.init.trunc_normal_(model.head.weight, std=2e-5)
    torch.nn.init.zeros_(model.head.bias)
    return model


#: training progress goes to stderr every this many batches (and after an epoch's first and
#: last batch)
LOG_EVERY = 10


def log_batch(seed: int, epoch: int, epochs: int, batch: int, batches: int, loss: float,
              seconds: float, every: int = LOG_EVERY) -> None:
    """Print a progress line to stderr for the first, every ``every``-th and the last batch of
    an epoch (1-based ``epoch`` and ``batch``; ``seconds`` since the epoch began)."""
    if batch == 1 or batch % every == 0 or batch == batches:
        print(f"  seed {seed} epoch {epoch}/{epochs} batch {batch}/{batches}: loss {loss:.4f}, "
              f"{seconds / batch:.2f} s/batch", file=sys.stderr, flush=True)


def train_epochs(model: Any, loader: Any, optimizer: Any, loss_of: Callable[[Any, Any], Any],
                 cfg: Any, seed: int, progress: bool = True) -> Iterator[int]:
    """Train ``model`` for ``cfg.epochs`` epochs on ``loader``; after every ``eval_every``-th
    epoch and the last, yield the epoch (1-based) for the caller to evaluate.

    Each iteration sets every group's lr to the warm-up cosine factor x :func:`base_lr` x its
    ``lr_scale`` and computes ``loss_of(x, y)`` under ``cfg.precision``'s autocast; a
    non-finite loss raises FloatingPointError. With ``progress``, :func:`log_batch` lines.
    """
    from sargeo.precision import autocast
    from sargeo.pretrain.schedules import warmup_cosine

    lr = base_lr(cfg)
    steps = len(loader)
    total, warmup = cfg.epochs * steps, int(cfg.warmup_epochs * steps)
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        began = time.monotonic()
        for batch, (x, y) in enumerate(loader, 1):
            factor = warmup_cosine(step, total, warmup, cfg.min_lr / lr if lr else 0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr * factor * g["lr_scale"]
            with autocast(cfg.precision):
                loss = loss_of(x, y)
            if not math.isfinite(float(loss.detach())):
                raise FloatingPointError(f"non-finite loss at epoch {epoch - 1}, step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if progress:
                log_batch(seed, epoch, cfg.epochs, batch, steps, float(loss.detach()),
                          time.monotonic() - began)
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            yield epoch


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value) of ``values``."""
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def write_result(result: dict[str, Any], args: argparse.Namespace) -> None:
    """Write ``result`` as JSON to ``args.out`` (atomically), when given."""
    if args.out:
        from sargeo.io import atomic_path

        with atomic_path(args.out, overwrite=True) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")

