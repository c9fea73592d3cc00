"""SAR-W-MixMAE checkpoints in the published layout, and the encoder weights out of any of them.

The release (acaglayan/SAR-W-MixMAE, ``main_pretrain.py``) saves ``{"model": MixMIM.state_dict(),
"optimizer", "epoch", "scaler", "args"}`` with top-level keys ``patch_embed.*``,
``absolute_pos_embed``, ``layers.{i}.blocks.{j}.*`` (including the persistent buffer
``attn.relative_position_index``), ``layers.{i}.downsample.{norm,reduction}.*``, ``norm.*``,
``mask_token``, ``decoder_pos_embed``, ``decoder_embed.*``, ``decoder_blocks.{k}.*``,
``decoder_norm.*`` and ``decoder_pred.*``; its fine-tuned classifiers keep the encoder keys and
add ``head.*``. :func:`save_mixmae_checkpoint` writes that layout (``relative_position_index``
included, so the release's code loads it strictly); :func:`load_mixmae_state_dict` reads it
back; :func:`load_mixmim_encoder` puts the encoder of a published pretraining or fine-tuning
checkpoint, a sargeo one, a ``sargeo pretrain`` Lightning checkpoint or an OpenMMLab model
with a ``SARMixMIMSwin`` backbone into a :class:`~sargeo.models.swin.MixMIMSwin`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sargeo.io import atomic_path
from sargeo.models.mixmae import MixMAE
from sargeo.models.swin import MixMIMSwin
from sargeo.models.vit import (
    CheckpointError,
    read_checkpoint,
    strip_prefixes,
    unwrap_state_dict,
)

logger = logging.getLogger(__name__)

#: prefixes around the encoder keys in the checkpoints sargeo reads (DDP, Lightning, MixMAE's
#: ``encoder``, OpenMMLab's ``backbone`` and SARMixMIMSwin's ``swin``)
WRAPPERS = ("module.", "model.", "encoder.", "backbone.", "swin.")
#: keys of a MixMAE checkpoint that are not the encoder's
NON_ENCODER = ("decoder_", "mask_token", "head.")
REL_INDEX = "attn.relative_position_index"


def _unwrap(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    return unwrap_state_dict(checkpoint, ("model", "state_dict", "model_state"))


def mixmae_state_dict(model: MixMAE) -> dict[str, torch.Tensor]:
    """The published key names: encoder keys at the top level, decoder keys as they are, and
    every block's ``attn.relative_position_index``."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        name = key.removeprefix("encoder.")
        if name.startswith("head."):
            continue
        out[name] = value.detach().cpu().clone()
    for i, stage in enumerate(model.encoder.layers):
        for j, block in enumerate(stage.blocks):
            out[f"layers.{i}.blocks.{j}.{REL_INDEX}"] = \
                block.attn.relative_position_index.detach().cpu().clone()
    return out


def save_mixmae_checkpoint(model: MixMAE, path: str | Path, overwrite: bool = True) -> Path:
    """Atomically save ``{"model": mixmae_state_dict(model)}`` to ``path``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save({"model": mixmae_state_dict(model)}, tmp)
    return Path(path)


def _check_rel_index(model: MixMIMSwin, state: Mapping[str, torch.Tensor],
                     source: object) -> None:
    """The checkpoint's relative position indices must be the ones the model computes."""
    for key, value in state.items():
        if not key.endswith(REL_INDEX):
            continue
        parts = key.split(".")
        try:
            block = model.layers[int(parts[1])].blocks[int(parts[3])]
        except (IndexError, ValueError):
            raise CheckpointError(f"{source}: {key} names no block of the model") from None
        own = block.attn.relative_position_index
        if tuple(value.shape) != tuple(own.shape) or not torch.equal(value.to(own), own):
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, the model's "
                                  f"window gives {tuple(own.shape)}: another window size")


def load_mixmae_state_dict(model: MixMAE, checkpoint: Mapping[str, Any],
                           source: object = "a state dict") -> None:
    """Inverse of :func:`mixmae_state_dict` (strict), also for the release's files
    (``{"model": ...}``, ``module.`` prefixes)."""
    state = {k.removeprefix("module."): v for k, v in _unwrap(checkpoint).items()
             if isinstance(v, torch.Tensor)}
    _check_rel_index(model.encoder, state, source)
    own = {}
    for key, value in state.items():
        if key.endswith(REL_INDEX):
            continue
        own[key if key.startswith(NON_ENCODER) or key == "decoder_pos_embed"
            else "encoder." + key] = value
    result = model.load_state_dict(own, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("encoder.head")]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"{source}: MixMAE checkpoint does not match the model: missing "
                              f"{missing}, unexpected {list(result.unexpected_keys)}")


def mixmim_encoder_state_dict(checkpoint: Mapping[str, Any], keep_head: bool = False
                              ) -> dict[str, torch.Tensor]:
    """The encoder weights of a MixMAE / MixMIM checkpoint in :class:`MixMIMSwin`'s names
    (decoder, mask token and relative position indices dropped; the classifier head too
    unless ``keep_head``)."""
    items = [(k, v) for k, v in _unwrap(checkpoint).items() if isinstance(v, torch.Tensor)]
    if any(k.startswith(("backbone.", "module.backbone.")) for k, _ in items):
        items = [(k, v) for k, v in items if k.startswith(("backbone.", "module.backbone."))]
    out = {}
    for key, value in items:
        key = strip_prefixes(key, WRAPPERS)
        if key.endswith(REL_INDEX) or (key.startswith(NON_ENCODER) and not (
                keep_head and key.startswith("head."))):
            continue
        out[key] = value
    if not any(k.startswith("layers.0.blocks.0.") for k in out):
        heads = sorted({k.split(".")[0] for k in out})[:8]
        raise CheckpointError("no MixMIM encoder weights (layers.0.blocks.0.*) in the "
                              f"checkpoint; its keys start with {heads}")
    return out


def load_mixmim_encoder(model: MixMIMSwin, checkpoint: Mapping[str, Any] | str | Path, *,
                        allow_pickle: bool = False) -> list[str]:
    """Load the encoder of ``checkpoint`` (file or dict) into ``model``, and the classifier
    head of a fine-tuned checkpoint when its shape fits; returns notes on what was adapted,
    also logged at INFO.

    The fixed sin-cos position embedding of another grid is not loaded (the model keeps its own,
    the same function on its grid); another channel count, width, depth or window raises
    :class:`CheckpointError` naming the key and both shapes. Only ``head.*`` may be missing.
    """
    source: object = checkpoint if isinstance(checkpoint, str | Path) else "a state dict"
    if isinstance(checkpoint, str | Path):
        checkpoint = read_checkpoint(checkpoint, allow_pickle=allow_pickle)
    raw = _unwrap(checkpoint)
    rel = {strip_prefixes(k, WRAPPERS): v for k, v in raw.items() if isinstance(v, torch.Tensor)
           and k.endswith(REL_INDEX)}
    _check_rel_index(model, rel, source)
    state = mixmim_encoder_state_dict(checkpoint, keep_head=True)
    own = model.state_dict()
    notes = []
    head = {k: v for k, v in state.items() if k.startswith("head.")}
    if head and any(k not in own or own[k].shape != v.shape for k, v in head.items()):
        for key in head:
            del state[key]
        notes.append(f"left the checkpoint's classifier head out (shape "
                     f"{tuple(head['head.weight'].shape) if 'head.weight' in head else '?'}, "
                     "the model's differs)")
    pos = state.get("absolute_pos_embed")
    if pos is not None and pos.shape != own["absolute_pos_embed"].shape:
        del state["absolute_pos_embed"]
        notes.append(f"kept the model's fixed sin-cos position embedding "
                     f"{tuple(own['absolute_pos_embed'].shape)} (checkpoint "
                     f"{tuple(pos.shape)}: another input size)")
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)} in the "
                                  f"checkpoint, {tuple(own[key].shape)} in the model (another "
                                  "size, channel count or window): build the model that fits")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("head.")
               and not (k == "absolute_pos_embed" and notes)]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"{source}: keys do not match the MixMIM encoder: missing "
                              f"{missing}, unexpected {list(result.unexpected_keys)}")
    logger.info("; ".join([f"loaded {source} into the MixMIM encoder", *notes]))
    return notes


def is_mixmae_lightning_checkpoint(checkpoint: Mapping[str, Any]) -> bool:
    """Whether a Lightning checkpoint holds a MixMAE (``model.encoder.layers.*`` weights)."""
    state = checkpoint.get("state_dict") or {}
    return any(k.startswith("model.encoder.layers.") for k in state)


#: MixMAE arguments a `sargeo pretrain` checkpoint records in its hyper-parameters
_MODEL_HPARAMS = ("img_size", "patch_size", "in_chans", "mask_ratio", "range_mask_ratio",
                  "decoder_dim", "decoder_depth", "decoder_heads", "norm_pix_loss")


def export_mixmae_lightning_checkpoint(ckpt: str | Path, out: str | Path, *,
                                       allow_pickle: bool = False,
                                       overwrite: bool = True) -> Path:
    """A `sargeo pretrain` Lightning checkpoint of a MixMAE -> the published layout at
    ``out`` (read with ``weights_only=True`` unless ``allow_pickle``)."""
    checkpoint = read_checkpoint(ckpt, allow_pickle=allow_pickle)
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    if not is_mixmae_lightning_checkpoint(checkpoint) or "size" not in hparams:
        raise CheckpointError(f"{ckpt} is not a `sargeo pretrain` MixMAE checkpoint (no "
                              "hyper-parameters or no model.encoder.layers.* weights)")
    model = MixMAE(hparams["size"], **{k: hparams[k] for k in _MODEL_HPARAMS if k in hparams})
    state = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items()
             if k.startswith("model.")}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{ckpt}: weights do not match the recorded MixMAE "
                              f"({hparams['size']}): missing {list(result.missing_keys)}, "
                              f"unexpected {list(result.unexpected_keys)}")
    return save_mixmae_checkpoint(model, out, overwrite=overwrite)
