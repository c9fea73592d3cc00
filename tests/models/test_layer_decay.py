"""sargeo's layer-decay groups against timm.optim.param_groups_layer_decay on timm ViTs: the same
lr scale and weight-decay exclusion for every parameter except the final norm of a class-token
ViT, which timm puts one layer below the head and sargeo (MAE/BEiT, published SARMAE) at the
head's lr. That difference is why sargeo keeps its own groups."""

from __future__ import annotations

import pytest
import timm
from timm.optim import param_groups_layer_decay
from torch import nn

from sargeo.models.layer_decay import layer_decay_param_groups

DEPTH, DECAY, WD = 4, 0.75, 0.05


def _per_param(model: nn.Module, groups: list[dict]) -> dict[str, tuple[float, float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (g["lr_scale"], g["weight_decay"]) for g in groups for p in g["params"]}


def _both(model: nn.Module) -> tuple[dict, dict]:
    ours = layer_decay_param_groups(model, lr=1.0, weight_decay=WD, decay=DECAY, num_blocks=DEPTH)
    theirs = param_groups_layer_decay(model, weight_decay=WD, layer_decay=DECAY,
                                      no_weight_decay_list=model.no_weight_decay())
    return _per_param(model, ours), _per_param(model, theirs)


@pytest.mark.parametrize("kwargs", [{}, {"reg_tokens": 2}], ids=["cls", "cls+reg"])
def test_timm_differs_only_on_the_final_norm_of_a_class_token_vit(kwargs):
    model = timm.create_model("vit_tiny_patch16_224", depth=DEPTH, num_classes=5, **kwargs)
    ours, theirs = _both(model)
    assert ours.keys() == theirs.keys() == {n for n, _ in model.named_parameters()}
    differ = {n for n in ours if ours[n] != pytest.approx(theirs[n], rel=1e-12)}
    assert differ == {"norm.weight", "norm.bias"}
    assert ours["norm.weight"] == (1.0, 0.0)  # the head's lr, as MAE/BEiT
    assert theirs["norm.weight"] == pytest.approx((DECAY, 0.0), rel=1e-12)


def test_timm_matches_on_a_pooled_vit_with_fc_norm():
    model = timm.create_model("vit_tiny_patch16_224", depth=DEPTH, num_classes=5,
                              global_pool="avg", fc_norm=True)
    ours, theirs = _both(model)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name] == pytest.approx(theirs[name], rel=1e-12), name
    assert ours["pos_embed"] == pytest.approx((DECAY ** (DEPTH + 1), 0.0), rel=1e-12)
    assert ours["blocks.0.attn.qkv.weight"] == pytest.approx((DECAY ** DEPTH, WD), rel=1e-12)
    assert ours["head.weight"] == (1.0, WD)
