"""Table 2: horizontal detection on SSDD and SARDet-100K (COCO box AP), oriented detection on
RSAR (DOTA mAP@0.5), each with its benchmark config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.tables.published import FOLDERS, find_folder, published
from benchmarks.tables.recipe import RECIPES, NotRun, SmallRecipe, small_protocol
from benchmarks.tables.rsar import rsar_task
from benchmarks.tables.running import run_task
from benchmarks.tables.sardet100k import sardet_task
from benchmarks.tables.ssdd import ssdd_task
from benchmarks.tables.stats import fill_cell


def table2(data_root: Path, checkpoint: str | None, budget: str, work: Path,
           recipe: SmallRecipe | None = None) -> dict[str, Any]:
    """Table 2: SSDD and SARDet-100K (COCO box AP), RSAR (DOTA mAP@0.5)."""
    recipe = recipe or RECIPES[2]
    pretrained: dict[str, Path] = {}
    cells, notes, seconds = [], [], {}
    for table, column, builder in (("horizontal_detection", "sardet_100k", sardet_task),
                                   ("horizontal_detection", "ssdd", ssdd_task),
                                   ("oriented_detection", "rsar", rsar_task)):
        cell: dict[str, Any] = {"column": f"{table}/{column}",
                                "published": published(table)[column]}
        try:
            folder = find_folder(data_root, FOLDERS[column])
            if folder is None:
                raise NotRun(f"no {' / '.join(FOLDERS[column])} folder under {data_root}")
            task = builder(folder, work)
            cell["dataset"] = task.dataset
            run = run_task(task, budget, checkpoint, recipe, work, pretrained)
        except NotRun as err:
            cell["not_run"] = f"not run: {err}"
            cells.append(cell)
            continue
        fill_cell(cell, run, "mAP", ("AP50",) if column != "rsar" else ())
        seconds[cell["column"]] = run["seconds"]
        notes += [f"{cell['column']}: {task.dataset}", *task.notes]
        cells.append(cell)
    return {"table": 2, "metric": "box mAP (%): COCO AP@[.5:.95] for SSDD / SARDet-100K, "
            "DOTA mAP@0.5 for RSAR", "budget": budget, "cells": cells, "notes": notes,
            "seconds_per_step": seconds,
            "small_budget_protocol": (None if budget == "full"
                                      else small_protocol(recipe, detection=True))}
