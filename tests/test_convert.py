"""`sargeo convert`: one SARMAE checkpoint, a file per framework, identical encoders."""

from __future__ import annotations

import pytest
import timm
import torch

from sargeo.cli import main
from sargeo.models.export import save_sarmae_checkpoint
from sargeo.models.sarmae import SARMAE


@pytest.fixture
def sarmae_file(tmp_path):
    torch.manual_seed(0)
    model = SARMAE("tiny", img_size=64, decoder_dim=32, decoder_depth=1, decoder_heads=4,
                   teacher_dim=16)
    return model, save_sarmae_checkpoint(model, tmp_path / "sarmae_tiny.pth")


def test_timm_file_loads_into_timm_with_identical_features(sarmae_file, tmp_path):
    model, path = sarmae_file
    assert main(["convert", str(path), "--to", "timm", str(tmp_path / "t.pth")]) == 0
    state = torch.load(tmp_path / "t.pth", weights_only=True)
    assert not any(k.startswith(("decoder", "sar_", "mask_token")) for k in state)
    vit = timm.create_model("vit_tiny_patch16_224", img_size=64, num_classes=0)
    vit.load_state_dict(state, strict=True)
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(vit.forward_features(x), model.encoder.forward_features(x))


def test_openmmlab_file_has_backbone_keys(sarmae_file, tmp_path):
    _, path = sarmae_file
    out = tmp_path / "mm.pth"
    assert main(["convert", str(path), "--to", "mmdet", str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert set(ckpt) == {"state_dict", "meta"}
    assert all(k.startswith("backbone.vit.") for k in ckpt["state_dict"])
    assert "backbone.vit.blocks.11.attn.qkv.weight" in ckpt["state_dict"]
    with pytest.raises(FileExistsError, match="mm.pth"):
        main(["convert", str(path), "--to", "mmseg", str(out)])
