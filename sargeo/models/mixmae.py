"""MixMAE (MixMIM) pretraining with the SAR-W loss, after SAR-W-MixMAE (Caglayan, Imamoglu and
Kouyama, arXiv 2503.01181; MixMIM: Liu et al., CVPR 2023).

Mixed masking, as released (``models_mixmim.py``): one random mask ``m`` per batch is drawn on
the last stage's grid (1/32 of the image; ``mask_ratio`` 0.5 as published) and upsampled to
every stage. Image ``i`` of the batch keeps its own tokens where ``m = 0`` and takes the tokens
of its partner ``B-1-i`` (the batch flipped) where ``m = 1``; so each image is visible in
two slots, its ``m = 0`` part in slot ``i`` and its ``m = 1`` part in slot ``B-1-i``. Inside
every window the attention is masked so that the two images' tokens never attend to each
other (:func:`sargeo.models.swin.group_attention_mask`). The decoder (MAE's: embed, fixed
sin-cos positions, transformer blocks, linear prediction of 32 x 32 x C pixels per token)
runs twice per slot: once with mask tokens where ``m = 1`` and once where ``m = 0``. Image
``i`` is then reconstructed where it was hidden: at ``m = 1`` from slot ``i``, at ``m = 0``
from slot ``B-1-i``. The loss covers all tokens of both images:

    loss = mean over pixels and channels of  w * (reconstruction - target)^2

with SAR-W weights ``w`` (:mod:`sargeo.models.sar_w`) or 1. ``norm_pix_loss`` is off, as the
published run (``main_pretrain.py`` default).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn

from sargeo.models.mae import (
    generator_device,
    init_mae_weights,
    patchify,
    sincos_pos_embed_2d,
    unpatchify,
)
from sargeo.models.swin import check_input_size, create_mixmim, encoder_stride


@dataclass
class MixMAEOutput:
    """Loss and by-products of one MixMAE forward pass."""

    loss: torch.Tensor  #: (weighted) reconstruction loss over all tokens
    pred: torch.Tensor  #: (B, L, P) each image's reconstruction, patch vectors of the last grid
    mask: torch.Tensor  #: (h, w) on the last stage's grid, 1 = taken from the partner image
    mixed: torch.Tensor  #: (B, H/4, W/4, D) the mixed patch tokens the encoder saw


def mixing_mask(grid: tuple[int, int], ratio: float, device: torch.device | str | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """One random mask (h, w) for the whole batch with exactly ``int(h * w * ratio)`` ones
    (1 = the position is filled from the partner image), drawn with ``generator`` on its own
    device and moved to ``device``."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"MixMAE mask ratio must be in (0, 1), got {ratio}")
    n = grid[0] * grid[1]
    noise = torch.rand(n, generator=generator, device=generator_device(generator, device))
    mask = torch.zeros(n, device=noise.device)
    mask[noise.argsort()[:int(n * ratio)]] = 1.0
    return mask.reshape(grid).to(device)


def upsample_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """(h, w) -> (h * factor, w * factor), nearest neighbour."""
    return mask.repeat_interleave(factor, 0).repeat_interleave(factor, 1)


def mix_tokens(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, h, w, D) tokens -> each image keeps its tokens where ``mask`` (h, w) is 0 and takes
    its partner's (image ``B-1-i``) where it is 1."""
    m = mask.to(tokens.dtype)[None, :, :, None]
    return tokens * (1 - m) + tokens.flip(0) * m


def unmix_predictions(pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Decoder output (2B, L, P) -> (B, L, P): image ``i`` where it was hidden, at ``mask`` = 1
    from its own slot (first half), at ``mask`` = 0 from its partner's slot (second half,
    flipped)."""
    b = pred.shape[0] // 2
    m = mask.reshape(1, -1, 1).to(pred.dtype)
    return pred[:b] * m + pred[b:].flip(0) * (1 - m)


class MixMAE(nn.Module):
    """MixMAE on a :class:`~sargeo.models.swin.MixMIMSwin` encoder.

    Args:
        size: encoder size (``tiny``, ``base``, ``large``, ``huge``); MixMIM-Base as published.
        img_size, patch_size, in_chans: 128, 4, 2 (VH, VV in normalised dB) as published.
        mask_ratio: share of the last grid taken from the partner image (0.5);
            ``range_mask_ratio`` adds U(0, range) per batch (0, as published).
        decoder_dim, decoder_depth, decoder_heads: MAE decoder (512, 8, 16).
        norm_pix_loss: normalise each target patch by its mean and variance (off, as run).
    """

    def __init__(self, size: str = "base", *, img_size: int | tuple[int, int] = 128,
                 patch_size: int = 4, in_chans: int = 2, mask_ratio: float = 0.5,
                 range_mask_ratio: float = 0.0, decoder_dim: int = 512, decoder_depth: int = 8,
                 decoder_heads: int = 16, norm_pix_loss: bool = False,
                 drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.size = size
        self.encoder = create_mixmim(size, img_size=img_size, patch_size=patch_size,
                                     in_chans=in_chans, drop_path_rate=drop_path_rate)
        self.stride = encoder_stride(self.encoder)
        grid = self.encoder.grid
        self.out_grid = (grid[0] * patch_size // self.stride, grid[1] * patch_size // self.stride)
        check_input_size(self.encoder, (grid[0] * patch_size, grid[1] * patch_size))
        self.in_chans, self.mask_ratio = in_chans, mask_ratio
        self.range_mask_ratio, self.norm_pix_loss = range_mask_ratio, norm_pix_loss
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_pos_embed_2d(decoder_dim, *self.out_grid, num_prefix=0), requires_grad=False)
        self.decoder_embed = nn.Linear(self.encoder.num_features, decoder_dim)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads, 4.0, qkv_bias=True, norm_layer=nn.LayerNorm)
            for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, self.stride ** 2 * in_chans)
        for module in (self.decoder_embed, self.decoder_blocks, self.decoder_norm,
                       self.decoder_pred):
            module.apply(init_mae_weights)
        trunc_normal_(self.mask_token, std=0.02)

    def draw_mask(self, device: torch.device | str, generator: torch.Generator | None = None,
                  mask_ratio: float | None = None) -> torch.Tensor:
        """The batch's mask on the last grid (see :func:`mixing_mask`); ``range_mask_ratio``
        draws its extra share from ``generator`` (Python's ``random`` without one, as
        released)."""
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        if self.range_mask_ratio:
            u = (float(torch.rand((), generator=generator,
                                  device=generator_device(generator))) if generator is not None
                 else random.uniform(0.0, 1.0))
            ratio = ratio + u * self.range_mask_ratio
        return mixing_mask(self.out_grid, ratio, device, generator)

    def mixed_tokens(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Patch-embed ``images`` and mix them with ``mask`` (last grid) upsampled to the
        patch grid."""
        tokens = self.encoder.embed(images)
        return mix_tokens(tokens, upsample_mask(mask, self.stride // self.encoder.patch_size))

    def forward_decoder(self, latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last-stage tokens (B, L, D) -> predictions (2B, L, P): first with mask tokens where
        ``mask`` is 1, then where it is 0."""
        x = self.decoder_embed(latent)
        m = mask.reshape(1, -1, 1).to(x.dtype)
        tokens = self.mask_token.to(x.dtype).expand_as(x)
        x = torch.cat([x * (1 - m) + tokens * m, x * m + tokens * (1 - m)], dim=0)
        x = x + self.decoder_pos_embed.to(x.dtype)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction targets (B, L, P), per-patch normalised with ``norm_pix_loss``."""
        target = patchify(images, self.stride)
        if self.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        return target

    def forward(self, images: torch.Tensor, pixel_weight: torch.Tensor | None = None, *,
                mask_ratio: float | None = None, generator: torch.Generator | None = None
                ) -> MixMAEOutput:
        """One pretraining forward on ``images`` (B, C, H, W), B even: image ``i`` is mixed
        with image ``B-1-i``. ``pixel_weight`` (B, C or 1, H, W) weights each pixel's squared
        error (SAR-W; 0 for nodata), or None for the plain mean."""
        b, c, h, w = images.shape
        if b < 2 or b % 2:
            raise ValueError(f"MixMAE mixes image i with image B-1-i: the batch size must be "
                             f"even and at least 2, got {b}")
        if c != self.in_chans:
            raise ValueError(f"MixMAE was built for {self.in_chans} channels, got {c}")
        if (h // self.stride, w // self.stride) != self.out_grid or h % self.stride or \
                w % self.stride:
            raise ValueError(f"MixMAE was built for {self.out_grid[0] * self.stride} x "
                             f"{self.out_grid[1] * self.stride} px inputs, got {h} x {w}")
        mask = self.draw_mask(images.device, generator, mask_ratio)
        mixed = self.mixed_tokens(images, mask)
        groups = upsample_mask(mask, self.stride // self.encoder.patch_size)
        latent = self.encoder.forward_tokens(mixed, groups)[-1].flatten(1, 2)
        pred = unmix_predictions(self.forward_decoder(latent, mask), mask)
        err = (pred.float() - self.target(images).float()) ** 2
        if pixel_weight is not None:
            weight = pixel_weight.float().expand(b, c, h, w)
            err = err * patchify(weight, self.stride)
        return MixMAEOutput(err.mean(), pred, mask, mixed)

    def reconstruct(self, pred: torch.Tensor) -> torch.Tensor:
        """Patch predictions (B, L, P) -> images (B, C, H, W)."""
        return unpatchify(pred, self.stride, self.in_chans, self.out_grid)


__all__ = ["MixMAE", "MixMAEOutput", "mix_tokens", "mixing_mask", "unmix_predictions",
           "upsample_mask"]
