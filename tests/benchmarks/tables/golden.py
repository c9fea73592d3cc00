"""What the paper-table harness writes for a fixed tiny input, timing and temporary paths
taken out: the outputs the split of ``benchmarks/reproduce.py`` into ``benchmarks/tables/``
must leave byte-identical (``golden.json`` was written by this module before the split).

    python -m tests.benchmarks.tables.golden OUT.json   # regenerate (only on purpose)
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import reproduce
from tests.benchmarks.test_reproduce import TINY, _repeat, _tiny_sen1floods11, _tiny_ssdd

#: fields that hold wall-clock time: dropped before comparing
TIMING = ("seconds",)


def _clean(text: str, tmp: Path) -> str:
    """``text`` with the temporary folder named ``<tmp>``."""
    return text.replace(str(tmp), "<tmp>")


def _cli_tables(tmp: Path) -> dict[str, str]:
    """Tables 1-3 through the command line on an empty data root: every cell 'not run'."""
    out: dict[str, str] = {}
    for table in ("1", "2", "3"):
        reproduce.main(["--table", table, "--data-root", str(tmp / "empty"), "--out-dir",
                        str(tmp / "cli")])
        result = json.loads((tmp / "cli" / f"table{table}.json").read_text())
        for key in TIMING:
            result.pop(key)
        out[f"cli/table{table}.json"] = _clean(json.dumps(result, indent=2), tmp)
        markdown = (tmp / "cli" / f"table{table}.md").read_text().splitlines()
        out[f"cli/table{table}.md"] = _clean(
            "\n".join(line for line in markdown if not line.startswith("Wall time:")), tmp)
    return out


def _full_budget(tmp: Path) -> dict[str, str]:
    """Tables 2 and 3 at the full budget on tiny SSDD and Sen1Floods11: reasons per cell."""
    data = tmp / "data"
    _tiny_ssdd(data / "ssdd")
    _tiny_sen1floods11(data / "sen1floods11")
    return {
        "full/table2.json": _clean(json.dumps(
            reproduce.table2(data, None, "full", tmp / "w2"), indent=2), tmp),
        "full/table3.json": _clean(json.dumps(
            reproduce.table3(data, "ckpt.pth", "full", tmp / "w3"), indent=2), tmp)}


def _configs(tmp: Path) -> dict[str, str]:
    """The shrunk config of the SSDD and Sen1Floods11 tasks on the tiny data, and the
    Faster R-CNN variant (config surgery, registries)."""
    data = tmp / "data"
    out = {}
    for name, task, recipe in (
            ("ssdd", reproduce.ssdd_task(data / "ssdd", tmp / "w"), TINY),
            ("ssdd_faster_rcnn", reproduce.ssdd_task(data / "ssdd", tmp / "w"),
             replace(TINY, detector="config")),
            ("sen1floods11", reproduce.sen1floods11_task(data / "sen1floods11", tmp / "w"),
             TINY)):
        cfg = reproduce.task_config(task, recipe).to_dict()
        out[f"config/{name}.json"] = _clean(json.dumps(cfg, indent=1, sort_keys=True,
                                                       default=repr), tmp)
        out[f"task/{name}.txt"] = _clean(f"{task.key}\n{task.dataset}\n{task.metrics}\n"
                                         f"{task.in_chans}\n{task.small_only}\n{task.notes}\n"
                                         f"{task.probe_metric}", tmp)
    return out


def _reports() -> dict[str, str]:
    """Repeats merged and their markdown, from fixed per-repeat results."""
    merged = reproduce.merge_repeats([_repeat([10.0], [20.0], [30.0], 40.0),
                                      _repeat([30.0], [20.0], [20.0], 20.0)], [0, 1])
    merged["notes"] = ["a note"]
    return {"report/merged.json": json.dumps(merged, indent=2),
            "report/merged.md": reproduce.markdown(merged)}


def golden_outputs() -> dict[str, Any]:
    """Every output above, by name."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder).resolve()
        return {**_cli_tables(tmp), **_full_budget(tmp), **_configs(tmp), **_reports()}


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(golden_outputs(), indent=1, sort_keys=True) + "\n")
