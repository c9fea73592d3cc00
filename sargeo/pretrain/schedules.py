"""Learning-rate and loss-weight schedules for SARMAE pretraining (pure functions of progress)."""

from __future__ import annotations

import math
from typing import Literal

LossSchedule = Literal["released", "constant", "cosine", "linear", "step"]


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0
                  ) -> float:
    """LR multiplier: linear warm-up from 0 to 1 over ``warmup_steps``, then half-cosine decay
    to ``min_ratio`` at ``total_steps`` (MAE's per-iteration schedule)."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def optimizer_steps_per_epoch(batches: float, accumulate: int = 1) -> float:
    """Optimizer steps in an epoch of ``batches`` batches with gradient accumulation:
    ``ceil(batches / accumulate)`` (Lightning also steps on a last, partial window); infinite
    for a loader without a length."""
    if math.isinf(batches):
        return math.inf
    return math.ceil(batches / max(1, accumulate))


def warmup_from_epochs(warmup_epochs: float, steps_per_epoch: float, total_steps: int) -> int:
    """Warm-up steps for ``warmup_epochs`` epochs of ``steps_per_epoch`` optimizer steps, at
    most ``total_steps`` (a run shorter than its warm-up warms up all along)."""
    if warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
    if math.isinf(steps_per_epoch):
        raise ValueError("warm-up in epochs needs a training loader with a length (an "
                         "iterable one has no epochs): set warmup_fraction instead")
    return min(total_steps, int(warmup_epochs * steps_per_epoch))


def warmup_from_fraction(fraction: float, total_steps: int) -> int:
    """Warm-up steps as a share ``fraction`` in [0, 1] of all ``total_steps``."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1], got {fraction}")
    return int(fraction * total_steps)


def alignment_weight(progress: float, base_weight: float, schedule: LossSchedule = "released"
                     ) -> float:
    """SARC alignment weight ``w(t)`` at training progress ``t`` = epoch / epochs in [0, 1].

    The formulas are those written in the published code's ``--loss_schedule`` options
    (``util/monitor.py``, stepped once per epoch):

    - ``cosine``: ``w = 0.1 + (w0 - 0.1) * 0.5 * (1 + cos(pi * (1 - t)))``, rising from 0.1 at
      the start to ``w0`` at the end;
    - ``linear``: ``w = w0 * (0.1 + 0.9 t)``;
    - ``step``: ``0.1 w0`` for t < 0.3, ``0.5 w0`` for t < 0.7, then ``w0``;
    - ``released`` / ``constant``: ``w0`` throughout. The released scheduler only rescales a
      weight named 'contrastive' that the training script never defines, so the published
      models were in fact trained with constant weights (MAE 1.0, alignment 0.8): use
      ``released`` to reproduce them, ``cosine`` for the schedule as written.
    """
    t = min(1.0, max(0.0, progress))
    if schedule in ("released", "constant"):
        return base_weight
    if schedule == "cosine":
        return 0.1 + (base_weight - 0.1) * 0.5 * (1.0 + math.cos(math.pi * (1.0 - t)))
    if schedule == "linear":
        return base_weight * (0.1 + 0.9 * t)
    if schedule == "step":
        return base_weight * (0.1 if t < 0.3 else 0.5 if t < 0.7 else 1.0)
    raise ValueError(f"unknown loss schedule {schedule!r}; use released, constant, cosine, "
                     "linear or step")
