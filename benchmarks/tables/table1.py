"""Table 1: SAR target classification (FUSAR-Ship, MSTAR, SAR-ACD) fine-tuned with sargeo's
protocol, at the small budget from random, MAE and SARMAE encoders pretrained on the cell's own
training images, with a frozen-encoder linear probe beside."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from benchmarks.tables.encoders import image_index, pretrain_encoder, pretraining_records
from benchmarks.tables.published import TABLE1, find_folder, published
from benchmarks.tables.stats import MAE, RANDOM, SARMAE, init_gaps, probe_entry

#: Table 1 fine-tunes on [0, 1] images as the released main_finetune.py, whose protocol made the
#: published figures, and sargeo's default (the opt-in "pretraining" normalises as the
#: pretraining did; on the small budget that gave random / MAE / SARMAE 16.94 / 11.49 / 11.29
#: at 40 shots and 32.86 / 22.78 / 21.57 at 30 %, results/table1_input_norm_pretraining.md)
TABLE1_INPUT_NORM = "none"
#: Table 1's small-budget fine-tuning: ViT-Tiny/8 at 64 px, 20 epochs in bfloat16 autocast
#: (1.4x on this CPU), top-1 on a stratified 500-image test subset every 5th epoch (the best
#: counts, as in the published protocol, which evaluates every epoch)
TABLE1_SMALL = dict(size="tiny", img_size=64, patch_size=8, epochs=20, batch_size=16, blr=1e-2,
                    warmup_epochs=2, layer_decay=0.75, drop_path=0.0, eval_limit=500,
                    eval_every=5, precision="bf16", input_norm=TABLE1_INPUT_NORM)


def small_pretrain(images_root: Path, out: Path, *, sare: bool, steps: int, seed: int = 0
                   ) -> Path:
    """Pretrain ViT-Tiny/8 at 64 px on the training images of ``images_root`` (no labels)
    with sargeo's pretraining module; returns the exported checkpoint (Table 1)."""
    from sargeo.datasets.classification import find_layout, list_class_folder

    if out.is_file():
        return out
    train_dir, _ = find_layout(images_root)
    files, _, _ = list_class_folder(train_dir)
    data = image_index(files, out.parent / (out.stem + "_index"), 64)
    return pretrain_encoder(data, out, sare=sare, steps=steps, img_size=64, patch_size=8,
                            precision="bf16-mixed", seed=seed)


def classification_probe(folder: Path, split: str, inits: dict[str, str | None],
                         cfg: Any, seed: int = 0) -> dict[str, Any]:
    """Table 1's frozen-encoder linear probe: top-1 of one linear layer on the mean-pooled
    tokens, on the split and test subset of the fine-tuning's first seed ``seed``."""
    import torch

    from sargeo.datasets.classification import load_classification
    from sargeo.finetune import subsample
    from sargeo.pretrain.data import normalize
    from sargeo.probe import frozen_tokens, image_probe

    train, test, _ = load_classification(folder, split, seed, cfg.img_size)
    if cfg.eval_limit and len(test) > cfg.eval_limit:
        test = subsample(test, cfg.eval_limit, seed)
    def stacked(data: Any) -> tuple[Any, list[int]]:
        images, labels = zip(*(data[i] for i in range(len(data))), strict=True)
        return normalize(torch.stack(images)), list(labels)

    (train_x, train_y), (test_x, test_y) = stacked(train), stacked(test)

    def tokens(init: str | None, images: Any) -> Any:
        return frozen_tokens(init, images, size=cfg.size, patch_size=cfg.patch_size)

    return probe_entry("top-1 (%), mean-pooled tokens", {
        label: round(image_probe(tokens(init, train_x), train_y, tokens(init, test_x), test_y), 2)
        for label, init in inits.items()})


def table1(data_root: Path, checkpoint: str | None, budget: str, work: Path,
           runs: int = 1, seed: int = 0) -> dict[str, Any]:
    """Table 1; at the small budget ``runs`` fine-tunings (seeds ``seed``..) per
    initialisation, the encoders pretrained with ``seed``."""
    from sargeo.finetune import FinetuneConfig, finetune

    paper = published("classification")
    cfg = replace(FinetuneConfig(), **TABLE1_SMALL)
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
                result = finetune(folder, split, dataset=dataset, runs=5, checkpoint=checkpoint,
                                  cfg=FinetuneConfig(input_norm=TABLE1_INPUT_NORM))
                cell["measured"] = {"SARMAE (given checkpoint)": result["best_top1"]}
            cells.append(cell)
            continue
        measured = {}
        inits: dict[str, str | None] = {RANDOM: None}
        for label, sare in ((MAE, False), (SARMAE, True)):
            key = (dataset, sare)
            if key not in pretrained:
                pretrained[key] = small_pretrain(
                    folder, work / f"{dataset}_sare{int(sare)}_seed{seed}.pth", sare=sare,
                    steps=400, seed=seed)
            inits[label] = str(pretrained[key])
        for label, init in inits.items():
            result = finetune(folder, split, dataset=dataset, runs=runs, checkpoint=init,
                              cfg=cfg, progress=False, first_seed=seed)
            measured[label] = dict(result["best_top1"], runs=runs,
                                   values=[r["best_top1"] for r in result["runs"]],
                                   seconds=round(result["seconds"], 1))
        cell["measured"] = measured
        cell["pretraining_loss"] = pretraining_records(inits)
        cell["linear_probe"] = classification_probe(folder, split, inits, cfg, seed)
        cell["not_run_inits"] = {
            "torchgeo SSL4EO-S12 S1 MAE": "ViT-B/16 weights (2-band): beyond the small budget",
            "published SARMAE checkpoint": "ViT-B/16 at 224: beyond the small budget"}
        cell.update(init_gaps({label: stats["mean"] for label, stats in measured.items()}))
        cells.append(cell)
    return {"table": 1, "metric": "top-1 (%)", "budget": budget, "cells": cells,
            "small_budget_protocol": None if budget == "full" else {
                "pretraining": "ViT-Tiny/8 at 64 px, 400 steps x 32 images of the cell's "
                               "training folder (no labels), sargeo's pretraining module in "
                               f"bfloat16 autocast, seed {seed}",
                "finetuning": asdict(cfg) | {"runs": runs, "first_seed": seed}}}
