"""Table 3: AIR-PolSAR-Seg segmentation (six-class IoU and mIoU, binary water IoU); at the small
budget without AIR-PolSAR-Seg the water cell is measured on Sen1Floods11 instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.tables.air_polsar_seg import AIR_COLUMNS, air_polsar_seg_task
from benchmarks.tables.published import FOLDERS, find_folder, published
from benchmarks.tables.recipe import RECIPES, MMTask, NotRun, SmallRecipe, small_protocol
from benchmarks.tables.running import run_task
from benchmarks.tables.sen1floods11 import sen1floods11_task
from benchmarks.tables.stats import fill_cell


def table3(data_root: Path, checkpoint: str | None, budget: str, work: Path,
           recipe: SmallRecipe | None = None) -> dict[str, Any]:
    """Table 3: AIR-PolSAR-Seg six-class IoU per class and mIoU; binary water IoU on
    AIR-PolSAR-Seg water, or at the small budget on Sen1Floods11 when AIR-PolSAR-Seg is absent."""
    recipe = recipe or RECIPES[3]
    paper = published("segmentation")
    pretrained: dict[str, Path] = {}
    cells, notes, seconds = [], [], {}
    air = find_folder(data_root, FOLDERS["air_polsar_seg"])
    absent = f"no {' / '.join(FOLDERS['air_polsar_seg'])} folder under {data_root}"

    def attempt(build: Callable[[], MMTask]) -> tuple[MMTask | None, dict | None, str | None]:
        try:
            task = build()
            return task, run_task(task, budget, checkpoint, recipe, work, pretrained), None
        except NotRun as err:
            return None, None, f"not run: {err}"

    # six classes: one run set fills the per-class columns and mIoU
    if air is None:
        task, run, reason = None, None, f"not run: {absent}"
    else:
        task, run, reason = attempt(lambda: air_polsar_seg_task(air, work, water=False))
    for column in (*AIR_COLUMNS.values(), "mIoU"):
        cell: dict[str, Any] = {"column": f"segmentation/{column}", "published": paper[column]}
        if run is None:
            cell["not_run"] = reason
        else:
            name = column if column == "mIoU" else next(
                c for c, col in AIR_COLUMNS.items() if col == column)
            cell["dataset"] = task.dataset
            fill_cell(cell, run, name)
        cells.append(cell)
    if run is not None:
        seconds["segmentation/six-class"] = run["seconds"]
        notes.append(f"segmentation six-class: {task.dataset}")
    # binary water
    cell = {"column": "segmentation/water_binary_IoU", "published": paper["water_binary_IoU"]}
    comparable = True
    if air is not None:
        task, run, reason = attempt(lambda: air_polsar_seg_task(air, work, water=True))
        metric = "Water"
    else:
        s1 = find_folder(data_root, FOLDERS["sen1floods11"])
        if s1 is None:
            task, run, reason = None, None, (
                f"not run: {absent}, and no {' / '.join(FOLDERS['sen1floods11'])} folder "
                "(the small-budget substitute)")
        else:
            task, run, reason = attempt(lambda: sen1floods11_task(s1, work))
            if reason and budget == "full":
                reason = f"not run: {absent}; {reason[len('not run: '):]}"
        metric, comparable = "water IoU", False
    if run is None:
        cell["not_run"] = reason
    else:
        cell["dataset"] = task.dataset
        fill_cell(cell, run, metric, ("mIoU",), comparable=comparable)
        seconds[cell["column"]] = run["seconds"]
        notes += [f"{cell['column']}: {task.dataset}", *task.notes]
    cells.append(cell)
    return {"table": 3, "metric": "IoU (%)", "budget": budget, "cells": cells, "notes": notes,
            "seconds_per_step": seconds,
            "small_budget_protocol": None if budget == "full" else small_protocol(recipe)}
