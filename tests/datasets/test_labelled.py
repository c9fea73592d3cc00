"""LabelledScenes + collate_geo: torchgeo samplers and DataLoader over a simulated scene give the
simulated ships as boxes at the right pixels, with crs, bounds and transform kept."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import torch
from torch.utils.data import DataLoader
from torchgeo.samplers import GridGeoSampler, RandomGeoSampler

from sargeo.datasets.collate import collate_geo
from sargeo.datasets.labelled import LabelledScenes
from sargeo.datasets.labels import LabelWarning, VectorLabels
from sargeo.datasets.sentinel1 import Sentinel1GRD
from sargeo.datasets.simulate import simulate_scene
from sargeo.geo import pixel_to_map, tile_transform

RES = 10.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    sim = simulate_scene(root / "images" / "scene.tif", root / "truth.gpkg", width=512,
                         height=512, seed=4, n_ships=14, land_fraction=0.25)
    assert len(sim.ships) >= 8
    ships = gpd.read_file(root / "truth.gpkg", layer="ships")
    # the same ships drawn in lon/lat
    ships.to_crs(4326).to_file(root / "ships_lonlat.geojson")
    return root, sim, ships


def images(root):
    return Sentinel1GRD(root / "images")


def angle_diff_deg(a, b):
    return abs((math.degrees(a - b) + 90) % 180 - 90)


def check_ships(batch, i, ships, image):
    """Every ship lying fully inside tile ``i`` of the batch is one of its boxes: centre,
    size and angle from the GeoPackage, and bright pixels under the box."""
    bounds, transform = batch["query"][i], batch["transform"][i]
    assert transform == tile_transform(bounds, (RES, RES))
    x, y = bounds[0], bounds[1]
    tile_box = shapely.box(x.start, y.start, x.stop, y.stop)
    rboxes, hboxes = batch["rboxes"][i].numpy(), batch["hboxes"][i].numpy()
    assert batch["labels"][i].dtype == torch.int64 and (batch["labels"][i] == 0).all()
    assert len(rboxes) <= int(ships.intersects(tile_box).sum())
    centres_x, centres_y = pixel_to_map(transform, rboxes[:, 0], rboxes[:, 1])
    found = 0
    for ship in ships.itertuples():
        if not tile_box.contains(ship.geometry):
            continue
        c = ship.geometry.centroid
        dist = np.hypot(centres_x - c.x, centres_y - c.y)
        assert len(dist) and dist.min() < RES, f"ship {ship.ship_id} not found at {c}"
        k = int(dist.argmin())
        _, _, w, h, t = rboxes[k].astype(float)
        assert w == pytest.approx(ship.length_m / RES, abs=0.1)
        assert h == pytest.approx(ship.width_m / RES, abs=0.1)
        # heading clockwise from north = direction (sin, cos) on the map, (sin, -cos) in pixels
        heading = math.radians(ship.heading_deg)
        assert angle_diff_deg(t, math.atan2(-math.cos(heading), math.sin(heading))) < 0.5
        # the pixels under the box are a ship's: far brighter than the sea (about 0.01)
        x1, y1, x2, y2 = hboxes[k]
        under = image[0, int(y1):math.ceil(y2), int(x1):math.ceil(x2)]
        assert float(under.max()) > 0.3
        found += 1
    return found


def test_grid_sampler_and_dataloader_give_the_ships(scene):
    root, sim, ships = scene
    labels = VectorLabels(root / "truth.gpkg", layer="ships", classes=["ship"])
    ds = LabelledScenes(images(root), labels, task="rotated_detection")
    assert ds.crs == sim.crs and ds.res == (RES, RES) and ds.index is ds.images.index
    sampler = GridGeoSampler(ds, size=256, stride=256)
    loader = DataLoader(ds, sampler=sampler, batch_size=2, collate_fn=collate_geo)
    found, tiles = 0, 0
    for batch in loader:
        assert batch["image"].shape == (2, 2, 256, 256)
        assert all(pyproj.CRS(c) == sim.crs for c in batch["crs"])
        assert isinstance(batch["hboxes"], list) and len(batch["hboxes"]) == 2
        for i in range(2):
            found += check_ships(batch, i, ships, batch["image"][i])
            tiles += 1
    assert tiles == 4
    # every ship is kept by the tile holding most of it (or all of it): none lost, none twice
    assert found >= len(ships) - 4
    n_boxes = sum(len(ds[q]["labels"]) for q in GridGeoSampler(ds, size=256, stride=256))
    assert n_boxes == len(ships)


def test_random_sampler_tiles_and_lonlat_labels_agree(scene):
    root, sim, ships = scene
    utm = LabelledScenes(images(root), VectorLabels(root / "truth.gpkg", layer="ships"))
    lonlat = LabelledScenes(images(root), VectorLabels(root / "ships_lonlat.geojson",
                                                       crs=sim.crs))
    assert lonlat.labels.frame.crs == sim.crs
    torch.manual_seed(0)
    sampler = RandomGeoSampler(utm, size=128, length=12)
    loader = DataLoader(utm, sampler=sampler, batch_size=4, collate_fn=collate_geo)
    found = 0
    for batch in loader:
        assert batch["image"].shape == (4, 2, 128, 128)
        for i in range(4):
            found += check_ships(batch, i, ships, batch["image"][i])
            # the same tile through the lon/lat labels: the same boxes, well within a pixel
            other = lonlat[batch["query"][i]]
            assert other["transform"] == batch["transform"][i]
            np.testing.assert_allclose(other["hboxes"].numpy(), batch["hboxes"][i].numpy(),
                                       atol=0.01)
            np.testing.assert_allclose(other["rboxes"].numpy()[:, :4],
                                       batch["rboxes"][i].numpy()[:, :4], atol=0.01)
    assert found > 0


def test_segmentation_masks_the_water(scene):
    root, sim, _ = scene
    water = VectorLabels(root / "truth.gpkg", layer="water", classes=["background", "water"])
    ds = LabelledScenes(images(root), water, task=("segmentation", "detection"))
    batch = collate_geo([ds[q] for q in GridGeoSampler(ds, size=256, stride=256)])
    mask, image = batch["mask"], batch["image"]
    assert mask.shape == (4, 256, 256) and mask.dtype == torch.int64
    assert set(mask.unique().tolist()) == {0, 1}
    vv_db = 10 * torch.log10(image[:, 0])
    # water (sea about -20 dB, lakes -24) against land (about -8 dB), through the speckle
    assert vv_db[mask == 1].median() < -17 and vv_db[mask == 0].median() > -11
    assert 0.55 < (mask == 1).float().mean() < 0.95


def test_coverage_warning_task_check_and_collate_errors(scene, tmp_path):
    root, sim, ships = scene
    far = ships.iloc[:1].copy()
    far["geometry"] = far.geometry.translate(50_000.0, 0.0)
    pd.concat([ships, far]).to_file(tmp_path / "some_far.gpkg")
    labels = VectorLabels(tmp_path / "some_far.gpkg")
    with pytest.warns(LabelWarning, match=f"1 of {len(ships) + 1} labels in .*some_far.gpkg "
                                          "lie outside every scene"):
        LabelledScenes(images(root), labels)
    with pytest.raises(ValueError, match="unknown task 'instance'"):
        LabelledScenes(images(root), labels, task="instance", check_coverage=False)
    with pytest.raises(ValueError, match="cannot stack 'image' of different shapes"):
        collate_geo([{"image": torch.zeros(2, 4, 4)}, {"image": torch.zeros(2, 8, 8)}])
    with pytest.raises(ValueError, match="sample 1 has keys"):
        collate_geo([{"image": torch.zeros(1)}, {"mask": torch.zeros(1)}])
