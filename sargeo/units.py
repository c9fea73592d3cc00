"""Backscatter units shared by pretraining and OpenMMLab pipelines: the one place that says which
dB window becomes the network's input range and what nodata becomes.

Linear backscatter power (sigma0) becomes dB (``10 log10``), then [0, 1] over :data:`DB_RANGE`
(clipped), then ``(x - INPUT_MEAN) / INPUT_STD`` (SARMAE's released 0.5 / 0.5), so [-30, 5] dB
ends up in [-1, 1]. The same map in one step, ``(dB - DB_MEAN) / DB_STD``, is what
:class:`sargeo.mm.transforms.SARNormalize` applies by default.

Nodata (NaN, infinite, or power <= 0) is filled with the bottom of the range: 0 on the [0, 1]
scale (:data:`NODATA_UNIT`), -1 after normalisation (:data:`NODATA_NORMALIZED`), the value of
-30 dB and darker, like calm water. Pretraining chips and ``SARNormalize`` therefore give a
nodata pixel the same normalised value.
"""

from __future__ import annotations

from typing import Any

#: dB window mapped to [0, 1]: calm water (-30 dB) to bright land and ships (+5 dB)
DB_RANGE: tuple[float, float] = (-30.0, 5.0)
#: what the encoder sees: [0, 1] images as (x - INPUT_MEAN) / INPUT_STD, as released
INPUT_MEAN, INPUT_STD = 0.5, 0.5
#: nodata on the [0, 1] scale: the bottom of :data:`DB_RANGE`
NODATA_UNIT = 0.0
#: nodata after normalisation, (NODATA_UNIT - INPUT_MEAN) / INPUT_STD = -1
NODATA_NORMALIZED = (NODATA_UNIT - INPUT_MEAN) / INPUT_STD
#: dB -> normalised input in one step: (dB - DB_MEAN) / DB_STD (-12.5 and 17.5 dB)
DB_MEAN = DB_RANGE[0] + INPUT_MEAN * (DB_RANGE[1] - DB_RANGE[0])
DB_STD = INPUT_STD * (DB_RANGE[1] - DB_RANGE[0])


def normalize(x: Any) -> Any:
    """[0, 1] images (tensor or array) as the pretrained encoder saw them."""
    return (x - INPUT_MEAN) / INPUT_STD


def power_to_unit(power: Any, db_range: tuple[float, float] = DB_RANGE) -> Any:
    """Linear backscatter (torch tensor) -> dB -> [0, 1] over ``db_range``; nodata (NaN,
    infinite, <= 0) becomes :data:`NODATA_UNIT`."""
    import torch

    lo, hi = db_range
    valid = torch.isfinite(power) & (power > 0)
    db = 10.0 * torch.log10(torch.where(valid, power, torch.ones_like(power)))
    unit = ((db - lo) / (hi - lo)).clamp(0.0, 1.0)
    return torch.where(valid, unit, torch.full_like(unit, NODATA_UNIT))
