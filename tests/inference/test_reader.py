"""Scene checks and the prefetching reader."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from affine import Affine

from sargeo.inference.reader import PrefetchReader, SceneError, open_scene
from sargeo.inference.windows import plan_windows
from tests.inference.conftest import speckle, write_raster


def test_scene_without_crs_or_geotransform_is_refused(tmp_path):
    no_crs = write_raster(tmp_path / "nocrs.tif", speckle((64, 64)), crs=None)
    with pytest.raises(SceneError, match=r"nocrs\.tif.*no CRS"):
        open_scene(no_crs)
    with pytest.warns(Warning):  # rasterio: NotGeoreferencedWarning
        no_tf = write_raster(tmp_path / "notf.tif", speckle((64, 64)), transform=False)
    with pytest.raises(SceneError, match=r"notf\.tif.*no geotransform"):
        open_scene(no_tf)


@pytest.mark.parametrize(("transform", "crs", "problem"), [
    (Affine(math.nan, 0, 500_000, 0, -10, 5_800_000), "EPSG:32631",
     "holds values that are not finite"),
    (Affine(5e-324, 0, 500_000, 0, -10, 5_800_000), "EPSG:32631", "gives pixels of no size"),
    (Affine(1e300, 0, 500_000, 0, -10, 5_800_000), "EPSG:32631",
     "places the scene off the Earth (bounds (500000.0, 5799360.0, 6.4e+301, 5800000.0) in "
     "its CRS)"),
    (Affine(1e-4, 0, 1e300, 0, -1e-4, 10), "EPSG:4326", "places the scene off the Earth"),
])
def test_a_geotransform_that_is_not_finite_or_off_the_earth_is_refused(tmp_path, transform,
                                                                        crs, problem):
    """Corrupt georeferencing tags (found by test_fuzz): CFAR's pixel size, the writers'
    polygons and the geodesic sizes failed with ValueError, OverflowError, GEOSException or
    ZeroDivisionError."""
    path = write_raster(tmp_path / "geo.tif", speckle((64, 64)), transform=transform, crs=crs)
    with pytest.raises(SceneError, match=re.escape(f"{path}: its geotransform ") + ".*"
                       + re.escape(f"{problem}") + ".*truncated or damaged"):
        open_scene(path)
    assert open_scene(path, pixel_coords=True).crs is None  # pixels only: the grid is unused


def test_unreadable_and_missing_scenes_are_refused(tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(SceneError, match=r"junk\.tif.*cannot open"):
        open_scene(junk)
    with pytest.raises(SceneError, match="no such file"):
        open_scene(tmp_path / "missing.tif")


def test_band_count_must_suit_the_predictor(tmp_path):
    path = write_raster(tmp_path / "two.tif", speckle((2, 64, 64)))
    assert open_scene(path, in_channels=2).count == 2
    with pytest.raises(SceneError, match=r"two\.tif.*2 band.*expects 1"):
        open_scene(path, in_channels=1)
    assert open_scene(path, in_channels=1, bands=[2]).bands == (2,)
    with pytest.raises(SceneError, match="do not exist"):
        open_scene(path, bands=[3])


def test_units_are_read_from_the_metadata_not_guessed_from_the_values(tmp_path):
    # sargeo.inference.inputs: a tag (or --units) says it; values in dB-like ranges do not
    lin = write_raster(tmp_path / "lin.tif", speckle((64, 64)))
    db = 10 * np.log10(speckle((64, 64)))
    dn = (speckle((64, 64)) * 1e5).astype("uint16")
    tagged = [write_raster(tmp_path / "a.tif", db, nodata=None, units="sigma0-db"),
              write_raster(tmp_path / "b.tif", dn, dtype="uint16", units="dn")]
    silent = [write_raster(tmp_path / "c.tif", db, nodata=None, units=None),
              write_raster(tmp_path / "d.tif", dn, dtype="uint16", units=None)]
    assert [open_scene(p).units for p in (lin, *tagged)] == ["linear", "db", "amplitude"]
    assert [open_scene(p).input_units for p in silent] == [None, None]
    assert [open_scene(p).units for p in silent] == ["unknown", "unknown"]
    assert open_scene(silent[0], units="sigma0-db").units == "db"


def test_nan_and_nodata_are_invalid_and_empty_windows_skipped(tmp_path):
    data = speckle((200, 200))
    data[:100, :100] = 0.0  # nodata: the whole first window
    data[150:160, 150:160] = np.nan
    info = open_scene(write_raster(tmp_path / "s.tif", data))
    wins = plan_windows(200, 200, 100, 0)
    with PrefetchReader(info, wins, 100, batch_size=2) as reader:
        batches = list(reader)
    assert reader.n_skipped == 1
    assert [i for b in batches for i in b.indices] == [1, 2, 3]
    assert batches[-1].upto == 4
    last = batches[-1]
    k = last.indices.index(3)
    assert not last.valid[k, 50:60, 50:60].any() and last.valid[k].sum() == 100 * 100 - 100
    assert np.isfinite(last.images).all() and (last.images[k, 0, 50:60, 50:60] == 0).all()


def test_batches_are_tile_sized_whatever_the_scene_and_padded_when_smaller(tmp_path):
    info = open_scene(write_raster(tmp_path / "s.tif", speckle((2, 40, 70))))
    wins = plan_windows(40, 70, 64, 8)
    with PrefetchReader(info, wins, 64, batch_size=4) as reader:
        (batch,) = list(reader)
    assert batch.images.shape == (2, 2, 64, 64) and batch.images.dtype == np.float32
    assert batch.valid[0, :40].all() and not batch.valid[0, 40:].any()
    assert reader._queue.maxsize == 2  # read-ahead is bounded


def _first_gdal_error(path, windows) -> str:
    """GDAL's own message for the first window rasterio cannot read (rasterio chains it
    behind "Read failed. See previous exception for details.")."""
    import rasterio

    with rasterio.open(path) as src:
        for window in windows:
            try:
                src.read(window=window)
            except rasterio.errors.RasterioIOError as err:
                assert "See previous exception" in str(err) and err.__cause__ is not None
                return str(err.__cause__)
    raise AssertionError("every window was readable")


def test_truncated_tiff_fails_with_the_file_name_and_gdals_reason(tmp_path):
    # units not stated: open_scene reads no pixels (it checks linear scenes' values), so the
    # reader meets the damage
    path = write_raster(tmp_path / "cut.tif", speckle((512, 512)), units=None)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    windows = plan_windows(512, 512, 256, 0)
    reason = _first_gdal_error(path, windows)
    with pytest.raises(SceneError) as info:
        with PrefetchReader(open_scene(path), windows, 256, 2) as reader:
            list(reader)
    message = str(info.value)
    assert str(path) in message and reason.rstrip(".") in message
    assert "See previous exception" not in message and "gdalinfo -checksum" in message


def test_reader_stops_when_the_consumer_stops(tmp_path):
    info = open_scene(write_raster(tmp_path / "s.tif", speckle((256, 256))))
    reader = PrefetchReader(info, plan_windows(256, 256, 32, 0), 32, batch_size=1, prefetch=1)
    with reader:
        next(iter(reader))
    assert not reader._thread.is_alive()
