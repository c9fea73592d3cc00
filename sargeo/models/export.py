"""Write SARMAE weights in the published checkpoint layout, so that SARMAE/MAE tooling and every
sargeo loader read them without conversion.

The released training script saves ``{"model": ..., "optimizer", "epoch", "scaler", "args"}``
whose model keys are ``sar_encoder.<MAE keys>`` (encoder ``patch_embed``/``blocks.N``/``norm``
and decoder ``decoder_*``, ``mask_token``), ``sar_alignment_ffn.{0,2,3}.*`` (the SARC
projector) and ``optical_encoder.*`` (the frozen teacher, not written here).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sargeo.io import atomic_path
from sargeo.models.sarmae import SARMAE

#: sargeo decoder names -> MAE's (facebookresearch/mae models_mae.py) names
DECODER_KEYS = {"decoder.embed.": "decoder_embed.", "decoder.blocks.": "decoder_blocks.",
                "decoder.norm.": "decoder_norm.", "decoder.pred.": "decoder_pred.",
                "decoder.mask_token": "mask_token"}


SAR_PREFIX = "sar_encoder."
ALIGN_PREFIX = "sar_alignment_ffn."


def sarmae_state_dict(model: SARMAE) -> dict[str, torch.Tensor]:
    """``sar_encoder.`` + MAE key names for encoder and decoder, ``sar_alignment_ffn.`` for the
    SARC projector."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.startswith("encoder."):
            name = key[len("encoder."):]
            if name.startswith("head"):
                continue
        elif key.startswith("align_head.net."):
            out[ALIGN_PREFIX + key[len("align_head.net."):]] = value.detach().cpu().clone()
            continue
        else:
            name = next((new + key[len(old):] for old, new in DECODER_KEYS.items()
                         if key.startswith(old)), key)
        out[SAR_PREFIX + name] = value.detach().cpu().clone()
    out[SAR_PREFIX + "decoder_pos_embed"] = model.decoder.pos_embed.detach().cpu().clone()
    return out


def save_sarmae_checkpoint(model: SARMAE, path: str | Path, overwrite: bool = True) -> Path:
    """Atomically save ``{"model": sarmae_state_dict(model)}`` to ``path``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save({"model": sarmae_state_dict(model)}, tmp)
    return Path(path)


def load_sarmae_state_dict(model: SARMAE, state: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`sarmae_state_dict` (strict); also takes the released checkpoint's
    ``model`` dict (``module.`` prefixes and teacher keys are ignored)."""
    inverse = {new: old for old, new in DECODER_KEYS.items()}
    own: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("optical_encoder."):
            continue
        if key.startswith(ALIGN_PREFIX):
            own["align_head.net." + key[len(ALIGN_PREFIX):]] = value
            continue
        key = key.removeprefix(SAR_PREFIX)
        if key == "decoder_pos_embed":
            continue
        match = next((old + key[len(new):] for new, old in inverse.items()
                      if key.startswith(new)), None)
        own[match if match else "encoder." + key] = value
    missing, unexpected = model.load_state_dict(own, strict=False)
    missing = [k for k in missing if not k.startswith("encoder.head")]
    if missing or unexpected:
        from sargeo.models.vit import CheckpointError

        raise CheckpointError(f"SARMAE checkpoint does not match the model: missing {missing}, "
                              f"unexpected {unexpected}")


#: SARMAE arguments a `sargeo pretrain` checkpoint records in its hyper-parameters
_MODEL_HPARAMS = ("img_size", "patch_size", "in_chans", "decoder_dim", "decoder_depth",
                  "decoder_heads")


def export_lightning_checkpoint(ckpt: str | Path, out: str | Path, *, allow_pickle: bool = False,
                                overwrite: bool = True) -> Path:
    """A `sargeo pretrain` Lightning checkpoint -> the published SARMAE layout at ``out``.

    Read with ``torch.load(weights_only=True)`` (the checkpoints sargeo writes are plain); a
    file that needs pickle is refused with a message naming ``--allow-pickle`` unless
    ``allow_pickle``. The model is rebuilt from the recorded hyper-parameters and the weights
    (the SARC projector's size from its weights), without the optical teacher.
    """
    from sargeo.models.vit import CheckpointError, read_checkpoint

    checkpoint = read_checkpoint(ckpt, allow_pickle=allow_pickle)
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    state = {k[len("model."):]: v for k, v in (checkpoint.get("state_dict") or {}).items()
             if k.startswith("model.")}
    if not state or "size" not in hparams:
        raise CheckpointError(f"{ckpt} is not a `sargeo pretrain` checkpoint (no hyper-parameters "
                              "or no model.* weights); `sargeo convert` reads other layouts")
    align = state.get("align_head.net.3.weight")
    model = SARMAE(hparams["size"], **{k: hparams[k] for k in _MODEL_HPARAMS if k in hparams},
                   teacher_dim=None if align is None else int(align.shape[0]))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("encoder.head")]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"{ckpt}: weights do not match the recorded model "
                              f"({hparams['size']}): missing {missing}, unexpected "
                              f"{list(result.unexpected_keys)}")
    return save_sarmae_checkpoint(model, out, overwrite=overwrite)
