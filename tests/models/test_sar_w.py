"""SAR-W weights: the released formula w = exp(s * (1 - minmax(10^(dB/10)))) in both modes."""

from __future__ import annotations

import math

import pytest
import torch

from sargeo.models.sar_w import db_to_linear, sar_w_weights, sar_w_weights_db

DB = torch.tensor([[[[-20.0, -10.0], [0.0, -30.0]],     # VH
                    [[-12.0, -12.0], [-6.0, -18.0]]]])  # VV, shape (1, 2, 2, 2)


def _by_hand_per_channel(db: torch.Tensor, s: float) -> torch.Tensor:
    """The formula written out pixel by pixel, in float64."""
    out = torch.empty(db.shape, dtype=torch.float64)
    for c in range(db.shape[1]):
        lin = [10 ** (float(v) / 10) for v in db[0, c].flatten()]
        lo, hi = min(lin), max(lin)
        w = [math.exp(s * (1 - (p - lo) / (hi - lo + 1e-6))) for p in lin]
        out[0, c] = torch.tensor(w, dtype=torch.float64).reshape(db.shape[2:])
    return out


def test_per_channel_weights_match_the_formula():
    for s in (1.0, 0.5):
        torch.testing.assert_close(sar_w_weights_db(DB, s, "per_channel").double(),
                                   _by_hand_per_channel(DB, s), rtol=1e-6, atol=1e-6)
    w = sar_w_weights_db(DB)  # per channel by default, as released
    # the darkest pixel of each channel gets e, the brightest 1
    assert float(w[0, 0, 1, 1]) == pytest.approx(math.e, rel=1e-6)  # VH -30 dB
    assert float(w[0, 0, 1, 0]) == pytest.approx(1.0, abs=1e-5)     # VH 0 dB
    assert float(w[0, 1, 1, 1]) == pytest.approx(math.e, rel=1e-6)  # VV -18 dB


def test_shared_avg_weights_average_linear_power_over_channels():
    lin = db_to_linear(DB.double())[0].mean(0).flatten().tolist()
    lo, hi = min(lin), max(lin)
    expected = torch.tensor([math.exp(1 - (p - lo) / (hi - lo + 1e-6)) for p in lin],
                            dtype=torch.float64).reshape(1, 1, 2, 2)
    w = sar_w_weights_db(DB, mode="shared_avg")
    assert w.shape == (1, 1, 2, 2)
    torch.testing.assert_close(w.double(), expected, rtol=1e-6, atol=1e-6)
    # the power-based entry point is the same function
    torch.testing.assert_close(sar_w_weights(db_to_linear(DB), 1.0, "shared_avg"), w)


def test_minmax_is_per_image():
    two = torch.cat([DB, DB + 7.0])  # the second image is brighter everywhere
    w = sar_w_weights_db(two)
    torch.testing.assert_close(w[1], w[0], rtol=1e-4, atol=1e-4)


def test_nodata_gets_zero_weight_and_stays_out_of_the_min_and_max():
    power = db_to_linear(DB).clone()
    power[0, 0, 0, 0] = float("nan")
    power[0, 0, 0, 1] = -1.0
    w = sar_w_weights(power, mode="per_channel")
    assert float(w[0, 0, 0, 0]) == 0.0 and float(w[0, 0, 0, 1]) == 0.0
    # the valid VH pixels (0 dB, -30 dB) span the min-max alone
    assert float(w[0, 0, 1, 0]) == pytest.approx(1.0, abs=1e-5)
    assert float(w[0, 0, 1, 1]) == pytest.approx(math.e, rel=1e-6)
    shared = sar_w_weights(power, mode="shared_avg")
    assert float(shared[0, 0, 0, 0]) == 0.0 and float(shared[0, 0, 1, 1]) > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="SAR-W mode 'mean'; choose one of"):
        sar_w_weights(db_to_linear(DB), mode="mean")
    with pytest.raises(ValueError, match="SAR-W scale must be positive, got 0"):
        sar_w_weights(db_to_linear(DB), scale=0)
    with pytest.raises(ValueError, match=r"expects power of shape \(B, P, H, W\), got \(2, 2\)"):
        sar_w_weights(torch.ones(2, 2))
