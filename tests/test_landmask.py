"""The land mask on real places: points, distances, windows and rasters.

Every test here needs the land data of roaring-landmask, which take 10-50 s to load once per
process (more on a busy machine): they are marked slow.
"""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine

from sargeo.landmask import LandMask

pytestmark = pytest.mark.slow

GEOD = pyproj.Geod(ellps="WGS84")
PARIS = (2.3522, 48.8566)
MID_ATLANTIC = (-40.0, 30.0)
FLORES = (-31.20, 39.45)  # the westernmost island of the Azores, about 17 x 12 km
#: the Landes coast (Côte d'Argent, France) runs straight north-south along about 1.30 W near
#: Mimizan-Plage (44.2 N), with the open Atlantic to the west and pine forest to the east
LANDES_LAT, LANDES_LON = 44.2, -1.30


@pytest.fixture(scope="module")
def osm() -> LandMask:
    return LandMask.load("osm")


def _offset(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(x), float(y)


def _coast_lons(mask: LandMask, lats: np.ndarray, west: float = -1.6,
                east: float = -1.0) -> np.ndarray:
    """Longitude of the coast at each latitude by bisection with is_land (sea at ``west``,
    land at ``east``): the coastline found through the point-in-land path only."""
    lo, hi = np.full(len(lats), west), np.full(len(lats), east)
    assert not mask.is_land(lo, lats).any() and mask.is_land(hi, lats).all()
    for _ in range(45):
        mid = (lo + hi) / 2
        land = mask.is_land(mid, lats)
        hi, lo = np.where(land, mid, hi), np.where(land, lo, mid)
    return (lo + hi) / 2


# -- points -----------------------------------------------------------------------------------
def test_known_places_are_land_or_sea(osm):
    west = _offset(LANDES_LON, LANDES_LAT, 270, 1000)  # 1 km out to sea
    east = _offset(LANDES_LON, LANDES_LAT, 90, 1000)  # 1 km inland
    lon, lat = np.array([PARIS, MID_ATLANTIC, west, east]).T
    np.testing.assert_array_equal(osm.is_land(lon, lat), [True, False, False, True])
    # any shape, longitudes in any turn
    grid = osm.is_land(np.array([[PARIS[0], PARIS[0] + 360], [MID_ATLANTIC[0] - 360, 0]]),
                       np.array([[PARIS[1], PARIS[1]], [MID_ATLANTIC[1], 0.0]]))
    np.testing.assert_array_equal(grid, [[True, True], [False, False]])
    assert osm.is_land(0.0, -90.0) and not osm.is_land(0.0, 90.0)  # Antarctica, Arctic Ocean


def test_bad_coordinates_are_refused(osm):
    with pytest.raises(ValueError, match=r"1 of 2 longitude/latitude pair\(s\) are not finite"):
        osm.is_land([0.0, np.nan], [0.0, 0.0])
    with pytest.raises(ValueError, match="were longitude and latitude swapped"):
        osm.distance_to_shore_m(48.0, 120.0)


def test_is_land_agrees_with_the_polygons_near_the_coast(osm):
    # roaring-landmask's own bitmap short cut calls some land near the OSM coast sea; is_land
    # must agree with the polygons everywhere (here: shapely on the same data)
    bounds = (4.0, 51.9, 4.6, 52.4)  # the Dutch coast from Hoek van Holland to Noordwijk
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(bounds[0], bounds[2], 50_000), rng.uniform(bounds[1], bounds[3],
                                                                      50_000)
    land = shapely.union_all(osm.land(bounds))
    expected = shapely.contains_xy(land, lon, lat)
    assert 0.3 < expected.mean() < 0.7
    np.testing.assert_array_equal(osm.is_land(lon, lat), expected)


# -- distance to the shore --------------------------------------------------------------------
def test_distance_to_a_straight_coast_matches_the_coastline_found_by_bisection(osm):
    # the coastline traced with is_land every 0.0005 deg (55 m) of latitude; the distance to
    # it, measured point by point on the ellipsoid, overestimates the distance to the real
    # line by at most (27 m)^2 / 2 d < 1 m: distance_to_shore_m must match within 3 m
    lats = np.arange(44.10, 44.30, 0.0005)
    coast = _coast_lons(osm, lats)
    assert np.all(np.abs(coast - LANDES_LON) < 0.05)  # the coast is where maps put it
    c = float(np.interp(LANDES_LAT, lats, coast))
    queries = [(_offset(c, LANDES_LAT, 270, m), m) for m in (300, 1000, 3000)]
    queries += [(_offset(c, LANDES_LAT, 90, m), -m) for m in (500, 2000)]
    for (lon, lat), along in queries:
        brute = GEOD.inv(np.full(len(lats), lon), np.full(len(lats), lat), coast, lats)[2]
        got = float(osm.distance_to_shore_m(lon, lat))
        assert np.sign(got) == np.sign(along)
        assert abs(abs(got) - brute.min()) < 3.0, (along, got, brute.min())
        assert abs(got) <= abs(along) + 1.0  # never farther than the coast point it came from


def test_distance_far_from_any_coast(osm):
    d = osm.distance_to_shore_m([PARIS[0], MID_ATLANTIC[0]], [PARIS[1], MID_ATLANTIC[1]])
    # Paris: the nearest sea is the Channel between Dieppe and the Somme, about 150 km away
    assert -170_000 < d[0] < -130_000
    # mid-Atlantic: the nearest land is Flores (Azores); its centre is at most ~10 km inland
    to_flores = GEOD.inv(*MID_ATLANTIC, *FLORES)[2]
    assert to_flores - 12_000 < d[1] < to_flores


# -- windows and rasters ----------------------------------------------------------------------
def _utm30_window(osm: LandMask, east_of_coast_m: float, size_m: float = 2000.0):
    """A square window in UTM 30N whose western edge lies ``east_of_coast_m`` east of the Landes
    coast at 44.2 N, and the signed distances to the shore sampled every 20 m over it."""
    c = float(_coast_lons(osm, np.array([LANDES_LAT]))[0])
    to_utm = pyproj.Transformer.from_crs(4326, 32630, always_xy=True)
    x0, y0 = to_utm.transform(*_offset(c, LANDES_LAT, 90, east_of_coast_m))
    window = shapely.box(x0, y0 - size_m / 2, x0 + size_m, y0 + size_m / 2)
    xs, ys = np.meshgrid(np.arange(x0, x0 + size_m + 1, 20.0),
                         np.arange(y0 - size_m / 2, y0 + size_m / 2 + 1, 20.0))
    lon, lat = to_utm.transform(xs, ys, direction="INVERSE")
    return window, osm.distance_to_shore_m(lon, lat)


@pytest.mark.parametrize("east_of_coast_m", [-1000.0, 400.0, 5000.0])
@pytest.mark.parametrize("buffer_m", [0.0, 100.0, 500.0])
def test_a_window_is_on_land_only_with_no_sea_within_the_buffer(osm, east_of_coast_m,
                                                                 buffer_m):
    window, d = _utm30_window(osm, east_of_coast_m)
    nearest_sea = -d.max()  # how far inland the window's most seaward sample lies
    if abs(nearest_sea - buffer_m) < 40:  # samples 20 m apart decide only away from the edge
        pytest.fail(f"ambiguous case: sea {nearest_sea:.0f} m from the window")
    assert osm.window_on_land(window, "EPSG:32630", buffer_m) == (nearest_sea > buffer_m)


def test_window_on_land_in_geographic_coordinates(osm):
    # a 0.02 deg window in Paris (a CRS in degrees: buffered in a local metric projection)
    paris = shapely.box(PARIS[0] - 0.01, PARIS[1] - 0.01, PARIS[0] + 0.01, PARIS[1] + 0.01)
    assert osm.window_on_land(paris, "EPSG:4326", 500.0)
    landes = shapely.box(LANDES_LON - 0.05, LANDES_LAT - 0.01, LANDES_LON + 0.05,
                         LANDES_LAT + 0.01)
    assert not osm.window_on_land(landes, "EPSG:4326", 0.0)
    with pytest.raises(ValueError, match="the land buffer must be a finite distance >= 0 m"):
        osm.window_on_land(paris, "EPSG:4326", -1.0)


@pytest.mark.parametrize("buffer_m", [0.0, 500.0])
def test_raster_mask_of_a_coastal_tile(osm, buffer_m):
    to_utm = pyproj.Transformer.from_crs(4326, 32630, always_xy=True)
    x0, y0 = to_utm.transform(LANDES_LON - 0.03, LANDES_LAT + 0.02)
    transform = Affine.translation(round(x0), round(y0)) * Affine.scale(20.0, -20.0)
    mask = osm.raster(transform, (150, 250), "EPSG:32630", buffer_m=buffer_m)
    assert mask.shape == (150, 250) and mask.dtype == bool
    rows, cols = np.mgrid[0:150, 0:250] + 0.5
    x, y = transform * (cols, rows)
    lon, lat = to_utm.transform(x, y, direction="INVERSE")
    d = osm.distance_to_shore_m(lon, lat)
    expected = d < -buffer_m
    clear = np.abs(d + buffer_m) > 2.0  # pixel centres within 2 m of the edge may go either way
    assert 0.2 < expected.mean() < 0.8 and clear.mean() > 0.99
    np.testing.assert_array_equal(mask[clear], expected[clear])


# -- the other source -------------------------------------------------------------------------
def test_gshhg_source_agrees_with_osm_within_its_accuracy(osm):
    gshhg = LandMask("gshhg")  # not the shared instance: freed after this test
    lon, lat = np.array([PARIS, MID_ATLANTIC]).T
    np.testing.assert_array_equal(gshhg.is_land(lon, lat), [True, False])
    # along the Dutch coast the GSHHG line lies a median ~80 m and at most ~730 m from OSM's
    lines = osm.coastline((4.15, 52.0, 4.5, 52.3))
    pts = np.concatenate([shapely.get_coordinates(shapely.line_interpolate_point(
        g, np.linspace(0, 1, 60), normalized=True)) for g in lines])
    off = np.abs(gshhg.distance_to_shore_m(pts[:, 0], pts[:, 1]))
    assert np.median(off) < 150 and off.max() < 1000
    assert "GSHHG" in gshhg.attribution and "OpenStreetMap contributors" in osm.attribution
