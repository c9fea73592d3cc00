"""The backbone compiled by OpenVINO (sargeo.inference.runtimes) in place of torch eager:
the same features in float32, bfloat16 where the CPU has it, int8 calibrated on a scene read
as the predictor reads it, and what does not go together refused by name."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from sargeo.datasets.simulate import simulate_scene
from tests.inference.test_mm_predictor import TILE, _config_and_checkpoint

FASTER_RCNN = "mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py"


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runtime_scenes")
    simulate_scene(root / "run.tif", root / "run.gpkg", width=300, height=260, seed=5, n_ships=6)
    simulate_scene(root / "cal.tif", root / "cal.gpkg", width=384, height=256, seed=6,
                   n_ships=4)
    return root / "run.tif", root / "cal.tif"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, Path]:
    return _config_and_checkpoint(FASTER_RCNN, tmp_path_factory.mktemp("runtime_model"))


def _tiles(scene: Path, n: int = 2) -> torch.Tensor:
    import rasterio

    with rasterio.open(scene) as src:
        return torch.from_numpy(src.read(window=((0, TILE), (0, TILE)))[None].repeat(n, 0))


def _features(predictor, tiles: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return [f.float() for f in predictor.model.backbone(predictor.network_inputs(tiles))]


def _rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    num = sum(float((x - y).norm() ** 2) for x, y in zip(a, b, strict=True))
    return (num / sum(float(x.norm() ** 2) for x in a)) ** 0.5


def _cpu_has_bf16() -> bool:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return any(f in text.split() for f in ("avx512_bf16", "amx_bf16"))


def test_openvino_fp32_gives_torchs_features_and_detections(model, scenes):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = model
    tiles = _tiles(scenes[0])
    ref = load_predictor(config, checkpoint)
    ov = load_predictor(config, checkpoint, runtime="openvino")
    assert ov.runtime == "openvino" and ov.runtime_precision == "f32"
    assert type(ov.model.backbone).__name__ == "RuntimeBackbone"
    assert _rel(_features(ref, tiles), _features(ov, tiles)) < 1e-4
    for a, b in zip(ref(tiles), ov(tiles), strict=True):
        assert len(a["scores"]) == len(b["scores"]) > 0
        torch.testing.assert_close(a["boxes"], b["boxes"], atol=1e-2, rtol=0)
        torch.testing.assert_close(a["scores"], b["scores"], atol=1e-4, rtol=0)


def test_openvino_bf16_where_the_cpu_has_it_with_the_neck_and_heads_in_autocast(model, scenes):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = model
    tiles = _tiles(scenes[0])
    ov = load_predictor(config, checkpoint, runtime="openvino", precision="bf16")
    assert ov.runtime_precision == ("bf16" if _cpu_has_bf16() else "f32")
    fc = next(m for m in ov.model.roi_head.bbox_head.modules() if isinstance(m, torch.nn.Linear))
    dtypes: list = []
    hook = fc.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    results = ov(tiles)
    hook.remove()
    assert set(dtypes) == {torch.bfloat16} and len(results) == 2
    ref = load_predictor(config, checkpoint)
    rel = _rel(_features(ref, tiles), _features(ov, tiles))
    assert 0 < rel < 0.02 if _cpu_has_bf16() else rel < 1e-4


def test_calibration_tiles_are_the_backbones_inputs_for_windows_of_the_scene(model, scenes):
    import rasterio

    from sargeo.inference.mm_predictor import load_predictor
    from sargeo.inference.runtimes import calibration_tiles

    config, checkpoint = model
    predictor = load_predictor(config, checkpoint)
    # 384 x 256 px at overlap 0: six windows of 128 px, all holding data
    every = calibration_tiles(predictor, scenes[1], n=100)
    assert len(every) == 6 and every[0].shape == (2, TILE, TILE)
    with rasterio.open(scenes[1]) as src:
        first = torch.from_numpy(src.read(window=((0, TILE), (0, TILE)))[None])
    np.testing.assert_allclose(every[0], predictor.network_inputs(first)[0].numpy(), atol=1e-6)
    some = calibration_tiles(predictor, scenes[1], n=3, seed=1)
    assert len(some) == 3
    assert all(any(np.array_equal(t, e) for e in every) for t in some)
    assert calibration_tiles(predictor, scenes[1], n=3, seed=1)[0].tobytes() == some[0].tobytes()


def test_openvino_int8_calibrated_on_a_scene_runs_close_to_float32(model, scenes):
    from sargeo.inference.engine import _describe
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = model
    tiles = _tiles(scenes[0])
    int8 = load_predictor(config, checkpoint, runtime="openvino", precision="int8",
                          calibration=scenes[1])
    assert int8.calibration == f"{scenes[1]} (6 tiles)"
    ref = load_predictor(config, checkpoint)
    rel = _rel(_features(ref, tiles), _features(int8, tiles))
    assert 1e-4 < rel < 0.1  # quantised: not float32's features, but near them
    assert all(set(r) == {"boxes", "scores", "labels"} for r in int8(tiles))
    # a resumed run knows it was another model
    settings = _describe(int8)["settings"]
    assert settings["runtime"] == "openvino" and settings["precision"] == "int8"
    assert settings["calibration"] == int8.calibration


def test_what_does_not_go_together_is_refused_by_name(model, tmp_path):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = model
    with pytest.raises(ValueError, match="runtime must be one of .*got 'tensorrt'"):
        load_predictor(config, checkpoint, runtime="tensorrt")
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\) with "
                       "runtime 'torch', got 'int8'; int8 needs.*--runtime openvino"):
        load_predictor(config, checkpoint, precision="int8")
    with pytest.raises(ValueError, match="int8 needs a calibration scene.*--calibrate SCENE"):
        load_predictor(config, checkpoint, runtime="openvino", precision="int8")
    with pytest.raises(ValueError, match="only used for int8, not bf16"):
        load_predictor(config, checkpoint, runtime="openvino", precision="bf16",
                       calibration=tmp_path / "x.tif")
    with pytest.raises(ValueError, match="runs on the CPU, not on device 'cuda:0'"):
        load_predictor(config, checkpoint, runtime="openvino", device="cuda:0")


def test_cli_passes_the_runtime_and_refuses_it_for_the_baselines(model, scenes, tmp_path,
                                                                 capsys):
    import geopandas as gpd

    from sargeo.inference.cli import add_infer_arguments, run_infer

    config, checkpoint = model
    parser = argparse.ArgumentParser()
    add_infer_arguments(parser)
    out = tmp_path / "ov"
    args = parser.parse_args([str(scenes[0]), "--config", str(config), "--checkpoint",
                              str(checkpoint), "--runtime", "openvino", "--out", str(out),
                              "--quiet", "--score-thr", "0"])
    assert run_infer(args) == 0
    assert len(gpd.read_file(out / "run.gpkg")) > 0
    args = parser.parse_args([str(scenes[0]), "--baseline", "cfar", "--runtime", "openvino",
                              "--out", str(tmp_path / "b")])
    assert run_infer(args) == 2
    assert "--runtime applies to --config" in capsys.readouterr().err


def test_int8_calibration_reads_the_scene_as_the_run_does(model, scenes, tmp_path, capsys):
    """A dB scene with a third band and no units tag: the calibration scene takes --bands and
    --units like the scenes run (without them it is refused by name, nothing written)."""
    import rasterio

    from sargeo.inference.cli import add_infer_arguments, run_infer

    three = tmp_path / "three_db.tif"
    with rasterio.open(scenes[1]) as src:
        data = src.read()
        profile = {k: v for k, v in src.profile.items() if k != "nodata"}
    db = 10 * np.log10(np.maximum(data, 1e-6))
    with rasterio.open(three, "w", **(profile | {"count": 3})) as dst:
        dst.write(np.concatenate([db, db[:1]]).astype("float32"))
    config, checkpoint = model
    parser = argparse.ArgumentParser()
    add_infer_arguments(parser)
    common = [str(three), "--config", str(config), "--checkpoint", str(checkpoint),
              "--runtime", "openvino", "--precision", "int8", "--calibrate", str(three),
              "--quiet"]
    assert run_infer(parser.parse_args([*common, "--out", str(tmp_path / "bad")])) == 2
    assert f"{three}: 3 band(s) [1, 2, 3] would be read but the predictor expects 2" in \
        capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    args = parser.parse_args([*common, "--bands", "1", "2", "--units", "sigma0-db", "--out",
                              str(tmp_path / "ok")])
    assert run_infer(args) == 0
    assert (tmp_path / "ok" / "three_db.gpkg").is_file()


def test_the_compiled_backbone_names_a_tile_it_was_not_compiled_for(model):
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = model
    ov = load_predictor(config, checkpoint, runtime="openvino")
    with pytest.raises(ValueError, match=rf"takes tiles of \(2, {TILE}, {TILE}\).*got "
                       r"\(2, 64, 64\): run with the model's own tile size"):
        ov.model.backbone(torch.zeros(1, 2, 64, 64))
