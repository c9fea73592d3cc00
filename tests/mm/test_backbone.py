"""SARMAEViT, SimpleFeaturePyramid, the layer-decay constructor and SARNormalize."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mmcv.ops")

import sargeo.mm  # noqa: E402,F401
from sargeo.mm.backbone import SARMAEViT, window_partition, window_unpartition  # noqa: E402
from sargeo.mm.neck import SimpleFeaturePyramid  # noqa: E402
from sargeo.mm.transforms import SARNormalize, normalize_sar  # noqa: E402
from sargeo.models.export import save_sarmae_checkpoint  # noqa: E402
from sargeo.models.sarmae import SARMAE  # noqa: E402
from sargeo.models.vit import CheckpointError  # noqa: E402


def _registries():
    import mmdet.registry
    import mmrotate.registry
    import mmseg.registry

    return {"mmdet": mmdet.registry.MODELS, "mmseg": mmseg.registry.MODELS,
            "mmrotate": mmrotate.registry.MODELS}


@pytest.mark.parametrize("scope", ["mmdet", "mmseg", "mmrotate"])
def test_backbone_and_neck_build_from_every_openmmlab_registry(scope):
    registry = _registries()[scope]
    backbone = registry.build(dict(type="SARMAEViT", arch="tiny", img_size=64, in_channels=2,
                                   out_indices=(2, 5, 8, 11)))
    neck = registry.build(dict(type="SimpleFeaturePyramid", in_channels=192, out_channels=32,
                               num_outs=5))
    assert isinstance(backbone, SARMAEViT)
    feats = backbone(torch.rand(1, 2, 96, 80))  # not the stored size: pos-embed interpolated
    assert [f.shape for f in feats] == [(1, 192, 6, 5)] * 4
    outs = neck(feats[-1:])
    assert [o.shape[-2:] for o in outs] == [(24, 20), (12, 10), (6, 5), (3, 2), (2, 1)]
    assert all(o.shape[1] == 32 for o in outs)


def test_seg_neck_takes_one_map_per_level_and_keeps_channels():
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=None, keep_channels=True)
    maps = [torch.rand(1, 64, 8, 8) * (i + 1) for i in range(4)]
    outs = neck(maps)
    assert [tuple(o.shape) for o in outs] == [(1, 64, 32, 32), (1, 64, 16, 16), (1, 64, 8, 8),
                                              (1, 64, 4, 4)]
    torch.testing.assert_close(outs[2], maps[2])  # scale 1 is the map itself
    torch.testing.assert_close(outs[3], torch.nn.functional.max_pool2d(maps[3], 2))
    with pytest.raises(ValueError, match="expected 1 or 4"):
        neck(maps[:2])


def test_window_partition_round_trip_and_full_window_equals_global_attention():
    x = torch.rand(2, 5, 7, 8)
    windows, padded = window_partition(x, 4)
    assert windows.shape == (2 * 2 * 2, 16, 8) and padded == (8, 8)
    torch.testing.assert_close(window_unpartition(windows, 4, padded, (5, 7)), x)
    torch.manual_seed(0)
    global_attn = SARMAEViT(arch="tiny", img_size=64, in_channels=1, drop_path_rate=0.0).eval()
    windowed = SARMAEViT(arch="tiny", img_size=64, in_channels=1, drop_path_rate=0.0,
                         window_size=4, global_blocks=(5, 11)).eval()
    windowed.load_state_dict(global_attn.state_dict())
    img = torch.rand(1, 1, 64, 64)  # a 4 x 4 grid: one window holds every token
    with torch.no_grad():
        torch.testing.assert_close(windowed(img)[0], global_attn(img)[0])
        windowed.window_size = 2  # now attention is local: outputs must change
        assert not torch.allclose(windowed(img)[0], global_attn(img)[0])


@pytest.fixture(scope="module")
def pretrained_b16(tmp_path_factory):
    """A ViT-B/16 SARMAE pretraining model, exported in the published checkpoint layout."""
    torch.manual_seed(0)
    model = SARMAE(size="base", img_size=224, in_chans=3)
    path = tmp_path_factory.mktemp("ckpt") / "SARMAE_vit_Base.pth"
    save_sarmae_checkpoint(model, path)
    return model, path


def test_pretrained_weights_give_identical_outputs_in_torchgeo_timm_and_openmmlab(
        pretrained_b16, monkeypatch):
    import timm
    import torchgeo.models as tgm

    model, path = pretrained_b16
    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(path.parent))
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        reference = model.encoder.eval().forward_features(x)[:, 1:]  # pretraining encoder
        via_torchgeo = tgm.get_model("sarmae_vit_b16", weights=tgm.get_weight(
            "SARMAE_ViTB16_Weights.SAR1M")).eval().forward_features(x)[:, 1:]
        via_timm = timm.create_model("sarmae_vit_base_patch16", pretrained=True,
                                     pretrained_cfg_overlay=dict(file=str(path))
                                     ).eval().forward_features(x)[:, 1:]
        backbone = SARMAEViT(arch="base", img_size=224, with_cls_token=True, final_norm=True,
                             drop_path_rate=0.0, pretrained="torchgeo:SARMAE_ViTB16_Weights.SAR1M")
        backbone.init_weights()
        via_mm = backbone.eval()(x)[0].flatten(2).transpose(1, 2)
    for out in (via_torchgeo, via_timm, via_mm):
        torch.testing.assert_close(out, reference)


def test_published_backbone_drops_class_token_and_resizes_position_embedding(pretrained_b16):
    model, path = pretrained_b16
    backbone = SARMAEViT(arch="base", img_size=320, in_channels=2, pretrained=str(path))
    report = backbone.load_pretrained(path)
    assert "cls_token" in report["dropped"] and "pos_embed" in report["adapted"]
    assert "patch_embed.proj.weight" in report["adapted"]  # 3 -> 2 channels
    assert backbone.vit.pos_embed.shape == (1, 20 * 20, 768)
    # the 14 x 14 grid without the class-token row, resampled to 20 x 20
    from timm.layers import resample_abs_pos_embed

    expected = resample_abs_pos_embed(model.encoder.pos_embed[:, 1:], new_size=[20, 20],
                                      num_prefix_tokens=0)
    torch.testing.assert_close(backbone.vit.pos_embed, expected)
    w = model.encoder.patch_embed.proj.weight
    torch.testing.assert_close(backbone.vit.patch_embed.proj.weight,
                               (w.sum(1, keepdim=True) / 2).repeat(1, 2, 1, 1))


def test_wrong_architecture_checkpoint_is_refused_with_the_file_named(pretrained_b16):
    _, path = pretrained_b16
    small = SARMAEViT(arch="small", img_size=224)
    with pytest.raises(CheckpointError, match=r"SARMAE_vit_Base\.pth: .*ViT-Base/16\) does not "
                                              r"fit.*ViT-Small/16.*arch='base'"):
        small.load_pretrained(path)
    with pytest.raises(FileNotFoundError, match=r"nope\.pth.*model\.backbone\.pretrained=None"):
        small.load_pretrained(path.parent / "nope.pth")


@pytest.fixture(scope="module")
def tiny_224(tmp_path_factory):
    """A ViT-Tiny/16 SARMAE pretrained at 224 px (14 x 14 positions and a class token), and
    its `sargeo convert --to mmdet` file."""
    from sargeo.cli import main

    torch.manual_seed(0)
    model = SARMAE("tiny", img_size=224, decoder_dim=32, decoder_depth=1, decoder_heads=4)
    folder = tmp_path_factory.mktemp("tiny224")
    src = save_sarmae_checkpoint(model, folder / "sarmae_tiny.pth")
    assert main(["convert", str(src), "--to", "mmdet", str(folder / "mmdet.pth")]) == 0
    return model, folder / "mmdet.pth"


def test_openmmlab_load_paths_resize_the_position_embedding(tiny_224, caplog):
    """load_from (mmengine's load_checkpoint) and init_cfg Pretrained put a 224 px checkpoint
    into a 608 px detector backbone with the position embedding resized, not left random."""
    import logging

    from mmengine.runner import load_checkpoint
    from timm.layers import resample_abs_pos_embed

    from sargeo.models.vit import resize_pos_embed

    model, mmdet_file = tiny_224
    expected = resize_pos_embed(model.encoder.pos_embed, (38, 38), prefix_rows=1,
                                keep_prefix_rows=0)
    torch.testing.assert_close(expected, resample_abs_pos_embed(  # timm's bicubic resize
        model.encoder.pos_embed[:, 1:], new_size=[38, 38], num_prefix_tokens=0))
    detector = torch.nn.Module()
    detector.backbone = SARMAEViT(arch="tiny", img_size=608, with_cls_token=False)
    with caplog.at_level(logging.INFO, logger="sargeo.mm.backbone"):
        load_checkpoint(detector, str(mmdet_file), map_location="cpu")  # as load_from does
    assert "position embedding resized from 14x14 to 38x38" in caplog.text
    assert "cls_token" in caplog.text  # dropped: the backbone has no class token
    torch.testing.assert_close(detector.backbone.vit.pos_embed, expected, rtol=0, atol=0)
    torch.testing.assert_close(detector.backbone.vit.blocks[7].mlp.fc1.weight,
                               model.encoder.blocks[7].mlp.fc1.weight, rtol=0, atol=0)
    backbone = SARMAEViT(arch="tiny", img_size=608, init_cfg=dict(
        type="Pretrained", checkpoint=str(mmdet_file), prefix="backbone."))
    backbone.init_weights()
    torch.testing.assert_close(backbone.vit.pos_embed, expected, rtol=0, atol=0)
    # same size: a plain state dict round trip changes nothing
    copy = SARMAEViT(arch="tiny", img_size=608, with_cls_token=False)
    copy.load_state_dict(backbone.state_dict())
    torch.testing.assert_close(copy.vit.pos_embed, expected, rtol=0, atol=0)


def test_load_pretrained_logs_what_was_loaded(tiny_224, caplog):
    import logging

    model, mmdet_file = tiny_224
    backbone = SARMAEViT(arch="tiny", img_size=320, in_channels=2)
    with caplog.at_level(logging.INFO, logger="sargeo.models.vit"):
        backbone.load_pretrained(mmdet_file)
    text = caplog.text
    assert f"loaded {mmdet_file} (embed dim 192, depth 12, patch 16: ViT-Tiny/16)" in text
    assert "SARMAEViT backbone" in text
    assert "position embedding resized from 14x14 to 20x20" in text
    assert "patch embedding adapted from 3 to 2 input channel(s)" in text
    assert "dropped ['norm.weight', 'norm.bias', 'cls_token'" in text


def test_frozen_stages_stay_frozen_in_train_mode():
    backbone = SARMAEViT(arch="tiny", img_size=32, frozen_stages=2).train()
    frozen = [n for n, p in backbone.named_parameters() if not p.requires_grad]
    assert "vit.pos_embed" in frozen and "vit.blocks.1.attn.qkv.weight" in frozen
    assert "vit.blocks.2.attn.qkv.weight" not in frozen
    assert not backbone.vit.blocks[0].training and backbone.vit.blocks[2].training


def test_layer_decay_constructor_gives_the_expected_lr_per_block():
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmdet"):
        model = MODELS.build(dict(
            type="RPN", data_preprocessor=dict(type="DetDataPreprocessor"),
            backbone=dict(type="SARMAEViT", arch="tiny", img_size=64),
            neck=dict(type="SimpleFeaturePyramid", in_channels=192, out_channels=16,
                      num_outs=5),
            rpn_head=dict(type="RPNHead", in_channels=16, feat_channels=16,
                          anchor_generator=dict(type="AnchorGenerator", scales=[8],
                                                ratios=[1.0], strides=[4, 8, 16, 32, 64]),
                          bbox_coder=dict(type="DeltaXYWHBBoxCoder"),
                          loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True),
                          loss_bbox=dict(type="L1Loss")),
            train_cfg=None, test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=10,
                                                  nms=dict(type="nms", iou_threshold=0.7)))))
        wrapper = build_optim_wrapper(model, dict(
            type="OptimWrapper", optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
            constructor="SARMAELayerDecayConstructor", paramwise_cfg=dict(decay_rate=0.5)))
    lr_of, wd_of = {}, {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group["params"]:
            lr_of[names[id(p)]], wd_of[names[id(p)]] = group["lr"], group["weight_decay"]
    assert len(lr_of) == sum(1 for p in model.parameters() if p.requires_grad)
    depth = 12
    for i in (0, 5, 11):
        assert lr_of[f"backbone.vit.blocks.{i}.attn.qkv.weight"] == pytest.approx(
            1e-3 * 0.5 ** (depth - i))
    assert lr_of["backbone.vit.patch_embed.proj.weight"] == pytest.approx(1e-3 * 0.5 ** 13)
    assert lr_of["backbone.vit.pos_embed"] == pytest.approx(1e-3 * 0.5 ** 13)
    assert lr_of["neck.project.0.0.weight"] == pytest.approx(1e-3)
    assert wd_of["backbone.vit.blocks.3.attn.qkv.weight"] == 0.05
    assert wd_of["backbone.vit.blocks.3.attn.qkv.bias"] == 0.0
    assert wd_of["backbone.vit.pos_embed"] == 0.0
    assert wd_of["backbone.vit.blocks.3.norm1.weight"] == 0.0


def test_sar_normalize_matches_scene_pretraining_and_handles_nodata():
    from sargeo.pretrain.scenes import power_to_unit

    power = np.array([[[1e-3, 0.0], [np.nan, 10.0]], [[1e-2, 1e-4], [0.5, 2.0]]],
                     dtype=np.float32)  # (C, H, W)
    out = normalize_sar(power, channel_axis=0)
    expected = power_to_unit(torch.from_numpy(power)).numpy() * 2 - 1
    valid = np.isfinite(power) & (power > 0)
    np.testing.assert_allclose(out[valid], expected[valid], atol=1e-6)
    assert (out[~valid] == -1).all()  # the bottom of the range, as in pretraining chips
    results = SARNormalize(mean=(-10.0, -20.0), std=(5.0, 10.0), clip=None).transform(
        {"img": np.full((2, 2, 2), 0.1, dtype=np.float32)})
    np.testing.assert_allclose(results["img"][0, 0], [0.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="3 values for 2 channels"):
        normalize_sar(np.ones((4, 4, 2)), mean=(1, 2, 3), std=(1,))


def test_two_channel_inputs_are_normalised_in_the_pipeline_not_the_preprocessor():
    """mmengine's preprocessor refuses a 2-value mean; with mean=None it passes VV/VH through."""
    from mmdet.models.data_preprocessors import DetDataPreprocessor

    with pytest.raises(AssertionError):
        DetDataPreprocessor(mean=[-12.5, -20.0], std=[17.5, 17.5])
    pre = DetDataPreprocessor(mean=None, std=None, pad_size_divisor=32)
    img = torch.from_numpy(normalize_sar(np.full((2, 40, 40), 0.01, np.float32), channel_axis=0))
    out = pre({"inputs": [img], "data_samples": None})
    assert out["inputs"].shape == (1, 2, 64, 64)
    torch.testing.assert_close(out["inputs"][0, :, :40, :40], img)


def test_converted_mmdet_file_and_trained_detector_load_into_the_backbone(pretrained_b16,
                                                                          tmp_path):
    from sargeo.cli import main

    model, path = pretrained_b16
    out = tmp_path / "mmdet.pth"
    assert main(["convert", str(path), "--to", "mmdet", str(out)]) == 0
    x = torch.rand(1, 3, 224, 224)
    reference = SARMAEViT(arch="base", img_size=224, with_cls_token=True, drop_path_rate=0.0)
    reference.load_pretrained(path)
    from_file = SARMAEViT(arch="base", img_size=224, with_cls_token=True, drop_path_rate=0.0)
    from_file.load_pretrained(out)
    # a whole detector checkpoint (backbone + neck + heads), as `sargeo mm train` writes it
    detector = torch.load(out, weights_only=True)
    detector["state_dict"]["neck.project.0.0.weight"] = torch.zeros(4, 4)
    detector["state_dict"]["rpn_head.rpn_conv.weight"] = torch.zeros(4, 4)
    torch.save(detector, tmp_path / "detector.pth")
    from_detector = SARMAEViT(arch="base", img_size=224, with_cls_token=True,
                              drop_path_rate=0.0)
    from_detector.load_pretrained(tmp_path / "detector.pth")
    with torch.no_grad():
        expected = reference.eval()(x)[0]
        torch.testing.assert_close(from_file.eval()(x)[0], expected)
        torch.testing.assert_close(from_detector.eval()(x)[0], expected)
