"""``SARMixMIMSwin``: SAR-W-MixMAE's MixMIM encoder as an OpenMMLab backbone (mmdet, mmrotate,
mmseg) with a feature pyramid: the four stages' maps at strides 4, 8, 16 and 32 (128, 256,
512, 1024 channels for MixMIM-Base), for an FPN neck or a UPerNet head.

The encoder is :class:`sargeo.models.swin.MixMIMSwin` (``self.swin``, parameters
``backbone.swin.*``), the same module timm builds for ``sar_w_mixmae_base_patch4_128``, and its
maps are those of ``MixMIMSwin.forward_intermediates`` (timm's ``features_only``): one
checkpoint gives the same features in both. Inputs of any size work (the fixed position
embedding is interpolated, tokens padded to whole windows). Weights load through
:func:`sargeo.models.mixmae_export.load_mixmim_encoder` from any MixMAE / MixMIM checkpoint.

Registered in mmengine's root ``MODELS``, so mmdet, mmrotate and mmseg configs build it by
``type='SARMixMIMSwin'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from sargeo.mm.backbone import freeze
from sargeo.models.mixmae_export import load_mixmim_encoder
from sargeo.models.swin import MIXMIM_SIZES, create_mixmim

logger = logging.getLogger(__name__)

NO_WEIGHTS_HINT = ("To train from scratch instead, set model.backbone.pretrained=None (e.g. "
                   "`sargeo mm train CONFIG --cfg-options model.backbone.pretrained=None`)")


@MODELS.register_module()
class SARMixMIMSwin(BaseModule):
    """MixMIM (Swin-style) backbone returning a tuple of (B, C_i, H / s_i, W / s_i) maps.

    Args:
        arch: encoder size (``tiny``, ``base``, ``large``, ``huge``); ``base`` as published.
        img_size: size the fixed position embedding is stored at (128 as pretrained).
        in_channels: input channels (2: VH, VV in normalised dB, as pretrained).
        out_indices: stages whose outputs are returned (0..3; negative counts from the end).
        final_norm: apply the encoder's final LayerNorm to the last stage's map.
        drop_path_rate: stochastic depth, linear over all blocks.
        frozen_stages: freeze the patch embedding and the first ``frozen_stages`` stages
            (-1: nothing frozen, 0: the patch embedding only).
        pretrained: checkpoint path (published SAR-W-MixMAE pretraining or fine-tuning file,
            sargeo export, Lightning checkpoint); None trains from scratch.
    """

    def __init__(self, arch: str = "base", img_size: int | Sequence[int] = 128,
                 patch_size: int = 4, in_channels: int = 2,
                 out_indices: Sequence[int] = (0, 1, 2, 3), final_norm: bool = True,
                 drop_path_rate: float = 0.1, frozen_stages: int = -1,
                 pretrained: str | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        if arch not in MIXMIM_SIZES:
            raise ValueError(f"SARMixMIMSwin: unknown arch {arch!r}; choose one of "
                             f"{sorted(MIXMIM_SIZES)}")
        stages = len(MIXMIM_SIZES[arch]["depths"])
        if any(not -stages <= i < stages for i in out_indices):
            raise ValueError(f"SARMixMIMSwin: out_indices {tuple(out_indices)} outside "
                             f"0..{stages - 1}")
        self.out_indices = tuple(sorted(i % stages for i in out_indices))
        size = tuple(img_size) if isinstance(img_size, Sequence) else img_size
        self.swin = create_mixmim(arch, img_size=size, patch_size=patch_size,
                                  in_chans=in_channels, drop_path_rate=drop_path_rate)
        self.final_norm = final_norm
        self.frozen_stages = frozen_stages
        self.pretrained = pretrained
        self.out_channels = [self.swin.feature_info[i]["num_chs"] for i in self.out_indices]
        self._freeze()

    def init_weights(self) -> None:
        """Load ``pretrained`` (mmengine calls this after building the model)."""
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, source: str | Path) -> list[str]:
        """Load the encoder of a checkpoint file; returns (and logs) what was adapted."""
        path = Path(str(source)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"SARMixMIMSwin: checkpoint not found: {path}. "
                                    f"{NO_WEIGHTS_HINT}")
        notes = load_mixmim_encoder(self.swin, path)
        self._freeze()
        return notes

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze([self.swin.patch_embed, *self.swin.layers[:self.frozen_stages]])

    def train(self, mode: bool = True) -> SARMixMIMSwin:
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.swin.forward_intermediates(x, self.out_indices, norm=self.final_norm))
