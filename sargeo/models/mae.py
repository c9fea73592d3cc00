"""Masked-autoencoder pieces: fixed 2-D sin-cos position embeddings, per-sample random masking,
(un)patchify, the MAE decoder and the normalised-pixel reconstruction loss.

Follows MAE (He et al., 2022): the encoder sees only visible tokens; the decoder sees all of them,
mask tokens included; the loss is the mean squared error over masked patches only.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import nn


def sincos_pos_embed_2d(dim: int, grid_h: int, grid_w: int, num_prefix: int = 1) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding, shape ``(1, num_prefix + grid_h * grid_w, dim)``.

    Half of the channels encode the row, half the column; prefix (class) tokens get zeros.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs a dim divisible by 4, got {dim}")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid_h, dtype=torch.float64),
                                torch.arange(grid_w, dtype=torch.float64), indexing="ij")

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.reshape(-1, 1) * omega[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    # MAE's convention: the first half encodes the column (w), the second the row (h)
    emb = torch.cat([encode(cols), encode(rows)], dim=1)
    emb = torch.cat([torch.zeros(num_prefix, dim, dtype=torch.float64), emb], dim=0)
    return emb.float().unsqueeze(0)


def generator_device(generator: torch.Generator | None,
                     default: torch.device | str | None = None) -> torch.device | str | None:
    """Where to draw with ``generator``: its own device (torch refuses a CPU generator for a
    CUDA draw and the reverse), or ``default`` when there is none."""
    return default if generator is None else generator.device


def random_masking(batch: int, num_patches: int, mask_ratio: float, device: torch.device,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw an independent random mask per sample with exactly ``round_down(N * (1 - ratio))``
    visible patches, on ``device``.

    The random numbers come from ``generator`` on the generator's own device and are then moved
    to ``device``: a CPU generator serves a CUDA model (the same masks on either device).
    Returns ``ids_keep`` (B, N_visible) indices of visible patches, ``ids_restore`` (B, N) the
    inverse permutation, and ``mask`` (B, N) with 1 for masked and 0 for visible patches.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    len_keep = int(num_patches * (1 - mask_ratio))
    noise = torch.rand(batch, num_patches, device=generator_device(generator, device),
                       generator=generator).to(device)
    ids_shuffle = noise.argsort(dim=1)
    ids_restore = ids_shuffle.argsort(dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    mask = torch.ones(batch, num_patches, device=device)
    mask[:, :len_keep] = 0
    mask = mask.gather(1, ids_restore)
    return ids_keep, ids_restore, mask


def gather_tokens(tokens: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Select tokens (B, N, D) at indices (B, K) -> (B, K, D)."""
    return tokens.gather(1, ids.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, patch*patch*C), patches in row-major order."""
    b, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"image size {h}x{w} is not a multiple of the patch size {patch}")
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(patches: torch.Tensor, patch: int, channels: int, grid: tuple[int, int]
               ) -> torch.Tensor:
    """Inverse of :func:`patchify`."""
    b = patches.shape[0]
    gh, gw = grid
    x = patches.reshape(b, gh, gw, patch, patch, channels).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, channels, gh * patch, gw * patch)


def masked_reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                               norm_pix: bool = False, pixel_weight: torch.Tensor | None = None,
                               eps: float = 1e-6) -> torch.Tensor:
    """MSE on masked patches only.

    ``pred`` and ``target`` are (B, N, P) patch vectors; ``mask`` is (B, N) with 1 = masked.
    With ``norm_pix`` each target patch is normalised by its own mean and variance (MAE's
    ``norm_pix_loss``; off in the released SARMAE). ``pixel_weight`` (B, N, P), if given,
    weights each pixel's squared error (SAR-W) and the per-patch loss becomes a weighted mean.
    """
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + eps).sqrt()
    err = (pred.float() - target.float()) ** 2
    if pixel_weight is None:
        per_patch = err.mean(dim=-1)
    else:
        w = pixel_weight.float()
        per_patch = (err * w).sum(dim=-1) / w.sum(dim=-1).clamp_min(eps)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


class MAEDecoder(nn.Module):
    """MAE's lightweight decoder: embed visible tokens, insert mask tokens, add fixed position
    embeddings, run transformer blocks over all tokens and predict each patch's pixels."""

    def __init__(self, num_patches: int, grid: tuple[int, int], encoder_dim: int,
                 patch_pixels: int, dim: int = 512, depth: int = 8, num_heads: int = 16,
                 mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, *grid), persistent=False)
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pred = nn.Linear(dim, patch_pixels)
        self.num_patches = num_patches

    def forward(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """``latent`` (B, 1 + N_visible, D_enc) with the class token first -> (B, N, P)."""
        x = self.embed(latent)
        b, n = ids_restore.shape
        masks = self.mask_token.to(x.dtype).expand(b, n + 1 - x.shape[1], -1)
        patches = torch.cat([x[:, 1:], masks], dim=1)
        patches = gather_tokens(patches, ids_restore)
        x = torch.cat([x[:, :1], patches], dim=1) + self.pos_embed.to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x)[:, 1:])


def init_mae_weights(module: nn.Module) -> None:
    """MAE's initialisation: xavier-uniform linears, unit LayerNorms (apply with ``.apply``)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def grid_of(image_size: tuple[int, int], patch: int) -> tuple[int, int]:
    return math.floor(image_size[0] / patch), math.floor(image_size[1] / patch)
