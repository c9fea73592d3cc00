"""Pretraining data: SAR-1M style index files, GeoTIFF scene chips, resumable sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.transform import from_origin

from sargeo.pretrain.data import (
    BadImageError,
    EpochSampler,
    SARImageIndex,
    read_image,
    released_mix,
)
from sargeo.pretrain.datamodule import PretrainDataModule
from sargeo.pretrain.scenes import SceneChips, power_to_unit


def make_index(root, n_paired=3, n_unpaired=2, missing=0):
    (root / "SAR").mkdir(parents=True)
    (root / "OPT").mkdir()
    paired, unpaired = [], []
    rng = np.random.default_rng(0)
    for i in range(n_paired):
        Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(
            root / "SAR" / f"p{i}.png")
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(
            root / "OPT" / f"p{i}.png")
        paired.append({"sar": f"SAR/p{i}.png", "optical": f"OPT/p{i}.png"})
    for i in range(n_unpaired):  # 16-bit SAR
        Image.fromarray(rng.integers(0, 65535, (30, 30), dtype=np.uint16)).save(
            root / "SAR" / f"u{i}.png")
        unpaired.append(f"SAR/u{i}.png")
    unpaired += [f"SAR/gone{i}.png" for i in range(missing)]
    (root / "paired.json").write_text(json.dumps(paired))
    (root / "unpaired.json").write_text(json.dumps(unpaired))


def test_index_reads_paired_and_unpaired_of_any_bit_depth(tmp_path):
    make_index(tmp_path)
    ds = SARImageIndex(tmp_path, img_size=32)
    assert len(ds) == 5
    paired = [ds[i] for i in range(5) if ds[i]["paired"]]
    assert len(paired) == 3 and paired[0]["optical"].shape == (3, 32, 32)
    sample = ds[4]  # a 16-bit image
    assert sample["image"].shape == (3, 32, 32) and not sample["paired"]
    assert 0.0 <= float(sample["image"].min()) and float(sample["image"].max()) <= 1.0
    assert torch.equal(sample["image"][0], sample["image"][2])  # grayscale repeated


def test_missing_files_are_skipped_with_a_count_or_fail(tmp_path):
    make_index(tmp_path, missing=2)
    with pytest.warns(UserWarning, match="skipped 2 index entries"):
        ds = SARImageIndex(tmp_path, img_size=32)
    assert len(ds) == 5 and ds.num_missing == 2
    with pytest.raises(FileNotFoundError, match="2 indexed files are missing"):
        SARImageIndex(tmp_path, on_missing="error")


def test_bad_index_and_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no index file"):
        SARImageIndex(tmp_path)
    (tmp_path / "paired.json").write_text("{not json")
    with pytest.raises(ValueError, match="paired.json is not valid JSON"):
        SARImageIndex(tmp_path)
    (tmp_path / "paired.json").write_text(json.dumps([{"opt": "x.png"}]))
    with pytest.raises(ValueError, match="entry 0 names no SAR image"):
        SARImageIndex(tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(BadImageError, match="broken.png"):
        read_image(broken)


def test_sampler_is_deterministic_sharded_and_resumable():
    a = EpochSampler(20, seed=3)
    a.set_epoch(2)
    order = list(a)
    assert sorted(order) == list(range(20)) and order != list(range(20))
    assert list(a) == order  # same epoch, same order
    a.set_epoch(3)
    assert list(a) != order
    ranks = [list(EpochSampler(20, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert set(ranks[0]).isdisjoint(ranks[1]) and len(ranks[0]) == len(ranks[1]) == 10
    b = EpochSampler(20, seed=3)
    b.set_epoch(2)
    b.start = 8
    assert list(b) == order[8:] and list(b) == order  # skips once, then whole epochs


def write_scene(path, crs="EPSG:32633", origin=(400_000.0, 5_600_000.0), size=200):
    rng = np.random.default_rng(1)
    data = (rng.gamma(4.0, 0.25, (2, size, size)) * np.array([0.05, 0.01])[:, None, None])
    data[:, :10, :10] = np.nan  # nodata corner
    profile = dict(driver="GTiff", height=size, width=size, count=2, dtype="float32", crs=crs,
                   transform=from_origin(*origin, 10.0, 10.0), nodata=np.nan)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype("float32"))


def test_scene_chips_come_from_geotiffs_in_two_utm_zones(tmp_path):
    write_scene(tmp_path / "a.tif")
    write_scene(tmp_path / "b.tif", crs="EPSG:32634", origin=(200_000.0, 5_600_000.0))
    chips = SceneChips(tmp_path, size=32, length=12, seed=0)
    assert len(chips) == 12
    sample = chips[0]
    assert sample["image"].shape == (3, 32, 32) and sample["power"].shape == (1, 32, 32)
    assert 0.0 <= float(sample["image"].min()) and float(sample["image"].max()) <= 1.0
    again = SceneChips(tmp_path, size=32, length=12, seed=0)
    assert torch.equal(again[5]["image"], chips[5]["image"])  # reproducible per seed
    dual = SceneChips(tmp_path, size=32, length=2, in_chans=2)
    assert dual[0]["image"].shape == (2, 32, 32)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        SceneChips(tmp_path / "nowhere")


def test_power_to_unit_maps_db_range_and_nodata():
    power = torch.tensor([1e-3, 1.0, float("nan"), -1.0, 10 ** 0.5])
    unit = power_to_unit(power)
    torch.testing.assert_close(unit, torch.tensor([0.0, 30 / 35, 0.0, 0.0, 1.0]))


def test_datamodule_batches_index_and_scenes_together(tmp_path):
    make_index(tmp_path / "sar1m")
    (tmp_path / "scenes").mkdir()
    write_scene(tmp_path / "scenes" / "s.tif")
    dm = PretrainDataModule(str(tmp_path / "sar1m"), [str(tmp_path / "scenes")], img_size=32,
                            batch_size=4, scene_chips=7)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["paired"].dtype == torch.bool
    with pytest.raises(ValueError, match="data_root.*scenes"):
        PretrainDataModule()


def test_undecodable_images_fail_by_name_or_are_skipped_and_counted(tmp_path):
    make_index(tmp_path)
    (tmp_path / "SAR" / "u0.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    strict = SARImageIndex(tmp_path, img_size=32)
    with pytest.raises(BadImageError, match="u0.png"):
        strict[3]
    lenient = SARImageIndex(tmp_path, img_size=32, on_bad_image="skip")
    with pytest.warns(UserWarning, match="skipping undecodable image.*u0.png"):
        sample = lenient[3]
    assert sample["path"].endswith("u1.png") and lenient.num_bad == 1


def test_scene_chips_pair_with_co_registered_optical_rasters(tmp_path):
    (tmp_path / "sar").mkdir()
    write_scene(tmp_path / "sar" / "s.tif", size=200)  # x 400000..402000
    (tmp_path / "opt").mkdir()
    rgb = np.full((3, 60, 50), 2500, dtype=np.uint16)  # 20 m pixels over the east half
    with rasterio.open(tmp_path / "opt" / "rgb.tif", "w", driver="GTiff", width=50, height=60,
                       count=3, dtype="uint16", crs="EPSG:32633",
                       transform=from_origin(401_000.0, 5_600_000.0, 20.0, 20.0)) as dst:
        dst.write(rgb)
    chips = SceneChips(tmp_path / "sar", size=32, length=6, optical=tmp_path / "opt")
    for query in chips.queries:  # only where both exist
        assert query[0].start >= 401_000.0 - 1e-6
    sample = chips[0]
    assert sample["paired"] and sample["optical"].shape == (3, 32, 32)
    torch.testing.assert_close(sample["optical"], torch.full((3, 32, 32), 0.25))
    assert sample["image"].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="do not overlap"):
        far = tmp_path / "far"
        far.mkdir()
        with rasterio.open(far / "rgb.tif", "w", driver="GTiff", width=10, height=10, count=3,
                           dtype="uint16", crs="EPSG:32633",
                           transform=from_origin(600_000.0, 5_600_000.0, 20.0, 20.0)) as dst:
            dst.write(rgb[:, :10, :10])
        SceneChips(tmp_path / "sar", size=32, length=2, optical=far)


def test_released_sampling_makes_about_70_percent_of_an_epoch_paired(tmp_path):
    make_index(tmp_path, n_paired=7, n_unpaired=5)
    assert len(SARImageIndex(tmp_path, img_size=16)) == 12  # default: every entry once
    ds = SARImageIndex(tmp_path, img_size=16, sampling="released")
    assert len(ds) == 10  # int(7 / 0.7)
    samples = [ds[i] for i in range(len(ds))]
    assert [s["paired"] for s in samples] == [True] * 7 + [False] * 3
    names = [s["path"].rsplit("/", 1)[-1] for s in samples]
    assert names == [f"p{i}.png" for i in range(7)] + ["u0.png", "u1.png", "u2.png"]
    assert released_mix([0, 1, 2], [3, 4], 0.7) == [0, 1, 3, 4]  # int(3 / .7) = 4, int(2.8) = 2
    with pytest.raises(ValueError, match="sampling must be one of"):
        SARImageIndex(tmp_path, sampling="mixed")
    with pytest.raises(ValueError, match="index lists none"):
        released_mix([0, 1, 2], [], 0.7)


def test_datamodule_offers_the_released_sampling(tmp_path):
    make_index(tmp_path, n_paired=7, n_unpaired=5)
    dm = PretrainDataModule(str(tmp_path), img_size=16, batch_size=2, sampling="released")
    dm.setup()
    assert len(dm.dataset) == 10 and dm.dataset.order[7:] == [7, 8, 9]

