"""Encoder factory and the one checkpoint key mapping shared by every home of the encoder."""

from __future__ import annotations

import argparse
import logging

import pytest
import torch
from timm.layers import resample_abs_pos_embed

from sargeo.models.sarmae import SARMAE
from sargeo.models.vit import (
    CheckpointError,
    create_vit,
    encoder_state_dict,
    load_encoder_weights,
    pos_embed_prefix_rows,
    read_checkpoint,
    resize_pos_embed,
)


def pretrained_tiny() -> SARMAE:
    torch.manual_seed(0)
    return SARMAE("tiny", img_size=64, decoder_dim=64, decoder_depth=1, decoder_heads=4,
                  teacher_dim=32)


def published_layout(model: SARMAE, prefix: str = "sar_encoder.") -> dict:
    """A checkpoint the way SARMAE's training saves it: MAE keys for the encoder, decoder_* keys,
    mask_token, the alignment projector and teacher keys, behind a wrapper prefix."""
    sd = {}
    for k, v in model.encoder.state_dict().items():
        if not k.startswith("head"):
            sd[prefix + k] = v.clone()
    for k, v in model.decoder.state_dict().items():
        sd[prefix + "decoder_" + k.replace(".", "_", 1)] = v.clone()
    sd[prefix + "mask_token"] = model.decoder.mask_token.detach().clone()
    if model.align_head is not None:
        for k, v in model.align_head.state_dict().items():
            sd["sar_alignment_ffn." + k.removeprefix("net.")] = v.clone()
    sd["optical_encoder.patch_embed.proj.weight"] = torch.zeros(8, 3, 16, 16)
    return {"model": sd, "epoch": 299, "args": argparse.Namespace(model="mae_vit_tiny")}


def test_published_layout_loads_with_identical_tensors():
    model = pretrained_tiny()
    vit = create_vit("tiny", img_size=64)
    report = load_encoder_weights(vit, published_layout(model))
    assert report.unexpected == [] and report.adapted == []
    for k, v in model.encoder.state_dict().items():
        torch.testing.assert_close(vit.state_dict()[k], v, rtol=0, atol=0)


def test_decoder_and_alignment_keys_are_dropped():
    keys = encoder_state_dict(published_layout(pretrained_tiny(), prefix="module."))
    assert not any(k.startswith(("decoder", "mask_token", "sar_alignment", "optical")) for k in
                   keys)
    assert "patch_embed.proj.weight" in keys and "blocks.11.mlp.fc2.bias" in keys


def test_position_embedding_is_resized_to_a_larger_input(tmp_path):
    model = pretrained_tiny()
    path = tmp_path / "sarmae.pth"
    torch.save(published_layout(model), path)
    vit = create_vit("tiny", img_size=96)
    report = load_encoder_weights(vit, path)
    assert report.adapted == ["pos_embed"]
    assert vit.pos_embed.shape == (1, 1 + 36, 192)
    torch.testing.assert_close(vit.pos_embed[:, :1], model.encoder.pos_embed[:, :1])


def test_patch_embedding_is_adapted_to_dual_polarisation_input():
    model = pretrained_tiny()
    vit = create_vit("tiny", img_size=64, in_chans=2)
    report = load_encoder_weights(vit, published_layout(model))
    assert "patch_embed.proj.weight" in report.adapted
    assert vit.patch_embed.proj.weight.shape[1] == 2
    # a VV/VH pair of equal images gives the 3-channel model's response to that grayscale image
    x = torch.rand(1, 1, 64, 64)
    ref = model.encoder.patch_embed.proj(x.repeat(1, 3, 1, 1))
    out = vit.patch_embed.proj(x.repeat(1, 2, 1, 1))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_weights_of_another_size_are_refused_with_both_shapes_named():
    small = SARMAE("small", img_size=64, decoder_dim=64, decoder_depth=1, decoder_heads=4)
    with pytest.raises(CheckpointError, match="embed dim 384, depth 12.*embed dim 192"):
        load_encoder_weights(create_vit("tiny", img_size=64), published_layout(small, ""))


def test_tiny_weights_into_a_base_model_name_both_architectures_and_the_model_that_fits():
    with pytest.raises(CheckpointError) as info:
        load_encoder_weights(create_vit("base", img_size=64), published_layout(pretrained_tiny()))
    message = str(info.value)
    assert ("checkpoint encoder (embed dim 192, depth 12, patch 16: ViT-Tiny/16) does not fit "
            "the model (embed dim 768, depth 12, patch 16: ViT-Base/16)") in message
    assert "create_vit('tiny', patch_size=16)" in message and "arch='tiny'" in message
    assert "ViT-L" not in message
    patch8 = SARMAE("tiny", img_size=64, patch_size=8, decoder_dim=64, decoder_depth=1,
                    decoder_heads=4)
    with pytest.raises(CheckpointError, match=r"patch 8: ViT-Tiny/8\) does not fit the model "
                                              r"\(embed dim 192, depth 12, patch 16"):
        load_encoder_weights(create_vit("tiny", img_size=64), published_layout(patch8))


def test_loading_logs_sizes_adaptations_and_the_position_embedding_resize(caplog):
    vit = create_vit("tiny", img_size=96, in_chans=2)
    with caplog.at_level(logging.INFO, logger="sargeo.models.vit"):
        load_encoder_weights(vit, published_layout(pretrained_tiny()))
    (record,) = [r for r in caplog.records if r.name == "sargeo.models.vit"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert "loaded a state dict (embed dim 192, depth 12, patch 16: ViT-Tiny/16)" in text
    assert "position embedding resized from 4x4 to 6x6 patches" in text
    assert "patch embedding adapted from 3 to 2 input channel(s)" in text


def test_position_embedding_resize_keeps_or_drops_the_class_row():
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 16, 8)
    same = resize_pos_embed(pos, (4, 4), prefix_rows=1)
    torch.testing.assert_close(same, pos, rtol=0, atol=0)
    no_cls = resize_pos_embed(pos, (4, 4), prefix_rows=1, keep_prefix_rows=0)
    torch.testing.assert_close(no_cls, pos[:, 1:], rtol=0, atol=0)
    bigger = resize_pos_embed(pos, (6, 6), prefix_rows=1)
    torch.testing.assert_close(bigger[:, :1], pos[:, :1], rtol=0, atol=0)
    torch.testing.assert_close(bigger, resample_abs_pos_embed(pos, new_size=[6, 6],
                                                              num_prefix_tokens=1))
    with pytest.raises(CheckpointError, match="0 prefix row"):
        resize_pos_embed(pos[:, 1:], (6, 6), prefix_rows=0, keep_prefix_rows=1)
    assert [pos_embed_prefix_rows(n, cls) for n, cls in
            ((197, True), (196, False), (1444, False), (1445, True), (12, True))] == [
        1, 0, 0, 1, 1]


def test_checkpoint_without_class_token_into_a_model_with_one_says_what_to_build():
    tiny = pretrained_tiny()
    state = {k: v for k, v in tiny.encoder.state_dict().items() if k != "cls_token"}
    state["pos_embed"] = state["pos_embed"][:, 1:]  # as an OpenMMLab backbone stores it
    with pytest.raises(CheckpointError, match="no class-token row.*class_token=False"):
        load_encoder_weights(create_vit("tiny", img_size=96), state)
    no_cls = create_vit("tiny", img_size=64, class_token=False, global_pool="avg")
    load_encoder_weights(no_cls, state)
    torch.testing.assert_close(no_cls.pos_embed, state["pos_embed"], rtol=0, atol=0)


def test_missing_and_unexpected_keys_are_reported():
    ckpt = published_layout(pretrained_tiny())
    del ckpt["model"]["sar_encoder.blocks.3.attn.qkv.weight"]
    with pytest.raises(CheckpointError, match=r"missing \['blocks.3.attn.qkv.weight'\]"):
        load_encoder_weights(create_vit("tiny", img_size=64), ckpt)
    with pytest.raises(CheckpointError, match="no ViT encoder weights"):
        encoder_state_dict({"model": {"conv1.weight": torch.zeros(1)}})


def test_files_are_read_safely(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        read_checkpoint(tmp_path / "nope.pth")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="corrupt.pth"):
        read_checkpoint(corrupt)
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "obj": Arbitrary()}, pickled)
    with pytest.raises(CheckpointError, match="allow_pickle"):
        read_checkpoint(pickled)
    assert "obj" in read_checkpoint(pickled, allow_pickle=True)
    with_args = tmp_path / "with_args.pth"  # MAE-style scripts save their argparse.Namespace
    torch.save({"model": {"w": torch.zeros(1)}, "args": argparse.Namespace(lr=1e-4)}, with_args)
    assert read_checkpoint(with_args)["args"].lr == 1e-4


class Arbitrary:
    """Stands for any pickled object a downloaded file could carry."""


def test_average_pooled_classifier_drops_the_final_norm_as_mae_finetuning():
    vit = create_vit("tiny", img_size=64, num_classes=5, global_pool="avg")
    report = load_encoder_weights(vit, published_layout(pretrained_tiny()))
    assert report.dropped == ["norm.weight", "norm.bias"]
    assert "fc_norm.weight" in report.missing  # trained from scratch


def test_wrapped_state_dicts_unwrap_and_nested_prefixes_strip():
    from sargeo.models.vit import strip_prefixes, unwrap_state_dict

    weights = {"w": torch.zeros(1)}
    assert unwrap_state_dict({"epoch": 3, "model": weights}) is weights
    assert unwrap_state_dict({"encoder": weights}) is weights
    assert unwrap_state_dict({"encoder": weights}, ("model",)) == {"encoder": weights}
    assert unwrap_state_dict({"model": {"args": 1}, "w": weights["w"]}) == {
        "model": {"args": 1}, "w": weights["w"]}  # no tensors under "model": itself
    assert strip_prefixes("module.model.module.blocks.0", ("module.", "model.")) == "blocks.0"
    assert strip_prefixes("blocks.0.module.x", ("module.",)) == "blocks.0.module.x"
