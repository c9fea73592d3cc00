"""``--sea-only`` on a Sentinel-1 product in its image geometry: a small product whose
geolocation grid lies over Palau (the shared products' own islands, moved into its first lines
and samples), ships simulated at sea and on land, run with the CFAR baseline."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from pyproj import Geod

from sargeo.inference import predict_scene
from sargeo.inference.journal import journal_dir
from sargeo.inference.predictor import CFARShipDetector
from sargeo.inference.windows import plan_windows
from sargeo.landmask import LandMask
from tests.datasets.safe_factory import build_product, source_products
from tests.inference.conftest import Wrapped
from tests.inference.test_product_infer import true_lonlat
from tests.inference.test_sea_only import assert_same_sea_output, predict_counting_reads

#: every 16th line and pixel of the first shared product (pixels of about 160 m)
SCALE = 16
CROP = (320, 240)  #: lines, samples kept
#: the reduced product's pixel (line, sample) moved to its (0, 0): Babeldaob (Palau) then lies
#: in rows 80-290, columns 40-180 of the crop, with sea around it
SHIFT = (470, 280)
TILE, OVERLAP, BUFFER = 32, 10, 500.0  # overlap: a ship and its CFAR ring
SHIP = (2, 2)  #: rows x columns of a simulated ship
#: CFAR windows of 2 and 5 px at 160 m (the defaults' guard and background are 4 and 5 px);
#: objects of one pixel (226 m across) are speckle, a ship of 2 x 2 px is 452 m across
CFAR = dict(rotated=True, guard_m=300.0, background_m=700.0, min_size_m=300.0)
SHIPS = [(r, c) for r in range(10, CROP[0] - 10, 18) for c in range(10, CROP[1] - 10, 18)]


@pytest.fixture(scope="module")
def source():
    sources = source_products()
    if not sources:
        pytest.skip("real Sentinel-1 product metadata not found in ../shared/data")
    return sources[0]


def shift(source) -> tuple[float, float]:
    """Longitude, latitude added to every tie point: the ground of pixel SHIFT moved to the
    product's first pixel (from the shared annotation's grid, independently of sargeo)."""
    lon, lat = true_lonlat(source, SCALE * np.array([0.0, SHIFT[0]]),
                           SCALE * np.array([0.0, SHIFT[1]]))
    return float(lon[1] - lon[0]), float(lat[1] - lat[0])


def ground(source, rows, cols) -> tuple[np.ndarray, np.ndarray]:
    """Longitude, latitude of the test product's pixel centres (rows, cols), from the shared
    annotation's grid and the shift (bilinear between tie points, as true_lonlat)."""
    dlon, dlat = shift(source)
    lon, lat = true_lonlat(source, SCALE * np.ravel(rows), SCALE * np.ravel(cols))
    return (lon + dlon).reshape(np.shape(rows)), (lat + dlat).reshape(np.shape(rows))


def sea_with_ships(pol: str, row: int, rows: int, width: int) -> np.ndarray:
    """Gamma speckle (4 looks) everywhere, land included, and bright ships at SHIPS."""
    rng = np.random.default_rng([11, ("VV", "VH").index(pol), row])
    mean = 0.03 if pol == "VV" else 0.006
    out = rng.gamma(4.0, mean / 4, (rows, width)).astype(np.float32)
    for y, x in SHIPS:
        lo, hi = max(y - row, 0), max(min(y + SHIP[0] - row, rows), 0)
        out[lo:hi, x:x + SHIP[1]] = 5.0 if pol == "VV" else 1.0
    return out


@pytest.fixture(scope="module")
def palau(source, tmp_path_factory):
    """The product, a --sea-only run over it with every window read recorded, the land."""
    dlon, dlat = shift(source)

    def move(name: str, root: ET.Element) -> None:
        for point in root.findall("geolocationGrid/geolocationGridPointList/"
                                  "geolocationGridPoint"):
            for tag, delta in (("longitude", dlon), ("latitude", dlat)):
                elem = point.find(tag)
                elem.text = repr(float(elem.text) + delta)

    d = tmp_path_factory.mktemp("palau")
    archive = build_product(source, d, scale=SCALE, crop=CROP, sigma0=sea_with_ships,
                            edit=move)
    res, reads = predict_counting_reads(archive, CFARShipDetector(**CFAR), d / "sea",
                                        tile=TILE, overlap=OVERLAP, sea_only=True,
                                        land_buffer_m=BUFFER, progress=False, bands=[1])
    return archive, res, reads, LandMask.load()


@pytest.mark.slow
def test_product_windows_wholly_on_land_are_never_read(source, palau):
    archive, res, reads, mask = palau
    windows = plan_windows(CROP[0], CROP[1], TILE, OVERLAP)
    read = {(w.col_off, w.row_off) for w in windows} & set(reads)
    assert len(reads) == len(read)  # each window read once
    skipped = res.land["windows_skipped_land"]
    assert res.n_windows == len(windows) == len(read) + skipped and skipped >= 3
    # each window's distance to the sea from its pixel centres (160 m apart: every point of
    # the window lies within 113 m of one), through the grid interpolated independently; a
    # window with a centre at sea has sea within 113 m of it
    rows, cols = np.mgrid[0:CROP[0], 0:CROP[1]]
    land = mask.is_land(*ground(source, rows, cols))
    judged = 0
    for w in windows:
        inside = (slice(w.row_off, w.row_off + w.height), slice(w.col_off, w.col_off + w.width))
        to_sea = (-float(mask.distance_to_shore_m(*ground(source, rows[inside],
                                                          cols[inside])).max())
                  if land[inside].all() else 0.0)
        if to_sea > BUFFER + 150:
            assert (w.col_off, w.row_off) not in read, (w, to_sea)
        elif to_sea < BUFFER - 150:
            assert (w.col_off, w.row_off) in read, (w, to_sea)
        judged += abs(to_sea - BUFFER) >= 150
    assert judged >= len(windows) - 3


@pytest.mark.slow
def test_product_detections_at_sea_only_with_lon_lat_and_distance(source, palau):
    archive, res, _, mask = palau
    found = gpd.read_file(res.outputs["detections"])
    assert len(found) == res.n_objects and found.crs.to_epsg() == 32653
    assert not mask.is_land(found.lon, found.lat).any()
    assert (found.distance_to_shore_m > 0).all()
    np.testing.assert_allclose(found.distance_to_shore_m,
                               mask.distance_to_shore_m(found.lon, found.lat), atol=0.01)
    # the ships at sea are all found, at their place (through the independent grid)
    centres = np.array(SHIPS, float) + (np.array(SHIP) - 1) / 2
    lon, lat = ground(source, centres[:, 0], centres[:, 1])
    at_sea = ~mask.is_land(lon, lat)
    assert 20 <= at_sea.sum() < len(SHIPS) - 20
    geod = Geod(ellps="WGS84")
    dist = np.array([geod.inv(np.full(len(found), a), np.full(len(found), b), found.lon,
                              found.lat)[2] for a, b in zip(lon, lat, strict=True)])
    # each ship at sea is found (those within 50 m of the coast may fall either side of it
    # through the tie-point interpolation), and nothing else (a pixel is 160 m)
    clear = at_sea & (np.abs(mask.distance_to_shore_m(lon, lat)) > 50)
    assert (dist[clear].min(axis=1) < 100).all()
    assert (dist.min(axis=0) < 100).all() and clear.sum() <= len(found) <= at_sea.sum()
    # the ships on land in windows read were detected, then dropped
    dropped = res.land["detections_dropped_land"]
    assert dropped >= 5
    meta = pyogrio.read_info(res.outputs["detections"], layer="detections")["layer_metadata"]
    assert meta["sargeo_sea_only"] == "1" and meta["sargeo_land_buffer_m"] == "500"
    assert meta["sargeo_detections_dropped_land"] == str(dropped)
    assert meta["sargeo_windows_skipped_land"] == str(res.land["windows_skipped_land"])


@pytest.mark.slow
def test_product_sea_only_settings_are_journalled_and_resumed(palau, tmp_path):
    from importlib.metadata import version

    archive, res, _, _ = palau
    kwargs = dict(tile=TILE, overlap=OVERLAP, sea_only=True, land_buffer_m=BUFFER, bands=[1],
                  batch_size=4, progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        predict_scene(archive, Wrapped(CFARShipDetector(**CFAR), fail_after=2), tmp_path,
                      **kwargs)
    meta = json.loads((journal_dir(tmp_path / f"{archive.stem}.gpkg") / "meta.json"
                       ).read_text())
    assert meta["sea_only"] == {"source": "osm", "buffer_m": BUFFER,
                                "data": f"roaring-landmask {version('roaring-landmask')}"}
    again = Wrapped(CFARShipDetector(**CFAR))
    resumed = predict_scene(archive, again, tmp_path, resume=True, **kwargs)
    assert resumed.n_resumed == 8 and again.windows_seen == res.n_predicted - 8
    assert_same_sea_output(resumed, res)
