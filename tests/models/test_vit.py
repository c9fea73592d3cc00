"""Encoder factory and the one checkpoint key mapping shared by every home of the encoder."""

from __future__ import annotations

import argparse

import pytest
import torch

from sargeo.models.sarmae import SARMAE
from sargeo.models.vit import (
    CheckpointError,
    create_vit,
    encoder_state_dict,
    load_encoder_weights,
    read_checkpoint,
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
    with pytest.raises(CheckpointError, match="embed dim 384, 12 blocks.*embed dim 192"):
        load_encoder_weights(create_vit("tiny", img_size=64), published_layout(small, ""))


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
