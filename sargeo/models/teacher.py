"""SARC's frozen optical teacher: one feature vector per 16x16 patch of the paired optical image.

Two behaviours, named plainly:

``released`` (default): what the published SARMAE code does: only DINOv3's patch-embedding
convolution and its final LayerNorm, applied to each patch, without the transformer blocks. It
reproduces the released training exactly; the published numbers were produced by the released
code.

``full`` (opt-in): the whole DINOv3 ViT-B/16 (timm ``vit_base_patch16_dinov3``), as the paper
describes ("a frozen DINOv3 encoder"); its final-norm patch tokens, register and class tokens
dropped.

Weights come from a local file (e.g. Meta's ``dinov3_vitb16_pretrain_lvd1689m-*.pth``, or a timm
state dict); timm's DINOv3 key mapping is applied, then the keys must match exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import timm
import torch
from torch import nn

from sargeo.models.vit import CheckpointError, read_checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class OpticalTeacher(nn.Module):
    """Frozen teacher mapping optical images in [0, 1], (B, 3, H, W), to (B, N, D) patch tokens
    in row-major patch order (the order of the SAR encoder's patches)."""

    def __init__(self, mode: Literal["released", "full"] = "released",
                 model_name: str = "vit_base_patch16_dinov3", checkpoint: str | Path | None = None,
                 img_size: int = 224, allow_pickle: bool = False) -> None:
        super().__init__()
        if mode not in ("full", "released"):
            raise ValueError(f"unknown teacher mode {mode!r}; use 'released' or 'full'")
        self.mode = mode
        self.model = timm.create_model(model_name, pretrained=False, img_size=img_size,
                                       num_classes=0)
        if checkpoint is not None:
            load_teacher_weights(self.model, checkpoint, allow_pickle=allow_pickle)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def dim(self) -> int:
        return int(self.model.embed_dim)

    def train(self, mode: bool = True) -> OpticalTeacher:
        return super().train(False)  # always frozen, always in eval mode

    @torch.no_grad()
    def forward(self, optical: torch.Tensor) -> torch.Tensor:
        x = (optical.float() - self.mean) / self.std
        if self.mode == "released":
            tokens = self.model.patch_embed(x)
            if tokens.ndim == 4:  # NHWC patch grids
                tokens = tokens.flatten(1, 2)
            return self.model.norm(tokens)
        feats = self.model.forward_features(x)
        return feats[:, self.model.num_prefix_tokens:]


def load_teacher_weights(model: nn.Module, checkpoint: str | Path, *,
                         allow_pickle: bool = False) -> None:
    """Load a local DINOv3 (or timm) checkpoint into ``model``; any key mismatch raises
    :class:`CheckpointError` naming the file and the keys."""
    state = read_checkpoint(checkpoint, allow_pickle=allow_pickle)
    for key in ("model", "teacher", "state_dict"):
        if isinstance(state.get(key), dict):
            state = state[key]
            break
    module = __import__(type(model).__module__, fromlist=["checkpoint_filter_fn"])
    filter_fn = getattr(module, "checkpoint_filter_fn", None)
    if filter_fn is not None:
        try:
            state = filter_fn(state, model)
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"teacher checkpoint {checkpoint} cannot be mapped onto "
                                  f"{type(model).__name__}: {err}") from err
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    bad = [f"{k} {tuple(v.shape)} vs {tuple(shapes[k])}" for k, v in state.items()
           if k in shapes and v.shape != shapes[k]]
    if bad:
        raise CheckpointError(f"teacher checkpoint {checkpoint} does not fit "
                              f"{type(model).__name__}: shapes differ for {bad[:4]}")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("head")]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"teacher checkpoint {checkpoint} does not match {type(model).__name__}: "
            f"missing {missing[:6]}{'...' if len(missing) > 6 else ''}, unexpected "
            f"{result.unexpected_keys[:6]}{'...' if len(result.unexpected_keys) > 6 else ''}")
