"""``SimpleFeaturePyramid``: ViTDet's simple feature pyramid for a plain (stride-16) ViT.

From one stride-16 map (or one map per level, as the published segmentation backbone uses) it
builds maps at strides 4, 8, 16 and 32 by transposed convolutions and max pooling: scale 4 is
ConvT(2,2) -> LayerNorm2d -> GELU -> ConvT(2,2), scale 2 a ConvT(2,2), scale 1 the map itself,
scale 0.5 a 2x2 max pool. With ``out_channels`` set, each level then gets a 1x1 conv + LN and a
3x3 conv + LN to ``out_channels`` (ViTDet's detection neck); with ``out_channels=None`` the
rescaled maps are returned as they are (UPerNet takes them directly). ``num_outs`` > number of
scales adds max-pooled levels (stride 64 for RPNs over five levels).

sargeo's own implementation: mmdet 3.3.0's wheel has no ViTDet (it lives in the repository's
``projects/`` folder only). Its LayerNorm2d is timm's (same eps, affine weight/bias, parameter
names: checkpoints keep their keys).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d  # channel LayerNorm of NCHW maps: eps 1e-6, weight and bias
from torch import nn


def _rescale(channels: int, scale: float) -> tuple[nn.Module, int]:
    """A module that rescales a stride-16 map by ``scale``; returns it and its out channels."""
    if scale == 4:
        half, quarter = channels // 2, channels // 4
        return nn.Sequential(nn.ConvTranspose2d(channels, half, 2, 2), LayerNorm2d(half),
                             nn.GELU(), nn.ConvTranspose2d(half, quarter, 2, 2)), quarter
    if scale == 2:
        return nn.ConvTranspose2d(channels, channels // 2, 2, 2), channels // 2
    if scale == 1:
        return nn.Identity(), channels
    if scale == 0.5:
        return nn.MaxPool2d(2, 2), channels
    raise ValueError(f"SimpleFeaturePyramid: unsupported scale {scale}; use 4, 2, 1 or 0.5")


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Multi-scale maps from a plain ViT (see module docstring).

    Args:
        in_channels: channels of the backbone map(s).
        out_channels: channels of every output level (1x1 + 3x3 convs with LN), or None for
            no convs (see ``keep_channels``).
        scales: rescale factors, from fine to coarse.
        num_outs: output levels; extra ones are stride-2 max pools of the last.
        keep_channels: with ``out_channels=None``, project every level back to ``in_channels``
            by a 1x1 conv after up-sampling (UPerNet expects equal channels); False returns the
            up-sampled channels as they are.
    """

    def __init__(self, in_channels: int, out_channels: int | None = 256,
                 scales: Sequence[float] = (4, 2, 1, 0.5), num_outs: int | None = None,
                 keep_channels: bool = True, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        self.scales = tuple(scales)
        self.num_outs = num_outs or len(self.scales)
        if self.num_outs < len(self.scales):
            raise ValueError(f"SimpleFeaturePyramid: num_outs {num_outs} < {len(scales)} scales")
        self.rescale = nn.ModuleList()
        self.project = nn.ModuleList()
        for scale in self.scales:
            module, channels = _rescale(in_channels, scale)
            self.rescale.append(module)
            if out_channels is not None:
                self.project.append(nn.Sequential(
                    nn.Conv2d(channels, out_channels, 1, bias=False), LayerNorm2d(out_channels),
                    nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                    LayerNorm2d(out_channels)))
            elif keep_channels and channels != in_channels:
                self.project.append(nn.Conv2d(channels, in_channels, 1))
            else:
                self.project.append(nn.Identity())

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        inputs = tuple(inputs)
        if len(inputs) not in (1, len(self.scales)):
            raise ValueError(f"SimpleFeaturePyramid: got {len(inputs)} maps; expected 1 or "
                             f"{len(self.scales)} (one per scale)")
        outs = [project(rescale(inputs[i if len(inputs) > 1 else 0]))
                for i, (rescale, project) in enumerate(zip(self.rescale, self.project,
                                                          strict=True))]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
