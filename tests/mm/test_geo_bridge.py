"""OpenMMLab models train and validate straight from a georeferenced scene + GeoPackage through
GeoTileDataset (torchgeo random tiles for training, a grid for validation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mmcv.ops")

from sargeo.datasets.simulate import simulate_scene  # noqa: E402
from tests.mm.test_configs import CONFIGS, shrink  # noqa: E402

TILE = 128


@pytest.fixture(scope="module")
def scene_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("s1")
    simulate_scene(root / "scene.tif", root / "truth.gpkg", width=512, height=512, seed=3,
                   n_ships=16, land_fraction=0.3)
    return root


def _geo_cfg(name: str, root: Path, labels: str, layer: str, iters: int):
    from sargeo.mm.runner import load_config

    cfg = load_config(CONFIGS / name)
    shrink(cfg, size=TILE)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.update(scenes=str(root / "scene.tif"), labels=str(root / labels),
                                   layer=layer, tile_size=TILE)
    cfg.train_dataloader.dataset.length = iters * 2
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=iters, by_epoch=False)
    return cfg


def _run(cfg, work: Path):
    from mmengine.runner import Runner

    cfg.work_dir = str(work)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = np.asarray(runner.message_hub.get_scalar("train/loss").data[0])
    return runner, losses, runner.val()


def test_geo_tiles_carry_boxes_in_pixels_and_georeferencing(scene_folder):
    import geopandas as gpd

    import sargeo.mm  # noqa: F401
    from sargeo.geo import points_to_pixel
    from sargeo.mm.geo_dataset import GeoTileDataset

    ds = GeoTileDataset(str(scene_folder / "scene.tif"), str(scene_folder / "truth.gpkg"),
                        layer="ships", task="detection", classes=("ship",), tile_size=TILE,
                        sampler="grid")
    assert len(ds) == (512 // TILE) ** 2
    ships = gpd.read_file(scene_folder / "truth.gpkg", layer="ships")
    centres = np.array([[g.centroid.x, g.centroid.y] for g in ships.geometry])
    found = 0
    for i in range(len(ds)):
        r = ds.results(i)
        assert r["img"].shape == (TILE, TILE, 2) and "PROJCRS" in r["crs"]
        from affine import Affine

        px = points_to_pixel(Affine(*r["transform"]), centres)
        inside = (px >= 0).all(1) & (px < TILE).all(1)
        boxes = r["gt_bboxes"].tensor.numpy()
        for c in px[inside]:  # every ship centre in the tile is inside one of its boxes
            hit = (boxes[:, 0] <= c[0]) & (c[0] <= boxes[:, 2]) & (boxes[:, 1] <= c[1]) & \
                (c[1] <= boxes[:, 3])
            found += int(hit.any())
    assert found >= len(ships) - 2  # ships cut in half by a tile edge may fall to min_visible


def test_missing_label_file_and_bad_task_are_named(scene_folder):
    import sargeo.mm  # noqa: F401
    from sargeo.mm.geo_dataset import GeoTileDataset

    with pytest.raises(FileNotFoundError, match="nope.gpkg"):
        GeoTileDataset(str(scene_folder / "scene.tif"), str(scene_folder / "nope.gpkg"),
                       task="detection", classes=("ship",))
    with pytest.raises(ValueError, match="task must be"):
        GeoTileDataset(str(scene_folder / "scene.tif"), str(scene_folder / "truth.gpkg"),
                       task="boxes", classes=("ship",))


@pytest.mark.slow
def test_faster_rcnn_trains_from_scene_and_geopackage_and_its_loss_falls(scene_folder, tmp_path):
    cfg = _geo_cfg("mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", scene_folder, "truth.gpkg",
                   "ships", iters=40)
    cfg.optim_wrapper.optimizer.lr = 3e-4
    _, losses, metrics = _run(cfg, tmp_path)
    assert len(losses) == 40
    assert losses[-10:].mean() < 0.7 * losses[:5].mean(), losses
    assert "coco/bbox_mAP" in metrics


def test_cpu_centernet_trains_from_scene_and_validates_with_the_coco_metric(scene_folder,
                                                                          tmp_path):
    # the demo's detector; its test pipeline's InputBorder gives the head the border it needs
    cfg = _geo_cfg("mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py", scene_folder, "truth.gpkg",
                   "ships", iters=80)
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.randomness = dict(seed=0)
    _, losses, metrics = _run(cfg, tmp_path)
    assert len(losses) == 80 and np.isfinite(losses).all()
    assert losses[-20:].mean() < 0.9 * losses[:20].mean(), losses  # learning (the demo scores it)
    assert "coco/bbox_mAP" in metrics


@pytest.mark.slow
def test_oriented_rcnn_trains_from_scene_and_geopackage(scene_folder, tmp_path):
    cfg = _geo_cfg("mmrotate/sarmae_vit-b16_oriented-rcnn-le90_s1-ships.py", scene_folder,
                   "truth.gpkg", "ships", iters=6)
    _, losses, metrics = _run(cfg, tmp_path)
    assert np.isfinite(losses).all() and len(losses) == 6
    assert "dota/mAP" in metrics


@pytest.mark.slow
def test_upernet_trains_water_masks_from_scene_and_geopackage(scene_folder, tmp_path):
    cfg = _geo_cfg("mmseg/sarmae_vit-b16_upernet_s1-water.py", scene_folder, "truth.gpkg",
                   "water", iters=20)
    cfg.optim_wrapper.optimizer.lr = 3e-4
    _, losses, metrics = _run(cfg, tmp_path)
    assert losses[-5:].mean() < losses[:3].mean(), losses
    assert "mIoU" in metrics
