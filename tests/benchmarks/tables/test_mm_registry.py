"""The harness's registered chip loader reads Sen1Floods11 chips through the data set's reader:
water 1, not water 0, ignored (255) where the label is no-data or the image NaN."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.tables.mm_registry import register_mm_extras


def test_chip_loader_marks_no_data_and_nan_pixels_ignored(shared_data):
    pytest.importorskip("mmseg")
    from mmengine.registry import TRANSFORMS

    from sargeo.datasets.sen1floods11 import read_chip

    register_mm_extras()
    chips = shared_data / "sen1floods11"
    image_path = chips / "S1" / "Nigeria_812045_S1Hand.tif"
    label_path = chips / "Labels" / "Nigeria_812045_LabelHand.tif"
    results = TRANSFORMS.build(dict(type="LoadSen1Floods11Chip")).transform(
        {"img_path": str(image_path), "seg_map_path": str(label_path)})
    image, label = read_chip(image_path, label_path)
    assert results["img"].shape == (512, 512, 2) and results["img"].dtype == np.float32
    assert np.array_equal(results["img"], np.moveaxis(image, 0, -1), equal_nan=True)
    seg = results["gt_seg_map"]
    assert seg.dtype == np.uint8 and results["seg_fields"] == ["gt_seg_map"]
    assert np.array_equal(seg == 255, label == -1) and np.array_equal(seg == 1, label == 1)
    assert int((seg == 255).sum()) >= 579  # the NaN pixels at least
