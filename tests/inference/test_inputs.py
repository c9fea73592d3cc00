"""What a scene holds (sargeo.inference.inputs): units from metadata or --units, never guessed;
nodata made explicit; the engine converts to what the predictor expects or refuses."""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from sargeo.inference import predict_scene
from sargeo.inference.inputs import InputWarning, model_units
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.reader import PrefetchReader, open_scene
from sargeo.inference.windows import plan_windows
from sargeo.units import UNITS_HELP, Units, UnitsError
from tests.inference.conftest import speckle, write_raster

CFAR_WANTS = "linear power of any quantity"


def _unknown_message(path: Path, origin: str, q: str = "sigma0",
                     wants: str = CFAR_WANTS) -> str:
    return (f"{path}: cannot tell what its values are: {origin}. The model expects {wants}. "
            f"Say what the file holds with --units (units= in predict_scene), e.g. --units "
            f"{q}-db or --units {q}-linear; forms: {UNITS_HELP}")


# -- units from metadata ----------------------------------------------------------------------
def test_sargeos_own_tag_states_the_units(tmp_path):
    info = open_scene(write_raster(tmp_path / "s.tif", speckle((2, 32, 32)),
                                   descriptions=("VV", "VH")))
    assert info.input_units == Units("sigma0", "linear", ("VV", "VH"))
    assert info.units == "linear" and info.units_origin == "from its SARGEO_UNITS tag"


@pytest.mark.parametrize("name,kwargs,expected,origin", [
    ("a.tif", dict(tags={"UNITS": "sigma0 linear power"}),
     Units("sigma0", "linear"), "from its UNITS tag 'sigma0 linear power'"),
    ("a.tif", dict(descriptions=("Sigma0_VV_db", "Sigma0_VH_db")),  # SNAP's band names
     Units("sigma0", "db", ("VV", "VH")),
     "from band 1's description 'Sigma0_VV_db', band 2's description 'Sigma0_VH_db'"),
    ("a.tif", dict(descriptions=("Gamma0_VV",)),  # SNAP: linear unless _db
     Units("gamma0", "linear", ("VV",)), "from band 1's description 'Gamma0_VV'"),
    ("a.tif", dict(descriptions=("Amplitude_HH",), dtype="uint16"),  # SNAP: DN
     Units("dn", "amplitude", ("HH",)), "from band 1's description 'Amplitude_HH'"),
    ("S1A_IW_VV_grd_mli_geo_norm_db.tif", dict(),  # pyroSAR / GAMMA naming
     Units(None, "db", ("VV",)), "from its file name"),
    ("a.tif", dict(descriptions=("VV (dB)",)), Units(None, "db", ("VV",)),
     "from band 1's description 'VV (dB)'"),
    ("a.tif", dict(descriptions=("sigma0 power in dB",)), Units("sigma0", "db"),
     "from band 1's description 'sigma0 power in dB'"),
])
def test_units_are_read_from_tags_band_descriptions_and_file_names(tmp_path, name, kwargs,
                                                                   expected, origin):
    count = len(kwargs.get("descriptions", ())) or 1
    data = speckle((count, 16, 16)) * (1e4 if kwargs.get("dtype") == "uint16" else 1)
    info = open_scene(write_raster(tmp_path / name, data, units=None, **kwargs))
    assert info.input_units == expected and info.units_origin == origin


def test_the_tags_polarisations_follow_the_bands_read(tmp_path):
    path = write_raster(tmp_path / "a.tif", 10 * np.log10(speckle((2, 16, 16))), nodata=None,
                        units="sigma0-db:VV,VH")
    assert open_scene(path).input_units == Units("sigma0", "db", ("VV", "VH"))
    assert open_scene(path, bands=[2, 1]).input_units == Units("sigma0", "db", ("VH", "VV"))
    with pytest.raises(UnitsError, match=re.escape(
            "the bands read are VH, VV; choose VV, VH in that order (--bands with the file's "
            "band numbers; of the bands read: 2 1)")):
        model_units(open_scene(path, bands=[2, 1]), Units("sigma0", "linear", ("VV", "VH")))


def test_gdal_band_unit_states_the_scale(tmp_path):
    path = write_raster(tmp_path / "a.tif", 10 * np.log10(speckle((2, 16, 16))), units=None,
                        nodata=None, descriptions=("VV", "VH"))
    with rasterio.open(path, "r+") as dst:
        dst.units = ("dB", "dB")
    info = open_scene(path)
    assert info.input_units == Units(None, "db", ("VV", "VH"))
    assert info.units_origin == "from band 1's unit 'dB', band 2's unit 'dB'"


def test_metadata_that_disagrees_is_refused(tmp_path):
    path = write_raster(tmp_path / "a.tif", speckle((16, 16)), units="sigma0-linear",
                        descriptions=("Sigma0_VV_db",))
    with pytest.raises(UnitsError) as err:
        open_scene(path)
    assert str(err.value) == (
        f"{path}: its metadata disagrees about the scale (its SARGEO_UNITS tag says linear; "
        f"band 1's description 'Sigma0_VV_db' says db); pass --units to say what it holds "
        f"({UNITS_HELP})")


def test_values_are_never_taken_as_proof_of_units(tmp_path):
    # dB-like floats (mostly negative, in [-50, 10]) and DN-like integers state nothing
    db = write_raster(tmp_path / "scene.tif", 10 * np.log10(speckle((2, 32, 32))), units=None,
                      nodata=None, descriptions=("VV", "VH"))
    dn = write_raster(tmp_path / "counts.tif", speckle((32, 32)) * 1e5, units=None,
                      dtype="uint16")
    infos = [open_scene(db), open_scene(dn)]
    assert [i.input_units for i in infos] == [None, None]
    assert [i.units for i in infos] == ["unknown", "unknown"]
    assert infos[0].units_origin == (
        "nothing in its metadata states the units: no SARGEO_UNITS or units tag; no unit in the "
        "band descriptions ('VV', 'VH'); no units in the file name; float32 values")
    assert infos[1].units_origin.endswith(
        "no band descriptions; no units in the file name; uint16 integers (DN, scaled dB or an "
        "image?)")


def test_a_file_whose_units_cannot_be_known_is_refused_asking_for_units(tmp_path):
    path = write_raster(tmp_path / "scene.tif", 10 * np.log10(speckle((64, 64))), units=None,
                        nodata=None)
    origin = ("nothing in its metadata states the units: no SARGEO_UNITS or units tag; no band "
              "descriptions; no units in the file name; float32 values")
    with pytest.raises(UnitsError) as err:
        predict_scene(path, CFARShipDetector(), tmp_path / "out", progress=False)
    assert str(err.value) == _unknown_message(path, origin)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # a model that wants sigma0 says so in its own words
    with pytest.raises(UnitsError) as err:
        model_units(open_scene(path), Units("sigma0", "linear", ("VV",)))
    assert str(err.value) == _unknown_message(path, origin, wants="sigma0 as linear power (VV)")
    # with --units it runs
    res = predict_scene(path, CFARShipDetector(), tmp_path / "out", progress=False,
                        units="sigma0-db")
    assert res.status == "done"


def test_units_given_override_the_metadata_with_a_note(tmp_path):
    path = write_raster(tmp_path / "a.tif", speckle((2, 16, 16)), descriptions=("VV", "VH"))
    info = open_scene(path, units="gamma0-linear")
    assert info.input_units == Units("gamma0", "linear", ("VV", "VH"))  # polarisations kept
    assert info.units_origin == "--units"
    assert info.notes == (f"{path}: --units gamma0-linear overrides its metadata (sigma0 as "
                          "linear power (VV, VH), from its SARGEO_UNITS tag)",)
    with pytest.raises(UnitsError, match=r"--units sigma0-db:VV names 1 polarisation\(s\) "
                                         r"for 2 band\(s\) read"):
        open_scene(path, units="sigma0-db:VV")


def test_linear_units_on_mostly_negative_values_are_refused(tmp_path):
    path = write_raster(tmp_path / "a.tif", 10 * np.log10(speckle((32, 32))), nodata=None)
    with pytest.raises(UnitsError) as err:
        open_scene(path)
    assert str(err.value) == (
        f"{path}: from its SARGEO_UNITS tag says it holds sigma0 as linear power, but 100 % of "
        "its values are negative, which power and amplitude never are; pass the right --units "
        "(e.g. --units sigma0-db)")


def test_sargeos_own_masks_are_refused_as_inputs(tmp_path):
    scene = write_raster(tmp_path / "s.tif", speckle((64, 64)))
    res = predict_scene(scene, ThresholdWaterSegmenter(), tmp_path / "seg", tile=64,
                        progress=False, save_probs=True)
    for key, what in (("mask", "class ids"), ("probs", "class probabilities")):
        with pytest.raises(UnitsError) as err:
            open_scene(res.outputs[key])
        assert str(err.value) == (f"{res.outputs[key]}: holds {what} written by sargeo infer "
                                  "(its SARGEO_UNITS tag), not SAR values")


# -- nodata -----------------------------------------------------------------------------------
def _zero_scene(tmp_path, **kwargs):
    data = speckle((2, 64, 80))
    data[:, :, :20] = 0.0  # a border without a nodata tag: 64 x 20 pixels
    data[1, 40, 50] = 0.0  # one more pixel, 0 in one band only
    return write_raster(tmp_path / "z.tif", data, nodata=None, **kwargs)


def test_zeros_without_a_nodata_tag_are_nodata_and_counted(tmp_path):
    path = _zero_scene(tmp_path)
    info = open_scene(path)
    assert info.zero_nodata and info.nodata == (None, None)
    assert info.notes == (
        f"{path}: 1281 of 5120 pixels (25.0 %) are 0 and no nodata value is declared: they are "
        "treated as nodata (border fill); pass --nodata 0 to declare it, or --nodata none to "
        "keep zeros as data",)
    with PrefetchReader(info, plan_windows(64, 80, 80, 0), 80, 1) as reader:
        batch = list(reader)[0]  # then an empty last batch
    assert int((~batch.valid[0, :64, :80]).sum()) == 1281
    with pytest.warns(InputWarning, match="1281 of 5120 pixels"):
        res = predict_scene(path, CFARShipDetector(), tmp_path / "o", progress=False)
    assert res.warnings == list(info.notes)


@pytest.mark.parametrize("tiled", [True, False], ids=["tiles", "strips"])
def test_a_large_scene_is_judged_on_whole_blocks_spread_over_it(tmp_path, tiled):
    from sargeo.inference.inputs import SAMPLE_SIDE, value_sample

    data = speckle((1, 1600, 2900))
    data[:, :, :725] = 0.0  # a quarter of the columns: border fill without a nodata tag
    path = write_raster(tmp_path / "large.tif", data, nodata=None, tiled=tiled)
    with rasterio.open(path) as src:
        sample = value_sample(src, [1])
    assert sample.shape[0] == 1
    assert SAMPLE_SIDE**2 / 2 <= sample.shape[1] <= 1.5 * SAMPLE_SIDE**2 < data.size
    assert float((sample == 0).mean()) == pytest.approx(0.25, abs=0.04)
    info = open_scene(path)
    share = float(re.search(r"\(([\d.]+) %\)", info.notes[0]).group(1))
    assert info.notes[0].startswith(f"{path}: about ") and share == pytest.approx(25, abs=4)
    data[:, :, 725:] *= -1  # three quarters negative: not power, wherever the blocks lie
    negative = write_raster(tmp_path / "negative.tif", data, nodata=None, tiled=tiled)
    with pytest.raises(UnitsError, match="% of its values are negative"):
        open_scene(negative)


def test_nodata_option_declares_or_removes_the_nodata_value(tmp_path):
    path = _zero_scene(tmp_path)
    declared = open_scene(path, nodata=0)
    assert declared.nodata == (0.0, 0.0) and not declared.zero_nodata and not declared.notes
    kept = open_scene(path, nodata="none")
    assert kept.nodata == (None, None) and not kept.zero_nodata and not kept.notes
    with PrefetchReader(kept, plan_windows(64, 80, 80, 0), 80, 1) as reader:
        batch = list(reader)[0]  # then an empty last batch
    assert batch.valid[0, :64, :80].all()  # zeros are data
    # a dB scene: 0 dB is a value, never fill
    db = write_raster(tmp_path / "d.tif", np.zeros((8, 8)), nodata=None, units="sigma0-db")
    assert not open_scene(db).zero_nodata
    with pytest.raises(ValueError, match="--nodata 'zero': give a number"):
        open_scene(path, nodata="zero")


# -- conversion in the engine ------------------------------------------------------------------
def _boxes(result) -> np.ndarray:
    frame = gpd.read_file(result.outputs["detections"])
    return frame[["px_x1", "px_y1", "px_x2", "px_y2"]].to_numpy()


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: (x[:, 2:] - x[:, :2]).prod(-1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def assert_same_detections(a: np.ndarray, b: np.ndarray) -> None:
    """Counts within 1; every box but at most one on each side has a partner with IoU >=
    0.9."""
    assert abs(len(a) - len(b)) <= 1, (len(a), len(b))
    iou = _iou(a, b)
    assert (iou.max(1) < 0.9).sum() <= 1 and (iou.max(0) < 0.9).sum() <= 1


@pytest.fixture(scope="module")
def unit_scenes(tmp_path_factory) -> dict[str, Path]:
    """One simulated scene as linear sigma0 (sargeo's tag), as dB with a tag, and as dB with
    nothing but band descriptions."""
    from sargeo.datasets.simulate import simulate_scene

    root = tmp_path_factory.mktemp("units")
    sim = simulate_scene(root / "lin.tif", root / "truth.gpkg", width=384, height=384, seed=7,
                         n_ships=10)
    with rasterio.open(sim.path) as src:
        db = 10 * np.log10(src.read())
        grid = dict(crs=src.crs, transform=src.transform)
    tagged = write_raster(root / "db_tagged.tif", db, nodata=None, units="sigma0-db:VV,VH",
                          **grid)
    plain = write_raster(root / "plain.tif", db, nodata=None, units=None,
                         descriptions=("VV", "VH"), **grid)
    return {"lin": sim.path, "db_tagged": tagged, "plain": plain}


def test_cfar_finds_the_same_ships_in_linear_and_db_scenes(unit_scenes, tmp_path):
    runs = {name: predict_scene(path, CFARShipDetector(), tmp_path / name, tile=192,
                                overlap=48, progress=False,
                                units="sigma0-db" if name == "plain" else None)
            for name, path in unit_scenes.items()}
    lin = _boxes(runs["lin"])
    assert len(lin) >= 5  # the simulated ships
    for name in ("db_tagged", "plain"):
        assert_same_detections(lin, _boxes(runs[name]))


def test_the_engine_hands_each_predictor_its_units(unit_scenes):
    info = open_scene(unit_scenes["db_tagged"])
    want = Units("sigma0", "linear", ("VV", "VH"))
    with rasterio.open(unit_scenes["lin"]) as src:
        linear = src.read(window=((0, 64), (0, 64)))
    with PrefetchReader(info, plan_windows(64, 64, 64, 0), 64, 1, to_units=want) as reader:
        (batch,) = [b for b, _ in zip(reader, range(1), strict=False)]
    np.testing.assert_allclose(batch.images[0], linear, rtol=1e-5)


@pytest.mark.slow  # loads every config (imports mmdet, mmrotate, mmseg: 20 s)
def test_every_scene_config_states_the_units_its_model_expects():
    from sargeo.inference.mm_predictor import _find_transform, _test_dataset_cfg
    from sargeo.mm.runner import load_config
    from sargeo.mm.transforms import SARNormalize
    from tests.mm.test_configs import CONFIGS

    assert SARNormalize(to_db=True).input_units == Units("sigma0", "linear")
    assert SARNormalize(to_db=False).input_units == Units("sigma0", "db")
    stated = {}
    for path in sorted(CONFIGS.glob("*/*.py")):
        dataset = _test_dataset_cfg(load_config(path))
        step = _find_transform(dataset.get("pipeline") or [], "SARNormalize")
        if step is not None:  # the scene configs (the others read 8-bit image chips)
            step.pop("type")
            stated[path.name] = SARNormalize(**step).input_units.with_polarisations(
                dataset.get("bands"))
    assert {"sarmae_vit-b16_faster-rcnn_s1-ships.py", "sarmae_vit-t16_centernet_s1-ships_cpu.py",
            "sarmae_vit-b16_oriented-rcnn-le90_s1-ships.py",
            "sarmae_vit-b16_upernet_s1-water.py"} <= set(stated)
    assert set(stated.values()) == {Units("sigma0", "linear", ("VV", "VH"))}, stated


@pytest.mark.slow
def test_a_sarmae_detector_finds_the_same_ships_in_linear_and_db_scenes(unit_scenes, tmp_path):
    import torch

    from sargeo.inference.mm_predictor import load_predictor
    from sargeo.mm.runner import build_model, load_config
    from tests.mm.test_configs import CONFIGS, shrink

    cfg = load_config(CONFIGS / "mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py")
    shrink(cfg, size=128)
    config = tmp_path / "model.py"
    cfg.dump(str(config))
    torch.manual_seed(0)
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": build_model(cfg).state_dict()}, checkpoint)
    predictor = load_predictor(config, checkpoint)
    assert predictor.input_units == Units("sigma0", "linear", ("VV", "VH"))
    runs = {name: predict_scene(path, predictor, tmp_path / name, progress=False,
                                score_thr=0.1, units="sigma0-db" if name == "plain" else None)
            for name, path in unit_scenes.items()}
    lin = _boxes(runs["lin"])
    assert len(lin) >= 10
    for name in ("db_tagged", "plain"):
        assert_same_detections(lin, _boxes(runs[name]))
    with pytest.raises(UnitsError, match=re.escape(
            f"{unit_scenes['plain']}: cannot tell what its values are: nothing in its metadata "
            "states the units: no SARGEO_UNITS or units tag; no unit in the band descriptions "
            "('VV', 'VH'); no units in the file name; float32 values. The model expects sigma0 "
            "as linear power (VV, VH). Say what the file holds with --units")):
        predict_scene(unit_scenes["plain"], predictor, tmp_path / "refused", progress=False)


# -- command line -----------------------------------------------------------------------------
def test_cli_takes_units_and_nodata(tmp_path, capsys):
    from sargeo.inference.cli import add_infer_arguments, run_infer

    data = 10 * np.log10(speckle((100, 120)))
    data[:, :10] = -99.0
    scene = write_raster(tmp_path / "scene.tif", data, units=None, nodata=None)
    parser = argparse.ArgumentParser()
    add_infer_arguments(parser)
    base = [str(scene), "--baseline", "cfar", "--quiet", "--out"]
    assert run_infer(parser.parse_args([*base, str(tmp_path / "a")])) == 2
    assert "cannot tell what its values are" in capsys.readouterr().err
    assert run_infer(parser.parse_args([*base, str(tmp_path / "b"), "--units", "sigma0-dbx"])
                     ) == 2
    assert "'dbx' is neither a quantity nor a scale" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dB: no zero rule, no note
        args = parser.parse_args([*base, str(tmp_path / "c"), "--units", "sigma0-db",
                                  "--nodata", "-99"])
        assert run_infer(args) == 0
    assert "1 done" in capsys.readouterr().out


# -- the real Sentinel-1 files in ../shared/data -----------------------------------------------
#: SAR images among the shared samples, with the units each holds (sargeo's reading of their
#: documentation: PROVENANCE.md), for --units
REAL_SAR = {"s1_small_geotiffs/*.tif": "sigma0-db", "sen1floods11/S1/*.tif": "sigma0-db",
            "terramind_s1rtc/S1RTC/*.tif": "gamma0-db", "bigearthnet_s1/*/*.tif": "sigma0-db"}
#: rasters beside them that are not SAR values (labels, land cover)
REAL_OTHER = ("sen1floods11/Labels/*.tif", "terramind_s1rtc/LULC/*.tif")
#: what their metadata states; every other shared file states nothing
STATED = {"S1A__IW___A_20150309T173017_VV_grd_mli_geo_norm_db.tif": Units(None, "db", ("VV",))}


def _real(shared_data: Path, patterns) -> list[Path]:
    files = sorted(p for pattern in patterns for p in shared_data.glob(pattern))
    assert files, f"no shared files match {patterns}"
    return files


def test_each_real_file_is_read_with_its_stated_units_or_refused_asking_for_units(shared_data,
                                                                                  tmp_path):
    sigma0 = Units("sigma0", "linear")  # what sargeo's scene models expect
    for path in _real(shared_data, [*REAL_SAR, *REAL_OTHER]):
        info = open_scene(path)
        assert info.input_units == STATED.get(path.name), path
        if info.input_units is not None:  # dB of an unstated quantity: the baselines take it
            assert predict_scene(path, CFARShipDetector(), tmp_path / path.stem,
                                 progress=False).status == "done"
            with pytest.raises(UnitsError, match=re.escape(
                    f"{path}: holds dB of an unstated quantity (sigma0, beta0, gamma0 or DN) "
                    "(VV) (from its file name), but the model expects sigma0 as linear power: the "
                    "file does not say which quantity it holds; if it holds sigma0, pass "
                    "--units sigma0-db (units= in predict_scene)")):
                model_units(info, sigma0)
            continue
        with pytest.raises(UnitsError) as err:
            predict_scene(path, CFARShipDetector(), tmp_path / path.stem, progress=False)
        assert str(err.value) == _unknown_message(path, info.units_origin), path
        assert "nothing in its metadata states the units" in info.units_origin


@pytest.mark.slow
def test_each_real_sar_file_runs_with_units_given(shared_data, tmp_path):
    for pattern, units in REAL_SAR.items():
        for path in _real(shared_data, [pattern]):
            info = open_scene(path, units=units)
            assert info.input_units.scale == "db" and not info.zero_nodata
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                res = predict_scene(path, CFARShipDetector(), tmp_path / path.parent.name,
                                    progress=False, units=units)
            assert res.status == "done" and res.n_objects is not None, path
            # only the all-NaN Sen1Floods11 chip has nothing to say
            assert [str(w.message) for w in seen] == (
                [f"{path}: no valid pixel (all nodata or NaN); writing an empty detection "
                 "layer"] if path.stem == "Paraguay_34417_S1Hand" else []), path
