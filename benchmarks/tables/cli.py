"""The command line of ``python -m benchmarks.reproduce``: options, repeats, output files."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.tables.published import RESULTS
from benchmarks.tables.recipe import RECIPES
from benchmarks.tables.report import command, markdown, write_table
from benchmarks.tables.stats import merge_repeats
from benchmarks.tables.table1 import table1
from benchmarks.tables.table2 import table2
from benchmarks.tables.table3 import table3

DESCRIPTION = "Reproduce the SARMAE paper's tables side by side with the published numbers."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--table", type=int, choices=(1, 2, 3), required=True,
                        help="1, 2, 3; or mixmae: the SAR-W-MixMAE table "
                             "(benchmarks/table_mixmae.py, see its --help)")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--budget", choices=("small", "full"), default="small")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    small = parser.add_argument_group("small-budget overrides for Tables 2-3 (development "
                                      "runs; the JSON records the recipe used)")
    small.add_argument("--iters", type=int, help="fine-tuning iterations per initialisation")
    small.add_argument("--lr", type=float, help="fine-tuning learning rate")
    small.add_argument("--pretrain-steps", type=int, help="pretraining steps per encoder")
    small.add_argument("--norm-pix", choices=("on", "off"),
                       help="pretraining with MAE's norm_pix_loss")
    small.add_argument("--img-size", type=int, help="input size in pixels")
    small.add_argument("--eval-limit", type=int, help="at most this many test images")
    small.add_argument("--seeds", type=int,
                       help="fine-tuning runs (seeds) per initialisation (default 1; Table 1 "
                            "too)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="small budget: repeat the whole run, pretraining included, with "
                             "this many base seeds and pool the runs (Tables 1-3; default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one table (``--table mixmae``: :mod:`benchmarks.table_mixmae`) and write its files."""
    from benchmarks import table_mixmae

    if table_mixmae.requested(list(sys.argv[1:] if argv is None else argv)):
        return table_mixmae.main(argv)  # the SAR-W-MixMAE table has its own options
    parser = _parser()
    args = parser.parse_args(argv)
    if args.repeats < 1 or (args.repeats > 1 and args.budget != "small"):
        parser.error(f"--repeats {args.repeats}: a count of 1 or more, above 1 only with "
                     "--budget small")
    # idle OpenMP threads sleep instead of spinning: on a shared CPU the default spin-waiting
    # slows training several-fold (read when torch is first imported, below)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    start = time.monotonic()
    work = args.out_dir / "work"
    runs = args.seeds or 1
    bases = [r * runs for r in range(args.repeats)]  # repeat r: seeds r * runs ..
    if args.table == 1:
        results = [table1(args.data_root, args.checkpoint, args.budget, work, runs=runs,
                          seed=base) for base in bases]
    else:
        overrides = {k: v for k, v in (("iters", args.iters), ("lr", args.lr),
                                       ("pretrain_steps", args.pretrain_steps),
                                       ("img_size", args.img_size),
                                       ("eval_limit", args.eval_limit),
                                       ("seeds", args.seeds),
                                       ("pretrain_norm_pix", None if args.norm_pix is None
                                        else args.norm_pix == "on")) if v is not None}
        recipe = replace(RECIPES[args.table], **overrides)
        build = table2 if args.table == 2 else table3
        results = [build(args.data_root, args.checkpoint, args.budget,
                         work / f"table{args.table}", replace(recipe, seed=recipe.seed + base))
                   for base in bases]
    result = results[0] if len(results) == 1 else merge_repeats(results, bases)
    result["command"] = command(argv)
    result["seconds"] = round(time.monotonic() - start, 1)
    text = markdown(result)
    write_table(args.out_dir / f"table{args.table}", result, text)
    print(text)
    return 0
