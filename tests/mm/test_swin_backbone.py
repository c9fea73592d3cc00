"""SARMixMIMSwin: SAR-W-MixMAE's MixMIM encoder as an OpenMMLab backbone with a feature
pyramid."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmcv.ops")

import sargeo.mm  # noqa: E402,F401
from sargeo.mm.swin_backbone import SARMixMIMSwin  # noqa: E402
from sargeo.models.mixmae import MixMAE  # noqa: E402
from sargeo.models.mixmae_export import save_mixmae_checkpoint  # noqa: E402

#: MixMIM-tiny's shape, passed to the timm model (whose default is MixMIM-Base)
TINY = dict(embed_dim=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))


def _registries():
    import mmdet.registry
    import mmrotate.registry
    import mmseg.registry

    return {"mmdet": mmdet.registry.MODELS, "mmseg": mmseg.registry.MODELS,
            "mmrotate": mmrotate.registry.MODELS}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = MixMAE("tiny", img_size=128, decoder_dim=32, decoder_depth=1, decoder_heads=4)
    return save_mixmae_checkpoint(model, tmp_path_factory.mktemp("mixmae") / "tiny.pth")


@pytest.mark.parametrize("scope", ["mmdet", "mmseg", "mmrotate"])
def test_builds_from_every_openmmlab_registry_and_returns_four_stages(scope):
    backbone = _registries()[scope].build(dict(type="SARMixMIMSwin", arch="tiny",
                                               img_size=128))
    assert isinstance(backbone, SARMixMIMSwin) and backbone.out_channels == [32, 64, 128, 256]
    feats = backbone(torch.rand(1, 2, 160, 96))  # another size: padded windows, pos interp.
    assert [tuple(f.shape) for f in feats] == [(1, 32, 40, 24), (1, 64, 20, 12),
                                               (1, 128, 10, 6), (1, 256, 5, 3)]


def test_same_features_as_timm_from_one_checkpoint(checkpoint):
    import timm

    import sargeo

    sargeo.register()
    backbone = _registries()["mmdet"].build(dict(
        type="SARMixMIMSwin", arch="tiny", img_size=128, pretrained=str(checkpoint),
        drop_path_rate=0.0))
    backbone.init_weights()
    backbone.eval()
    net = timm.create_model("sar_w_mixmae_base_patch4_128", pretrained=True, features_only=True,
                            pretrained_cfg_overlay=dict(file=str(checkpoint)),
                            feature_cfg=dict(norm=True), **TINY).eval()
    x = torch.randn(2, 2, 128, 128)
    with torch.no_grad():
        ours, theirs = backbone(x), net(x)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)
    # timm's default leaves the final norm off the last map: final_norm=False does too
    plain = timm.create_model("sar_w_mixmae_base_patch4_128", pretrained=True,
                              features_only=True, **TINY,
                              pretrained_cfg_overlay=dict(file=str(checkpoint))).eval()
    backbone.final_norm = False
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[-1], plain(x)[-1])
    backbone.final_norm = True
    # and they are the pretrained encoder's: the last map is its normalised output
    mixmae = MixMAE("tiny", img_size=128, decoder_dim=32, decoder_depth=1, decoder_heads=4)
    from sargeo.models.mixmae_export import load_mixmae_state_dict

    load_mixmae_state_dict(mixmae, torch.load(checkpoint, weights_only=True))
    with torch.no_grad():
        last = mixmae.eval().encoder.forward_features(x)
    torch.testing.assert_close(ours[-1].flatten(2).transpose(1, 2), last)


def test_out_indices_frozen_stages_and_named_errors(tmp_path):
    backbone = SARMixMIMSwin(arch="tiny", img_size=64, out_indices=(1, -1), frozen_stages=1)
    feats = backbone(torch.rand(1, 2, 64, 64))
    assert [f.shape[1] for f in feats] == [64, 256]
    backbone.train()
    assert not backbone.swin.patch_embed.training
    assert not any(p.requires_grad for p in backbone.swin.layers[0].parameters())
    assert all(p.requires_grad for p in backbone.swin.layers[1].parameters())
    with pytest.raises(ValueError, match=r"out_indices \(0, 4\) outside 0..3"):
        SARMixMIMSwin(arch="tiny", out_indices=(0, 4))
    with pytest.raises(ValueError, match="unknown arch 'small'"):
        SARMixMIMSwin(arch="small")
    missing = tmp_path / "none.pth"
    with pytest.raises(FileNotFoundError, match=f"checkpoint not found: {missing}. To train "
                                                "from scratch instead, set "
                                                "model.backbone.pretrained=None"):
        SARMixMIMSwin(arch="tiny", pretrained=str(missing)).init_weights()
