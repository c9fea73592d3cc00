"""LeeFilter: torchgeo's Lee filter on sargeo samples, nodata kept, opt-in in Sentinel1GRD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchgeo.samplers import GridGeoSampler
from torchgeo.transforms.sar import lee_filter

from sargeo.datasets.sentinel1 import Sentinel1GRD
from sargeo.datasets.simulate import simulate_scene
from sargeo.datasets.speckle_filter import LeeFilter


def speckled(shape=(2, 64, 64), looks=4, seed=0):
    gamma = torch.distributions.Gamma(torch.full(shape, float(looks)), torch.full(shape, 1.0))
    torch.manual_seed(seed)
    return 0.05 * gamma.sample() / looks


def test_filter_equals_torchgeo_on_valid_tiles_and_reduces_speckle():
    image = speckled()
    out = LeeFilter(window_size=7, num_looks=4).filter(image)
    expected = lee_filter(image.unsqueeze(0), window_size=7, num_looks=4).squeeze(0)
    torch.testing.assert_close(out, expected)
    # homogeneous sea: the coefficient of variation falls well below 4-look speckle's 0.5
    cv = lambda x: float(x.std() / x.mean())  # noqa: E731
    assert cv(image) > 0.4 and cv(out) < 0.25


def test_nodata_stays_and_does_not_leak_into_neighbours():
    image = speckled()
    image[:, :10, :] = float("nan")
    out = LeeFilter(window_size=5, num_looks=4).filter(image)
    assert torch.isnan(out[:, :10]).all() and torch.isfinite(out[:, 10:]).all()
    # NaN would spread through the box filter; the filled mean keeps neighbours near the sea level
    assert float(out[:, 10:13].mean()) == pytest.approx(float(image[:, 10:].mean()), rel=0.2)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="positive odd integer, not 4"):
        LeeFilter(window_size=4)
    with pytest.raises(ValueError, match="num_looks must be > 0, not 0"):
        LeeFilter(num_looks=0)


def test_sentinel1_dataset_filters_linear_power_before_decibels(tmp_path):
    simulate_scene(tmp_path / "scene.tif", width=96, height=96, seed=3, n_ships=0)
    plain = Sentinel1GRD(tmp_path)
    filtered = Sentinel1GRD(tmp_path, speckle_filter=LeeFilter(7, 4))
    filtered_db = Sentinel1GRD(tmp_path, speckle_filter=LeeFilter(7, 4), decibels=True)
    query = next(iter(GridGeoSampler(plain, size=64)))
    raw, smooth = plain[query]["image"], filtered[query]["image"]
    torch.testing.assert_close(smooth, LeeFilter(7, 4).filter(raw))
    assert not torch.equal(raw, smooth)
    np.testing.assert_allclose(filtered_db[query]["image"].numpy(),
                               10 * np.log10(smooth.numpy()), rtol=1e-5)
