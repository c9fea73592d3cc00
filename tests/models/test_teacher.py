"""SARC's frozen optical teacher: modes, freezing, and checkpoints that do not match."""

from __future__ import annotations

import pytest
import torch

from sargeo.models.teacher import OpticalTeacher
from sargeo.models.vit import CheckpointError

SMALL = "vit_small_patch16_dinov3"


def test_full_teacher_gives_one_token_per_patch_and_stays_frozen():
    teacher = OpticalTeacher("full", SMALL, img_size=64)
    teacher.train()  # asking for training mode changes nothing
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    tokens = teacher(torch.rand(2, 3, 64, 64))
    assert tokens.shape == (2, 16, teacher.dim) and teacher.dim == 384


def test_released_teacher_is_patch_embedding_plus_norm_only():
    teacher = OpticalTeacher("released", SMALL, img_size=64)
    x = torch.rand(1, 3, 64, 64)
    normed = (x - teacher.mean) / teacher.std
    manual = teacher.model.norm(teacher.model.patch_embed.proj(normed).flatten(2).transpose(1, 2))
    torch.testing.assert_close(teacher(x), manual)
    assert not torch.allclose(teacher(x), OpticalTeacher("full", SMALL, img_size=64)(x))


def test_teacher_weights_round_trip_and_mismatches_are_named(tmp_path):
    source = OpticalTeacher("full", SMALL, img_size=64)
    path = tmp_path / "dinov3_small.pth"
    torch.save({"model": source.model.state_dict()}, path)
    loaded = OpticalTeacher("released", SMALL, checkpoint=path, img_size=64)
    torch.testing.assert_close(loaded.model.norm.weight, source.model.norm.weight)
    with pytest.raises(CheckpointError, match="dinov3_small.pth does not fit.*shapes differ"):
        OpticalTeacher("full", "vit_base_patch16_dinov3", checkpoint=path, img_size=64)
    partial = {k: v for k, v in source.model.state_dict().items() if not k.startswith("norm")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="partial.pth does not match.*missing.*norm"):
        OpticalTeacher("full", SMALL, checkpoint=tmp_path / "partial.pth", img_size=64)
    with pytest.raises(ValueError, match="unknown teacher mode 'rgb'"):
        OpticalTeacher("rgb", SMALL)


def test_the_default_teacher_is_the_released_one():
    teacher = OpticalTeacher(model_name=SMALL, img_size=64)
    assert teacher.mode == "released"
    x = torch.rand(1, 3, 64, 64)
    normed = (x - teacher.mean) / teacher.std
    patch_tokens = teacher.model.patch_embed.proj(normed).flatten(2).transpose(1, 2)
    torch.testing.assert_close(teacher(x), teacher.model.norm(patch_tokens))  # no blocks
