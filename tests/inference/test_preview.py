"""Quick-look PNGs: written with a normal file mode; an unreadable scene is named with GDAL's
reason."""

from __future__ import annotations

import numpy as np
import pytest

from sargeo.inference.merge import Detections
from sargeo.inference.preview import render_preview
from sargeo.inference.reader import SceneError, open_scene
from tests.inference.conftest import speckle, write_raster
from tests.test_io import mode_of, umask


def test_preview_png_has_a_normal_file_mode(tmp_path):
    info = open_scene(write_raster(tmp_path / "s.tif", speckle((128, 128))))
    dets = Detections(np.array([[10.0, 10.0, 20.0, 30.0]]), np.array([0.9]), np.array([0]),
                      np.zeros(1, bool))
    with umask(0o022):
        out = render_preview(info, tmp_path / "q.png", classes=["ship"], detections=dets)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and mode_of(out) == 0o644


def test_preview_of_a_truncated_scene_names_the_file_and_gdals_reason(tmp_path):
    path = write_raster(tmp_path / "cut.tif", speckle((512, 512)))
    info = open_scene(path)  # the units come from the tags: nothing is read yet
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    with pytest.raises(SceneError) as caught:
        render_preview(info, tmp_path / "q.png", classes=["ship"])
    rasterio_error = caught.value.__cause__
    gdal_reason = str(rasterio_error.__cause__)  # what rasterio's own message only points to
    message = str(caught.value)
    assert "See previous exception" in str(rasterio_error) and gdal_reason
    assert str(path) in message and gdal_reason.rstrip(".") in message
    assert "See previous exception" not in message
    assert not (tmp_path / "q.png").exists()
