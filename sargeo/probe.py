"""Linear probes: what a frozen encoder's features already say about labels.

The standard self-supervised evaluation beside fine-tuning (MAE reports both): the encoder is
frozen, its output tokens (after the final LayerNorm) are standardised per channel on the
training set, and one linear layer is fitted by L-BFGS on a cross-entropy loss with a small L2
penalty. Two forms:

- :func:`image_probe`: mean-pooled tokens -> one of K classes; top-1 (%).
- :func:`dense_probe`: each patch token -> "is this cell positive" (ships in it, water in it);
  average precision (%) over all test cells, cells marked -1 left out.

Labels for dense probes come from boxes (:func:`box_cells`) or masks (:func:`mask_cells`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F


def frozen_tokens(checkpoint: str | Path | None, images: torch.Tensor, *, size: str = "tiny",
                  patch_size: int = 16, batch_size: int = 32, seed: int = 0) -> torch.Tensor:
    """(N, h, w, C) output tokens of a frozen ViT for ``images`` ((N, C, H, W), normalised as
    the encoder saw them in pretraining); ``checkpoint`` None: a random encoder (``seed``)."""
    from sargeo.models.vit import create_vit, load_encoder_weights

    torch.manual_seed(seed)
    model = create_vit(size, img_size=tuple(images.shape[-2:]), patch_size=patch_size,
                       in_chans=images.shape[1]).eval()
    if checkpoint is not None:
        load_encoder_weights(model, checkpoint)
    grid = (images.shape[-2] // patch_size, images.shape[-1] // patch_size)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            tokens = model.forward_features(images[start:start + batch_size])
            out.append(tokens[:, model.num_prefix_tokens:].reshape(-1, *grid, tokens.shape[-1]))
    return torch.cat(out)


def fit_linear(features: torch.Tensor, targets: torch.Tensor, num_classes: int, *,
               l2: float = 1e-4, max_iter: int = 200):
    """A linear classifier on per-channel standardised ``features`` (n, C) for ``targets`` (n,):
    ``num_classes`` 1 is binary logistic regression on 0/1 targets (scores: (m,) logits), K >= 2
    multinomial on 0..K-1 (scores: (m, K)); returns a function features -> scores."""
    if len(features) != len(targets) or len(features) == 0:
        raise ValueError(f"fit_linear: {len(features)} feature rows for {len(targets)} targets")
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    binary = num_classes == 1
    torch.manual_seed(0)
    layer = torch.nn.Linear(x.shape[1], num_classes)
    optimizer = torch.optim.LBFGS(layer.parameters(), max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = layer(x)
        loss = (F.binary_cross_entropy_with_logits(logits[:, 0], targets.float()) if binary
                else F.cross_entropy(logits, targets.long()))
        loss = loss + l2 * layer.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)

    def scores(new: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = layer((new - mean) / std)
        return logits[:, 0] if binary else logits

    return scores


def average_precision(scores: torch.Tensor, positives: torch.Tensor) -> float:
    """Area under the precision-recall curve (mean precision at each positive, ranked by
    ``scores``); ``positives`` boolean or 0/1."""
    positives = positives.bool()
    if not positives.any():
        raise ValueError("average_precision: no positive in the labels")
    ranked = positives[torch.argsort(scores, descending=True, stable=True)].float()
    precision = ranked.cumsum(0) / torch.arange(1, len(ranked) + 1)
    return float((precision * ranked).sum() / ranked.sum())


def image_probe(train_tokens: torch.Tensor, train_labels: Sequence[int],
                test_tokens: torch.Tensor, test_labels: Sequence[int]) -> float:
    """Top-1 (%) of a linear classifier on mean-pooled tokens ((N, h, w, C))."""
    train_y, test_y = torch.as_tensor(train_labels), torch.as_tensor(test_labels)
    classes = int(max(train_y.max(), test_y.max())) + 1
    scores = fit_linear(train_tokens.mean((1, 2)), train_y, max(classes, 2))
    return 100.0 * float((scores(test_tokens.mean((1, 2))).argmax(1) == test_y).float().mean())


def dense_probe(train_tokens: torch.Tensor, train_cells: torch.Tensor,
                test_tokens: torch.Tensor, test_cells: torch.Tensor) -> float:
    """Average precision (%) of a per-token linear classifier: tokens (N, h, w, C), cells
    (N, h, w) with 1 positive, 0 negative, -1 ignored."""
    for tokens, cells in ((train_tokens, train_cells), (test_tokens, test_cells)):
        if tokens.shape[:3] != cells.shape:
            raise ValueError(f"dense_probe: tokens {tuple(tokens.shape)} vs cells "
                             f"{tuple(cells.shape)}")
    keep = train_cells.reshape(-1) >= 0
    scores = fit_linear(train_tokens.reshape(-1, train_tokens.shape[-1])[keep],
                        train_cells.reshape(-1)[keep], 1)
    keep = test_cells.reshape(-1) >= 0
    return 100.0 * average_precision(
        scores(test_tokens.reshape(-1, test_tokens.shape[-1])[keep]),
        test_cells.reshape(-1)[keep] == 1)


def box_cells(boxes: Sequence[Sequence[float]], image_hw: tuple[int, int],
              grid: tuple[int, int]) -> torch.Tensor:
    """(h, w) cell labels: 1 where a cell of a ``grid`` laid over an image of ``image_hw``
    overlaps one of ``boxes`` (x0, y0, x1, y1 in that image's pixels), else 0."""
    cells = torch.zeros(grid, dtype=torch.long)
    sy, sx = grid[0] / image_hw[0], grid[1] / image_hw[1]

    def span(lo: float, hi: float, n: int) -> slice:
        first = min(max(math.floor(lo), 0), n - 1)
        return slice(first, min(max(math.ceil(hi), first + 1), n))

    for x0, y0, x1, y1 in boxes:
        cells[span(y0 * sy, y1 * sy, grid[0]), span(x0 * sx, x1 * sx, grid[1])] = 1
    return cells


def mask_cells(mask: torch.Tensor, patch_size: int, ignore: int = -1,
               min_share: float = 0.5) -> torch.Tensor:
    """(H / p, W / p) cell labels from a (H, W) 0/1 mask: 1 where at least ``min_share`` of a
    cell's valid pixels are 1, 0 otherwise, -1 where no pixel is valid (``ignore``)."""
    h, w = mask.shape[0] // patch_size, mask.shape[1] // patch_size
    cells = mask[:h * patch_size, :w * patch_size].reshape(h, patch_size, w, patch_size)
    valid = (cells != ignore).sum((1, 3))
    positive = (cells == 1).sum((1, 3))
    out = (positive >= min_share * valid.clamp(min=1)).long()
    out[valid == 0] = -1
    return out
