"""``SARMAEViT``: the SARMAE encoder as an OpenMMLab backbone for mmdet, mmrotate and mmseg.

It is a plain timm ``VisionTransformer`` (``self.vit``, so parameter names stay
``backbone.vit.blocks.<i>...`` and the weights load through the same key mapping as every other
home of the encoder, :func:`sargeo.models.vit.load_encoder_weights`). On top of timm it adds what
dense tasks need:

- any input size: the position embedding is interpolated to the input grid at run time;
- outputs of selected blocks as NCHW maps at stride 16 (``out_indices``);
- optional window attention (``window_size`` > 0) in all blocks except ``global_blocks``, as
  ViTDet does to make 1024 px inputs affordable. A whole block runs per window; since norm and
  MLP act per token, that equals windowed attention, except that padding tokens (zeros, when the
  grid is not a multiple of the window) enter the windows' attention, as in ViTDet's padding;
- drop path, gradient checkpointing, frozen stages;
- ``with_cls_token=False`` (the published det/seg backbones) drops the class token and its
  position row when loading a checkpoint;
- checkpoints of another input size, channel count or with a class token load through every
  path: ``pretrained=``, and mmengine's ``load_from`` / ``init_cfg=dict(type='Pretrained')`` /
  ``load_checkpoint`` (the position embedding is resized, not left random), each logged at INFO.

Registered in mmengine's root ``MODELS``, so mmdet, mmrotate and mmseg configs (whose registries
are children of the root) all build it by ``type='SARMAEViT'``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch.utils.checkpoint import checkpoint as grad_checkpoint

from sargeo.models.vit import (
    VIT_SIZES,
    CheckpointError,
    LoadReport,
    create_vit,
    encoder_state_dict,
    fit_embeddings,
    fit_encoder_state_dict,
    log_load,
    read_checkpoint,
)

logger = logging.getLogger(__name__)

#: what to do when the configured weights are not there
NO_WEIGHTS_HINT = ("To train from scratch instead, set model.backbone.pretrained=None (e.g. "
                   "`sargeo mm train CONFIG --cfg-options model.backbone.pretrained=None`)")
#: encoder keys whose shape depends on input size, channels or class token
_EMBEDDING_KEYS = ("pos_embed", "cls_token", "patch_embed.proj.weight")


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) -> (B * nW, window * window, C), zero-padding H and W to multiples."""
    b, h, w, c = x.shape
    pad_h, pad_w = (-h) % window, (-w) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window, window, wp // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c), (hp, wp)


def window_unpartition(x: torch.Tensor, window: int, padded: tuple[int, int],
                       size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, window * window, C) -> (B, H, W, C)."""
    hp, wp = padded
    c = x.shape[-1]
    b = x.shape[0] // ((hp // window) * (wp // window))
    x = x.view(b, hp // window, wp // window, window, window, c)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
    return x[:, :size[0], :size[1]]


def freeze(modules: Sequence[torch.nn.Module]) -> None:
    """Put ``modules`` in eval mode and stop their parameters' gradients (``frozen_stages``)."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


@MODELS.register_module()
class SARMAEViT(BaseModule):
    """SARMAE ViT backbone returning a tuple of (B, C, H/16, W/16) maps.

    Args:
        arch: encoder size, one of ``tiny``, ``small``, ``base``, ``large``.
        img_size: size the position embedding is stored at (inputs of other sizes work).
        in_channels: input channels (3 for the published benchmarks' 8-bit images, 1 or 2 for
            Sentinel-1 VV/VH); pretrained patch embeddings are adapted to it.
        out_indices: blocks whose outputs are returned (negative counts from the end).
        drop_path_rate: stochastic depth, linear over blocks.
        window_size: window attention size in tokens (0: global attention everywhere).
        global_blocks: blocks that keep global attention when ``window_size`` > 0.
        with_cls_token: keep the class token (as in pretraining) or drop it (published det/seg).
        final_norm: apply the encoder's final LayerNorm to the last output.
        frozen_stages: freeze the patch embedding and the first ``frozen_stages`` blocks
            (-1: none, 0: embeddings only).
        with_cp: gradient checkpointing per block (saves memory for ViT-L).
        pretrained: checkpoint path or ``torchgeo:<Enum>.<MEMBER>`` (any SARMAE, MAE, sargeo or
            Lightning layout; decoder and alignment keys are dropped); None trains from
            scratch (``--cfg-options model.backbone.pretrained=None``).
    """

    def __init__(self, arch: str = "base", img_size: int | Sequence[int] = 224,
                 patch_size: int = 16, in_channels: int = 3,
                 out_indices: Sequence[int] = (-1,), drop_path_rate: float = 0.1,
                 window_size: int = 0, global_blocks: Sequence[int] = (),
                 with_cls_token: bool = False, final_norm: bool = False,
                 frozen_stages: int = -1, with_cp: bool = False, pretrained: str | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        if arch not in VIT_SIZES:
            raise ValueError(f"SARMAEViT: unknown arch {arch!r}; choose one of {sorted(VIT_SIZES)}")
        if window_size and with_cls_token:
            raise ValueError("SARMAEViT: window attention needs with_cls_token=False")
        depth = VIT_SIZES[arch]["depth"]
        self.out_indices = tuple(i % depth for i in out_indices)
        if any(not -depth <= i < depth for i in out_indices):
            raise ValueError(f"SARMAEViT: out_indices {tuple(out_indices)} outside 0..{depth - 1}")
        self.vit = create_vit(arch, img_size=img_size, patch_size=patch_size,
                              in_chans=in_channels, drop_path_rate=drop_path_rate,
                              dynamic_img_size=True, dynamic_img_pad=True,
                              class_token=with_cls_token, no_embed_class=False, global_pool="")
        self.vit.head = torch.nn.Identity()
        self.window_size = window_size
        self.global_blocks = {i % depth for i in global_blocks}
        self.final_norm = final_norm
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.pretrained = pretrained
        self.embed_dim = self.vit.embed_dim
        self.num_layers = depth
        self._freeze()

    # -- weights ---------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Load ``pretrained`` (mmengine calls this after building the model)."""
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, source: str | Path) -> dict[str, list[str]]:
        """Load encoder weights from a checkpoint path or a ``torchgeo:`` weights name;
        returns what was missing, unexpected, adapted and dropped, and logs it (INFO)."""
        from sargeo.models.weights import resolve_checkpoint

        try:
            path = resolve_checkpoint(str(source))
        except FileNotFoundError as err:
            if "pretrained=None" in str(err):
                raise
            raise FileNotFoundError(f"{err}. {NO_WEIGHTS_HINT}") from err
        original = encoder_state_dict(read_checkpoint(path))
        report = LoadReport()
        state = dict(original)
        for key in [k for k in state if k.startswith(("norm.", "fc_norm.", "head."))]:
            if not self.final_norm or not key.startswith("norm."):
                report.dropped.append(key)
                del state[key]
        try:
            state = fit_encoder_state_dict(state, self.vit, report)
        except CheckpointError as err:
            raise CheckpointError(f"{path}: {err}") from err
        result = self.vit.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith(("norm.", "fc_norm."))]
        if missing or result.unexpected_keys:
            raise CheckpointError(f"{path}: keys do not match SARMAEViT: missing {missing}, "
                                  f"unexpected {list(result.unexpected_keys)}")
        report.missing = list(result.missing_keys)
        log_load(path, original, report, target="SARMAEViT backbone")
        self._freeze()
        return {"missing": list(result.missing_keys), "unexpected": [],
                "adapted": report.adapted, "dropped": report.dropped}

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any) -> None:
        """Fit the embeddings of a state dict loaded the OpenMMLab way (``load_from``,
        ``init_cfg=dict(type='Pretrained', ...)``, ``load_checkpoint``) or by
        ``load_state_dict``: position embedding resized to this backbone's grid, class token
        dropped when the backbone has none, patch embedding adapted to its input channels.
        Without this, mmengine would only warn of a size mismatch and keep random
        embeddings."""
        vit_prefix = prefix + "vit."
        sub = {k[len(vit_prefix):]: v for k, v in state_dict.items()
               if k.startswith(vit_prefix) and k[len(vit_prefix):] in _EMBEDDING_KEYS}
        own = self.vit.state_dict()
        if any(k not in own or own[k].shape != v.shape for k, v in sub.items()):
            report = LoadReport()
            fitted = fit_embeddings(dict(sub), self.vit, report)
            for key in sub:
                state_dict.pop(vit_prefix + key)
            state_dict.update({vit_prefix + k: v for k, v in fitted.items()})
            logger.info("SARMAEViT: fitted the loaded embeddings to the backbone: %s",
                        "; ".join(report.notes + [f"dropped {report.dropped}"] * bool(
                            report.dropped)) or "nothing to change")
        super()._load_from_state_dict(state_dict, prefix, *args)

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze([self.vit.patch_embed, *self.vit.blocks[:self.frozen_stages]])
        for name in ("pos_embed", "cls_token"):
            param = getattr(self.vit, name, None)
            if isinstance(param, torch.nn.Parameter):
                param.requires_grad = False

    def train(self, mode: bool = True) -> SARMAEViT:
        super().train(mode)
        self._freeze()
        return self

    # -- forward ---------------------------------------------------------------------------
    def _run_block(self, index: int, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        block = self.vit.blocks[index]
        windowed = self.window_size and index not in self.global_blocks
        if windowed:
            b, _, c = x.shape
            x, padded = window_partition(x.view(b, *grid, c), self.window_size)
        if self.with_cp and x.requires_grad:
            x = grad_checkpoint(block, x, use_reentrant=False)
        else:
            x = block(x)
        if windowed:
            x = window_unpartition(x, self.window_size, padded, grid).reshape(b, -1, c)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        vit = self.vit
        tokens = vit.patch_embed(x)  # (B, h, w, C) with dynamic_img_size
        grid = tuple(tokens.shape[1:3])
        tokens = vit.norm_pre(vit.patch_drop(vit._pos_embed(tokens)))
        prefix = vit.num_prefix_tokens
        outs = []
        for i in range(len(vit.blocks)):
            tokens = self._run_block(i, tokens, grid)
            if i in self.out_indices:
                out = tokens
                if self.final_norm and i == len(vit.blocks) - 1:
                    out = vit.norm(out)
                out = out[:, prefix:].reshape(out.shape[0], *grid, -1)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

