"""Reproduce the SARMAE paper's tables side by side with the published numbers.

    python -m benchmarks.reproduce --table 1 --data-root DIR [--checkpoint CKPT]
                                   [--budget small|full]

Writes ``benchmarks/results/table{N}.json`` and ``table{N}.md``: for every cell the published
value (``benchmarks/paper_tables.yaml``), the measured value and the difference, or an explicit
``not run: <reason>``.

``--budget full`` is the real reproduction (GPU, the real datasets, ViT-B/16 at 224, the
published protocol, 5 runs). ``--budget small`` runs on a 2-core CPU in under 30 minutes per
table on small data: ViT-Tiny at 64 px, one run per initialisation, evaluation on a stratified
500-image subset of the test set; it cannot
match the published figures, it checks the paper's direction at equal budget: an encoder
pretrained with SARMAE (SARE on) by sargeo's own pretraining on the same small data, against
MAE without SARE (the ablation) and random initialisation. Labelled "small budget" throughout.

Data folders under ``--data-root`` (first that exists): ``fusar_ship`` | ``FUSAR-Ship``;
``mstar`` | ``mstar_soc10`` | ``MSTAR``; ``sar_acd`` | ``SAR-ACD``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAPER = HERE / "paper_tables.yaml"

#: Table 1 column -> (dataset key, folder names, split)
TABLE1 = {
    "fusar_ship_40shot": ("fusar_ship", ("fusar_ship", "FUSAR-Ship", "FUSAR_Ship"), "40shot"),
    "fusar_ship_30pct": ("fusar_ship", ("fusar_ship", "FUSAR-Ship", "FUSAR_Ship"), "30pct"),
    "mstar_40shot": ("mstar", ("mstar", "mstar_soc10", "MSTAR"), "40shot"),
    "mstar_30pct": ("mstar", ("mstar", "mstar_soc10", "MSTAR"), "30pct"),
    "sar_acd_30pct": ("sar_acd", ("sar_acd", "SAR-ACD", "SAR_ACD"), "30pct"),
}
NOT_YET = "not run: the {task} configs of the backbones issue are not in sargeo yet"


def published(table: str, row: str = "SARMAE ViT-B") -> dict[str, float | None]:
    data = yaml.safe_load(PAPER.read_text())[table]
    return dict(zip(data["columns"], data["rows"][row], strict=True))


def find_folder(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_dir()), None)


def small_pretrain(images_root: Path, out: Path, *, sare: bool, steps: int, seed: int = 0
                   ) -> Path:
    """Pretrain ViT-Tiny/8 at 64 px on the training images of ``images_root`` (no labels)
    with sargeo's pretraining module; returns the exported checkpoint."""
    import lightning as L

    from sargeo.datasets.classification import find_layout, list_class_folder
    from sargeo.pretrain.data import ResumableDataLoader, SARImageIndex
    from sargeo.pretrain.datamodule import collate_pretrain
    from sargeo.pretrain.module import SARMAEPretrainModule

    if out.is_file():
        return out
    train_dir, _ = find_layout(images_root)
    files, _, _ = list_class_folder(train_dir)
    index_dir = out.parent / (out.stem + "_index")
    index_dir.mkdir(parents=True, exist_ok=True)
    (index_dir / "unpaired.json").write_text(json.dumps([str(f) for f in files]))
    data = SARImageIndex(index_dir, ("unpaired.json",), img_size=64)
    module = SARMAEPretrainModule(size="tiny", img_size=64, patch_size=8, decoder_dim=128,
                                  decoder_depth=2, decoder_heads=4, sare=sare, lr=1.5e-3,
                                  warmup_epochs=1, seed=seed)

    class Data(L.LightningDataModule):
        batch_size = 32

        def train_dataloader(self):
            return ResumableDataLoader(data, 32, seed=seed, collate_fn=collate_pretrain)

    L.Trainer(max_steps=steps, max_epochs=10_000, accelerator="cpu", logger=False,
              enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, gradient_clip_val=1.0).fit(module, datamodule=Data())
    return module.export_encoder(out)


def table1(data_root: Path, checkpoint: str | None, budget: str, work: Path) -> dict[str, Any]:
    from sargeo.finetune import FinetuneConfig, finetune

    paper = published("classification")
    cfg = replace(FinetuneConfig(), size="tiny", img_size=64, patch_size=8, epochs=25,
                  batch_size=16, blr=1e-2, warmup_epochs=2, layer_decay=0.75, drop_path=0.0,
                  eval_limit=500)
    cells: list[dict[str, Any]] = []
    pretrained: dict[tuple[str, bool], Path] = {}
    for column, (dataset, names, split) in TABLE1.items():
        cell: dict[str, Any] = {"column": column, "published": paper[column]}
        folder = find_folder(data_root, names)
        if folder is None:
            cell["not_run"] = f"no {' | '.join(names)} folder under {data_root}"
            cells.append(cell)
            continue
        if budget == "full":
            if checkpoint is None:
                cell["not_run"] = "the full budget needs --checkpoint (a SARMAE ViT-B/16)"
            else:
                result = finetune(folder, split, dataset=dataset, runs=5, checkpoint=checkpoint)
                cell["measured"] = {"SARMAE (given checkpoint)": result["best_top1"]}
            cells.append(cell)
            continue
        measured = {}
        inits: dict[str, str | None] = {"random init": None}
        for label, sare in (("MAE, no SARE (sargeo, small)", False),
                            ("SARMAE, SARE (sargeo, small)", True)):
            key = (dataset, sare)
            if key not in pretrained:
                pretrained[key] = small_pretrain(folder, work / f"{dataset}_sare{int(sare)}.pth",
                                                 sare=sare, steps=400)
            inits[label] = str(pretrained[key])
        for label, init in inits.items():
            result = finetune(folder, split, dataset=dataset, runs=1, checkpoint=init, cfg=cfg,
                              progress=False)
            measured[label] = result["best_top1"]
        cell["measured"] = measured
        cell["not_run_inits"] = {
            "torchgeo SSL4EO-S12 S1 MAE": "ViT-B/16 weights (2-band): beyond the small budget",
            "published SARMAE checkpoint": "ViT-B/16 at 224: beyond the small budget"}
        cell["gap_sarmae_vs_random"] = (measured["SARMAE, SARE (sargeo, small)"]["mean"]
                                        - measured["random init"]["mean"])
        cell["gap_sarmae_vs_mae"] = (measured["SARMAE, SARE (sargeo, small)"]["mean"]
                                     - measured["MAE, no SARE (sargeo, small)"]["mean"])
        cells.append(cell)
    return {"table": 1, "metric": "top-1 (%)", "budget": budget, "cells": cells,
            "small_budget_protocol": None if budget == "full" else {
                "pretraining": "ViT-Tiny/8 at 64 px, 400 steps x 32 images of the cell's "
                               "training folder (no labels), sargeo's pretraining module",
                "finetuning": asdict(cfg) | {"runs": 1}}}


def table_not_yet(n: int) -> dict[str, Any]:
    names = {2: ("horizontal_detection", "oriented_detection"), 3: ("segmentation",)}[n]
    cells = []
    for table in names:
        for column, value in published(table).items():
            cells.append({"column": f"{table}/{column}", "published": value,
                          "not_run": NOT_YET.format(task=table.replace("_", " "))})
    return {"table": n, "metric": "mAP / IoU (%)", "cells": cells}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Table {result['table']} ({result['metric']}), budget: "
             f"{result.get('budget', '-')}", "",
             "| cell | published (SARMAE ViT-B) | initialisation | measured | difference |",
             "|---|---|---|---|---|"]
    for cell in result["cells"]:
        pub = cell["published"]
        pub_text = "-" if pub is None else f"{pub:.2f}"
        if "not_run" in cell:
            lines.append(f"| {cell['column']} | {pub_text} | | {cell['not_run']} | |")
            continue
        for init, stats in cell["measured"].items():
            diff = "" if pub is None else f"{stats['mean'] - pub:+.2f}"
            lines.append(f"| {cell['column']} | {pub_text} | {init} | "
                         f"{stats['mean']:.2f} +- {stats['std']:.2f} | {diff} |")
        for init, reason in cell.get("not_run_inits", {}).items():
            lines.append(f"| {cell['column']} | {pub_text} | {init} | not run: {reason} | |")
    if result.get("budget") == "small":
        lines += ["", "Small budget: differences to the published ViT-B figures are expected; "
                  "the point is the order of the initialisations at equal budget."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=int, choices=(1, 2, 3), required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--budget", choices=("small", "full"), default="small")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.table == 1:
        result = table1(args.data_root, args.checkpoint, args.budget, args.out_dir / "work")
    else:
        result = table_not_yet(args.table)
        result["budget"] = args.budget
    result["command"] = "python -m benchmarks.reproduce " + " ".join(
        argv if argv is not None else sys.argv[1:])
    result["seconds"] = round(time.monotonic() - start, 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"table{args.table}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
