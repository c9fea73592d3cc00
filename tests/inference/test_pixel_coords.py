"""Images without georeferencing: ``sargeo infer --pixel-coords`` on PNG/JPEG chips."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.errors import NotGeoreferencedWarning

from sargeo.cli import main
from sargeo.evaluation import coco_box_scores
from sargeo.inference.engine import predict_scene, predict_scenes
from sargeo.inference.inputs import model_units
from sargeo.inference.pixel_coords import COORDINATES, CocoImagesError
from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter
from sargeo.inference.reader import SceneError, open_scene
from sargeo.units import Units, UnitsError

#: (x, y, w, h) of the bright ship drawn into chip k
SHIPS = [(40, 60, 12, 6), (150, 120, 9, 14), (200, 30, 16, 8)]


def make_chips(folder: Path, n: int = 3) -> Path:
    """``n`` 8-bit grey PNG chips (speckle, one bright rectangle each) and a COCO dataset file
    with ids from 929 (as SSDD's test split) and category id 0; returns the COCO file."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images, anns = [], []
    for k in range(n):
        h, w = 200, 260
        grey = rng.gamma(4.0, 1 / 4.0, (h, w)) * 30.0
        x, y, bw, bh = SHIPS[k]
        grey[y:y + bh, x:x + bw] = 240.0
        Image.fromarray(np.clip(grey, 1, 255).astype(np.uint8)).save(folder / f"chip{k}.png")
        images.append({"id": 929 + k, "file_name": f"chip{k}.png", "width": w, "height": h})
        anns.append({"id": k + 1, "image_id": 929 + k, "category_id": 0, "bbox": [x, y, bw, bh],
                     "area": bw * bh, "iscrowd": 0})
    coco = folder.parent / "annotations.json"
    coco.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [{"id": 0, "name": "ship"}]}))
    return coco


def test_png_folder_runs_through_sargeo_infer_with_boxes_in_pixels(tmp_path):
    coco = make_chips(tmp_path / "chips")
    out = tmp_path / "out"
    code = main(["infer", str(tmp_path / "chips"), "--baseline", "cfar", "--pixel-coords",
                 "--coco-images", str(coco), "--out", str(out), "--quiet"])
    assert code == 0
    results = json.loads((out / "detections.json").read_text())
    by_image = {r["image_id"]: r for r in results}
    assert len(results) == 3 and sorted(by_image) == [929, 930, 931]
    for k, ship in enumerate(SHIPS):
        r = by_image[929 + k]
        assert r["category_id"] == 0 and r["file_name"] == f"chip{k}.png"
        np.testing.assert_allclose(r["bbox"], ship, atol=2)
    scores = coco_box_scores(out / "detections.json", coco)
    assert (scores["tp"], scores["n_pred"], scores["n_truth"]) == (3, 3, 3)
    assert scores["ap50"] == pytest.approx(1.0)
    # the GeoPackage: no CRS, geometry in pixel units, said in the layer metadata
    import geopandas as gpd
    import pyogrio

    info = pyogrio.read_info(out / "chip1.gpkg")
    assert info["crs"] is None
    assert info["layer_metadata"]["sargeo_coordinates"] == COORDINATES
    assert info["layer_metadata"]["sargeo_image_id"] == "930"
    frame = gpd.read_file(out / "chip1.gpkg")
    x, y, w, h = SHIPS[1]
    np.testing.assert_allclose(frame.total_bounds, [x, y, x + w, y + h], atol=2)
    assert json.loads((out / "chip1.json").read_text()) == [by_image[930]]


def test_sargeo_evaluate_scores_the_combined_results(tmp_path, capsys):
    coco = make_chips(tmp_path / "chips", n=2)
    predict_scenes(tmp_path / "chips", CFARShipDetector(), tmp_path / "out",
                   pixel_coords=True, coco_images=coco, progress=False)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "out" / "detections.json"), str(coco)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_without_a_coco_file_images_get_running_ids_and_their_names(tmp_path):
    make_chips(tmp_path / "chips")
    res = predict_scenes(tmp_path / "chips", CFARShipDetector(), tmp_path / "out",
                         pixel_coords=True, progress=False)
    assert [r.status for r in res] == ["done"] * 3
    assert all(r.outputs["coco_all"] == tmp_path / "out" / "detections.json" for r in res)
    results = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [(r["image_id"], r["file_name"]) for r in results] == [
        (1, "chip0.png"), (2, "chip1.png"), (3, "chip2.png")]
    assert {r["category_id"] for r in results} == {0}  # the class index


def test_a_coco_file_without_the_image_is_refused_before_any_output(tmp_path):
    coco = make_chips(tmp_path / "chips", n=1)
    (tmp_path / "chips" / "extra.png").write_bytes((tmp_path / "chips" / "chip0.png")
                                                   .read_bytes())
    with pytest.raises(CocoImagesError, match=r"annotations\.json: no image named extra\.png"):
        predict_scenes(tmp_path / "chips", CFARShipDetector(), tmp_path / "out",
                       pixel_coords=True, coco_images=coco, progress=False)
    assert not (tmp_path / "out").exists()


def test_without_pixel_coords_the_refusal_names_it(tmp_path):
    make_chips(tmp_path / "chips", n=1)
    chip = tmp_path / "chips" / "chip0.png"
    with pytest.raises(SceneError, match=r"chip0\.png: the image has no CRS.*--pixel-coords"):
        open_scene(chip)
    with pytest.raises(FileNotFoundError, match=r"chips: no \.tif/\.tiff scene.*--pixel-coords"):
        predict_scenes(tmp_path / "chips", CFARShipDetector(), tmp_path / "out",
                       progress=False)
    with pytest.raises(ValueError, match="--coco-images goes with pixel_coords"):
        predict_scene(chip, CFARShipDetector(), tmp_path / "out", coco_images="x.json")


def test_cli_refusal_names_pixel_coords(tmp_path, capsys):
    make_chips(tmp_path / "chips", n=1)
    code = main(["infer", str(tmp_path / "chips" / "chip0.png"), "--baseline", "cfar",
                 "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "run it with --pixel-coords" in capsys.readouterr().err


def test_a_raw_grd_measurement_is_told_to_use_the_safe_product(tmp_path):
    path = tmp_path / "s1a-iw-grd-vv.tiff"
    gcps = [GroundControlPoint(row=r, col=c, x=4.0 + c / 1000, y=52.0 + r / 1000, z=0.0)
            for r in (0, 63) for c in (0, 63)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1,
                           dtype="uint16", gcps=gcps, crs="EPSG:4326") as dst:
            dst.write(np.full((1, 64, 64), 100, np.uint16))
    with pytest.raises(SceneError, match=r"vv\.tiff: .*ground control points.*SAFE product.*"
                                         r"georeference_grd"):
        open_scene(path)


def test_8bit_chips_hold_display_images_which_a_sigma0_model_refuses(tmp_path):
    make_chips(tmp_path / "chips", n=1)
    chip = tmp_path / "chips" / "chip0.png"
    info = open_scene(chip, pixel_coords=True)
    assert info.input_units == Units("image", "linear") and not info.zero_nodata
    assert info.crs is None and info.transform == Affine.identity()
    with pytest.raises(UnitsError, match=r"chip0\.png: holds display-scaled image values.*"
                                         "expects sigma0 in dB"):
        model_units(info, "sigma0-db")
    assert model_units(info, CFARShipDetector.input_units) == Units(None, "linear")
    told = open_scene(chip, pixel_coords=True, units="sigma0-linear")
    assert model_units(told, "sigma0-db") == Units("sigma0", "db")


def test_a_grey_image_for_a_two_band_model_names_band_replication(tmp_path):
    make_chips(tmp_path / "chips", n=1)
    chip = tmp_path / "chips" / "chip0.png"
    with pytest.raises(SceneError, match=r"1 band\(s\) \[1\] would be read but the predictor "
                                         r"expects 2.*--bands 1 1 gives band 1 to every input"):
        open_scene(chip, in_channels=2, pixel_coords=True)
    assert open_scene(chip, in_channels=2, bands=(1, 1), pixel_coords=True).bands == (1, 1)


def test_options_that_need_a_place_on_earth_are_refused(tmp_path):
    make_chips(tmp_path / "chips", n=1)
    chip = tmp_path / "chips" / "chip0.png"
    for option in ({"geojson": True}, {"sea_only": True}):
        with pytest.raises(ValueError, match="needs georeferenced scenes"):
            predict_scene(chip, CFARShipDetector(), tmp_path / "out", pixel_coords=True,
                          progress=False, **option)


def test_masks_are_written_without_crs(tmp_path):
    make_chips(tmp_path / "chips", n=1)
    res = predict_scene(tmp_path / "chips" / "chip0.png", ThresholdWaterSegmenter(),
                        tmp_path / "out", pixel_coords=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(res.outputs["mask"]) as src:
            assert src.crs is None and src.transform == Affine.identity()
            assert (src.height, src.width) == (200, 260)
            assert set(np.unique(src.read(1)).tolist()) <= {0, 1}


def test_a_real_ssdd_chip_runs(shared_data, tmp_path):
    root = shared_data / "ssdd_coco"
    if not root.is_dir():
        pytest.skip(f"SSDD chips not found at {root}")
    coco = root / "annotations" / "instances_sarship_test.json"
    res = predict_scenes(root / "test" / "000001.jpg", CFARShipDetector(), tmp_path,
                         pixel_coords=True, coco_images=coco, progress=False)
    assert res[0].status == "done"
    results = json.loads((tmp_path / "000001.json").read_text())
    assert {r["image_id"] for r in results} <= {929}  # 000001.jpg in SSDD's test split
    for r in results:
        x, y, w, h = r["bbox"]
        assert 0 <= x and 0 <= y and x + w <= 416 and y + h <= 323 and w > 0 and h > 0
    assert coco_box_scores(tmp_path / "000001.json", coco)["n_pred"] == len(results)


def test_a_tiff_without_crs_follows_the_ordinary_units_rules(tmp_path):
    from tests.inference.conftest import speckle, write_raster

    power = speckle((128, 160), seed=3)
    power[40:46, 100:112] = 1.0  # a bright ship at x 100..112, y 40..46
    with warnings.catch_warnings():  # writing a TIFF without geotransform: rasterio warns
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        tif = write_raster(tmp_path / "chip.tif", power, crs=None, transform=False)
    res = predict_scene(tif, CFARShipDetector(), tmp_path / "out", pixel_coords=True,
                        progress=False)
    [r] = json.loads(res.outputs["coco"].read_text())
    np.testing.assert_allclose(r["bbox"], [100, 40, 12, 6], atol=2)
    grey = write_raster(tmp_path / "grey.tif", np.full((64, 64), 9), crs=None, dtype="uint8",
                        units=None)
    with pytest.raises(UnitsError, match=r"grey\.tif: cannot tell what its values are.*"
                                         "uint8 integers.*--units"):
        predict_scene(grey, CFARShipDetector(), tmp_path / "out2", pixel_coords=True,
                      progress=False)
