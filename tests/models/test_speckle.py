"""SARE noise: statistics of both noise models, selection ratio, and a clean target."""

from __future__ import annotations

import pytest
import torch

from sargeo.models.speckle import SpeckleNoise, gamma_speckle, released_speckle


def test_gamma_speckle_has_mean_one_and_enl_equal_to_looks():
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 1, 256, 256), 0.25)
    for looks in (1.0, 4.0):
        y = gamma_speckle(x, looks, g) / 0.25
        assert float(y.mean()) == pytest.approx(1.0, abs=0.01)
        assert float(y.mean() ** 2 / y.var()) == pytest.approx(looks, rel=0.03)


def test_released_lognormal_branch_has_log_std_sigma():
    g = torch.Generator().manual_seed(1)
    x = torch.full((2, 1, 256, 256), 0.2)  # low enough that clamping at 1 is negligible
    y = released_speckle(x, 0.3, g)
    log_ratio = torch.log(y / 0.2)
    assert float(log_ratio.std()) == pytest.approx(0.3, rel=0.02)
    assert float(log_ratio.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(y.min()) >= 1e-8 and float(y.max()) <= 1.0


def test_released_gamma_branch_keeps_the_mean_with_cv_two_sigma():
    g = torch.Generator().manual_seed(2)
    x = torch.full((2, 1, 256, 256), 0.5)
    y = released_speckle(x, 0.04, g)
    assert float(y.mean()) == pytest.approx(0.5, rel=1e-4)
    assert float(y.std() / y.mean()) == pytest.approx(0.08, rel=0.05)


def test_repeated_grayscale_channels_stay_identical():
    x = torch.rand(3, 1, 32, 32).repeat(1, 3, 1, 1)
    y = released_speckle(x, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])
    assert not torch.equal(y, x)


def test_noise_ratio_selects_that_share_and_leaves_the_rest_untouched():
    noise = SpeckleNoise(noise_ratio=0.5, noise_min=0.2, noise_max=0.7)
    x = torch.rand(2000, 1, 4, 4) * 0.5 + 0.1
    clean = x.clone()
    y, noised = noise(x, torch.Generator().manual_seed(4))
    assert float(noised.float().mean()) == pytest.approx(0.5, abs=0.04)
    assert torch.equal(y[~noised], x[~noised])
    assert not torch.equal(y[noised], x[noised])
    assert torch.equal(x, clean)  # the input (the MAE target) is not modified in place


def test_sigma_is_drawn_per_image_within_the_range():
    noise = SpeckleNoise(noise_min=0.1, noise_max=0.7)
    sigmas = noise.draw_sigma(500, torch.Generator().manual_seed(5))
    assert 0.1 <= float(sigmas.min()) < 0.15 and 0.65 < float(sigmas.max()) <= 0.7
    assert torch.all(SpeckleNoise(random_level=False, level=0.3).draw_sigma(4) == 0.3)


def test_each_image_gets_its_own_level():
    x = torch.full((2, 1, 128, 128), 0.1)
    y = released_speckle(x, torch.tensor([0.1, 0.6]), torch.Generator().manual_seed(6))
    log_std = torch.log(y / 0.1).flatten(1).std(dim=1)
    assert float(log_std[0]) == pytest.approx(0.1, rel=0.05)
    assert float(log_std[1]) == pytest.approx(0.6, rel=0.05)
    assert torch.equal(released_speckle(x, 0.0), x)


@pytest.mark.parametrize("kwargs, word", [(dict(noise_ratio=1.5), "noise_ratio"),
                                          (dict(noise_min=0.8, noise_max=0.7), "noise_min"),
                                          (dict(mode="poisson"), "poisson")])
def test_bad_settings_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SpeckleNoise(**kwargs)
