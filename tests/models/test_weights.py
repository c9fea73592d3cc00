"""Published SARMAE weights through torchgeo's registry and timm's, from one key mapping."""

from __future__ import annotations

import subprocess
import sys

import pytest
import timm
import torch
import torchgeo.models as tgm

from sargeo.models.vit import create_vit
from sargeo.models.weights import (
    SARMAE_ViTB16_Weights,
    SARMAE_ViTL16_Weights,
    sarmae_vit_b16,
    weights_file,
)


@pytest.fixture(scope="module")
def published_b16(tmp_path_factory):
    """A ViT-B/16 checkpoint in the released layout, under the published file name."""
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    encoder = create_vit("base")
    model = {f"sar_encoder.{k}": v for k, v in encoder.state_dict().items()
             if not k.startswith("head")}
    model["sar_encoder.decoder_embed.weight"] = torch.zeros(512, 768)
    model["sar_encoder.mask_token"] = torch.zeros(1, 1, 512)
    model["sar_alignment_ffn.0.weight"] = torch.zeros(768, 768)
    model["optical_encoder.norm.weight"] = torch.ones(768)
    torch.save({"model": model, "epoch": 299}, folder / "SARMAE_vit_Base.pth")  # older name
    return folder, encoder


def test_import_sargeo_registers_with_torchgeo_and_timm_lazily():
    code = ("import sys, sargeo; assert 'torch' not in sys.modules; "
            "import torchgeo.models as m, timm; "
            "print(sorted(set(m.list_models()) & {'sarmae_vit_b16', 'sarmae_vit_l16'}), "
            "m.get_weight('SARMAE_ViTL16_Weights.SAR1M'), timm.list_models('sarmae*'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "['sarmae_vit_b16', 'sarmae_vit_l16'] SARMAE_ViTL16_Weights.SAR1M" in out
    assert "'sarmae_vit_base_patch16', 'sarmae_vit_large_patch16'" in out


def test_weights_meta_follows_torchgeo_conventions():
    meta = SARMAE_ViTB16_Weights.SAR1M.meta
    assert meta["dataset"] == "SAR-1M" and meta["in_chans"] == 3
    assert meta["publication"].endswith("2512.16635") and meta["license"] == "CC BY-NC 4.0"
    assert meta["ssl_method"] == "sarmae" and meta["file_name"] == "SARMAE_vitb_checkpoint-last"
    assert {"model", "repo", "bands"} <= set(meta)
    assert tgm.get_model_weights("sarmae_vit_l16") is SARMAE_ViTL16_Weights
    x = torch.full((1, 3, 8, 8), 0.75)
    assert torch.allclose(SARMAE_ViTB16_Weights.SAR1M.transforms()(x), torch.full_like(x, 0.5))


def test_torchgeo_timm_and_direct_builders_load_identical_encoders(published_b16, monkeypatch):
    folder, encoder = published_b16
    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(folder))
    x = torch.rand(1, 3, 224, 224)
    expected = encoder.eval().forward_features(x)
    via_torchgeo = tgm.get_model("sarmae_vit_b16", weights=tgm.get_weight(
        "SARMAE_ViTB16_Weights.SAR1M")).eval()
    direct = sarmae_vit_b16(weights=SARMAE_ViTB16_Weights.SAR1M).eval()
    via_timm = timm.create_model("sarmae_vit_base_patch16", pretrained=True,
                                 pretrained_cfg_overlay=dict(
                                     file=str(folder / "SARMAE_vit_Base.pth"))).eval()
    with torch.no_grad():
        for model in (via_torchgeo, direct, via_timm):
            torch.testing.assert_close(model.forward_features(x), expected)


def test_timm_model_at_another_size_and_channel_count(published_b16):
    folder, _ = published_b16
    model = timm.create_model("sarmae_vit_base_patch16", pretrained=True, img_size=320,
                              in_chans=2, num_classes=5,
                              pretrained_cfg_overlay=dict(file=str(folder / "SARMAE_vit_Base.pth")))
    assert model.pos_embed.shape == (1, 1 + 20 * 20, 768)
    assert model(torch.rand(2, 2, 320, 320)).shape == (2, 5)


def _offline(monkeypatch, tmp_path):
    """No local file and no network: the hub in offline mode over an empty cache."""
    import huggingface_hub.constants as hf

    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))


def test_missing_weights_file_says_where_to_put_it(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError,
                       match="SARMAE_vitl_checkpoint-last are not on this machine.*"
                       "SARMAE_vit_Large.pth.*SARGEO_WEIGHTS_DIR"):
        weights_file(SARMAE_ViTL16_Weights.SAR1M)


def test_missing_weights_file_says_how_to_train_without_it(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        tgm.get_model("sarmae_vit_b16", weights=SARMAE_ViTB16_Weights.SAR1M)
    message = str(info.value)
    assert "SARMAE_vitb_checkpoint-last" in message and "cannot be reached" in message
    assert "weights=None" in message and "pretrained=False (timm)" in message
    assert "--cfg-options model.backbone.pretrained=None" in message


def test_checkpoints_resolve_from_a_path_or_a_weights_name(tmp_path, monkeypatch):
    from sargeo.finetune_s1 import resolve_mixmim_checkpoint
    from sargeo.models.weights import resolve_checkpoint

    folder = tmp_path
    (folder / "SARMAE_vit_Base.pth").write_bytes(b"found by name, not read")
    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(folder))
    assert resolve_checkpoint("torchgeo:SARMAE_ViTB16_Weights.SAR1M") == (
        folder / "SARMAE_vit_Base.pth")
    assert resolve_checkpoint(folder / "SARMAE_vit_Base.pth") == folder / "SARMAE_vit_Base.pth"
    with pytest.raises(ValueError, match=r"^unknown torchgeo weights 'torchgeo:SARMAE_ViTB16_"
                       r"Weights.NONE': "):
        resolve_checkpoint("torchgeo:SARMAE_ViTB16_Weights.NONE")
    with pytest.raises(ValueError, match=r"^unknown MixMIM weights 'torchgeo:SARWMixMAE_Base_"
                       r"Weights.NONE': "):
        resolve_mixmim_checkpoint("torchgeo:SARWMixMAE_Base_Weights.NONE")
    for resolve in (resolve_checkpoint, resolve_mixmim_checkpoint):
        with pytest.raises(FileNotFoundError,
                           match=f"^checkpoint not found: {folder / 'missing.pth'}$"):
            resolve(str(folder / "missing.pth"))
