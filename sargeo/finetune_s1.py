"""``sargeo finetune --dataset bigearthnet-s1 | sen12flood``: Sentinel-1 classification with the
SAR-W-MixMAE MixMIM encoder, after the release's protocol (``main_finetune.py``,
``engine_finetune.py``, ``util/lr_decay.py``).

Protocol: MixMIM (``--size base`` as published, ``tiny`` for CPUs) with a linear head on the
average of the last stage's tokens (head weights N(0, 2e-5)), drop path 0.1; VH and VV in dB
resized to 128 px (bilinear), random horizontal and vertical flips in training, normalised with
the BigEarthNet v2 statistics (mean (-19.1966, -12.5144), std (5.4501, 5.0019) dB);
``MultiLabelSoftMarginLoss``; AdamW (0.9, 0.999), weight decay 0.05 except for 1-D parameters,
layer-wise lr decay 0.75 per block as released (the head and final norm at 0.75 of the base
lr, the release's ``get_layer_id_for_mixmim``); lr = 1e-3 x batch / 256, 5 warm-up epochs, then
per-iteration cosine to 1e-6; 50 epochs of batch 32.

Metrics on the test set after each evaluated epoch (torchmetrics, as released; threshold 0.5
for F1, precision and recall): mean average precision, macro (over the classes that have a
positive in the test set; ``map_macro_all`` also averages absent classes as 0, as the
release's torchmetrics call does) and micro, F1 macro and micro. SEN12-FLOOD is one label,
"flooded", per image: its AP, F1, precision, recall and accuracy.

Splits (``--split``): ``predefined`` (BigEarthNet: torchgeo's ``bigearthnet-train.csv`` /
``bigearthnet-test.csv`` in the data root; SEN12-FLOOD: ``train.csv`` / ``test.csv`` listing
sequence folders, first column) or ``NNpct`` (NN % of the patches / sequences for training,
drawn per seed, the rest for testing). With the 6 BigEarthNet patches of the shared sample
(``--split 50pct``) this runs end to end and reports mAP; it shows nothing about accuracy.

Options that ``sargeo finetune`` shares with SARMAE's protocol and that are left at SARMAE's
defaults (e.g. ``--img-size 224``, ``--epochs 30``, ``--batch-size 8``, ``--patch-size 16``)
take this protocol's defaults; give another value to override them.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from sargeo import finetune_loop as loop

#: the ``--dataset`` names this module serves
S1_DATASETS = ("bigearthnet-s1", "sen12flood")


@dataclass
class S1FinetuneConfig(loop.Schedule):
    """Hyper-parameters; defaults are the release's BigEarthNet fine-tuning."""

    img_size: int = 128
    patch_size: int = 4
    epochs: int = 50
    batch_size: int = 32
    num_workers: int = 0
    eval_every: int = 1
    precision: str = "fp32"
    threshold: float = 0.5  #: probability above which a label counts as predicted


# -- data ------------------------------------------------------------------------------------
class S1Classification(Dataset):
    """(input, target) pairs from a BigEarthNet-S1 or SEN12-FLOOD dataset: dB resized to
    ``img_size``, flipped at random when ``train``, normalised; targets float (L,)."""

    def __init__(self, base: Any, indices: list[int], img_size: int, train: bool) -> None:
        from sargeo.models.mixmim_weights import BENV2_S1_MEAN, BENV2_S1_STD

        self.base, self.indices, self.img_size, self.train = base, indices, img_size, train
        self.mean = torch.tensor(BENV2_S1_MEAN).view(-1, 1, 1)
        self.std = torch.tensor(BENV2_S1_STD).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        import torch.nn.functional as F

        sample = self.base[self.indices[i]]
        x = sample["image"].float()
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            x = F.interpolate(x[None], size=(self.img_size, self.img_size), mode="bilinear",
                              align_corners=False, antialias=True)[0]
        if self.train:
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
            if torch.rand(()) < 0.5:
                x = x.flip(-2)
        label = sample["label"]
        target = label.float().reshape(-1)
        return (x - self.mean) / self.std, target


def _percent_split(groups: list[str], percent: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of the items whose group falls in a seeded ``percent`` share of the groups."""
    names = sorted(set(groups))
    if len(names) < 2:
        raise ValueError(f"a percentage split needs at least 2 patches / sequences, got "
                         f"{len(names)}")
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    k = min(len(names) - 1, max(1, round(len(names) * percent / 100)))
    chosen = {names[j] for j in order[:k]}
    train = [i for i, g in enumerate(groups) if g in chosen]
    return train, [i for i, g in enumerate(groups) if g not in chosen]


def _split_kind(split: str) -> tuple[str, float]:
    from sargeo.datasets.classification import Split

    parsed = Split.parse(split)
    if parsed.kind == "shot":
        raise ValueError(f"split {split!r}: k-shot splits are single-label; use NNpct or "
                         "predefined for Sentinel-1 multi-label data")
    return parsed.kind, parsed.value


def load_s1_dataset(dataset: str, root: str | Path, split: str, seed: int, img_size: int
                    ) -> tuple[S1Classification, S1Classification, list[str]]:
    """(train set, test set, label names) of ``dataset`` under ``root`` for ``split``."""
    root = Path(root)
    kind, value = _split_kind(split)
    if dataset == "bigearthnet-s1":
        from sargeo.datasets.bigearthnet import BigEarthNetS1

        if kind == "predefined":
            train, test = BigEarthNetS1(root, "train"), BigEarthNetS1(root, "test")
            return (S1Classification(train, list(range(len(train))), img_size, True),
                    S1Classification(test, list(range(len(test))), img_size, False),
                    train.classes)
        base = BigEarthNetS1(root)
        tr, te = _percent_split([p.name for p in base.paths], value, seed)
        return (S1Classification(base, tr, img_size, True),
                S1Classification(base, te, img_size, False), base.classes)
    if dataset == "sen12flood":
        from sargeo.datasets.sen12flood import SEN12Flood

        if kind == "predefined":
            lists = []
            for part in ("train", "test"):
                path = next((root / n for n in (f"{part}.csv", f"sen12_{part}.csv")
                             if (root / n).is_file()), None)
                if path is None:
                    raise FileNotFoundError(f"split file not found: {root / (part + '.csv')} "
                                            "(sequence folder names, first column)")
                lists.append([line.split(",")[0].strip() for line in
                              path.read_text().splitlines() if line.strip()])
            train, test = SEN12Flood(root, lists[0]), SEN12Flood(root, lists[1])
            return (S1Classification(train, list(range(len(train))), img_size, True),
                    S1Classification(test, list(range(len(test))), img_size, False),
                    ["flooded"])
        base = SEN12Flood(root)
        tr, te = _percent_split(base.sequences, value, seed)
        return (S1Classification(base, tr, img_size, True),
                S1Classification(base, te, img_size, False), ["flooded"])
    raise ValueError(f"unknown Sentinel-1 dataset {dataset!r}; choose one of {S1_DATASETS}")


# -- model -----------------------------------------------------------------------------------
def resolve_mixmim_checkpoint(spec: str) -> Path:
    """A checkpoint path, or ``torchgeo:SARWMixMAE_Base_Weights.BENV2_S1`` (a local file,
    see :func:`sargeo.models.mixmim_weights.local_weights`)."""
    from sargeo.models.mixmim_weights import SARWMixMAE_Base_Weights, local_weights
    from sargeo.models.weights import checkpoint_file

    return checkpoint_file(spec, SARWMixMAE_Base_Weights.verify, local_weights, "MixMIM")


def build_s1_classifier(num_labels: int, cfg: S1FinetuneConfig, checkpoint: str | None):
    """MixMIM classifier, encoder from ``checkpoint`` (any MixMAE/MixMIM layout) or random."""
    from sargeo.models.mixmae_export import load_mixmim_encoder
    from sargeo.models.swin import create_mixmim

    model = create_mixmim(cfg.size, img_size=cfg.img_size, patch_size=cfg.patch_size,
                          in_chans=2, num_classes=num_labels, drop_path_rate=cfg.drop_path)
    if checkpoint:
        load_mixmim_encoder(model, resolve_mixmim_checkpoint(checkpoint))
    return loop.init_head(model)


def mixmim_layer_id(name: str, depths: list[int]) -> int:
    """The release's layer id of a parameter (``get_layer_id_for_mixmim``): embeddings 0,
    block j of stage i ``sum(depths[:i]) + j + 1``, stage i's patch merging with the next
    stage's first block, everything else (final norm, head) ``sum(depths)``."""
    if name in ("absolute_pos_embed", "pos_embed", "cls_token") or name.startswith(
            "patch_embed"):
        return 0
    if name.startswith("layers."):
        parts = name.split(".")
        stage = int(parts[1])
        if parts[2] == "downsample":
            return sum(depths[:stage + 1]) + 1
        return sum(depths[:stage]) + int(parts[3]) + 1
    return sum(depths)


def mixmim_param_groups(model: Any, weight_decay: float, layer_decay: float
                        ) -> list[dict[str, Any]]:
    """AdamW groups with ``lr_scale`` = ``layer_decay ** (sum(depths) + 1 - layer id)`` and no
    weight decay for 1-D parameters, as released."""
    depths = [len(stage.blocks) for stage in model.layers]
    total = sum(depths) + 1
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = mixmim_layer_id(name, depths)
        decay = param.ndim > 1
        group = groups.setdefault((layer, decay), {
            "params": [], "lr_scale": layer_decay ** (total - layer),
            "weight_decay": weight_decay if decay else 0.0})
        group["params"].append(param)
    return list(groups.values())


# -- metrics ---------------------------------------------------------------------------------
def multilabel_metrics(probs: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5
                       ) -> dict[str, Any]:
    """AP, F1, precision, recall (torchmetrics' binary functions per label, and on all labels
    flattened for micro, as its multilabel ones compute them) of ``probs`` against 0/1
    ``targets`` (N, L), in percent; macro averages over the labels with a positive in
    ``targets`` (``map_macro_all``: absent labels as 0, as the release's torchmetrics call)."""
    from torchmetrics.functional.classification import (
        binary_average_precision,
        binary_f1_score,
        binary_precision,
        binary_recall,
    )

    targets = targets.long()
    present = targets.sum(0) > 0
    with warnings.catch_warnings():  # absent labels: torchmetrics warns and scores 0
        warnings.simplefilter("ignore")
        ap = torch.stack([binary_average_precision(probs[:, k], targets[:, k])
                          for k in range(targets.shape[1])]).nan_to_num(0.0)
        f1 = torch.stack([binary_f1_score(probs[:, k], targets[:, k], threshold)
                          for k in range(targets.shape[1])])
        flat_p, flat_t = probs.flatten(), targets.flatten()
        out = {"map_micro": 100 * float(binary_average_precision(flat_p, flat_t)),
               "map_macro_all": 100 * float(torch.where(present, ap, 0.0).mean()),
               "f1_micro": 100 * float(binary_f1_score(flat_p, flat_t, threshold)),
               "precision_micro": 100 * float(binary_precision(flat_p, flat_t, threshold)),
               "recall_micro": 100 * float(binary_recall(flat_p, flat_t, threshold))}
    out["map_macro"] = 100 * float(ap[present].mean()) if bool(present.any()) else math.nan
    out["f1_macro"] = 100 * float(f1[present].mean()) if bool(present.any()) else math.nan
    out["labels_evaluated"] = int(present.sum())
    out["images"] = int(targets.shape[0])
    if targets.shape[1] == 1:
        out["accuracy"] = 100 * float(((probs[:, 0] > threshold).long() == targets[:, 0])
                                      .float().mean())
    return out


def evaluate_s1(model: Any, loader: Any, precision: str = "fp32", threshold: float = 0.5
                ) -> dict[str, Any]:
    from sargeo.precision import autocast

    model.eval()
    probs, targets = [], []
    with torch.no_grad(), autocast(precision):
        for x, y in loader:
            probs.append(torch.sigmoid(model(x).float()))
            targets.append(y)
    return multilabel_metrics(torch.cat(probs), torch.cat(targets), threshold)


# -- training --------------------------------------------------------------------------------
def finetune_s1_once(train_set: Dataset, test_set: Dataset, num_labels: int,
                     cfg: S1FinetuneConfig, checkpoint: str | None, seed: int,
                     progress: bool = True) -> dict[str, Any]:
    """One fine-tuning run; returns the metrics of the last evaluated epoch, of the epoch with
    the best macro mAP, and the macro mAP history."""

    torch.manual_seed(seed)
    loop.check_run(cfg, train_set)
    model = build_s1_classifier(num_labels, cfg, checkpoint)
    train_loader, test_loader = loop.loaders(train_set, test_set, cfg, seed)
    optimizer = torch.optim.AdamW(mixmim_param_groups(model, cfg.weight_decay,
                                                      cfg.layer_decay), lr=loop.base_lr(cfg))
    criterion = torch.nn.MultiLabelSoftMarginLoss()

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return criterion(model(x).float(), y)

    history: list[dict[str, Any]] = []
    for epoch in loop.train_epochs(model, train_loader, optimizer, loss_of, cfg, seed, progress):
        metrics = dict(evaluate_s1(model, test_loader, cfg.precision, cfg.threshold),
                       epoch=epoch)
        history.append(metrics)
        if progress:
            print(f"  seed {seed} epoch {epoch}/{cfg.epochs}: mAP macro "
                  f"{metrics['map_macro']:.2f}, micro {metrics['map_micro']:.2f}", flush=True)
    best = max(history, key=lambda m: -math.inf if math.isnan(m["map_macro"])
               else m["map_macro"])
    return {"seed": seed, "last": history[-1], "best": best, "history": history}


def finetune_s1(data_root: str | Path, split: str, *, dataset: str = "bigearthnet-s1",
                runs: int = 1, checkpoint: str | None = None,
                cfg: S1FinetuneConfig | None = None, progress: bool = True,
                first_seed: int = 0) -> dict[str, Any]:
    """``runs`` fine-tunings (seeds ``first_seed``..); mean and standard deviation of the
    last epoch's metrics over the runs."""
    if dataset not in S1_DATASETS:
        raise ValueError(f"unknown Sentinel-1 dataset {dataset!r}; choose one of {S1_DATASETS}")
    cfg = cfg or S1FinetuneConfig()
    start = time.monotonic()
    results = []
    labels: list[str] = []
    for seed in range(first_seed, first_seed + runs):
        train_set, test_set, labels = load_s1_dataset(dataset, data_root, split, seed,
                                                      cfg.img_size)
        if progress:
            print(f"run {seed - first_seed + 1}/{runs} (seed {seed}): {len(train_set)} train "
                  f"/ {len(test_set)} test images, {len(labels)} labels", flush=True)
        results.append(finetune_s1_once(train_set, test_set, len(labels), cfg, checkpoint,
                                        seed, progress))
    keys = ("map_macro", "map_micro", "map_macro_all", "f1_macro", "f1_micro")
    summary = {k: loop.mean_std([r["last"][k] for r in results]) for k in keys}
    return {"dataset": dataset, "data_root": str(data_root), "split": split,
            "checkpoint": checkpoint, "labels": labels, "config": asdict(cfg),
            "runs": results, "last": summary, "seconds": time.monotonic() - start}


def config_from_args(args: argparse.Namespace) -> S1FinetuneConfig:
    """The S1 protocol, with the shared ``sargeo finetune`` options that differ from SARMAE's
    defaults (:class:`sargeo.finetune.FinetuneConfig`) taken from the command line."""
    from sargeo.finetune import FinetuneConfig

    sarmae = asdict(FinetuneConfig())
    values = asdict(S1FinetuneConfig())
    for name in values:
        given = getattr(args, name, None)
        if given is not None and (name not in sarmae or given != sarmae[name]):
            values[name] = given
    return S1FinetuneConfig(**values)


def run(args: argparse.Namespace) -> int:
    """``sargeo finetune`` for the Sentinel-1 data sets."""
    cfg = config_from_args(args)
    result = finetune_s1(args.data_root, args.split, dataset=args.dataset, runs=args.runs,
                         checkpoint=args.checkpoint, cfg=cfg, progress=not args.quiet)
    last = result["last"]
    print(f"{args.dataset} {args.split}: mAP macro {last['map_macro']['mean']:.2f} +- "
          f"{last['map_macro']['std']:.2f}, micro {last['map_micro']['mean']:.2f} +- "
          f"{last['map_micro']['std']:.2f}; F1 macro {last['f1_macro']['mean']:.2f}, micro "
          f"{last['f1_micro']['mean']:.2f} (last epoch, {args.runs} runs)")
    loop.write_result(result, args)
    return 0


__all__ = ["S1_DATASETS", "S1Classification", "S1FinetuneConfig", "build_s1_classifier",
           "evaluate_s1", "finetune_s1", "finetune_s1_once", "load_s1_dataset",
           "mixmim_layer_id", "mixmim_param_groups", "multilabel_metrics", "run"]
