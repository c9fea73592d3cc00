"""The harness's Sen1Floods11 task: chips without a usable split are cells that cannot run, with
the reader's own reason."""

from __future__ import annotations

import pytest

from benchmarks.tables.recipe import NotRun
from benchmarks.tables.sen1floods11 import db_to_unit, sen1floods11_split


def test_a_folder_without_chips_is_a_cell_that_cannot_run(tmp_path):
    with pytest.raises(NotRun, match=f"^{tmp_path} has no \\*_S1Hand.tif / \\*_LabelHand.tif "
                                     "chips$"):
        sen1floods11_split(tmp_path)


def test_db_maps_to_the_unit_range_with_nan_as_zero():
    import numpy as np

    from sargeo.units import DB_RANGE

    lo, hi = DB_RANGE
    unit = db_to_unit(np.array([lo - 5.0, lo, (lo + hi) / 2, hi + 5.0, np.nan]))
    assert unit.tolist() == [0.0, 0.0, 0.5, 1.0, 0.0]
