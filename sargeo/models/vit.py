"""The SARMAE encoder: a plain timm ``VisionTransformer``, plus the one key mapping that turns
SARMAE, MAE and sargeo checkpoints into its weights.

Every home of the encoder (pretraining model, torchgeo/timm models, OpenMMLab backbone,
classifier) loads weights through :func:`encoder_state_dict` and :func:`load_encoder_weights`.
"""

from __future__ import annotations

import argparse
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

#: encoder sizes: ViT-B/16 and ViT-L/16 as published; tiny/small for tests and CPU work
VIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}
#: key prefixes stripped from foreign checkpoints (DDP wrapper, SARMAE's SAR branch, ...)
WRAPPER_PREFIXES = ("module.", "sar_encoder.", "encoder.", "backbone.", "model.", "vit.")
#: keys of MAE/SARMAE checkpoints that are not part of the encoder
NON_ENCODER_PREFIXES = ("decoder_", "decoder.", "mask_token", "projector", "align", "optical",
                        "teacher", "head.", "sar_alignment_ffn")


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the model; the message says why."""


def create_vit(size: str = "base", *, img_size: int | tuple[int, int] = 224,
               patch_size: int = 16, in_chans: int = 3, num_classes: int = 0,
               global_pool: str = "token", drop_path_rate: float = 0.0,
               dynamic_img_size: bool = False, **kwargs: Any) -> VisionTransformer:
    """A timm ViT of one of :data:`VIT_SIZES` with MAE's settings (qkv bias, LayerNorm 1e-6)."""
    if size not in VIT_SIZES:
        raise ValueError(f"unknown ViT size {size!r}; choose one of {sorted(VIT_SIZES)}")
    return VisionTransformer(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                             num_classes=num_classes, global_pool=global_pool, qkv_bias=True,
                             drop_path_rate=drop_path_rate, dynamic_img_size=dynamic_img_size,
                             **VIT_SIZES[size], **kwargs)


def read_checkpoint(path: str | Path, *, allow_pickle: bool = False) -> dict[str, Any]:
    """Load a checkpoint file safely (``torch.load(weights_only=True)``).

    A file that needs arbitrary pickled objects is refused unless ``allow_pickle=True``: only
    opt in for files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # MAE-style training scripts store their argparse.Namespace beside the weights: a plain
        # attribute bag, safe to allow
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} holds pickled objects that weights_only loading refuses ({err}). "
            "If you trust the file, pass allow_pickle=True (CLI: --allow-pickle)."
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def _unwrap(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("model", "state_dict", "model_state", "encoder"):
        inner = checkpoint.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    return checkpoint


def encoder_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The encoder weights of a SARMAE / MAE / sargeo / timm checkpoint, in timm's key names.

    Unwraps ``model`` / ``state_dict``, strips ``module.`` and ``sar_encoder.`` style prefixes and
    drops decoder, mask-token and alignment-head keys; of an OpenMMLab model (keys
    ``backbone.vit.*``, e.g. a detector trained by ``sargeo mm train`` or a ``sargeo convert
    --to mmdet`` file) it keeps the backbone.
    """
    out: dict[str, torch.Tensor] = {}
    items = _unwrap(checkpoint).items()
    if any(k.startswith(("backbone.", "module.backbone.")) for k, _ in items):
        # an OpenMMLab model (detector, segmentor): its encoder is the backbone
        items = [(k, v) for k, v in items if k.startswith(("backbone.", "module.backbone."))]
    for key, value in items:
        if not isinstance(value, torch.Tensor):
            continue
        stripped = True
        while stripped:
            stripped = False
            for prefix in WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, stripped = key[len(prefix):], True
        if key.startswith(NON_ENCODER_PREFIXES):
            continue
        out[key] = value
    if not any(k.startswith("blocks.") for k in out):
        raise CheckpointError("no ViT encoder weights (blocks.N.*) found in the checkpoint; "
                              f"its keys start with {sorted({k.split('.')[0] for k in out})[:8]}")
    return out


@dataclass
class LoadReport:
    """What :func:`load_encoder_weights` did not load, and what it adapted."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"missing={self.missing}", f"unexpected={self.unexpected}"]
        if self.adapted:
            parts.append(f"adapted={self.adapted}")
        if self.dropped:
            parts.append(f"dropped={self.dropped}")
        return "LoadReport(" + ", ".join(parts) + ")"


def _describe(state: Mapping[str, torch.Tensor]) -> str:
    depth = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("blocks.")), default=-1)
    key = "patch_embed.proj.weight"
    dim = state[key].shape[0] if key in state else "?"
    return f"embed dim {dim}, {depth} blocks"


def adapt_patch_embed(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """Patch-embedding weights for ``in_chans`` input channels.

    SARMAE was pretrained on grayscale SAR repeated to three channels, so only the sum of the
    weights over input channels carries meaning; each new channel gets ``sum / in_chans``. Then
    ``in_chans`` identical channels (e.g. VV twice) reproduce the pretrained response exactly.
    """
    total = weight.sum(dim=1, keepdim=True)
    return (total / in_chans).repeat(1, in_chans, 1, 1)


def fit_encoder_state_dict(state: Mapping[str, torch.Tensor], model: VisionTransformer,
                           report: LoadReport | None = None) -> dict[str, torch.Tensor]:
    """Resize the position embedding to ``model``'s grid and adapt the patch embedding to its
    input channels; raise :class:`CheckpointError` if the architectures differ."""
    report = report if report is not None else LoadReport()
    own = model.state_dict()
    state = dict(state)
    if _describe(state) != _describe(own):
        raise CheckpointError(f"checkpoint encoder ({_describe(state)}) does not fit the model "
                              f"({_describe(own)}): is it ViT-L weights for a ViT-B model?")
    if "pos_embed" in state and "pos_embed" in own and state["pos_embed"].shape != own[
            "pos_embed"].shape:
        prefix = 0 if model.no_embed_class else model.num_prefix_tokens
        state["pos_embed"] = resample_abs_pos_embed(
            state["pos_embed"], new_size=list(model.patch_embed.grid_size),
            num_prefix_tokens=prefix)
        report.adapted.append("pos_embed")
    key = "patch_embed.proj.weight"
    if key in state and state[key].shape[1] != own[key].shape[1]:
        if state[key].shape[2:] != own[key].shape[2:]:
            raise CheckpointError(f"patch size differs: checkpoint {tuple(state[key].shape[2:])},"
                                  f" model {tuple(own[key].shape[2:])}")
        state[key] = adapt_patch_embed(state[key], own[key].shape[1])
        report.adapted.append(key)
    return state


def load_encoder_weights(model: VisionTransformer, checkpoint: Mapping[str, Any] | str | Path,
                         *, allow_pickle: bool = False) -> LoadReport:
    """Load encoder weights from a checkpoint (file or dict) into a timm ViT.

    Only classifier-head / final-norm keys may be missing; anything else raises
    :class:`CheckpointError` naming the keys.
    """
    if isinstance(checkpoint, str | Path):
        checkpoint = read_checkpoint(checkpoint, allow_pickle=allow_pickle)
    report = LoadReport()
    state = fit_encoder_state_dict(encoder_state_dict(checkpoint), model, report)
    own = model.state_dict()
    for key in [k for k in state if k.startswith("norm.") and k not in own]:
        # global average pooling: timm replaces the final norm by fc_norm (as MAE fine-tuning,
        # which drops the pretrained norm and trains fc_norm from scratch)
        report.dropped.append(key)
        del state[key]
    result = model.load_state_dict(state, strict=False)
    report.missing, report.unexpected = list(result.missing_keys), list(result.unexpected_keys)
    allowed_missing = ("head.", "fc_norm.", "norm.")
    serious = [k for k in report.missing if not k.startswith(allowed_missing)]
    if serious or report.unexpected:
        raise CheckpointError(f"checkpoint keys do not match the encoder: missing {serious}, "
                              f"unexpected {report.unexpected}")
    return report


def encoder_of(model: nn.Module) -> VisionTransformer:
    """The timm ViT inside a sargeo model (the model itself if it is one)."""
    if isinstance(model, VisionTransformer):
        return model
    for attr in ("encoder", "vit", "model"):
        inner = getattr(model, attr, None)
        if isinstance(inner, VisionTransformer):
            return inner
    raise TypeError(f"{type(model).__name__} holds no timm VisionTransformer")
