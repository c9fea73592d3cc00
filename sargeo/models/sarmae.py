"""SARMAE: a masked autoencoder for SAR with speckle-aware input noise (SARE) and per-patch
alignment to a frozen optical teacher (SARC), after Liu et al., "SARMAE: Masked Autoencoder for
SAR Representation Learning" (arXiv 2512.16635, CVPR 2026).

The model is a plain ``nn.Module``: ``forward`` takes the (possibly speckled) input, the clean
reconstruction target and, for paired samples, the teacher's patch tokens, and returns every loss
term. Noise injection (:mod:`sargeo.models.speckle`) and the teacher
(:mod:`sargeo.models.teacher`) stay outside so that each piece can be tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sargeo.models.mae import (
    MAEDecoder,
    gather_tokens,
    init_mae_weights,
    masked_reconstruction_loss,
    patchify,
    random_masking,
    sincos_pos_embed_2d,
)
from sargeo.models.vit import VIT_SIZES, create_vit


@dataclass
class SARMAEOutput:
    """Loss terms and by-products of one SARMAE forward pass."""

    loss: torch.Tensor  #: weighted total
    loss_mae: torch.Tensor  #: masked reconstruction loss
    loss_align: torch.Tensor  #: SARC alignment loss over paired samples (0 when none)
    pred: torch.Tensor  #: (B, N, P) predicted patches
    mask: torch.Tensor  #: (B, N), 1 = masked
    ids_keep: torch.Tensor  #: (B, N_visible) indices of the patches the encoder saw


class AlignmentHead(nn.Module):
    """SARC projector from SAR encoder tokens to the teacher's feature space:
    Linear(d, d) - ReLU - Linear(d, d_teacher) - LayerNorm(d_teacher), as released."""

    def __init__(self, dim: int, teacher_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True),
                                 nn.Linear(dim, teacher_dim), nn.LayerNorm(teacher_dim))
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.net(tokens)


def alignment_loss(student: torch.Tensor, teacher: torch.Tensor,
                   paired: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over patches of ``1 - cos(student, teacher)``, over paired samples only.

    ``student`` and ``teacher`` are (B, K, D); ``paired`` (B,) is a boolean flag per sample.
    Returns 0 (with a gradient path) when no sample is paired.
    """
    cos = F.cosine_similarity(student.float(), teacher.float(), dim=-1)  # (B, K)
    if paired is None:
        return (1 - cos).mean()
    paired = paired.to(cos.device, torch.bool)
    if not bool(paired.any()):
        return student.sum() * 0.0
    return (1 - cos[paired]).mean()


class SARMAE(nn.Module):
    """MAE on a timm ViT encoder with SARC alignment.

    Args:
        size: encoder size, one of ``tiny``, ``small``, ``base`` (ViT-B/16), ``large``.
        img_size: input size (square or (H, W)), 224 as published.
        in_chans: input channels; the published models use grayscale SAR repeated to 3.
        mask_ratio: share of patches hidden from the encoder (0.75).
        decoder_dim, decoder_depth, decoder_heads: MAE decoder (512, 8, 16 by default).
        norm_pix_loss: normalise each target patch by its mean and variance (MAE's option);
            off by default, as in the released SARMAE.
        teacher_dim: feature size of the optical teacher; None disables SARC.
        mae_weight: weight of the reconstruction loss in the total.
    """

    def __init__(self, size: str = "base", *, img_size: int | tuple[int, int] = 224,
                 patch_size: int = 16, in_chans: int = 3, mask_ratio: float = 0.75,
                 decoder_dim: int = 512, decoder_depth: int = 8, decoder_heads: int = 16,
                 norm_pix_loss: bool = False, teacher_dim: int | None = None,
                 mae_weight: float = 1.0, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.size = size
        self.encoder = create_vit(size, img_size=img_size, patch_size=patch_size,
                                  in_chans=in_chans, drop_path_rate=drop_path_rate)
        grid = self.encoder.patch_embed.grid_size
        dim = VIT_SIZES[size]["embed_dim"]
        # MAE uses fixed sin-cos position embeddings in encoder and decoder
        self.encoder.pos_embed.requires_grad_(False)
        self.encoder.pos_embed.data.copy_(sincos_pos_embed_2d(dim, *grid))
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.mask_ratio = mask_ratio
        self.norm_pix_loss = norm_pix_loss
        self.mae_weight = mae_weight
        self.decoder = MAEDecoder(self.encoder.patch_embed.num_patches, grid, dim,
                                  patch_size * patch_size * in_chans, decoder_dim,
                                  decoder_depth, decoder_heads)
        self.align_head = AlignmentHead(dim, teacher_dim) if teacher_dim else None
        self._init_weights()

    def _init_weights(self) -> None:
        w = self.encoder.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.encoder.cls_token, std=0.02)
        nn.init.normal_(self.decoder.mask_token, std=0.02)
        for module in (self.encoder.blocks, self.encoder.norm, self.decoder):
            module.apply(init_mae_weights)

    @property
    def num_patches(self) -> int:
        return self.encoder.patch_embed.num_patches

    def forward_encoder(self, images: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """Encode only the visible patches -> (B, 1 + N_visible, D), class token first."""
        enc = self.encoder
        x = enc.patch_embed(images) + enc.pos_embed[:, 1:]
        x = gather_tokens(x, ids_keep)
        cls = (enc.cls_token + enc.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in enc.blocks:
            x = block(x)
        return enc.norm(x)

    def forward(self, images: torch.Tensor, target: torch.Tensor | None = None, *,
                teacher_tokens: torch.Tensor | None = None, paired: torch.Tensor | None = None,
                align_weight: float = 0.0, pixel_weight: torch.Tensor | None = None,
                mask_ratio: float | None = None, generator: torch.Generator | None = None
                ) -> SARMAEOutput:
        """One pretraining forward.

        Args:
            images: (B, C, H, W) encoder input, speckled by SARE or clean.
            target: reconstruction target (the clean image); defaults to ``images``.
            teacher_tokens: (B, N, D_teacher) optical patch tokens for SARC, row-major patches.
            paired: (B,) bool, which samples have an optical partner.
            align_weight: weight of the alignment loss in the total (schedule applied outside).
            pixel_weight: (B, C, H, W) per-pixel reconstruction weights (SAR-W), or None.
        """
        b = images.shape[0]
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        ids_keep, ids_restore, mask = random_masking(b, self.num_patches, ratio, images.device,
                                                     generator)
        latent = self.forward_encoder(images, ids_keep)
        pred = self.decoder(latent, ids_restore)
        target_patches = patchify(images if target is None else target, self.patch_size)
        weights = None if pixel_weight is None else patchify(pixel_weight, self.patch_size)
        loss_mae = masked_reconstruction_loss(pred, target_patches, mask, self.norm_pix_loss,
                                              weights)
        loss_align = loss_mae.new_zeros(())
        if teacher_tokens is not None and self.align_head is not None:
            student = self.align_head(latent[:, 1:])
            teacher = gather_tokens(teacher_tokens.to(student.dtype), ids_keep)
            loss_align = alignment_loss(student, teacher, paired)
        elif teacher_tokens is not None:
            raise ValueError("teacher tokens given but the model was built without teacher_dim")
        loss = self.mae_weight * loss_mae + align_weight * loss_align
        return SARMAEOutput(loss, loss_mae, loss_align, pred, mask, ids_keep)
