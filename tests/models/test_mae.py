"""MAE pieces: masking, patchify, position embeddings, masked loss, encoder sees visible only."""

from __future__ import annotations

import pytest
import torch

from sargeo.models.mae import (
    masked_reconstruction_loss,
    patchify,
    random_masking,
    sincos_pos_embed_2d,
    unpatchify,
)
from sargeo.models.sarmae import SARMAE


def tiny(**kw) -> SARMAE:
    kw = dict(img_size=64, decoder_dim=64, decoder_depth=2, decoder_heads=4) | kw
    return SARMAE("tiny", **kw)


def test_masking_is_per_sample_with_the_exact_ratio():
    g = torch.Generator().manual_seed(0)
    ids_keep, ids_restore, mask = random_masking(8, 196, 0.75, torch.device("cpu"), g)
    assert ids_keep.shape == (8, 49)
    assert torch.all(mask.sum(1) == 147)
    assert len({tuple(m.tolist()) for m in mask}) == 8  # every sample has its own mask
    for keep, m in zip(ids_keep, mask, strict=True):  # kept ids are exactly the unmasked ones
        assert set(keep.tolist()) == set(torch.nonzero(m == 0).flatten().tolist())
    assert torch.equal(ids_restore.argsort(1).argsort(1), ids_restore)


def test_patchify_round_trip_and_order():
    x = torch.arange(2 * 3 * 32 * 48, dtype=torch.float32).reshape(2, 3, 32, 48)
    p = patchify(x, 16)
    assert p.shape == (2, 6, 16 * 16 * 3)
    # second patch (row 0, col 1) starts at pixel (0, 16) of channel 0
    assert p[0, 1, 0] == x[0, 0, 0, 16]
    assert torch.equal(unpatchify(p, 16, 3, (2, 3)), x)


def test_sincos_position_embedding_is_fixed_and_distinct():
    pe = sincos_pos_embed_2d(64, 4, 5)
    assert pe.shape == (1, 21, 64)
    assert torch.all(pe[0, 0] == 0)  # class token
    assert torch.unique(pe[0, 1:], dim=0).shape[0] == 20
    # same column -> identical first half (column encoding), same row -> identical second half
    grid = pe[0, 1:].reshape(4, 5, 64)
    assert torch.allclose(grid[0, 2, :32], grid[3, 2, :32])
    assert torch.allclose(grid[1, 0, 32:], grid[1, 4, 32:])


def test_loss_counts_masked_patches_only():
    g = torch.Generator().manual_seed(1)
    target = torch.randn(2, 16, 12, generator=g)
    pred = torch.randn(2, 16, 12, generator=g, requires_grad=True)
    mask = torch.zeros(2, 16)
    mask[:, :4] = 1
    loss = masked_reconstruction_loss(pred, target, mask, norm_pix=False)
    expected = ((pred[:, :4] - target[:, :4]) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.all(grad[:, 4:] == 0) and torch.any(grad[:, :4] != 0)


def test_norm_pix_loss_normalises_each_target_patch():
    target = torch.tensor([[[1.0, 3.0], [10.0, 30.0]]])  # two patches, same shape, scaled
    pred = torch.tensor([[[-1.0, 1.0], [-1.0, 1.0]]]) / 2 ** 0.5  # (x - mean) / std, unbiased
    loss = masked_reconstruction_loss(pred, target, torch.ones(1, 2), norm_pix=True)
    assert float(loss) < 1e-5


def test_encoder_sees_only_visible_tokens():
    model = tiny().eval()
    seen = []
    model.encoder.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    images = torch.rand(3, 3, 64, 64)
    out = model(images, generator=torch.Generator().manual_seed(0))
    assert seen == [torch.Size([3, 1 + 4, 192])]  # 16 patches, 25 % visible, + class token
    assert out.pred.shape == (3, 16, 16 * 16 * 3) and torch.all(out.mask.sum(1) == 12)


def test_masked_pixels_cannot_leak_into_the_encoder():
    model = tiny().eval()
    images = torch.rand(2, 3, 64, 64)
    g = torch.Generator().manual_seed(3)
    ids_keep, _, mask = random_masking(2, 16, 0.75, images.device, g)
    latent = model.forward_encoder(images, ids_keep)
    changed = patchify(images, 16)
    changed[mask.bool()] = 5.0  # overwrite every masked patch
    latent2 = model.forward_encoder(unpatchify(changed, 16, 3, (4, 4)), ids_keep)
    torch.testing.assert_close(latent, latent2)


def strict_rand(real):
    """``torch.rand`` with the check a CUDA draw makes: the generator must live on the device
    drawn on (torch skips that check for 'meta', the stand-in for a GPU here)."""

    def rand(*size, generator=None, device=None, **kwargs):
        want = torch.device("cpu" if device is None else device)
        if generator is not None and generator.device.type != want.type:
            raise RuntimeError(f"Expected a '{want.type}' device type for generator but found "
                               f"'{generator.device.type}'")
        return real(*size, generator=generator, device=device, **kwargs)

    return rand


def test_masks_for_another_device_are_drawn_on_the_generators_device(monkeypatch):
    monkeypatch.setattr(torch, "rand", strict_rand(torch.rand))
    g = torch.Generator().manual_seed(0)  # a CPU generator, as the LightningModule builds
    with pytest.raises(RuntimeError, match="Expected a 'meta' device type for generator"):
        torch.rand(2, device="meta", generator=g)  # the mismatch a GPU run would hit
    ids_keep, ids_restore, mask = random_masking(4, 16, 0.75, torch.device("meta"), g)
    assert {t.device.type for t in (ids_keep, ids_restore, mask)} == {"meta"}
    assert ids_keep.shape == (4, 4) and mask.shape == (4, 16)
    model = tiny().to("meta")  # the whole forward of a model on another device
    out = model(torch.empty(2, 3, 64, 64, device="meta"), generator=g)
    assert out.loss.device.type == "meta" and out.mask.shape == (2, 16)


def test_reconstruction_targets_are_raw_pixels_by_default_as_released():
    model = tiny(decoder_depth=1)
    images = torch.rand(2, 3, 64, 64) * 4 + 3  # per-patch normalisation would change these
    out = model(images, generator=torch.Generator().manual_seed(0))
    target = patchify(images, 16)
    raw = (((out.pred - target) ** 2).mean(-1) * out.mask).sum() / out.mask.sum()
    torch.testing.assert_close(out.loss_mae, raw)
    assert not model.norm_pix_loss and tiny(norm_pix_loss=True).norm_pix_loss  # opt-in
    assert float(masked_reconstruction_loss(target, target, out.mask)) == 0.0
