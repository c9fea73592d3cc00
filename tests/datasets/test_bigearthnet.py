"""BigEarthNet-S1 patches (real samples in ../shared/data/bigearthnet_s1): float dB, the
43-to-19-class labels, split files, and bad inputs named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from sargeo.datasets.bigearthnet import (
    BigEarthNetError,
    BigEarthNetPretrain,
    BigEarthNetS1,
    find_patches,
)

PATCH = "S1A_IW_GRDH_1SDV_20170925T043256_35VPK_69_24"  # five labels, one of them water


@pytest.fixture
def ben(shared_data) -> Path:
    return shared_data / "bigearthnet_s1"


@pytest.fixture
def copy(ben, tmp_path) -> Path:
    """A writable copy of two patches."""
    root = tmp_path / "ben"
    for folder in find_patches(ben)[:2]:
        shutil.copytree(folder, root / folder.name)
    return root


def test_reads_float_db_in_vh_vv_order_and_maps_labels_to_19_classes(ben):
    ds = BigEarthNetS1(ben)
    assert len(ds) == 6
    i = [p.name for p in ds.paths].index(PATCH)
    sample = ds[i]
    with rasterio.open(ben / PATCH / f"{PATCH}_VH.tif") as src:
        vh = src.read(1)
    with rasterio.open(ben / PATCH / f"{PATCH}_VV.tif") as src:
        vv = src.read(1)
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (2, 120, 120)
    np.testing.assert_array_equal(sample["image"][0].numpy(), vh)
    np.testing.assert_array_equal(sample["image"][1].numpy(), vv)
    assert not np.allclose(vh, np.round(vh))  # fractions of a dB kept (torchgeo rounds them)
    # Coniferous, Mixed forest, Transitional woodland/shrub, Peatbogs, Water bodies (43 names)
    assert sample["label"].nonzero().flatten().tolist() == [9, 10, 13, 15, 17]
    assert [ds.classes[k] for k in (15, 17)] == ["Inland wetlands", "Inland waters"]
    assert sample["patch"] == PATCH
    assert int(BigEarthNetS1(ben, num_classes=43)[i]["label"].sum()) == 5


def test_torchgeo_split_files_and_layout(ben, tmp_path):
    root = tmp_path / "tg"
    (root / "BigEarthNet-S1-v1.0").mkdir(parents=True)
    for folder in find_patches(ben):
        (root / "BigEarthNet-S1-v1.0" / folder.name).symlink_to(folder)
    names = [p.name for p in find_patches(ben)]
    (root / "bigearthnet-train.csv").write_text("".join(f"S2_{n},{n}\n" for n in names[:4]))
    (root / "bigearthnet-test.csv").write_text(f"S2_x,{names[5]}\n")
    assert [p.name for p in BigEarthNetS1(root, "train").paths] == names[:4]
    assert [p.name for p in BigEarthNetS1(root, "test").paths] == [names[5]]
    with pytest.raises(FileNotFoundError, match="split file not found: .*bigearthnet-val.csv"):
        BigEarthNetS1(root, "val")
    (root / "bigearthnet-val.csv").write_text("only-one-column\n")
    with pytest.raises(BigEarthNetError, match="bigearthnet-val.csv line 1: expected "
                                               "'S2 patch,S1 patch', got 'only-one-column'"):
        BigEarthNetS1(root, "val")


def test_missing_band_is_named(copy):
    ds = BigEarthNetS1(copy)
    missing = ds.band_file(0, "VH")
    missing.unlink()
    with pytest.raises(BigEarthNetError, match=f"has no VH band: {missing} is missing"):
        ds[0]
    assert ds[1]["image"].shape == (2, 120, 120)


def test_wrong_label_files_are_named(copy):
    ds = BigEarthNetS1(copy)
    label = ds.paths[0] / f"{ds.paths[0].name}_labels_metadata.json"
    label.write_text("{not json")
    with pytest.raises(BigEarthNetError, match=f"label file {label} is not valid JSON"):
        ds[0]
    label.write_text(json.dumps({"coordinates": {}}))
    with pytest.raises(BigEarthNetError, match="has no 'labels' list"):
        ds[0]
    label.write_text(json.dumps({"labels": ["Pastures", "Lava fields"]}))
    with pytest.raises(BigEarthNetError, match="unknown class 'Lava fields'"):
        ds[0]
    label.write_text(json.dumps({"labels": ["Pastures", "Arable land"]}))  # v2 19-class names
    assert ds[0]["label"].nonzero().flatten().tolist() == [2, 4]
    label.unlink()
    with pytest.raises(BigEarthNetError, match=f"has no label file: {label} is missing"):
        ds[0]


def test_non_finite_rasters_and_empty_roots_are_refused(copy, tmp_path):
    ds = BigEarthNetS1(copy)
    path = ds.band_file(1, "VV")
    with rasterio.open(path, "r+") as dst:
        data = dst.read(1)
        data[0, 0] = np.nan
        dst.write(data, 1)
    with pytest.raises(BigEarthNetError, match=f"{path} holds 1 non-finite values"):
        ds[1]
    with pytest.raises(FileNotFoundError, match="no BigEarthNet-S1 patch folders"):
        BigEarthNetS1(tmp_path / "ben" / ds.paths[0].name)


def test_pretraining_samples_carry_linear_power_vv_vh(ben):
    ds = BigEarthNetPretrain(ben, img_size=128)
    sample = ds[0]
    db = BigEarthNetS1(ben)[0]["image"]  # (VH, VV) at 120 px
    assert sample["power"].shape == sample["image"].shape == (2, 128, 128)
    mean_db = 10 * torch.log10(sample["power"]).mean(dim=(1, 2))
    torch.testing.assert_close(mean_db, db.flip(0).mean(dim=(1, 2)), atol=0.05, rtol=0)
    assert float(sample["image"].min()) >= 0 and float(sample["image"].max()) <= 1
