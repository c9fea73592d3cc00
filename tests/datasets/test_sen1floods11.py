"""Sen1Floods11 chips (sargeo.datasets.sen1floods11) on the shared hand-labelled chips."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from sargeo.datasets.sen1floods11 import IGNORE, Sen1Floods11, read_chip, split_chips


@pytest.fixture(scope="module")
def chips(shared_data):
    return shared_data / "sen1floods11"


def test_split_excludes_the_known_unusable_chips_and_is_fixed(chips):
    split = split_chips(chips)
    # the shared data's README: Paraguay_34417's image is all NaN, Ghana_83483's label all -1
    assert split["excluded"] == {"Ghana_83483": "label all no-data",
                                 "Paraguay_34417": "S1 all NaN"}
    # eight usable chips sorted by water fraction (Sri-Lanka, Pakistan, Nigeria, Somalia,
    # Mekong, Spain, Ghana_53713, Ghana_97059): every third from the third goes to test
    assert split["test"] == ["Nigeria_812045", "Spain_6860600"]
    assert len(split["train"]) == 6 and not set(split["train"]) & set(split["test"])
    assert split["water_fraction"]["Sri-Lanka_534068"] == 0.9814
    assert split["s1_dir"] == chips / "S1" and split["label_dir"] == chips / "Labels"


def test_read_chip_ignores_label_no_data_and_nan_pixels(chips):
    image_path = chips / "S1" / "Nigeria_812045_S1Hand.tif"
    label_path = chips / "Labels" / "Nigeria_812045_LabelHand.tif"
    image, label = read_chip(image_path, label_path)
    with rasterio.open(label_path) as src:
        raw = src.read(1)
    nan = ~np.isfinite(image).all(0)
    assert image.shape == (2, 512, 512) and image.dtype == np.float32
    assert int(nan.sum()) == 579 and bool((raw[nan] >= 0).any())  # labelled, yet NaN
    assert bool((label[nan] == IGNORE).all()) and bool((label[raw < 0] == IGNORE).all())
    keep = ~nan & (raw >= 0)
    assert np.array_equal(label[keep], raw[keep])


def test_dataset_gives_dB_images_and_masks_of_the_split(chips):
    test = Sen1Floods11(chips, "test")
    assert len(test) == 2 and len(Sen1Floods11(chips, "train")) == 6
    sample = test[1]
    assert sample["chip"] == "Spain_6860600"
    assert sample["image"].shape == (2, 512, 512) and sample["mask"].dtype == torch.int64
    assert set(sample["mask"].unique().tolist()) == {-1, 0, 1}
    assert -40 < float(sample["image"][0].median()) < 0  # VV in dB


def test_errors_name_the_folder_or_file(chips, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} has no \\*_S1Hand.tif"):
        split_chips(tmp_path)
    with pytest.raises(ValueError, match="split 'val': use 'train' or 'test'"):
        Sen1Floods11(chips, "val")
    small = tmp_path / "small_LabelHand.tif"
    with rasterio.open(small, "w", driver="GTiff", width=4, height=4, count=1, dtype="int16",
                       crs="EPSG:4326", transform=from_origin(10.0, 50.0, 1e-4, 1e-4)) as dst:
        dst.write(np.zeros((1, 4, 4), np.int16))
    with pytest.raises(ValueError, match=r"small_LabelHand.tif: label \(4, 4\) and image "
                                         r"\(512, 512\) grids differ"):
        read_chip(chips / "S1" / "Spain_6860600_S1Hand.tif", small)
