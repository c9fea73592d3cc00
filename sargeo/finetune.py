"""``sargeo finetune``: SARMAE ViT classification fine-tuning with the published protocol.

Following the SARMAE code (``main_finetune.py``, ``util/lr_decay.py``): a timm ViT with global
average pooling (``fc_norm`` before the head), head re-initialised with std 2e-5, drop path 0.1,
AdamW (0.9, 0.999) with weight decay 0.05 and layer-wise lr decay 0.75, base lr 1e-3 scaled by
batch / 256, 5 warm-up epochs then per-iteration cosine to 1e-6, label smoothing 0.1, no
mixup/cutmix; images resized to 224, no augmentation; inputs in [0, 1], not normalised
(``input_norm="none"``), as the released ``main_finetune.py`` feeds them, although its own
pretraining showed the encoder (x - 0.5) / 0.5. ``input_norm="pretraining"`` (opt-in) normalises
as the pretraining did (:data:`sargeo.units.INPUT_MEAN`).
The published example runs batch 8 for 30 epochs, 5 runs (seeds 0..4). Each run reports the
top-1 of its last epoch and of its best epoch (the SARMAE code reports both; its table most
likely shows the best). Splits here are drawn per seed (:mod:`sargeo.datasets.classification`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class FinetuneConfig:
    """Hyper-parameters; defaults are the published protocol."""

    size: str = "base"
    img_size: int = 224
    patch_size: int = 16
    epochs: int = 30
    batch_size: int = 8
    blr: float = 1e-3
    min_lr: float = 1e-6
    warmup_epochs: float = 5.0
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    drop_path: float = 0.1
    label_smoothing: float = 0.1
    num_workers: int = 0
    eval_limit: int = 0  #: evaluate on a stratified subset of this many test images (0 = all)
    eval_every: int = 1  #: evaluate every this many epochs, and after the last
    #: "fp32", or "bf16": forward and loss under bfloat16 autocast (Lightning's "bf16-mixed";
    #: about 1.4x on CPUs with AVX512-BF16 or AMX, and on GPUs)
    precision: str = "fp32"
    #: "none": [0, 1] images as the released main_finetune.py; "pretraining" (opt-in):
    #: (x - 0.5) / 0.5 as the encoder saw in pretraining
    input_norm: str = "none"


@dataclass
class RunResult:
    seed: int
    last_top1: float
    best_top1: float
    history: list[float] = field(default_factory=list)  #: top-1 after each evaluated epoch
    epochs: list[int] = field(default_factory=list)  #: the evaluated epochs (1-based)


def build_classifier(num_classes: int, cfg: FinetuneConfig, checkpoint: str | None):
    """A timm ViT classifier, encoder initialised from ``checkpoint`` (any SARMAE/MAE/sargeo
    layout or a ``torchgeo:`` weights name) or at random when None."""
    import torch

    from sargeo.models.vit import create_vit, load_encoder_weights

    model = create_vit(cfg.size, img_size=cfg.img_size, patch_size=cfg.patch_size,
                       num_classes=num_classes,
                       global_pool="avg", drop_path_rate=cfg.drop_path)
    if checkpoint:
        from sargeo.models.weights import resolve_checkpoint

        load_encoder_weights(model, resolve_checkpoint(checkpoint))
    torch.nn.init.trunc_normal_(model.head.weight, std=2e-5)
    torch.nn.init.zeros_(model.head.bias)
    return model


INPUT_NORMS = ("none", "pretraining")


def check_input_norm(input_norm: str) -> str:
    """``input_norm`` if it is one of :data:`INPUT_NORMS`, else a ValueError naming it."""
    if input_norm not in INPUT_NORMS:
        raise ValueError(f"input_norm {input_norm!r}; choose one of {INPUT_NORMS}")
    return input_norm


def model_inputs(x, input_norm: str = "none"):
    """[0, 1] images as the classifier takes them (see :attr:`FinetuneConfig.input_norm`)."""
    from sargeo.units import normalize

    return normalize(x) if check_input_norm(input_norm) == "pretraining" else x


def evaluate(model, loader, precision: str = "fp32", input_norm: str = "none") -> float:
    import torch

    from sargeo.precision import autocast

    model.eval()
    correct = total = 0
    with torch.no_grad(), autocast(precision):
        for x, y in loader:
            correct += int((model(model_inputs(x, input_norm)).argmax(1) == y).sum())
            total += len(y)
    return 100.0 * correct / max(1, total)


#: training progress goes to stderr every this many batches (and after an epoch's first and
#: last batch)
LOG_EVERY = 10


def log_batch(seed: int, epoch: int, epochs: int, batch: int, batches: int, loss: float,
              seconds: float, every: int = LOG_EVERY) -> None:
    """Print a progress line to stderr for the first, every ``every``-th and the last batch of
    an epoch (1-based ``epoch`` and ``batch``; ``seconds`` since the epoch began)."""
    if batch == 1 or batch % every == 0 or batch == batches:
        print(f"  seed {seed} epoch {epoch}/{epochs} batch {batch}/{batches}: loss {loss:.4f}, "
              f"{seconds / batch:.2f} s/batch", file=sys.stderr, flush=True)


def finetune_once(train_set, test_set, num_classes: int, cfg: FinetuneConfig,
                  checkpoint: str | None, seed: int, progress: bool = True) -> RunResult:
    """One fine-tuning run; returns last- and best-epoch top-1 on ``test_set``. With
    ``progress``, a line per :data:`LOG_EVERY` batches goes to stderr."""
    import torch
    from torch.utils.data import DataLoader

    from sargeo.models.layer_decay import layer_decay_param_groups
    from sargeo.precision import autocast, check_precision
    from sargeo.pretrain.schedules import warmup_cosine

    torch.manual_seed(seed)
    check_precision(cfg.precision)  # before any work
    check_input_norm(cfg.input_norm)
    if cfg.eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {cfg.eval_every}")
    if len(train_set) < cfg.batch_size:
        raise ValueError(f"{len(train_set)} training images are fewer than one batch "
                         f"({cfg.batch_size})")
    model = build_classifier(num_classes, cfg, checkpoint)
    train_loader = DataLoader(train_set, cfg.batch_size, shuffle=True, drop_last=True,
                              num_workers=cfg.num_workers,
                              generator=torch.Generator().manual_seed(seed))
    test_loader = DataLoader(test_set, 32, num_workers=cfg.num_workers)
    lr = cfg.blr * cfg.batch_size / 256
    groups = layer_decay_param_groups(model, lr, cfg.weight_decay, cfg.layer_decay,
                                      len(model.blocks))
    for g in groups:
        g.pop("names")
    optimizer = torch.optim.AdamW(groups, lr=lr)
    steps_per_epoch = len(train_loader)
    total, warmup = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    history: list[float] = []
    evaluated: list[int] = []
    step = 0
    for epoch in range(cfg.epochs):
        model.train()
        began = time.monotonic()
        for batch, (x, y) in enumerate(train_loader, 1):
            factor = warmup_cosine(step, total, warmup, cfg.min_lr / lr if lr else 0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr * factor * g["lr_scale"]
            with autocast(cfg.precision):
                loss = criterion(model(model_inputs(x, cfg.input_norm)), y)
            if not math.isfinite(float(loss.detach())):
                raise FloatingPointError(f"non-finite loss at epoch {epoch}, step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if progress:
                log_batch(seed, epoch + 1, cfg.epochs, batch, steps_per_epoch,
                          float(loss.detach()), time.monotonic() - began)
        if (epoch + 1) % cfg.eval_every and epoch + 1 < cfg.epochs:
            continue
        if progress:
            print(f"  seed {seed} epoch {epoch + 1}/{cfg.epochs}: evaluating on "
                  f"{len(test_set)} test images", file=sys.stderr, flush=True)
        history.append(evaluate(model, test_loader, cfg.precision, cfg.input_norm))
        evaluated.append(epoch + 1)
        if progress:
            print(f"  seed {seed} epoch {epoch + 1}/{cfg.epochs}: top-1 {history[-1]:.2f}",
                  flush=True)
    return RunResult(seed, history[-1], max(history), history, evaluated)


def subsample(dataset, limit: int, seed: int):
    """A class-stratified subset of about ``limit`` images, the same for the same seed."""
    from sargeo.datasets.classification import ImageList, Split, split_indices

    keep, _ = split_indices(dataset.labels, Split("percent", 100 * limit / len(dataset)),
                            seed + 10_000)
    return ImageList([dataset.files[i] for i in keep], [dataset.labels[i] for i in keep],
                     dataset.img_size, dataset.in_chans)


def finetune(data_root: str | Path, split: str, *, dataset: str = "folder", runs: int = 5,
             checkpoint: str | None = None, cfg: FinetuneConfig | None = None,
             progress: bool = True, first_seed: int = 0) -> dict:
    """``runs`` fine-tunings with seeds ``first_seed``.. ``first_seed + runs - 1`` (splits
    drawn per seed); mean and standard deviation of last- and best-epoch top-1."""
    from sargeo.datasets.classification import DATASETS, load_classification

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    cfg = cfg or FinetuneConfig()
    results = []
    start = time.monotonic()
    for seed in range(first_seed, first_seed + runs):
        train_set, test_set, classes = load_classification(data_root, split, seed,
                                                           cfg.img_size)
        if cfg.eval_limit and len(test_set) > cfg.eval_limit:
            test_set = subsample(test_set, cfg.eval_limit, seed)
        if progress:
            print(f"run {seed - first_seed + 1}/{runs} (seed {seed}): {len(train_set)} train "
                  f"/ {len(test_set)} test images, {len(classes)} classes", flush=True)
        results.append(finetune_once(train_set, test_set, len(classes), cfg, checkpoint, seed,
                                     progress))

    def stats(values: list[float]) -> dict:
        return {"mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    return {"dataset": dataset, "data_root": str(data_root), "split": split,
            "checkpoint": checkpoint, "classes": classes, "config": asdict(cfg),
            "runs": [asdict(r) for r in results],
            "last_top1": stats([r.last_top1 for r in results]),
            "best_top1": stats([r.best_top1 for r in results]),
            "seconds": time.monotonic() - start}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # bigearthnet-s1, sen12flood: SAR-W-MixMAE's Sentinel-1 tasks (sargeo.finetune_s1)
    parser.add_argument("--dataset", default="folder",
                        choices=("fusar_ship", "mstar", "sar_acd", "folder", "bigearthnet-s1",
                                 "sen12flood"))
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--split", required=True, help="40shot, 30pct, predefined, ...")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", help="SARMAE/MAE checkpoint, or torchgeo:Weights.NAME")
    from sargeo.precision import PRECISIONS

    choices = {"input_norm": INPUT_NORMS, "precision": PRECISIONS}
    for name, value in asdict(FinetuneConfig()).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            choices=choices.get(name))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress lines (per-batch progress goes to stderr)")


def run(args: argparse.Namespace) -> int:
    if args.dataset in ("bigearthnet-s1", "sen12flood"):  # multi-label MixMIM protocol
        from sargeo import finetune_s1

        return finetune_s1.run(args)
    cfg = FinetuneConfig(**{k: getattr(args, k) for k in asdict(FinetuneConfig())})
    result = finetune(args.data_root, args.split, dataset=args.dataset, runs=args.runs,
                      checkpoint=args.checkpoint, cfg=cfg, progress=not args.quiet)
    best, last = result["best_top1"], result["last_top1"]
    print(f"{args.dataset} {args.split}: top-1 best {best['mean']:.2f} +- {best['std']:.2f}, "
          f"last {last['mean']:.2f} +- {last['std']:.2f} over {args.runs} runs")
    if args.out:
        from sargeo.io import atomic_path

        with atomic_path(args.out, overwrite=True) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return 0
