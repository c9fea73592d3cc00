"""`sargeo convert`: one SARMAE checkpoint, a file per framework, identical encoders."""

from __future__ import annotations

import re

import pytest
import timm
import torch

from sargeo.cli import main
from sargeo.convert import timm_model_args
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


def test_convert_onto_an_existing_file_names_it_and_overwrite(sarmae_file, tmp_path, capsys):
    _, path = sarmae_file
    out = tmp_path / "mm.pth"
    out.write_bytes(b"earlier")
    assert main(["convert", str(path), "--to", "mmseg", str(out)]) == 2
    assert f"sargeo convert: error: {out} exists; add --overwrite to replace it" in \
        capsys.readouterr().err
    assert out.read_bytes() == b"earlier"
    assert main(["convert", str(path), "--to", "mmseg", str(out), "--overwrite"]) == 0
    assert "backbone.vit.norm.weight" in torch.load(out, weights_only=True)["state_dict"]


class Arbitrary:
    """Stands for any pickled object a downloaded file could carry."""


@pytest.fixture
def lightning_ckpt(tmp_path):
    """A real checkpoint of `sargeo pretrain`'s LightningModule (two steps)."""
    from tests.pretrain.conftest import TinyData, tiny_module, trainer

    trainer(2, tmp_path / "run", every=2).fit(tiny_module(sare=False),
                                               datamodule=TinyData(n=16))
    return next((tmp_path / "run").glob("*.ckpt"))


def test_plain_lightning_checkpoint_converts_without_pickle(lightning_ckpt, tmp_path):
    plain = torch.load(lightning_ckpt, weights_only=True)  # nothing in it needs pickle
    out = tmp_path / "t.pth"
    assert main(["convert", str(lightning_ckpt), "--to", "timm", str(out)]) == 0
    state = torch.load(out, weights_only=True)
    torch.testing.assert_close(state["blocks.0.attn.qkv.weight"],
                               plain["state_dict"]["model.encoder.blocks.0.attn.qkv.weight"])


def test_a_ckpt_that_needs_pickle_is_refused_unless_allowed(lightning_ckpt, tmp_path, capsys):
    checkpoint = torch.load(lightning_ckpt, weights_only=True)
    checkpoint["hyper_parameters"]["callback"] = Arbitrary()
    pickled = tmp_path / "pickled.ckpt"
    torch.save(checkpoint, pickled)
    out = tmp_path / "t.pth"
    assert main(["convert", str(pickled), "--to", "timm", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"^sargeo convert: error: .*pickled\.ckpt needs pickle.*Arbitrary.*"
                     r"--allow-pickle", err)
    assert not out.exists()
    assert main(["convert", str(pickled), "--to", "timm", str(out), "--allow-pickle"]) == 0
    assert "blocks.0.attn.qkv.weight" in torch.load(out, weights_only=True)


def test_trained_detector_converts_to_a_file_timm_loads_strictly(tmp_path, capsys):
    """A detector's backbone (608 px: 38 x 38 positions, no class token) -> the timm call that
    convert prints builds a ViT that loads the file strictly and computes the same features."""
    from sargeo.mm.backbone import SARMAEViT

    torch.manual_seed(0)
    backbone = SARMAEViT(arch="tiny", img_size=608, with_cls_token=False, final_norm=True,
                         drop_path_rate=0.0).eval()
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state["neck.project.0.0.weight"] = torch.zeros(4, 4)
    state["bbox_head.heatmap_head.0.weight"] = torch.zeros(2, 4)
    torch.save({"state_dict": state, "meta": {"epoch": 12}}, tmp_path / "detector.pth")
    out = tmp_path / "detector_timm.pth"
    assert main(["convert", str(tmp_path / "detector.pth"), "--to", "timm", str(out)]) == 0
    printed = capsys.readouterr().out
    call = re.search(r"timm\.create_model\(.*\)$", printed, re.MULTILINE).group(0)
    assert "'vit_tiny_patch16_224'" in call and "img_size=608" in call
    vit = eval(call, {"timm": timm}).eval()  # the printed call, as a user would paste it
    torch.testing.assert_close(vit.pos_embed, backbone.vit.pos_embed, rtol=0, atol=0)
    # the printed call loads strictly: a file with one key too many is refused
    extra = torch.load(out, weights_only=True) | {"extra.weight": torch.zeros(1)}
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: \"extra"):
        eval(call.replace(str(out), str(tmp_path / "extra.pth")), {"timm": timm})
    name, kwargs = timm_model_args(torch.load(out, weights_only=True))
    fresh = timm.create_model(name, **kwargs)
    fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
    x = torch.rand(1, 3, 608, 608)
    with torch.no_grad():
        expected = backbone(x)[0].flatten(2).transpose(1, 2)
        torch.testing.assert_close(vit.forward_features(x), expected)
        torch.testing.assert_close(fresh.forward_features(x), expected)


def test_converted_files_get_a_normal_file_mode(sarmae_file, tmp_path):
    from tests.test_io import mode_of, umask

    _, path = sarmae_file
    with umask(0o022):
        assert main(["convert", str(path), "--to", "mmdet", str(tmp_path / "mm.pth")]) == 0
    assert mode_of(tmp_path / "mm.pth") == 0o644
