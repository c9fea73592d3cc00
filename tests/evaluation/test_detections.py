"""evaluate_detections: metres, any CRS, shore F1, length error, precision-recall curve."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from sargeo.evaluation.detections import evaluate_detections
from sargeo.evaluation.objects import EvaluationError

UTM = "EPSG:32631"
X0, Y0 = 500_000.0, 5_800_000.0


def write(path, xy, crs=UTM, **columns):
    frame = gpd.GeoDataFrame(columns, geometry=[shapely.Point(x, y) for x, y in xy], crs=crs)
    frame.to_file(path)
    return path


def test_150_m_matches_250_m_does_not(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0, Y0), (X0 + 5000, Y0)])
    pred = write(tmp_path / "pred.gpkg", [(X0 + 150, Y0), (X0 + 5000, Y0 + 250)])
    s = evaluate_detections(pred, truth)
    assert (s.tp, s.fp, s.fn) == (1, 1, 1)
    assert s.precision == s.recall == s.f1 == 0.5
    assert s.median_distance_m == pytest.approx(150.0)
    assert evaluate_detections(pred, truth, max_distance_m=300).tp == 2


def test_two_detections_on_one_ship_count_once(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0, Y0)])
    pred = write(tmp_path / "pred.gpkg", [(X0 + 20, Y0), (X0 - 30, Y0 + 10)])
    s = evaluate_detections(pred, truth)
    assert (s.tp, s.fp, s.fn, s.precision, s.recall) == (1, 1, 0, 0.5, 1.0)


def test_truth_and_detections_in_different_crs_with_boxes_and_polygons(tmp_path):
    # truth as ship polygons in UTM 31N, detections as points in lon/lat
    ships = [shapely.box(X0 + i * 2000 - 60, Y0 - 10, X0 + i * 2000 + 60, Y0 + 10)
             for i in range(4)]
    truth = tmp_path / "truth.gpkg"
    gpd.GeoDataFrame({"length_m": [120.0] * 4}, geometry=ships, crs=UTM).to_file(truth)
    centres = gpd.GeoSeries([s.centroid for s in ships], crs=UTM)
    offsets = [100.0, 180.0, 230.0, 0.0]  # metres east
    moved = gpd.GeoSeries([shapely.Point(c.x + o, c.y) for c, o in zip(centres, offsets,
                                                                         strict=True)], crs=UTM)
    lonlat = moved.to_crs(4326)
    pred = tmp_path / "pred.geojson"
    gpd.GeoDataFrame({"score": [0.9, 0.8, 0.7, 0.6], "length_m": [132.0, 108.0, 90.0, 120.0]},
                     geometry=list(lonlat), crs=4326).to_file(pred)
    s = evaluate_detections(pred, truth)
    assert (s.tp, s.fp, s.fn) == (3, 1, 1) and s.crs == "EPSG:32631"
    # matched: offsets 100, 180, 0 m; lengths 132, 108, 120 against 120
    assert s.median_distance_m == pytest.approx(100.0, abs=0.01)
    assert s.length_pairs == 3
    assert s.length_error == pytest.approx((12 / 120 + 12 / 120 + 0) / 3)


def test_precision_recall_curve_and_best_threshold(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0 + i * 1000, Y0) for i in range(4)])
    # high scores on hits, one confident false alarm, a low-scored hit last
    xy = [(X0, Y0), (X0 + 1000, Y0), (X0 + 9000, Y0), (X0 + 2000, Y0), (X0 + 20000, Y0)]
    pred = write(tmp_path / "pred.gpkg", xy, score=[0.95, 0.9, 0.85, 0.3, 0.2])
    s = evaluate_detections(pred, truth)
    curve = {round(c["threshold"], 2): (c["precision"], c["recall"]) for c in s.pr_curve}
    assert curve[0.95] == (1.0, 0.25) and curve[0.9] == (1.0, 0.5)
    assert curve[0.85] == (pytest.approx(2 / 3), 0.5) and curve[0.3] == (0.75, 0.75)
    assert curve[0.2] == (0.6, 0.75)
    assert s.best_f1_threshold == pytest.approx(0.3) and s.best_f1 == pytest.approx(0.75)
    assert evaluate_detections(pred, truth, score_threshold=0.88).n_pred == 2


def test_f1_of_objects_near_the_shore_from_the_files(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0, Y0), (X0 + 5000, Y0), (X0 + 10000, Y0)],
                  distance_to_shore_m=[500.0, 1500.0, 9000.0])
    pred = write(tmp_path / "pred.gpkg", [(X0, Y0), (X0 + 10000, Y0), (X0 + 3000, Y0)],
                 distance_to_shore_m=[480.0, 9050.0, 1000.0])
    s = evaluate_detections(pred, truth)
    # near the shore: truths 0, 1; predictions 0 (hit) and 2 (false alarm) -> P 0.5, R 0.5
    assert s.n_truth_shore == 2 and s.f1_shore == pytest.approx(0.5)
    assert s.f1 == pytest.approx(2 / 3)
    no_shore = write(tmp_path / "plain.gpkg", [(X0, Y0)])
    assert evaluate_detections(no_shore, truth).f1_shore is None


def test_bad_inputs_are_named(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0, Y0)])
    with pytest.raises(EvaluationError, match="nowhere.gpkg: no such file"):
        evaluate_detections(tmp_path / "nowhere.gpkg", truth)
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(EvaluationError, match="junk.gpkg: cannot be read as vector data"):
        evaluate_detections(junk, truth)
    nocrs = tmp_path / "nocrs.gpkg"  # (GeoJSON without a CRS is WGS 84 by its standard)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[shapely.Point(1, 2)]).to_file(nocrs)
    with pytest.raises(EvaluationError, match="nocrs.gpkg: no CRS"):
        evaluate_detections(nocrs, truth)


def test_empty_detections_give_zero_recall_and_no_precision(tmp_path):
    truth = write(tmp_path / "truth.gpkg", [(X0, Y0)])
    empty = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"score": np.zeros(0)}, geometry=[], crs=UTM).to_file(empty)
    s = evaluate_detections(empty, truth)
    assert s.precision is None and s.recall == 0.0 and s.fn == 1 and s.pr_curve == []


def test_multi_layer_files_need_the_layer_named(tmp_path):
    truth = tmp_path / "truth.gpkg"
    write(truth, [(X0, Y0)])  # layer "truth"
    gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10)], crs=UTM).to_file(
        truth, layer="water")
    pred = write(tmp_path / "pred.gpkg", [(X0 + 5, Y0)])
    with pytest.raises(EvaluationError, match=r"has layers \['truth', 'water'\]"):
        evaluate_detections(pred, truth)
    with pytest.raises(EvaluationError, match="has no layer 'ships'"):
        evaluate_detections(pred, truth, truth_layer="ships")
    assert evaluate_detections(pred, truth, truth_layer="truth").tp == 1
