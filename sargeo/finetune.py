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
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sargeo import finetune_loop as loop


@dataclass
class FinetuneConfig(loop.Schedule):
    """Hyper-parameters; defaults are the published protocol (the :class:`Schedule`'s)."""

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
    from sargeo.models.vit import create_vit, load_encoder_weights

    model = create_vit(cfg.size, img_size=cfg.img_size, patch_size=cfg.patch_size,
                       num_classes=num_classes,
                       global_pool="avg", drop_path_rate=cfg.drop_path)
    if checkpoint:
        from sargeo.models.weights import resolve_checkpoint

        load_encoder_weights(model, resolve_checkpoint(checkpoint))
    return loop.init_head(model)


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


def finetune_once(train_set, test_set, num_classes: int, cfg: FinetuneConfig,
                  checkpoint: str | None, seed: int, progress: bool = True) -> RunResult:
    """One fine-tuning run; returns last- and best-epoch top-1 on ``test_set``. With
    ``progress``, a line per :data:`~sargeo.finetune_loop.LOG_EVERY` batches goes to stderr."""
    import torch

    from sargeo.models.layer_decay import layer_decay_param_groups

    torch.manual_seed(seed)
    loop.check_run(cfg, train_set)  # before any work
    check_input_norm(cfg.input_norm)
    model = build_classifier(num_classes, cfg, checkpoint)
    train_loader, test_loader = loop.loaders(train_set, test_set, cfg, seed)
    lr = loop.base_lr(cfg)
    groups = layer_decay_param_groups(model, lr, cfg.weight_decay, cfg.layer_decay,
                                      len(model.blocks))
    for g in groups:
        g.pop("names")
    optimizer = torch.optim.AdamW(groups, lr=lr)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def loss_of(x, y):
        return criterion(model(model_inputs(x, cfg.input_norm)), y)

    history: list[float] = []
    evaluated: list[int] = []
    for epoch in loop.train_epochs(model, train_loader, optimizer, loss_of, cfg, seed, progress):
        if progress:
            print(f"  seed {seed} epoch {epoch}/{cfg.epochs}: evaluating on "
                  f"{len(test_set)} test images", file=sys.stderr, flush=True)
        history.append(evaluate(model, test_loader, cfg.precision, cfg.input_norm))
        evaluated.append(epoch)
        if progress:
            print(f"  seed {seed} epoch {epoch}/{cfg.epochs}: top-1 {history[-1]:.2f}",
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

    return {"dataset": dataset, "data_root": str(data_root), "split": split,
            "checkpoint": checkpoint, "classes": classes, "config": asdict(cfg),
            "runs": [asdict(r) for r in results],
            "last_top1": loop.mean_std([r.last_top1 for r in results]),
            "best_top1": loop.mean_std([r.best_top1 for r in results]),
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
    loop.write_result(result, args)
    return 0
