"""Layer-wise learning-rate decay for ViT encoders (BEiT / MAE fine-tuning recipe).

With ``L`` transformer blocks, parameters get a layer id: 0 for the patch embedding, position
embedding and class token, ``i + 1`` for block ``i``, ``L + 1`` for everything after the
encoder (final norm, head). A parameter of layer ``j`` learns at ``lr * decay ** (L + 1 - j)``.
Biases, norms (1-D parameters) and embeddings get no weight decay.

Kept instead of timm.optim.param_groups_layer_decay: on a timm ViT with a final ``norm`` (class
token pooling) timm puts that norm one layer below the head (lr x decay), where MAE/BEiT and the
published SARMAE recipes keep it at the head's lr; timm also needs the ViT itself (its
group_matcher), not a detector or segmentor holding it under a prefix
(tests/models/test_layer_decay.py compares the two).
"""

from __future__ import annotations

import re

from torch import nn

EMBEDDING_NAMES = ("cls_token", "pos_embed", "reg_token", "mask_token", "dist_token")


def vit_layer_id(name: str, num_blocks: int, prefix: str = "") -> int:
    """Layer id of parameter ``name`` (timm ViT names, after an optional ``prefix``)."""
    if prefix and not name.startswith(prefix):
        return num_blocks + 1
    local = name[len(prefix):]
    if local.startswith(("patch_embed", *EMBEDDING_NAMES)):
        return 0
    if m := re.match(r"blocks\.(\d+)\.", local):
        return int(m.group(1)) + 1
    return num_blocks + 1


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    return param.ndim <= 1 or name.endswith(EMBEDDING_NAMES) or name.split(".")[-1] in \
        EMBEDDING_NAMES


def layer_decay_param_groups(model: nn.Module, lr: float, weight_decay: float, decay: float,
                             num_blocks: int, prefix: str = "") -> list[dict]:
    """AdamW parameter groups with ``lr_scale`` per layer (also applied to ``lr``)."""
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = vit_layer_id(name, num_blocks, prefix)
        skip_wd = no_weight_decay(name, param)
        scale = decay ** (num_blocks + 1 - layer)
        group = groups.setdefault((layer, skip_wd), {
            "params": [], "names": [], "lr": lr * scale, "lr_scale": scale, "layer_id": layer,
            "weight_decay": 0.0 if skip_wd else weight_decay})
        group["params"].append(param)
        group["names"].append(name)
    return [groups[k] for k in sorted(groups)]
