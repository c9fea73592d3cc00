"""Recall against an exhaustive run without running it: a seeded sample of the windows the
prescreen skips, run through the same engine and detector, estimates what the exhaustive run
would find there.

A prescreen run sees every kept window exactly as the exhaustive run does, so what it loses
can only lie in the windows it skips. ``perf_scene --sample-windows N`` runs the detector
(float32) on ``N`` windows drawn uniformly from the skipped ones; its detections that no
detection of the ``prescreen_fp32`` run matches (200 m) are misses. Scaled by the number of
skipped windows they estimate the exhaustive run's extra detections ``M``, with a 95 %
Poisson interval on the count; the exhaustive run is then ``n(prescreen_fp32) + M`` detections
and each configuration's recall is what it matches of ``prescreen_fp32`` over that. At sizes
where the exhaustive run is affordable both are computed, which checks the estimate.

The engine is steered through its prescreen step only (:func:`restricted_windows`), so the
sampled windows are read, converted and merged as in any run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

__all__ = ["draw_skipped", "estimate_recall", "load_windows", "recorded_windows",
           "restricted_windows"]


def _key(w: Window) -> tuple[int, int, int, int]:
    return int(w.col_off), int(w.row_off), int(w.width), int(w.height)


@contextlib.contextmanager
def _prescreen_step(step: Callable[..., list]) -> Iterator[None]:
    """Inside the block the engine's prescreen step is ``step(real, info, task, prescreen,
    windows, meta, result)`` (``real``: the engine's own step); restored on leaving."""
    from sargeo.inference import engine

    real = engine.plan_prescreen
    engine.plan_prescreen = partial(step, real)
    try:
        yield
    finally:
        engine.plan_prescreen = real


def recorded_windows(path: Path) -> contextlib.AbstractContextManager[None]:
    """Save (JSON) the windows the engine's prescreen step keeps, while inside the block."""

    def record(real: Callable[..., list], info: Any, task: str, prescreen: Any,
               windows: list, meta: dict, result: Any) -> list:
        kept = real(info, task, prescreen, windows, meta, result)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"all": [_key(w) for w in windows],
                                    "kept": [_key(w) for w in kept]}))
        return kept

    return _prescreen_step(record)


def restricted_windows(keys: list[tuple[int, int, int, int]]
                       ) -> contextlib.AbstractContextManager[None]:
    """Run the engine on these windows of its plan only (no prescreen), inside the block."""
    wanted = set(map(tuple, keys))

    def restrict(real: Callable[..., list], info: Any, task: str, prescreen: Any,
                 windows: list, meta: dict, result: Any) -> list:
        chosen = [w for w in windows if _key(w) in wanted]
        if len(chosen) != len(wanted):
            raise ValueError(f"{len(wanted) - len(chosen)} sampled windows are not in the plan")
        result.prescreen = {"windows_sampled": len(chosen)}
        return chosen

    return _prescreen_step(restrict)


def load_windows(path: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """The plan and the kept windows saved by :func:`recorded_windows`."""
    got = json.loads(Path(path).read_text())
    return {k: [tuple(w) for w in v] for k, v in got.items()}


def draw_skipped(plan: dict[str, list], n: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``n`` windows drawn uniformly, without replacement, from those the prescreen skipped."""
    kept = set(plan["kept"])
    skipped = [w for w in plan["all"] if w not in kept]
    if not skipped:
        return []
    rng = np.random.default_rng([seed, 29])
    pick = rng.choice(len(skipped), size=min(n, len(skipped)), replace=False)
    return [skipped[i] for i in sorted(pick)]


def poisson_interval(count: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean given one observed count."""
    from scipy.stats import chi2

    a = (1 - level) / 2
    low = 0.0 if count == 0 else chi2.ppf(a, 2 * count) / 2
    return float(low), float(chi2.ppf(1 - a, 2 * count + 2) / 2)


def estimate_recall(matched: int, n_prescreen: int, misses_in_sample: int, n_sampled: int,
                    n_skipped: int) -> dict[str, Any]:
    """Recall against the estimated exhaustive run (see the module docstring).

    Args:
        matched: detections of ``prescreen_fp32`` this configuration finds again (200 m).
        n_prescreen: detections of ``prescreen_fp32``.
        misses_in_sample: detections in the sampled skipped windows ``prescreen_fp32`` lacks.
        n_sampled, n_skipped: windows sampled, windows skipped by the prescreen.
    """
    scale = n_skipped / n_sampled if n_sampled else 0.0
    low, high = poisson_interval(misses_in_sample)
    missed = misses_in_sample * scale

    def recall(m: float) -> float:
        total = n_prescreen + m
        return matched / total if total else 1.0

    return {"recall_vs_exhaustive_estimated": recall(missed),
            "recall_95ci": [recall(high * scale), recall(low * scale)],
            "exhaustive_detections_estimated": n_prescreen + missed,
            "missed_estimated": missed, "misses_in_sample": misses_in_sample,
            "windows_sampled": n_sampled, "windows_skipped": n_skipped}
