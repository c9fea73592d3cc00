"""SAR-W-MixMAE table: MixMAE vs SAR-W-MixMAE vs random initialisation at equal budget.

    python -m benchmarks.reproduce --table mixmae --data-root DIR [--budget small|full]
        [--pretrain-steps N] [--seeds N] [--checkpoint SARW.pth --baseline-checkpoint MIX.pth]

Writes ``benchmarks/results/table_mixmae.json`` and ``table_mixmae.md``.

``--budget small`` (default, a 2-core CPU in about 10 minutes): the same MixMIM-tiny encoder
(64 px, patch 4) three ways: random, pretrained by MixMAE (``sar_w=False``) and by SAR-W-MixMAE
(per-channel weights, s = 1), both by sargeo's pretraining module for the same steps on the same
chips of a simulated Sentinel-1 scene (VV/VH, 4-look speckle; no labels). Each encoder is then
fine-tuned with the same protocol and budget (:mod:`sargeo.finetune_s1`, layer decay, BENv2
normalisation) on a multi-label task built from a second simulated scene with known truth: each
64 px chip is labelled sea / land / lake (the class covers at least 2 % of the chip) and ship
(a ship's centre lies in it), half the chips for training, half for testing; macro and micro
mAP and F1 over ``--seeds`` runs. The 6 real BigEarthNet-S1 patches under ``DIR`` (folder
``bigearthnet_s1``), when present, get one fine-tuning run per initialisation on 3 patches,
tested on the other 3: a check that the real data runs end to end, not a measurement.

What the small budget can show: whether, at this scale, MixMAE pretraining on speckled SAR
helps a tiny encoder on a SAR multi-label task, and whether SAR-W's weighting changes that, with
the run-to-run spread beside it. What it cannot show: the published BigEarthNet / SEN12-FLOOD
figures (MixMIM-Base, 64 epochs on 8 H200 GPUs, 19 real land-cover classes); a simulated
scene has no real land-cover semantics, and a tiny encoder after a few hundred steps is far
from convergence, so a gap of the size of the spread means nothing either way.

``--budget full``: fine-tunes MixMIM-Base with the published protocol on BigEarthNet-S1
(``bigearthnet_s1`` folder with torchgeo's split files, ``--split predefined``) from random,
``--baseline-checkpoint`` (MixMAE) and ``--checkpoint`` (SAR-W-MixMAE); the pretraining
commands that make those two files are in ``benchmarks/README.md``. Cells without their data or
checkpoints say ``not run: <reason>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import asdict, make_dataclass
from pathlib import Path
from typing import Any

from benchmarks.tables.published import RESULTS
from benchmarks.tables.report import command, wall_time, write_table
from benchmarks.tables.stats import mean_std

STEM = "table_mixmae"
RANDOM, MIXMAE, SARW = "random init", "MixMAE", "SAR-W-MixMAE"
LABELS = ("sea", "land", "lake", "ship")
METRICS = ("map_macro", "map_micro", "f1_macro", "f1_micro")
BIGEARTHNET_FOLDERS = ("bigearthnet_s1", "BigEarthNet-S1", "BigEarthNet-S1-v1.0")


def requested(argv: list[str]) -> bool:
    """Whether ``argv`` asks ``benchmarks.reproduce`` for this table."""
    return "--table=mixmae" in argv or any(
        a == "--table" and argv[i + 1:i + 2] == ["mixmae"] for i, a in enumerate(argv))


#: the small-budget recipe's defaults, by stage (recorded in the JSON as ``recipe``)
SMALL_BUDGET: dict[str, Any] = dict(
    size="tiny", img_size=64,  # the MixMIM encoder, its input side (px)
    scene_px=1024,  # side of the two simulated scenes (one to pretrain on, one for the task)
    pretrain_steps=300, pretrain_batch=16, pretrain_chips=2048, pretrain_lr=1.5e-3,
    decoder_dim=64, decoder_depth=1, decoder_heads=4,  # the pretraining decoder
    finetune_epochs=15, finetune_batch=16, finetune_blr=2e-2,
    min_share=0.02,  # a class labels a chip when it covers at least this share of it
    seeds=3, seed=0)  # fine-tuning runs per initialisation, seeds seed, seed + 1, ...
#: The small-budget recipe: a dataclass of :data:`SMALL_BUDGET`'s fields and defaults.
SmallBudget = make_dataclass("SmallBudget", [(name, type(value), value)
                                             for name, value in SMALL_BUDGET.items()])


# -- data ------------------------------------------------------------------------------------
class SimulatedChips:
    """Non-overlapping chips of a simulated scene as ``{"image": dB (VH, VV), "label"}``
    samples, labels from the simulator's own class field and ship list."""

    def __init__(self, scene: Any, seed: int, size: int, min_share: float,
                 land_fraction: float = 0.3) -> None:
        import numpy as np
        import rasterio
        import torch

        from sargeo.datasets.simulate import _Layout  # the simulator's truth field

        with rasterio.open(scene.path) as src:
            power = src.read().astype(np.float32)  # (VV, VH)
        db = 10.0 * np.log10(np.maximum(power, 1e-10))[::-1].copy()  # (VH, VV)
        h, w = scene.height, scene.width
        rows, cols = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        classes = _Layout(seed, w, h, land_fraction).classes(rows, cols)
        ships = np.zeros((h, w), dtype=bool)
        inverse = ~scene.transform
        for ship in scene.ships:
            col, row = inverse * (ship.x, ship.y)
            if 0 <= row < h and 0 <= col < w:
                ships[int(row), int(col)] = True
        self.images, self.labels = [], []
        for r in range(0, h - size + 1, size):
            for c in range(0, w - size + 1, size):
                cls = classes[r:r + size, c:c + size]
                label = [float((cls == k).mean()) >= min_share for k in range(3)]
                label.append(bool(ships[r:r + size, c:c + size].any()))
                self.images.append(torch.from_numpy(db[:, r:r + size, c:c + size].copy()))
                self.labels.append(torch.tensor(label, dtype=torch.long))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": self.images[i], "label": self.labels[i]}


def simulate(work: Path, seed: int, size: int) -> Any:
    from sargeo.datasets.simulate import simulate_scene

    return simulate_scene(work / f"scene_seed{seed}.tif", width=size, height=size, seed=seed,
                          overwrite=True, progress=False)


def find_bigearthnet(root: Path) -> Path | None:
    from sargeo.datasets.bigearthnet import find_patches

    for folder in [root / name for name in BIGEARTHNET_FOLDERS] + [root]:
        try:
            find_patches(folder)
            return folder
        except FileNotFoundError:
            continue
    return None


# -- small budget ----------------------------------------------------------------------------
def pretrain(scene_path: Path, out: Path, sar_w: bool, recipe: SmallBudget) -> dict[str, Any]:
    """Pretrain one encoder on chips of ``scene_path``; returns its loss record."""
    from sargeo.pretrain.mixmae import MixMAEPretrainModule
    from sargeo.pretrain.quick import fit_quick
    from sargeo.pretrain.scenes import SceneChips

    chips = SceneChips(scene_path, recipe.img_size, recipe.pretrain_chips, recipe.seed,
                       in_chans=2)
    module = MixMAEPretrainModule(
        recipe.size, img_size=recipe.img_size, decoder_dim=recipe.decoder_dim,
        decoder_depth=recipe.decoder_depth, decoder_heads=recipe.decoder_heads, sar_w=sar_w,
        lr=recipe.pretrain_lr, warmup_fraction=0.1, seed=recipe.seed)
    history = fit_quick(module, chips, steps=recipe.pretrain_steps,
                        batch_size=recipe.pretrain_batch, seed=recipe.seed)
    module.export_encoder(out)
    losses = [loss for _, loss in history]
    return {"checkpoint": str(out), "steps": len(losses), "first": round(losses[0], 4),
            "last10": round(statistics.fmean(losses[-10:]), 4)}


def finetune_cell(train: Any, test: Any, labels: int, inits: dict[str, str | None],
                  cfg: Any, seeds: list[int]) -> dict[str, Any]:
    """Fine-tune each initialisation on (train, test) for each seed; mean and spread."""
    from sargeo.finetune_s1 import finetune_s1_once

    out: dict[str, Any] = {}
    for name, checkpoint in inits.items():
        runs = [finetune_s1_once(train, test, labels, cfg, checkpoint, seed, progress=False)
                ["last"] for seed in seeds]
        out[name] = {m: mean_std([r[m] for r in runs]) | {
            "values": [round(r[m], 2) for r in runs]} for m in METRICS}
        out[name]["labels_evaluated"] = runs[0]["labels_evaluated"]
        out[name]["test_images"] = runs[0]["images"]
    return out


def direction(cell: dict[str, Any], metric: str = "map_macro") -> dict[str, Any]:
    """Whether SAR-W-MixMAE > MixMAE > random on ``metric`` (means), with the gaps and the
    largest run-to-run spread, so that a gap inside the spread reads as such."""
    means = {k: cell[k][metric]["mean"] for k in (RANDOM, MIXMAE, SARW)}
    spread = max(cell[k][metric]["std"] for k in (RANDOM, MIXMAE, SARW))
    return {"metric": metric, "holds": means[SARW] > means[MIXMAE] > means[RANDOM],
            "sar_w_minus_mixmae": round(means[SARW] - means[MIXMAE], 2),
            "mixmae_minus_random": round(means[MIXMAE] - means[RANDOM], 2),
            "largest_std": spread}


def small_budget(data_root: Path, work: Path, recipe: SmallBudget) -> dict[str, Any]:
    import torch

    from sargeo.finetune_s1 import S1Classification, S1FinetuneConfig, load_s1_dataset

    work.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.monotonic()
    pre_scene = simulate(work, recipe.seed + 1, recipe.scene_px)
    task_scene = simulate(work, recipe.seed + 2, recipe.scene_px)
    seconds["simulation"] = round(time.monotonic() - start, 1)
    pretraining = {}
    for name, sar_w in ((MIXMAE, False), (SARW, True)):
        start = time.monotonic()
        pretraining[name] = pretrain(pre_scene.path, work / f"{name.lower()}.pth", sar_w,
                                     recipe)
        seconds[f"pretraining {name}"] = round(time.monotonic() - start, 1)
    inits = {RANDOM: None, MIXMAE: pretraining[MIXMAE]["checkpoint"],
             SARW: pretraining[SARW]["checkpoint"]}
    chips = SimulatedChips(task_scene, recipe.seed + 2, recipe.img_size, recipe.min_share)
    order = torch.randperm(len(chips), generator=torch.Generator().manual_seed(recipe.seed))
    half = len(chips) // 2
    train = S1Classification(chips, order[:half].tolist(), recipe.img_size, True)
    test = S1Classification(chips, order[half:].tolist(), recipe.img_size, False)
    cfg = S1FinetuneConfig(size=recipe.size, img_size=recipe.img_size,
                           epochs=recipe.finetune_epochs, batch_size=recipe.finetune_batch,
                           blr=recipe.finetune_blr, warmup_epochs=1.0)
    seeds = list(range(recipe.seed, recipe.seed + recipe.seeds))
    start = time.monotonic()
    simulated = finetune_cell(train, test, len(LABELS), inits, cfg, seeds)
    seconds["fine-tuning, simulated"] = round(time.monotonic() - start, 1)
    positives = torch.stack(chips.labels).sum(0).tolist()
    cells = [{"cell": "simulated S1 multi-label (sea, land, lake, ship)", "measured": simulated,
              "direction": direction(simulated),
              "data": {"chips": len(chips), "train": half, "test": len(chips) - half,
                       "positives_per_label": dict(zip(LABELS, positives, strict=True))}}]
    ben = find_bigearthnet(data_root)
    if ben is None:
        cells.append({"cell": "BigEarthNet-S1 (real, 6 patches)",
                      "not_run": f"no BigEarthNet-S1 patches under {data_root} "
                                 f"({' | '.join(BIGEARTHNET_FOLDERS)})"})
    else:
        start = time.monotonic()
        tr, te, names = load_s1_dataset("bigearthnet-s1", ben, "50pct", recipe.seed,
                                        recipe.img_size)
        small = S1FinetuneConfig(size=recipe.size, img_size=recipe.img_size, epochs=5,
                                 batch_size=min(len(tr), 3), blr=recipe.finetune_blr,
                                 warmup_epochs=1.0)
        measured = finetune_cell(tr, te, len(names), inits, small, [recipe.seed])
        seconds["fine-tuning, BigEarthNet-S1"] = round(time.monotonic() - start, 1)
        cells.append({"cell": "BigEarthNet-S1 (real, 6 patches)", "measured": measured,
                      "comparable": False,
                      "note": f"{len(tr)} training and {len(te)} test patches, 5 epochs, one "
                              "run: shows the real data runs end to end; no accuracy claim"})
    return {"cells": cells, "pretraining": pretraining, "recipe": asdict(recipe),
            "seconds": seconds}


# -- full budget -----------------------------------------------------------------------------
def full_budget(data_root: Path, checkpoint: str | None, baseline: str | None,
                seeds: int) -> dict[str, Any]:
    from sargeo.finetune_s1 import S1FinetuneConfig, finetune_s1

    ben = find_bigearthnet(data_root)
    reasons = []
    if ben is None:
        reasons.append(f"no BigEarthNet-S1 under {data_root}")
    if not checkpoint or not baseline:
        reasons.append("needs --checkpoint (SAR-W-MixMAE) and --baseline-checkpoint (MixMAE), "
                       "made by the commands in benchmarks/README.md")
    if reasons:
        return {"cells": [{"cell": "BigEarthNet-S1, published protocol",
                           "not_run": "; ".join(reasons)}]}
    measured = {}
    for name, init in ((RANDOM, None), (MIXMAE, baseline), (SARW, checkpoint)):
        result = finetune_s1(ben, "predefined", runs=seeds, checkpoint=init,
                             cfg=S1FinetuneConfig(), progress=True)
        measured[name] = {m: result["last"][m] for m in METRICS}
    return {"cells": [{"cell": "BigEarthNet-S1, published protocol", "measured": measured,
                       "direction": direction(measured)}]}


# -- output ----------------------------------------------------------------------------------
def markdown(result: dict[str, Any]) -> str:
    lines = [f"# SAR-W-MixMAE table, budget: {result['budget']}", "",
             "| cell | initialisation | mAP macro | mAP micro | F1 macro | F1 micro |",
             "|---|---|---|---|---|---|"]
    for cell in result["cells"]:
        if "not_run" in cell:
            lines.append(f"| {cell['cell']} | | not run: {cell['not_run']} | | | |")
            continue
        for init, values in cell["measured"].items():
            row = [f"{values[m]['mean']:.2f} +- {values[m]['std']:.2f}" for m in METRICS]
            lines.append(f"| {cell['cell']} | {init} | " + " | ".join(row) + " |")
    lines.append("")
    for cell in result["cells"]:
        if "direction" in cell:
            d = cell["direction"]
            lines.append(f"- {cell['cell']}: SAR-W-MixMAE > MixMAE > random on {d['metric']}: "
                         f"**{'holds' if d['holds'] else 'does not hold'}** (SAR-W - MixMAE "
                         f"{d['sar_w_minus_mixmae']:+.2f}, MixMAE - random "
                         f"{d['mixmae_minus_random']:+.2f}; largest run-to-run std "
                         f"{d['largest_std']:.2f})")
        if cell.get("note"):
            lines.append(f"- {cell['cell']}: {cell['note']}")
    for name, record in (result.get("pretraining") or {}).items():
        lines.append(f"- pretraining {name}: {record['steps']} steps, loss {record['first']} "
                     f"-> {record['last10']} (mean of the last 10; SAR-W losses are weighted, "
                     "in [1, e] x the MSE, so the two are not comparable)")
    return "\n".join(lines + wall_time(result)) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reproduce --table mixmae",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=("mixmae",), required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--budget", choices=("small", "full"), default="small")
    parser.add_argument("--checkpoint", help="full budget: SAR-W-MixMAE checkpoint")
    parser.add_argument("--baseline-checkpoint", help="full budget: MixMAE checkpoint")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--pretrain-steps", type=int, help="small budget: steps per encoder")
    parser.add_argument("--epochs", type=int, help="small budget: fine-tuning epochs")
    parser.add_argument("--seeds", type=int, help="fine-tuning runs per initialisation")
    parser.add_argument("--scene-px", type=int, help="small budget: simulated scene side")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads sleep on a shared CPU
    start = time.monotonic()
    if args.budget == "small":
        recipe = SmallBudget()
        for field, value in (("pretrain_steps", args.pretrain_steps),
                             ("finetune_epochs", args.epochs), ("seeds", args.seeds),
                             ("scene_px", args.scene_px)):
            if value is not None:
                setattr(recipe, field, value)
        result = small_budget(args.data_root, args.out_dir / "work" / STEM, recipe)
    else:
        result = full_budget(args.data_root, args.checkpoint, args.baseline_checkpoint,
                             args.seeds or 1)
    result["budget"] = args.budget
    result["command"] = command(argv)
    result["stage_seconds"] = result.pop("seconds", {})
    result["seconds"] = round(time.monotonic() - start, 1)
    text = markdown(result)
    write_table(args.out_dir / STEM, result, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
