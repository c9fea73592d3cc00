"""Georeferenced outputs: GeoJSON named after its file, normal file modes, errors that name the
file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine

from sargeo.inference.merge import Detections
from sargeo.inference.writers import (
    OutputError,
    detections_frame,
    naming_errors,
    write_cog,
    write_geojson,
    write_gpkg,
)
from tests.inference.conftest import CRS, ORIGIN
from tests.test_io import mode_of, umask

TRANSFORM = Affine.translation(*ORIGIN) * Affine.scale(10.0, -10.0)


def _frame():
    dets = Detections(np.array([[10.0, 20.0, 30.0, 28.0], [50.0, 50.0, 60.0, 70.0]]),
                      np.array([0.9, 0.7]), np.array([0, 0]), np.zeros(2, bool))
    return detections_frame(dets, ["ship"], TRANSFORM, CRS, "scene.tif")


def test_geojson_is_named_after_its_file_not_the_temporary_one(tmp_path):
    path = write_geojson(_frame(), tmp_path / "scene.geojson")
    doc = json.loads(path.read_text())
    assert doc["name"] == "scene"
    assert len(doc["features"]) == 2 and doc["features"][0]["properties"]["class_name"] == "ship"
    assert [p.name for p in tmp_path.iterdir()] == ["scene.geojson"]


def test_vector_and_raster_outputs_get_normal_file_modes(tmp_path):
    with umask(0o022):
        gpkg = write_gpkg(_frame(), tmp_path / "scene.gpkg")
        geojson = write_geojson(_frame(), tmp_path / "scene.geojson")
        strips = [(0, np.ones((1, 64, 64), np.uint8))]
        cog = write_cog(tmp_path / "mask.tif", strips, width=64, height=64, count=1,
                        dtype="uint8", nodata=255, crs=CRS, transform=TRANSFORM)
    assert [mode_of(p) for p in (gpkg, geojson, cog)] == [0o644] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.tif", "scene.geojson",
                                                         "scene.gpkg"]


def test_write_errors_show_the_chained_cause(tmp_path):
    target = tmp_path / "out.gpkg"
    with pytest.raises(OutputError, match=r"out\.gpkg.*wrapper: the real reason"):
        with naming_errors(target):
            try:
                raise ValueError("the real reason")
            except ValueError as err:
                raise RuntimeError("wrapper") from err
