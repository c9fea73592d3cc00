"""GeoTileDataset on Sen1Floods11 as distributed (real chips in ../shared/data/sen1floods11):
dB scenes in S1/, raster labels in Labels/ (1 water, 0 land, -1 no data); tiles whose masks
are the label files' pixels, unlabelled tiles skipped in training, detection refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from pyproj import CRS
from torchgeo.datasets import RasterDataset

pytest.importorskip("mmengine")

from sargeo.datasets.labels import LabelError  # noqa: E402
from sargeo.mm.geo_dataset import GeoTileDataset, label_type_of  # noqa: E402

CLASSES = ("background", "water")
TILE = 256
IGNORE = 255


@pytest.fixture(scope="module")
def floods(shared_data) -> Path:
    root = shared_data / "sen1floods11"
    if not (root / "S1").is_dir():
        pytest.skip(f"Sen1Floods11 chips not found at {root}")
    return root


def sen1floods11(scenes, labels, **kwargs) -> GeoTileDataset:
    return GeoTileDataset(scenes, labels, task="segmentation", classes=CLASSES,
                          ignore_value=-1, scenes_in_db=True, tile_size=TILE, **kwargs)


class RawChips(RasterDataset):
    """The S1Hand chips through plain torchgeo: values as stored."""

    filename_glob = "*_S1Hand.tif"
    is_image = True


def read_chips(root: Path) -> dict[str, tuple[Affine, np.ndarray]]:
    """Each chip's grid and label pixels, read here with rasterio."""
    chips = {}
    for label_path in sorted((root / "Labels").glob("*_LabelHand.tif")):
        chip = label_path.name.removesuffix("_LabelHand.tif")
        with rasterio.open(label_path) as src:
            chips[chip] = (src.transform, src.read(1))
        with rasterio.open(root / "S1" / f"{chip}_S1Hand.tif") as src:
            assert src.descriptions == ("VV", "VH")  # what Sentinel1GRD reads the bands by
    return chips


def test_sen1floods11_tiles_carry_the_label_files_pixels(floods):
    ds = sen1floods11(str(floods / "S1"), str(floods / "Labels"), sampler="grid",
                      test_mode=True)
    raw = RawChips(str(floods / "S1"))  # the same pixels, as stored (dB)
    chips = read_chips(floods)
    assert len(chips) == 10
    seen = []
    for i in range(len(ds)):
        r = ds.results(i)
        assert r["gt_seg_map"].dtype == np.uint8 and r["img_shape"] == (TILE, TILE)
        assert CRS.from_wkt(r["crs"]).to_epsg() == 4326
        tile = Affine(*r["transform"])
        matches = []
        for chip, (grid, _) in chips.items():
            col, row = ~grid * (tile.c, tile.f)
            if abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6 and \
                    0 <= round(col) <= 512 - TILE and 0 <= round(row) <= 512 - TILE:
                matches.append((chip, round(col), round(row)))
        if not matches:
            # torchgeo's grid adds tiles past a chip's edge when its width in degrees rounds
            # above 512 pixels: no image, no label there, all ignored
            assert np.isnan(r["img"]).all() and (r["gt_seg_map"] == IGNORE).all(), i
            continue
        assert len(matches) == 1, (i, tile, matches)
        chip, col, row = matches[0]
        label = chips[chip][1][row:row + TILE, col:col + TILE]
        want = np.where(label == -1, IGNORE, label).astype(np.uint8)
        want[np.isnan(r["img"]).all(2)] = IGNORE  # no image: nothing to learn (Paraguay_34417)
        np.testing.assert_array_equal(r["gt_seg_map"], want, err_msg=f"{chip} {row} {col}")
        # the dB pixels torchgeo reads arrive as linear power, NaN where the chip has no data
        db = raw[ds.queries[i]]["image"].numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(r["img"], 10.0 ** (db / 10.0), rtol=1e-5, equal_nan=True)
        seen.append(chip)
    assert sorted(set(seen)) == sorted(chips) and all(seen.count(c) == 4 for c in chips)
    assert (ds.results(seen.index("Ghana_83483"))["gt_seg_map"] == IGNORE).all()  # all -1


def test_training_skips_tiles_without_a_labelled_pixel(floods):
    names = ["Paraguay_34417", "Ghana_83483", "Nigeria_812045"]  # no image, all -1, labelled
    scenes = [str(floods / "S1" / f"{n}_S1Hand.tif") for n in names]
    labels = [str(floods / "Labels" / f"{n}_LabelHand.tif") for n in names]
    ds = sen1floods11(scenes, labels, sampler="random", length=12, seed=0)
    unlabelled = [i for i in range(len(ds))
                  if (ds.results(i)["gt_seg_map"] == IGNORE).all()]
    assert unlabelled  # tiles of the two empty chips were drawn
    for i in range(len(ds)):
        assert (ds[i]["gt_seg_map"] != IGNORE).any()
    # validation keeps them (the metric ignores their pixels); the same seed draws the same
    # tiles whatever torch's global generator holds (torchgeo picks each tile's scene there)
    torch.manual_seed(12345)
    kept = sen1floods11(scenes, labels, sampler="random", length=12, seed=0, test_mode=True)
    assert kept.queries == ds.queries
    assert (kept[unlabelled[0]]["gt_seg_map"] == IGNORE).all()
    # nothing labelled at all: a named error, not an endless loop
    empty = sen1floods11(scenes[:2], labels[:2], sampler="grid")
    with pytest.raises(ValueError, match="none of the 8 tiles has a labelled pixel"):
        empty[0]


def test_data_root_and_label_type_and_detection_refused(floods, tmp_path):
    ds = sen1floods11("S1/", "Labels/", data_root=str(floods), sampler="grid", test_mode=True)
    direct = sen1floods11(str(floods / "S1"), str(floods / "Labels"), sampler="grid",
                          test_mode=True)
    assert type(ds.labels).__name__ == "RasterLabels" and len(ds) == len(direct)
    np.testing.assert_array_equal(ds.results(1)["gt_seg_map"], direct.results(1)["gt_seg_map"])
    with pytest.raises(LabelError, match="gives class masks only; task 'detection' needs object "
                                         "outlines"):
        GeoTileDataset(str(floods / "S1"), str(floods / "Labels"), task="detection",
                       classes=("ship",))
    assert label_type_of("water.gpkg") == "vector" and label_type_of("a/b.GeoJSON") == "vector"
    assert label_type_of("Labels/*_LabelHand.tif") == "raster"
    assert label_type_of(str(floods / "Labels")) == "raster"
    assert label_type_of(["a.tif", "b.tif"]) == "raster"
    with pytest.raises(FileNotFoundError, match="labels not found: .*nowhere"):
        label_type_of(str(tmp_path / "nowhere"))
    odd = tmp_path / "labels.dat"
    odd.write_text("?")
    with pytest.raises(ValueError, match=r"cannot tell whether .*labels\.dat holds vector or "
                                         r"raster labels; pass label_type="):
        label_type_of(str(odd))
    with pytest.raises(ValueError, match="label_type must be one of"):
        sen1floods11(str(floods / "S1"), str(floods / "Labels"), label_type="mask")
