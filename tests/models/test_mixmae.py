"""MixMAE: mixed masking, the group attention mask, the SAR-W loss, checkpoints in the published
layout, and the MixMIM encoder in timm and torchgeo."""

from __future__ import annotations

import pytest
import torch
from timm.models.swin_transformer import SwinTransformerBlock

from sargeo.models.mae import patchify
from sargeo.models.mixmae import (
    MixMAE,
    mix_tokens,
    mixing_mask,
    unmix_predictions,
    upsample_mask,
)
from sargeo.models.mixmae_export import (
    load_mixmae_state_dict,
    load_mixmim_encoder,
    mixmae_state_dict,
    save_mixmae_checkpoint,
)
from sargeo.models.swin import MixMIMBlock, create_mixmim, group_attention_mask
from sargeo.models.vit import CheckpointError


def tiny(**kwargs) -> MixMAE:
    torch.manual_seed(0)
    args = dict(img_size=64, decoder_dim=32, decoder_depth=1, decoder_heads=4)
    return MixMAE("tiny", **dict(args, **kwargs)).eval()


def test_mixing_mask_has_the_exact_share_and_follows_the_generator():
    a = mixing_mask((4, 4), 0.5, generator=torch.Generator().manual_seed(3))
    b = mixing_mask((4, 4), 0.5, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4, 4) and int(a.sum()) == 8 and torch.equal(a, b)
    assert int(mixing_mask((4, 4), 0.3, generator=torch.Generator()).sum()) == 4
    with pytest.raises(ValueError, match=r"mask ratio must be in \(0, 1\), got 1.0"):
        mixing_mask((4, 4), 1.0)


def test_mixed_tokens_keep_each_images_visible_tokens_and_take_the_rest_from_its_partner():
    model = tiny()
    images = torch.randn(4, 2, 64, 64)
    mask = mixing_mask(model.out_grid, 0.5, generator=torch.Generator().manual_seed(1))
    mixed = model.mixed_tokens(images, mask)
    tokens = model.encoder.embed(images)  # (4, 16, 16, D)
    m = upsample_mask(mask, 8).bool()  # the last grid (2 x 2) -> the patch grid (16 x 16)
    assert m.shape == (16, 16) and int(m.sum()) == 128
    for i in range(4):
        partner = 3 - i
        assert torch.equal(mixed[i][~m], tokens[i][~m])        # own visible tokens, exactly
        assert torch.equal(mixed[i][m], tokens[partner][m])    # the rest: the partner's
    # every image is visible somewhere: its m = 1 part sits in its partner's slot
    assert torch.equal(mix_tokens(tokens, upsample_mask(1 - mask, 8))[0][m], tokens[0][m])


def test_unmix_reconstructs_each_image_from_the_slot_where_it_was_hidden():
    pred = torch.arange(4 * 3 * 1, dtype=torch.float32).reshape(4, 3, 1)  # 2B = 4, L = 3
    mask = torch.tensor([1.0, 0.0, 1.0])
    out = unmix_predictions(pred, mask)
    # image 0: positions with mask 1 from slot 0, with mask 0 from slot B + (B-1-0) = 3
    assert out[0].flatten().tolist() == [pred[0, 0, 0], pred[3, 1, 0], pred[0, 2, 0]]
    assert out[1].flatten().tolist() == [pred[1, 0, 0], pred[2, 1, 0], pred[1, 2, 0]]


def test_group_mask_keeps_the_two_images_apart_in_every_stage():
    model = tiny()
    enc = model.encoder
    images = torch.randn(2, 2, 64, 64)
    mask = mixing_mask(model.out_grid, 0.5, generator=torch.Generator().manual_seed(2))
    groups = upsample_mask(mask, 8)
    mixed = model.mixed_tokens(images, mask)
    other = mixed.clone()
    other[:, groups.bool()] += torch.randn_like(other[:, groups.bool()])  # change group 1 only
    with torch.no_grad():
        outs = enc.forward_tokens(mixed, groups)
        outs2 = enc.forward_tokens(other, groups)
        unmasked = enc.forward_tokens(other)
    for i, (a, b) in enumerate(zip(outs, outs2, strict=True)):
        g = groups[::2 ** i, ::2 ** i].bool()
        torch.testing.assert_close(a[:, ~g], b[:, ~g])  # group 0 never saw group 1
        assert not torch.allclose(a[:, g], b[:, g])
    # stage 0's 8 x 8 windows hold one group each (the mask is drawn on the last grid and
    # upsampled by 8); later windows hold both, and without the mask the groups mix there
    g = groups[::8, ::8].bool()
    assert not torch.allclose(unmasked[-1][:, ~g], outs[-1][:, ~g])
    # the additive mask: 0 within a group, -inf across, per window
    gm = group_attention_mask(torch.tensor([[0, 1], [1, 1]]), (2, 2))
    assert gm.shape == (1, 4, 4) and gm[0, 1, 2] == 0 and gm[0, 0, 1] == float("-inf")


def test_mixmim_block_without_mask_is_timms_swin_block():
    torch.manual_seed(0)
    ours = MixMIMBlock(32, (8, 8), num_heads=2, window_size=4).eval()
    theirs = SwinTransformerBlock(32, (8, 8), num_heads=2, window_size=4, shift_size=0).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 8, 32)
    torch.testing.assert_close(ours(x), theirs(x))


def test_loss_covers_all_tokens_and_weights_each_pixel():
    model = tiny()
    images = torch.randn(4, 2, 64, 64)
    weight = torch.rand(4, 2, 64, 64) + 0.5
    out = model(images, weight, generator=torch.Generator().manual_seed(5))
    by_hand = (weight_patches := patchify(weight, 32)) * (out.pred - patchify(images, 32)) ** 2
    torch.testing.assert_close(out.loss, by_hand.mean())
    assert weight_patches.shape == out.pred.shape == (4, 4, 32 * 32 * 2)
    plain = model(images, generator=torch.Generator().manual_seed(5))
    ones = model(images, torch.ones(4, 1, 64, 64), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(plain.loss, ((plain.pred - patchify(images, 32)) ** 2).mean())
    torch.testing.assert_close(plain.loss, ones.loss)


def test_bad_batches_are_named():
    model = tiny()
    with pytest.raises(ValueError, match="batch size must be even and at least 2, got 3"):
        model(torch.randn(3, 2, 64, 64))
    with pytest.raises(ValueError, match="built for 2 channels, got 3"):
        model(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="built for 64 x 64 px inputs, got 96 x 64"):
        model(torch.randn(2, 2, 96, 64))


@pytest.mark.slow
def test_tiny_mixmae_loss_falls_on_real_sentinel1_patches(shared_data):
    from sargeo.datasets.bigearthnet import BigEarthNetS1
    from sargeo.models.mixmim_weights import BENV2_S1_MEAN, BENV2_S1_STD

    patches = BigEarthNetS1(shared_data / "bigearthnet_s1")
    db = torch.stack([patches[i]["image"] for i in range(6)])[:, :, :64, :64]
    x = (db - torch.tensor(BENV2_S1_MEAN).view(1, 2, 1, 1)) / \
        torch.tensor(BENV2_S1_STD).view(1, 2, 1, 1)
    model = tiny().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for step in range(40):
        loss = model(x, generator=torch.Generator().manual_seed(step)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)


def test_checkpoint_round_trip_in_the_published_layout(tmp_path):
    model = tiny()
    path = save_mixmae_checkpoint(model, tmp_path / "mixmae.pth")
    state = torch.load(path, weights_only=True)["model"]
    # the release's key names: encoder keys at the top, decoder keys, persistent rel. indices
    for key in ("patch_embed.proj.weight", "absolute_pos_embed", "mask_token",
                "layers.0.blocks.0.attn.relative_position_bias_table",
                "layers.0.blocks.0.attn.relative_position_index",
                "layers.0.downsample.reduction.weight", "layers.3.blocks.0.mlp.fc2.bias",
                "norm.weight", "decoder_pos_embed", "decoder_embed.weight",
                "decoder_blocks.0.attn.qkv.weight", "decoder_norm.bias", "decoder_pred.weight"):
        assert key in state, key
    assert not any(k.startswith("encoder.") for k in state)
    other = tiny(img_size=64)
    torch.nn.init.normal_(other.decoder_pred.weight)
    load_mixmae_state_dict(other, {"model": {"module." + k: v for k, v in state.items()}})
    for key, value in mixmae_state_dict(model).items():
        assert torch.equal(mixmae_state_dict(other)[key], value), key
    images = torch.randn(2, 2, 64, 64)
    a = model(images, generator=torch.Generator().manual_seed(0)).loss
    b = other(images, generator=torch.Generator().manual_seed(0)).loss
    assert torch.equal(a, b)
    # a release fine-tuning checkpoint: encoder keys and a head, no decoder
    encoder = create_mixmim("tiny", img_size=64, num_classes=19)
    head = torch.randn(19, 256)
    ft = {k: v for k, v in state.items() if not k.startswith(("decoder", "mask_token"))}
    ft.update({"head.weight": head, "head.bias": torch.zeros(19)})
    load_mixmim_encoder(encoder, {"model": ft})
    assert torch.equal(encoder.head.weight, head)
    assert torch.equal(encoder.layers[2].blocks[1].attn.qkv.weight,
                       model.encoder.layers[2].blocks[1].attn.qkv.weight)


def test_mismatched_checkpoints_are_refused_by_name(tmp_path):
    path = save_mixmae_checkpoint(tiny(), tmp_path / "mixmae.pth")
    with pytest.raises(CheckpointError, match=r"patch_embed.proj.weight has shape "
                                              r"\(32, 2, 4, 4\) in the checkpoint, "
                                              r"\(32, 3, 4, 4\) in the model"):
        load_mixmim_encoder(create_mixmim("tiny", img_size=64, in_chans=3), path)
    with pytest.raises(CheckpointError, match=r"layers.0.blocks.0.attn.relative_position_index "
                                              r"has shape \(64, 64\), the model's window "
                                              r"gives \(16, 16\): another window size"):
        load_mixmim_encoder(create_mixmim("tiny", img_size=64, window_size=(4, 4, 4, 2)),
                            path)
    with pytest.raises(CheckpointError, match=r"no MixMIM encoder weights \(layers.0.blocks.0"):
        load_mixmim_encoder(create_mixmim("tiny"), {"model": {"blocks.0.x": torch.ones(1)}})
    # another input size with the same windows (128 -> 256 px: no window is clipped to its
    # stage): the fixed sin-cos table of the model's own grid is kept
    path = save_mixmae_checkpoint(tiny(img_size=128), tmp_path / "mixmae128.pth")
    bigger = create_mixmim("tiny", img_size=256)
    own = bigger.absolute_pos_embed.clone()
    notes = load_mixmim_encoder(bigger, path)
    assert torch.equal(bigger.absolute_pos_embed, own) and "position embedding" in notes[0]


def test_timm_and_torchgeo_build_the_encoder_and_load_a_checkpoint(tmp_path, monkeypatch):
    import timm
    import torchgeo.models

    import sargeo

    sargeo.register()
    model = tiny(img_size=128)
    path = save_mixmae_checkpoint(model, tmp_path / "tiny128.pth")
    small = dict(embed_dim=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))  # tiny's shape
    net = timm.create_model("sar_w_mixmae_base_patch4_128", pretrained=True,
                            pretrained_cfg_overlay=dict(file=str(path)), num_classes=19,
                            **small).eval()
    geo = torchgeo.models.get_model("sar_w_mixmae_base", weights=None, num_classes=19,
                                    **small).eval()
    load_mixmim_encoder(geo, path)
    x = torch.randn(1, 2, 128, 128)
    with torch.no_grad():
        ref = model.encoder.forward_features(x)
        torch.testing.assert_close(net.forward_features(x), ref)
        torch.testing.assert_close(geo.forward_features(x), ref)
    assert net.head.out_features == 19
    weights = torchgeo.models.get_model_weights("sar_w_mixmae_base")
    assert weights.BENV2_S1.meta["bands"] == ["VH", "VV"]
    monkeypatch.setenv("SARGEO_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(FileNotFoundError, match="not released for download; looked for "
                                                "sar_w_mixmae_base_checkpoint_64.pth"):
        torchgeo.models.get_model("sar_w_mixmae_base", weights=weights.BENV2_S1)


@pytest.mark.slow
def test_the_published_size_is_mixmim_base():
    import torchgeo.models

    import sargeo

    sargeo.register()
    base = torchgeo.models.get_model("sar_w_mixmae_base")
    assert [len(s.blocks) for s in base.layers] == [2, 2, 18, 2]
    assert [b.window_size for b in (s.blocks[0] for s in base.layers)] == [(8, 8)] * 3 + [(4, 4)]
    assert base.num_features == 1024 and base.patch_embed.proj.in_channels == 2
    assert 86e6 < sum(p.numel() for p in base.parameters()) < 89e6  # MixMIM-B: 88M
