"""SimpleFeaturePyramid's channel LayerNorm is timm's: the same numbers and checkpoint keys as
sargeo's former hand-written LayerNorm2d (per-pixel LayerNorm over channels, eps 1e-6, affine
weight and bias)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mmengine")

from sargeo.mm.neck import LayerNorm2d, SimpleFeaturePyramid  # noqa: E402

# the keys of SimpleFeaturePyramid(32, 16, num_outs=5) as sargeo's checkpoints hold them
CHECKPOINT_KEYS = sorted(
    [f"project.{i}.{j}.{p}" for i in range(4) for j, p in
     [(0, "weight"), (1, "weight"), (1, "bias"), (2, "weight"), (3, "weight"), (3, "bias")]]
    + ["rescale.0.0.weight", "rescale.0.0.bias", "rescale.0.1.weight", "rescale.0.1.bias",
       "rescale.0.3.weight", "rescale.0.3.bias", "rescale.1.weight", "rescale.1.bias"])


def _channel_layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                        eps: float) -> torch.Tensor:
    """The definition: normalise each pixel's channel vector, then scale and shift."""
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight[:, None, None] + bias[:, None, None]


def test_layer_norm_2d_is_a_per_pixel_channel_layer_norm_with_eps_1e6():
    gen = torch.Generator().manual_seed(0)
    norm = LayerNorm2d(8).double()
    assert norm.eps == 1e-6 and norm.elementwise_affine
    assert torch.equal(norm.weight, torch.ones(8, dtype=torch.float64))
    assert torch.equal(norm.bias, torch.zeros(8, dtype=torch.float64))
    with torch.no_grad():
        norm.weight.copy_(torch.randn(8, generator=gen, dtype=torch.float64))
        norm.bias.copy_(torch.randn(8, generator=gen, dtype=torch.float64))
    x = torch.randn(2, 8, 5, 7, generator=gen, dtype=torch.float64) * 3 + 1
    expected = _channel_layer_norm(x, norm.weight, norm.bias, 1e-6)
    torch.testing.assert_close(norm(x), expected, rtol=0, atol=1e-12)


def test_neck_keeps_its_checkpoint_keys_and_loads_them_strictly():
    gen = torch.Generator().manual_seed(1)
    neck = SimpleFeaturePyramid(32, 16, num_outs=5)
    assert sorted(neck.state_dict()) == CHECKPOINT_KEYS
    state = {k: torch.randn(v.shape, generator=gen) for k, v in neck.state_dict().items()}
    other = SimpleFeaturePyramid(32, 16, num_outs=5)
    other.load_state_dict(state, strict=True)
    neck.load_state_dict(state, strict=True)
    x = torch.randn(2, 32, 4, 4, generator=gen)
    outs = neck([x])
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2, 1]
    for a, b in zip(outs, other([x]), strict=True):
        assert torch.equal(a, b)


def test_neck_levels_use_the_channel_layer_norm_definition():
    gen = torch.Generator().manual_seed(2)
    neck = SimpleFeaturePyramid(32, 16, scales=(1,), num_outs=1).double()
    for p in neck.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(1, 32, 3, 3, generator=gen, dtype=torch.float64)
    conv1, ln1, conv3, ln3 = neck.project[0]
    expected = _channel_layer_norm(conv3(_channel_layer_norm(conv1(x), ln1.weight, ln1.bias,
                                                             1e-6)), ln3.weight, ln3.bias, 1e-6)
    torch.testing.assert_close(neck([x])[0], expected, rtol=0, atol=1e-10)
