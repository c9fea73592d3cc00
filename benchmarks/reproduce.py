"""Reproduce the SARMAE paper's tables side by side with the published numbers.

    python -m benchmarks.reproduce --table {1,2,3} --data-root DIR [--checkpoint CKPT]
                                   [--budget small|full]
    python -m benchmarks.reproduce --table mixmae ...   (SAR-W-MixMAE: benchmarks/table_mixmae.py)

Writes ``benchmarks/results/table{N}.json`` and ``table{N}.md``: for every cell the published
value (``benchmarks/paper_tables.yaml``), the measured value and the difference, or an explicit
``not run: <reason>``.

``--budget full`` is the real reproduction (GPU, the real datasets, ViT-B/16, the published
protocol): Table 1 fine-tunes 5 runs per cell, Tables 2-3 train each benchmark config of
``configs/`` once with ``--checkpoint`` as the backbone. ``--budget small`` runs on a 2-core CPU
in under 30 minutes per table on small data; it cannot match the published figures, it checks
the paper's direction at equal budget: an encoder pretrained with SARMAE (SARE on) by sargeo's
own pretraining on the cell's own training images (no labels), against MAE without SARE (the
ablation) and random initialisation, one run each. Labelled "small budget" throughout.

- Table 1: ViT-Tiny/8 at 64 px fine-tuned in bfloat16 autocast, evaluated every 5th epoch on a
  stratified 500-image subset of the test set (``TABLE1_SMALL``).
- Table 2: the benchmark's detection config shrunk to ViT-Tiny/16 at 256 px with slim heads
  (:class:`SmallRecipe`), COCO box AP (SSDD, SARDet-100K) or DOTA mAP@0.5 (RSAR).
- Table 3: the UPerNet config shrunk the same way, IoU per class. AIR-PolSAR-Seg is not public
  in small form; when it is absent the binary-water cell is measured on Sen1Floods11
  hand-labelled Sentinel-1 chips instead (a different data set, so no difference is printed).

Data folders under ``--data-root`` (first that exists): ``fusar_ship`` | ``FUSAR-Ship``;
``mstar`` | ``mstar_soc10`` | ``MSTAR``; ``sar_acd`` | ``SAR-ACD``; ``ssdd`` | ``ssdd_coco`` |
``SSDD``; ``sardet_100k`` | ``SARDet_100K`` | ``SARDet-100K``; ``rsar`` | ``RSAR``;
``air_polsar_seg`` | ``AIR-PolSAR-Seg``; ``sen1floods11`` | ``Sen1Floods11``.
"""

from __future__ import annotations

import sys

# the harness lives in benchmarks/tables/, one module per job and per data set; these names are
# what the tests and other modules use from here
from benchmarks.tables.air_polsar_seg import AIR_COLUMNS, air_polsar_seg_task
from benchmarks.tables.cli import main
from benchmarks.tables.config_surgery import CPU_DETECTOR, shrink_config, task_config
from benchmarks.tables.encoders import (
    RandomCrops,
    image_index,
    pretrain_encoder,
    pretraining_records,
    token_diversity,
)
from benchmarks.tables.mm_registry import register_mm_extras
from benchmarks.tables.published import (
    CONFIGS,
    FOLDERS,
    PAPER,
    RESULTS,
    TABLE1,
    find_folder,
    published,
)
from benchmarks.tables.recipe import RECIPES, MMTask, NotRun, SmallRecipe
from benchmarks.tables.report import markdown
from benchmarks.tables.rsar import rsar_task
from benchmarks.tables.running import run_mm, run_task
from benchmarks.tables.sardet100k import sardet_task
from benchmarks.tables.sen1floods11 import (
    ChipCrops,
    db_to_unit,
    sen1floods11_split,
    sen1floods11_task,
)
from benchmarks.tables.ssdd import ssdd_task
from benchmarks.tables.stats import (
    GAPS,
    MAE,
    RANDOM,
    SARMAE,
    fill_cell,
    init_gaps,
    merge_repeats,
    probe_entry,
    run_stats,
)
from benchmarks.tables.table1 import (
    TABLE1_INPUT_NORM,
    TABLE1_SMALL,
    classification_probe,
    small_pretrain,
    table1,
)
from benchmarks.tables.table2 import table2
from benchmarks.tables.table3 import table3

__all__ = ["AIR_COLUMNS", "CONFIGS", "CPU_DETECTOR", "FOLDERS", "GAPS", "MAE", "PAPER", "RANDOM",
           "RECIPES", "RESULTS", "SARMAE", "TABLE1", "TABLE1_INPUT_NORM", "TABLE1_SMALL",
           "ChipCrops", "MMTask", "NotRun", "RandomCrops", "SmallRecipe", "air_polsar_seg_task",
           "classification_probe", "db_to_unit", "fill_cell", "find_folder", "image_index",
           "init_gaps", "main", "markdown", "merge_repeats", "pretrain_encoder",
           "pretraining_records", "probe_entry", "published", "register_mm_extras", "rsar_task",
           "run_mm", "run_stats", "run_task", "sardet_task", "sen1floods11_split",
           "sen1floods11_task", "shrink_config", "small_pretrain", "ssdd_task", "table1",
           "table2", "table3", "task_config", "token_diversity"]

if __name__ == "__main__":
    sys.exit(main())
