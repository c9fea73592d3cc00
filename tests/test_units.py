"""sargeo.units: one dB window and one nodata fill for pretraining and pipelines."""

from __future__ import annotations

import pytest
import torch

from sargeo import units


def test_db_window_and_nodata_fill_follow_from_one_range():
    lo, hi = units.DB_RANGE
    assert (lo, hi) == (-30.0, 5.0)
    assert (units.DB_MEAN, units.DB_STD) == (-12.5, 17.5)  # (dB - mean) / std: [lo, hi] -> [-1, 1]
    assert units.NODATA_NORMALIZED == units.normalize(units.NODATA_UNIT) == -1.0
    db = torch.tensor([lo, hi, -12.5])
    unit = units.power_to_unit(10 ** (db / 10))
    torch.testing.assert_close(unit, torch.tensor([0.0, 1.0, 0.5]))
    torch.testing.assert_close(units.normalize(unit), (db - units.DB_MEAN) / units.DB_STD)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 0.0, -2.0])
def test_power_to_unit_fills_nodata_with_the_bottom_of_the_range(bad):
    assert float(units.power_to_unit(torch.tensor([bad]))[0]) == units.NODATA_UNIT == 0.0
