"""`sargeo evaluate`: the kind follows the files; JSON, markdown and PNG written beside --out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image

from sargeo.evaluation.objects import EvaluationError
from sargeo.evaluation.run import evaluate, kind_of

X0, Y0 = 500_000.0, 5_800_000.0


def points(path, xy, **cols):
    gpd.GeoDataFrame(cols, geometry=[shapely.Point(x, y) for x, y in xy],
                     crs="EPSG:32631").to_file(path)
    return path


def test_command_writes_json_markdown_and_curve(tmp_path):
    truth = points(tmp_path / "truth.gpkg", [(X0 + i * 1000, Y0) for i in range(5)],
                   length_m=[100.0] * 5)
    pred = points(tmp_path / "pred.gpkg", [(X0 + i * 1000 + 50, Y0) for i in range(4)]
                  + [(X0 + 50_000, Y0)], score=[0.9, 0.8, 0.7, 0.6, 0.95],
                  length_m=[110.0] * 5)
    out = tmp_path / "eval" / "result.json"
    proc = subprocess.run([sys.executable, "-m", "sargeo", "evaluate", str(pred), str(truth),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["kind"] == "detections"
    assert (result["precision"], result["recall"]) == (0.8, 0.8)
    assert result["f1"] == pytest.approx(0.8) and result["length_error"] == pytest.approx(0.1)
    md = out.with_suffix(".md").read_text()
    assert "| f1 | 0.8000 |" in md and "| precision | 0.8000 |" in md
    assert "| f1 | 0.8000 |" in proc.stdout
    png = Image.open(out.with_suffix(".png"))
    grey = np.asarray(png.convert("L"))
    assert png.size[0] >= 400 and len(np.unique(grey)) > 10  # drawn, not blank
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_kind_of_and_refusals(tmp_path):
    assert kind_of(tmp_path / "a.tif", tmp_path / "b.tiff") == "masks"
    assert kind_of(tmp_path / "a.gpkg", tmp_path / "b.geojson") == "detections"
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [], "annotations": []}))
    assert kind_of(tmp_path / "p.json", coco) == "coco"
    with pytest.raises(EvaluationError, match="cannot compare .*a.gpkg with .*b.tif"):
        evaluate(tmp_path / "a.gpkg", tmp_path / "b.tif")
