"""The MixMIM encoder of SAR-W-MixMAE: a hierarchical Swin-style transformer built from timm's
Swin pieces, with the attention mask that MixMAE's mixed inputs need.

Architecture, as in MixMIM (Sense-X/MixMIM) and the SAR-W-MixMAE release
(``models_mixmim.py``, ``models_mixmim_ft.py``): timm's ``PatchEmbed`` (patch 4, LayerNorm),
a fixed 2-D sin-cos absolute position embedding, four stages of window-attention blocks
without shifted windows, timm's ``PatchMerging`` after each stage but the last, a final
LayerNorm; the classifier averages the last stage's tokens. MixMIM-Base for Sentinel-1:
128 px, 2 channels (VH, VV), embed 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), windows
(8, 8, 8, 4), strides 4 / 8 / 16 / 32.

What comes from timm and what does not:

- timm's ``WindowAttention`` (relative position bias) accepts an additive mask of shape
  (windows, N, N) shared by the batch: exactly what MixMIM needs, since one mixing mask serves
  the whole batch. It is used as is.
- timm's ``SwinTransformerBlock`` builds its own mask (for shifted windows) and its ``forward``
  takes no mask, so :class:`MixMIMBlock` subclasses it (no shift) and adds a ``forward`` that
  passes the mixing mask to the attention. Parameter names stay timm's and MixMIM's (``norm1``,
  ``attn.qkv``, ``attn.relative_position_bias_table``, ``norm2``, ``mlp.fc1``...).
- timm's ``SwinTransformerStage`` merges patches *before* its blocks (keys
  ``layers.{i+1}.downsample``) while MixMIM merges *after* them (``layers.{i}.downsample``);
  :class:`MixMIMStage` keeps MixMIM's order so that published checkpoints load by name.

The mixing mask (:func:`group_attention_mask`): tokens carry a group (0: the image's own
visible token, 1: a token filled in from the partner image); attention between groups is
masked out (-inf) inside every window, as MixMIM does, so the two images never see each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed, trunc_normal_
from timm.models.swin_transformer import PatchMerging, SwinTransformerBlock, window_partition
from torch import nn

from sargeo.models.mae import init_mae_weights, sincos_pos_embed_2d

#: MixMIM sizes: base / large / huge as released for Sentinel-1 (128 px, 2 channels); tiny is
#: sargeo's CPU size for tests and small budgets
MIXMIM_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(embed_dim=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8),
                 window_size=(8, 8, 8, 4)),
    "base": dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                 window_size=(8, 8, 8, 4)),
    "large": dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48),
                  window_size=(8, 8, 8, 4)),
    "huge": dict(embed_dim=352, depths=(2, 2, 18, 2), num_heads=(11, 22, 44, 88),
                 window_size=(8, 8, 8, 4)),
}


def group_attention_mask(groups: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """Additive attention mask (windows, N, N): 0 within a group, -inf across groups.

    ``groups`` (H, W) holds each token's group id, the same for every image of the batch; H and
    W are padded (group 0) to multiples of the window, as the block pads its tokens.
    """
    h, w = groups.shape
    pad_h, pad_w = (-h) % window[0], (-w) % window[1]
    g = F.pad(groups.float(), (0, pad_w, 0, pad_h))
    g = window_partition(g[None, :, :, None], window).reshape(-1, window[0] * window[1])
    same = g[:, :, None] == g[:, None, :]
    return torch.zeros(same.shape, device=groups.device).masked_fill(~same, float("-inf"))


class MixMIMBlock(SwinTransformerBlock):
    """timm's Swin block without shifted windows, whose attention takes a mixing mask."""

    def __init__(self, dim: int, input_resolution: tuple[int, int], num_heads: int,
                 window_size: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 proj_drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0) -> None:
        super().__init__(dim, input_resolution, num_heads=num_heads, window_size=window_size,
                         shift_size=0, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                         proj_drop=proj_drop, attn_drop=attn_drop, drop_path=drop_path)

    def _windows(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, h, w, c = x.shape
        win = self.window_size
        x = F.pad(x, (0, 0, 0, (-w) % win[1], 0, (-h) % win[0]))
        hp, wp = x.shape[1:3]
        windows = window_partition(x, win).view(-1, win[0] * win[1], c)
        out = self.attn(windows, mask=mask).view(b, hp // win[0], wp // win[1], *win, c)
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        return out[:, :h, :w]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, H, W, C); ``mask`` from :func:`group_attention_mask` or None."""
        b, h, w, c = x.shape
        x = x + self.drop_path1(self._windows(self.norm1(x), mask))
        x = x.reshape(b, -1, c)
        x = x + self.drop_path2(self.mlp(self.norm2(x)))
        return x.reshape(b, h, w, c)


class MixMIMStage(nn.Module):
    """Blocks, then (except in the last stage) timm's 2x2 patch merging: MixMIM's order."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, num_heads: int,
                 window_size: int, drop_path: Sequence[float], downsample: bool,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, proj_drop: float = 0.0,
                 attn_drop: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            MixMIMBlock(dim, resolution, num_heads, window_size, mlp_ratio, qkv_bias,
                        proj_drop, attn_drop, drop_path[i]) for i in range(depth))
        self.downsample = PatchMerging(dim, 2 * dim) if downsample else None

    @property
    def window(self) -> tuple[int, int]:
        return tuple(self.blocks[0].window_size)

    def forward(self, x: torch.Tensor, groups: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, H, W, C) -> (this stage's output, the merged input of the next stage)."""
        mask = None if groups is None else group_attention_mask(groups, self.window)
        for block in self.blocks:
            x = block(x, mask)
        return x, (x if self.downsample is None else self.downsample(x))


class MixMIMSwin(nn.Module):
    """The MixMIM encoder and classifier (``num_classes`` > 0 adds a linear head on the average
    of the last stage's tokens, as the release's fine-tuning model).

    Inputs of another size than ``img_size`` work: the fixed position embedding is
    interpolated to the input's patch grid and tokens are padded to whole windows. Besides
    timm's ``forward_features`` / ``forward_head`` / ``forward``, :meth:`forward_intermediates`
    returns the four stages' maps (NCHW, strides 4 / 8 / 16 / 32) for dense tasks.
    """

    def __init__(self, img_size: int | tuple[int, int] = 128, patch_size: int = 4,
                 in_chans: int = 2, num_classes: int = 0, embed_dim: int = 128,
                 depths: Sequence[int] = (2, 2, 18, 2), num_heads: Sequence[int] = (4, 8, 16, 32),
                 window_size: Sequence[int] = (8, 8, 8, 4), mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, patch_norm: bool = True,
                 global_pool: str = "avg", **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(f"MixMIMSwin got unknown arguments {sorted(kwargs)}")
        if not len(depths) == len(num_heads) == len(window_size):
            raise ValueError("depths, num_heads and window_size need one entry per stage")
        self.num_classes, self.global_pool = num_classes, global_pool
        self.patch_size, self.in_chans = patch_size, in_chans
        self.num_stages = len(depths)
        self.embed_dim = embed_dim
        self.num_features = self.head_hidden_size = embed_dim * 2 ** (self.num_stages - 1)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim,
                                      norm_layer=nn.LayerNorm if patch_norm else None,
                                      output_fmt="NHWC", strict_img_size=False)
        grid = tuple(self.patch_embed.grid_size)
        self.grid = grid
        # fixed, as released: a Parameter without gradient, so its key is in the checkpoints
        self.absolute_pos_embed = nn.Parameter(
            sincos_pos_embed_2d(embed_dim, *grid, num_prefix=0), requires_grad=False)
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        for i, depth in enumerate(depths):
            res = (grid[0] // 2 ** i, grid[1] // 2 ** i)
            self.layers.append(MixMIMStage(
                embed_dim * 2 ** i, res, depth, num_heads[i], window_size[i],
                rates[sum(depths[:i]):sum(depths[:i + 1])], i < self.num_stages - 1,
                mlp_ratio, qkv_bias, drop_rate, attn_drop_rate))
        self.norm = nn.LayerNorm(self.num_features)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        self.feature_info = [dict(num_chs=embed_dim * 2 ** i, reduction=patch_size * 2 ** i,
                                  module=f"layers.{i}") for i in range(self.num_stages)]
        self._init_weights()

    def _init_weights(self) -> None:
        """As released: xavier-uniform linears, unit LayerNorms, bias tables N(0, 0.02)."""
        self.apply(init_mae_weights)
        for block in self.blocks():
            trunc_normal_(block.attn.relative_position_bias_table, std=0.02)

    def blocks(self) -> list[MixMIMBlock]:
        """All transformer blocks, stage after stage."""
        return [block for stage in self.layers for block in stage.blocks]

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return {"absolute_pos_embed"}

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    # -- forward ---------------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> patch tokens (B, H/4, W/4, D), before position embedding."""
        return self.patch_embed(x)

    def pos_embed_for(self, grid: tuple[int, int]) -> torch.Tensor:
        """The position embedding (1, h, w, D) for a patch grid, interpolated if it differs
        from the stored one."""
        pos = self.absolute_pos_embed.reshape(1, *self.grid, -1)
        if tuple(grid) != self.grid:
            pos = F.interpolate(pos.permute(0, 3, 1, 2), size=grid, mode="bicubic",
                                align_corners=False).permute(0, 2, 3, 1)
        return pos

    def forward_tokens(self, tokens: torch.Tensor, groups: torch.Tensor | None = None
                       ) -> list[torch.Tensor]:
        """Patch tokens (B, h, w, D) -> every stage's output (B, h_i, w_i, D_i), the last one
        after the final norm. ``groups`` (h, w) gives each token's group for the mixing mask;
        it must be constant on the 2^k blocks that the patch mergings join (MixMAE draws it on
        the last stage's grid and upsamples it)."""
        x = self.pos_drop(tokens + self.pos_embed_for(tuple(tokens.shape[1:3])).to(tokens.dtype))
        outs = []
        for i, stage in enumerate(self.layers):
            g = None if groups is None else groups[::2 ** i, ::2 ** i]
            out, x = stage(x, g)
            outs.append(out)
        outs[-1] = self.norm(outs[-1])
        return outs

    def forward_intermediates(self, x: torch.Tensor, indices: int | Sequence[int] | None = None,
                              norm: bool = True, output_fmt: str = "NCHW",
                              intermediates_only: bool = True, **kwargs: Any
                              ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Stage outputs for dense tasks (timm's feature API): ``indices`` of the stages (all
        by default; an int n: the last n), NCHW or NHWC, the last stage after the final norm
        (before it with ``norm=False``). Without ``intermediates_only``, also the last stage's
        normalised tokens (B, L, D), as :meth:`forward_features`."""
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt must be NCHW or NHWC, got {output_fmt!r}")
        n = self.num_stages
        if indices is None:
            take = list(range(n))
        elif isinstance(indices, int):
            take = list(range(n - indices, n))
        else:
            take = sorted(i % n for i in indices)
        tokens = self.embed(x)
        x = self.pos_drop(tokens + self.pos_embed_for(tuple(tokens.shape[1:3])).to(tokens.dtype))
        last = n if not intermediates_only else max(take) + 1
        outs: list[torch.Tensor] = []
        out = x
        for i, stage in enumerate(self.layers[:last]):
            out, x = stage(x)
            if i in take:
                kept = self.norm(out) if i == n - 1 and norm else out
                outs.append(kept.permute(0, 3, 1, 2).contiguous() if output_fmt == "NCHW"
                            else kept)
        if intermediates_only:
            return outs
        return self.norm(out).flatten(1, 2), outs

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> the last stage's normalised tokens (B, L, D)."""
        out = self.forward_tokens(self.embed(x))[-1]
        return out.flatten(1, 2)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def create_mixmim(size: str = "base", *, img_size: int | tuple[int, int] = 128,
                  patch_size: int = 4, in_chans: int = 2, num_classes: int = 0,
                  drop_path_rate: float = 0.0, **kwargs: Any) -> MixMIMSwin:
    """A :class:`MixMIMSwin` of one of :data:`MIXMIM_SIZES` (``kwargs`` override its
    architecture)."""
    if size not in MIXMIM_SIZES:
        raise ValueError(f"unknown MixMIM size {size!r}; choose one of {sorted(MIXMIM_SIZES)}")
    args = dict(MIXMIM_SIZES[size], **kwargs)
    return MixMIMSwin(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                      num_classes=num_classes, drop_path_rate=drop_path_rate, **args)


def encoder_stride(model: MixMIMSwin) -> int:
    """Pixels per token of the last stage (32 for patch 4 and four stages)."""
    return model.patch_size * 2 ** (model.num_stages - 1)


def check_input_size(model: MixMIMSwin, size: tuple[int, int]) -> None:
    """Refuse an input MixMAE cannot mix: each side a multiple of the encoder stride."""
    stride = encoder_stride(model)
    if size[0] % stride or size[1] % stride:
        raise ValueError(f"MixMAE needs image sides that are multiples of {stride} "
                         f"(patch {model.patch_size} x 2^{model.num_stages - 1}), got "
                         f"{size[0]} x {size[1]}")


__all__ = ["MIXMIM_SIZES", "MixMIMBlock", "MixMIMStage", "MixMIMSwin", "check_input_size",
           "create_mixmim", "encoder_stride", "group_attention_mask"]
