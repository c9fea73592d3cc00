"""OpenMMLab models (built from sargeo's scene configs) as tiled-inference predictors: the
normalisation, task, classes and tile size come from the config; outputs are georeferenced."""

from __future__ import annotations

from pathlib import Path

import mmcv.ops  # noqa: F401  (the compiled ops are part of the tested stack: no skip)
import pytest
import torch

from sargeo.datasets.simulate import simulate_scene
from tests.mm.test_configs import CONFIGS, shrink

TILE = 128


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scene")
    simulate_scene(root / "scene.tif", root / "truth.gpkg", width=300, height=260, seed=5,
                   n_ships=6)
    return root / "scene.tif"


def _config_and_checkpoint(name: str, tmp_path: Path) -> tuple[Path, Path]:
    """A shrunk copy of a scene config and a checkpoint of its (untrained) model, written the
    way mmengine writes them (``state_dict`` + ``meta``)."""
    from sargeo.mm.runner import build_model, load_config

    cfg = load_config(CONFIGS / name)
    shrink(cfg, size=TILE)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.tile_size = TILE
    config = tmp_path / "model.py"
    cfg.dump(str(config))
    torch.manual_seed(0)
    model = build_model(cfg)
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"epoch": 1}}, checkpoint)
    return config, checkpoint


@pytest.mark.parametrize("name,task", [
    ("mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", "detection"),
    ("mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py", "detection"),
    ("mmrotate/sarmae_vit-b16_oriented-rcnn-le90_s1-ships.py", "rotated_detection"),
    ("mmseg/sarmae_vit-b16_upernet_s1-water.py", "segmentation"),
])
def test_scene_configs_run_over_a_whole_scene(name, task, scene, tmp_path):
    import geopandas as gpd
    import rasterio

    from sargeo.inference import predict_scene
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = _config_and_checkpoint(name, tmp_path)
    predictor = load_predictor(config, checkpoint)
    assert predictor.task == task and predictor.in_channels == 2
    assert predictor.tile_size == TILE and predictor.normalize["mean"] == (-12.5,)
    out = tmp_path / "out"
    result = predict_scene(scene, predictor, out, score_thr=0.0, progress=False)
    assert result.status == "done" and result.n_predicted > 0
    with rasterio.open(scene) as src:
        crs, bounds, transform = src.crs, src.bounds, src.transform
    if task == "segmentation":
        with rasterio.open(result.outputs["mask"]) as mask:
            assert mask.crs == crs and mask.bounds == bounds
            assert set(mask.read(1).ravel().tolist()) <= {0, 1, 255}
    else:
        frame = gpd.read_file(result.outputs["detections"])
        assert frame.crs == crs and len(frame) > 0  # score_thr 0: an untrained model fires
        assert set(frame["class_name"]) == {"ship"}
        # each polygon lies where its pixel box says, through the scene's transform
        from sargeo.geo import pixel_to_map

        x1, y1 = pixel_to_map(transform, frame["px_x1"], frame["px_y1"])
        x2, y2 = pixel_to_map(transform, frame["px_x2"], frame["px_y2"])
        b = frame.geometry.bounds
        assert (abs(b.minx - x1) < 1e-3).all() and (abs(b.maxy - y1) < 1e-3).all()
        assert (abs(b.maxx - x2) < 1e-3).all() and (abs(b.miny - y2) < 1e-3).all()


def test_checkpoint_that_does_not_match_the_config_is_refused(tmp_path):
    from sargeo.inference.mm_predictor import load_predictor
    from sargeo.models.vit import CheckpointError

    config, checkpoint = _config_and_checkpoint(
        "mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", tmp_path)
    state = torch.load(checkpoint, weights_only=True)
    state["state_dict"] = {k: v for k, v in state["state_dict"].items() if "rpn" not in k}
    torch.save(state, checkpoint)
    with pytest.raises(CheckpointError, match="model.pth does not match.*rpn_head"):
        load_predictor(config, checkpoint)


def test_benchmark_config_without_scene_normalisation_is_refused(tmp_path):
    from sargeo.inference.mm_predictor import load_predictor

    with pytest.raises(ValueError, match="no SARNormalize"):
        load_predictor(CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py", None)


def test_band_count_the_model_does_not_expect_is_named(scene, tmp_path):
    import rasterio

    from sargeo.inference import predict_scene
    from sargeo.inference.mm_predictor import load_predictor

    one_band = tmp_path / "vv.tif"
    with rasterio.open(scene) as src:
        profile = src.profile | {"count": 1}
        with rasterio.open(one_band, "w", **profile) as dst:
            dst.write(src.read(1), 1)
    config, checkpoint = _config_and_checkpoint(
        "mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", tmp_path)
    from sargeo.inference.reader import SceneError

    expected = (f"{one_band}: 1 band(s) [1] would be read but the predictor expects 2; "
                "choose bands (bands=... / --bands); for a grey image (one band, or RGB-encoded "
                "grey) --bands 1 1 gives band 1 to every input")
    with pytest.raises(SceneError) as info:
        predict_scene(one_band, load_predictor(config, checkpoint), tmp_path / "o",
                      progress=False)
    assert str(info.value) == expected


@pytest.mark.parametrize("name", ["mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py",
                                  "mmseg/sarmae_vit-b16_upernet_s1-water.py"])
def test_bf16_precision_runs_features_in_bfloat16_and_keeps_outputs_float32(name, scene,
                                                                            tmp_path):
    import rasterio

    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = _config_and_checkpoint(name, tmp_path)
    fp32 = load_predictor(config, checkpoint)
    bf16 = load_predictor(config, checkpoint, precision="bf16")
    assert bf16.precision == "bf16" and fp32.precision == "fp32"
    with rasterio.open(scene) as src:
        tiles = torch.from_numpy(src.read(window=((0, TILE), (0, TILE)))[None].repeat(2, 0))
    seen: dict[str, list] = {}
    for label, predictor in (("fp32", fp32), ("bf16", bf16)):
        # a linear layer's output dtype shows where autocast is on
        linear = next(m for m in predictor.model.backbone.modules()
                      if isinstance(m, torch.nn.Linear))
        hook = linear.register_forward_hook(
            lambda m, i, o, label=label: seen.setdefault(label, [o]) and None)
        results = predictor(tiles)
        hook.remove()
        assert len(results) == 2
        for r in results:
            assert all(v.dtype in (torch.float32, torch.int64) for v in r.values())
    assert {f.dtype for f in seen["fp32"]} == {torch.float32}
    assert {f.dtype for f in seen["bf16"]} == {torch.bfloat16}
    # the same features, to bfloat16's precision
    for a, b in zip(seen["fp32"], seen["bf16"], strict=True):
        assert (a - b.float()).norm() / a.norm() < 0.05
    if fp32.task == "segmentation":
        p32, p16 = fp32(tiles)[0]["probs"], bf16(tiles)[0]["probs"]
        assert (p32 - p16).abs().max() < 0.05


def test_unknown_precision_is_refused(tmp_path):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = _config_and_checkpoint(
        "mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py", tmp_path)
    with pytest.raises(ValueError, match="precision must be one of.*'fp16'"):
        load_predictor(config, checkpoint, precision="fp16")


def _tiles(scene: Path) -> torch.Tensor:
    import rasterio

    with rasterio.open(scene) as src:
        return torch.from_numpy(src.read(window=((0, TILE), (0, TILE)))[None].repeat(2, 0))


def test_bf16_covers_the_roi_box_head_of_a_two_stage_detector(scene, tmp_path):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = _config_and_checkpoint(
        "mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", tmp_path)
    dtypes: dict[str, set] = {}
    for precision in ("fp32", "bf16"):
        predictor = load_predictor(config, checkpoint, precision=precision)
        head = predictor.model.roi_head.bbox_head
        fc = next(m for m in head.modules() if isinstance(m, torch.nn.Linear))
        hook = fc.register_forward_hook(
            lambda m, i, o, p=precision: dtypes.setdefault(p, set()).add(o.dtype))
        boxes = []
        head.forward = _recording(head.forward, boxes)
        results = predictor(_tiles(scene))
        hook.remove()
        # what the box head hands to box decoding is float32 in both
        assert {t.dtype for out in boxes for t in out} == {torch.float32}
        for r in results:
            assert r["boxes"].dtype == r["scores"].dtype == torch.float32
    assert dtypes == {"fp32": {torch.float32}, "bf16": {torch.bfloat16}}


def _recording(forward, seen: list):
    def run(*args, **kwargs):
        out = forward(*args, **kwargs)
        seen.append(out)
        return out

    return run


def test_proposals_caps_what_the_roi_head_sees_and_is_refused_without_an_rpn(scene, tmp_path):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = _config_and_checkpoint(
        "mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py", tmp_path)
    counts = {}
    for proposals in (None, 7):
        predictor = load_predictor(config, checkpoint, proposals=proposals)
        extractor = predictor.model.roi_head.bbox_roi_extractor
        rois: list = []
        hook = extractor.register_forward_hook(lambda m, i, o, seen=rois: seen.append(i[1]))
        predictor(_tiles(scene))
        hook.remove()
        counts[proposals] = len(torch.cat(rois))
    assert counts[7] == 2 * 7 < counts[None]  # two tiles, 7 proposals each (untrained: many)
    assert predictor.model.test_cfg.rpn.max_per_img == 7
    (tmp_path / "c").mkdir()
    centernet, ckpt = _config_and_checkpoint(
        "mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py", tmp_path / "c")
    with pytest.raises(ValueError, match="model.py: its model has no region proposal network"):
        load_predictor(centernet, ckpt, proposals=10)
    with pytest.raises(ValueError, match="proposals must be a whole number >= 1, got 0"):
        load_predictor(config, checkpoint, proposals=0)
