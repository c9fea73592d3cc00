"""Quick-look PNGs: MAE reconstructions and loss curves (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from sargeo.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render_loss_curve(steps: Sequence[int], losses: Sequence[float], path: str | Path,
                      title: str = "SARMAE pretraining loss") -> Path:
    """Line plot of loss against step, written atomically to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(list(steps), list(losses), lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


@torch.no_grad()
def render_reconstructions(model, images: torch.Tensor, path: str | Path, mean: float = 0.5,
                           std: float = 0.5, seed: int = 0) -> Path:
    """One row per image: input, masked input (what the encoder sees) and reconstruction
    (visible patches pasted back), for a :class:`sargeo.models.SARMAE` and images in [0, 1]."""
    from sargeo.models.mae import patchify, unpatchify

    plt = _pyplot()
    model.eval()
    x = (images - mean) / std
    out = model(x, generator=torch.Generator().manual_seed(seed))
    p, c = model.patch_size, images.shape[1]
    grid = model.encoder.patch_embed.grid_size
    mask = out.mask.unsqueeze(-1)
    patches = patchify(images, p)
    masked = unpatchify(patches * (1 - mask), p, c, grid)
    recon = unpatchify(out.pred * std + mean, p, c, grid)
    pasted = unpatchify(patches * (1 - mask) + patchify(recon, p) * mask, p, c, grid)
    n = images.shape[0]
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), dpi=100, squeeze=False)
    for i in range(n):
        for j, (img, title) in enumerate(((images, "input"), (masked, "masked 75 %"),
                                          (pasted, "reconstruction"))):
            axes[i, j].imshow(img[i, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
