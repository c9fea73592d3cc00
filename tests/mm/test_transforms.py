"""SARNormalize gives every pixel, nodata included, the value scene pretraining gives it."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch

pytest.importorskip("mmcv")

from sargeo.mm.transforms import SARNormalize, normalize_sar  # noqa: E402
from sargeo.pretrain.scenes import SceneChips  # noqa: E402
from sargeo.units import NODATA_NORMALIZED, normalize, power_to_unit  # noqa: E402
from tests.pretrain.test_data import write_scene  # noqa: E402


def test_nodata_gets_the_same_normalised_value_as_in_pretraining_chips(tmp_path):
    write_scene(tmp_path / "s.tif", size=32)  # NaN in the top-left 10 x 10 pixels
    chip = SceneChips(tmp_path, size=32, length=1)[0]  # the only chip: the whole scene
    pretrained_sees = normalize(chip["image"][0]).numpy()
    with rasterio.open(tmp_path / "s.tif") as src:
        power = src.read(1)[..., None]  # (H, W, 1) as OpenMMLab pipelines hold images
    pipeline_sees = SARNormalize().transform({"img": power})["img"][..., 0]
    assert np.isnan(power[:10, :10]).all()
    assert (pipeline_sees[:10, :10] == NODATA_NORMALIZED).all()
    assert (pretrained_sees[:10, :10] == NODATA_NORMALIZED).all()
    np.testing.assert_allclose(pipeline_sees, pretrained_sees, rtol=0, atol=1e-6)


def test_every_kind_of_invalid_pixel_is_filled_like_pretraining_fills_it():
    power = np.array([[np.nan, 0.0, -1.0, np.inf], [1e-4, 1e-3, 1.0, 10 ** 0.5]], np.float32)
    expected = normalize(power_to_unit(torch.from_numpy(power))).numpy()
    np.testing.assert_allclose(normalize_sar(power[..., None])[..., 0], expected, rtol=0,
                               atol=1e-6)
    np.testing.assert_array_equal(expected[0], [-1.0, -1.0, -1.0, -1.0])
    filled = normalize_sar(power[..., None], nodata_value=0.0)[..., 0]  # opt-in, named
    np.testing.assert_array_equal(filled[0], [0.0, 0.0, 0.0, 0.0])
