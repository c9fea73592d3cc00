"""VectorLabels: reading and checking label files, reprojection, per-tile boxes and masks."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from sargeo.datasets.labels import LabelError, LabelWarning, VectorLabels
from sargeo.geo import pixel_to_map

UTM31 = pyproj.CRS.from_epsg(32631)
UTM32 = pyproj.CRS.from_epsg(32632)
RES = 10.0
ORIGIN = (500_000.0, 5_800_000.0)
#: a 64 x 64 px tile at 10 m in UTM zone 31
TILE = Affine(RES, 0.0, ORIGIN[0], 0.0, -RES, ORIGIN[1])


def px(col: float, row: float) -> tuple[float, float]:
    """Map coordinates of a pixel position of TILE (written out, not through sargeo.geo)."""
    return ORIGIN[0] + col * RES, ORIGIN[1] - row * RES


def px_box(c0: float, r0: float, c1: float, r1: float) -> Polygon:
    return Polygon([px(c0, r0), px(c1, r0), px(c1, r1), px(c0, r1)])


def write(path, geoms, names, crs=UTM31, **columns):
    frame = gpd.GeoDataFrame({"class_name": names, **columns}, geometry=geoms, crs=crs)
    frame.to_file(path)
    return path


def test_lonlat_box_lands_on_the_right_pixels_and_maps_back(tmp_path):
    # a box drawn in lon/lat whose corners are known pixel positions of a UTM tile
    c0, r0, c1, r1 = 10.2, 5.3, 30.7, 20.9
    to_lonlat = pyproj.Transformer.from_crs(UTM31, 4326, always_xy=True)
    corners = [px(c0, r0), px(c1, r0), px(c1, r1), px(c0, r1)]
    lonlat = Polygon([to_lonlat.transform(x, y) for x, y in corners])
    path = write(tmp_path / "boxes.geojson", [lonlat], ["ship"], crs="EPSG:4326")
    labels = VectorLabels(path, crs=UTM31)
    tile = labels.for_tile(TILE, (64, 64))
    assert tile.labels.tolist() == [0] and tile.hboxes.dtype == np.float32
    np.testing.assert_allclose(tile.hboxes[0], [c0, r0, c1, r1], atol=0.05)  # << 1 px
    # kept in lon/lat, projected per tile CRS on demand: the same pixels
    in_lonlat = VectorLabels(path)
    assert in_lonlat.crs.to_epsg() == 4326
    np.testing.assert_allclose(in_lonlat.for_tile(TILE, (64, 64), crs=UTM31).hboxes,
                               tile.hboxes, atol=1e-4)
    # and back to lon/lat through sargeo.geo
    xs, ys = pixel_to_map(TILE, tile.hboxes[0, [0, 2, 2, 0]], tile.hboxes[0, [1, 1, 3, 3]])
    lon, lat = to_lonlat.transform(xs, ys)
    got = np.stack([lon, lat], -1)
    expected = np.asarray(lonlat.exterior.coords)[:4]
    # 1 m is about 1.5e-5 degrees of longitude at 52 N
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_oriented_box_keeps_its_heading_from_one_utm_zone_to_the_next(tmp_path):
    # a 200 m x 30 m ship near 5.9 E, 52 N (zone 31, beside zone 32), drawn in zone 32 at a grid
    # heading of 30 degrees; the tile is in zone 31
    to32 = pyproj.Transformer.from_crs(4326, UTM32, always_xy=True)
    to31 = pyproj.Transformer.from_crs(UTM32, UTM31, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(UTM32, 4326, always_xy=True)
    cx, cy = to32.transform(5.9, 52.0)
    heading = math.radians(30.0)
    along = np.array([math.sin(heading), math.cos(heading)])
    across = np.array([math.cos(heading), -math.sin(heading)])
    c = np.array([cx, cy])
    ship = Polygon([c + 100 * along + 15 * across, c + 100 * along - 15 * across,
                    c - 100 * along - 15 * across, c - 100 * along + 15 * across])
    path = write(tmp_path / "ship32.gpkg", [ship], ["ship"], crs=UTM32)
    # a 64 x 64 tile of 10 m pixels in zone 31 centred on the ship
    x31, y31 = to31.transform(cx, cy)
    tile_t = Affine(RES, 0.0, math.floor(x31 / RES) * RES - 320, 0.0, -RES,
                    math.floor(y31 / RES) * RES + 320)
    tile = VectorLabels(path, crs=UTM31).for_tile(tile_t, (64, 64))
    assert len(tile) == 1
    pcx, pcy, w, h, t = tile.rboxes[0].astype(np.float64)
    assert w == pytest.approx(20.0, abs=0.02) and h == pytest.approx(3.0, abs=0.02)  # pixels
    # the true (geodesic) heading of the box's long axis, measured from its rbox, equals the
    # drawn ship's; the grid angle itself turns by the difference of meridian convergence
    ends = np.array([[pcx + w / 2 * math.cos(t), pcy + w / 2 * math.sin(t)],
                     [pcx - w / 2 * math.cos(t), pcy - w / 2 * math.sin(t)]])
    ex, ey = pixel_to_map(tile_t, ends[:, 0], ends[:, 1])
    lon, lat = pyproj.Transformer.from_crs(UTM31, 4326, always_xy=True).transform(ex, ey)
    geod = Geod(ellps="WGS84")
    got_az = geod.inv(lon[1], lat[1], lon[0], lat[0])[0]
    blon, blat = to_ll.transform(*(c + 100 * along))
    slon, slat = to_ll.transform(*(c - 100 * along))
    true_az = geod.inv(slon, slat, blon, blat)[0]
    error = abs((got_az - true_az + 90) % 180 - 90)
    # measured: under 1e-4 degrees for headings 0..180 (float32 rboxes); tolerance 0.01
    assert error < 0.01, f"true heading changed by {error:.4f} degrees"
    # the long axis in map coordinates is (cos t, -sin t) (rows go down): its grid heading
    grid31 = math.degrees(math.atan2(math.cos(t), -math.sin(t)))
    turn = abs((grid31 - 30.0 + 90) % 180 - 90)
    assert 3.0 < turn < 6.0  # about 6 * sin(52 deg) = 4.7 degrees of convergence
    # the centre lands where zone 31 puts the ship's centre
    mx, my = pixel_to_map(tile_t, pcx, pcy)
    assert math.hypot(mx - x31, my - y31) < 0.1  # metres


@pytest.mark.parametrize(("c0", "min_visible", "kept"), [
    (-10.0, 0.5, True),  # half inside, rule 0.5: kept, clipped
    (-10.0, 0.6, False),
    (-12.0, 0.5, False),  # 40% inside
    (-2.0, 0.5, True),  # 90% inside
])
def test_edge_rule(tmp_path, c0, min_visible, kept):
    path = write(tmp_path / "edge.gpkg", [px_box(c0, 20, c0 + 20, 30)], ["ship"])
    tile = VectorLabels(path, min_visible=min_visible).for_tile(TILE, (64, 64))
    assert len(tile) == int(kept)
    if kept:
        np.testing.assert_allclose(tile.hboxes[0], [0, 20, c0 + 20, 30], atol=1e-6)
        np.testing.assert_allclose(tile.rboxes[0, :4], [(c0 + 20) / 2, 25, 10, c0 + 20]
                                   if c0 + 20 < 10 else [(c0 + 20) / 2, 25, c0 + 20, 10],
                                   atol=1e-6)
        assert tile.visible[0] == pytest.approx((c0 + 20) / 20)
        assert tile.polygons[0].area == pytest.approx((c0 + 20) * 10)
    # the mask draws the inside part whatever the rule
    labels = VectorLabels(path, classes=["background", "ship"], min_visible=min_visible)
    mask = labels.mask_for_tile(TILE, (64, 64))
    assert mask[20:30, : int(c0 + 20)].all() and mask.sum() == 10 * int(c0 + 20)


def test_points_need_point_size(tmp_path):
    path = write(tmp_path / "points.geojson", [Point(px(20.0, 30.0)), Point(px(40.5, 10.5))],
                 ["buoy", "buoy"])
    with pytest.raises(LabelError, match=r"points.geojson has 2 point labels; pass point_size="):
        VectorLabels(path)
    tile = VectorLabels(path, point_size=30.0).for_tile(TILE, (64, 64))  # 3 px squares
    np.testing.assert_allclose(tile.hboxes, [[18.5, 28.5, 21.5, 31.5], [39, 9, 42, 12]],
                               atol=1e-6)
    np.testing.assert_allclose(tile.rboxes[:, 2:4], 3.0, atol=1e-6)


def test_invalid_and_empty_geometries_warn_with_counts(tmp_path):
    bowtie = Polygon([px(0, 0), px(10, 10), px(10, 0), px(0, 10)])  # self-intersecting
    flat = Polygon([px(0, 40), px(5, 40), px(10, 40)])  # no area: empty after repair
    good = px_box(30, 30, 40, 40)
    geoms = [bowtie, good, None, Polygon(), flat]
    path = write(tmp_path / "messy.gpkg", geoms, ["ship"] * 5)
    with pytest.warns(LabelWarning) as record:
        labels = VectorLabels(path)
    text = [str(w.message) for w in record]
    assert any("messy.gpkg: repaired 2 of 5 invalid geometries" in m for m in text), text
    assert any("messy.gpkg: dropped 3 of 5 empty geometries (1 empty after repair)" in m
               for m in text), text
    assert len(labels) == 2
    assert labels.frame["source_row"].tolist() == [0, 1]
    repaired = labels.frame.geometry.iloc[0]
    assert repaired.is_valid and isinstance(repaired, MultiPolygon)
    assert repaired.area == pytest.approx(2 * 25 * RES**2)  # two triangles
    tile = labels.for_tile(TILE, (64, 64))
    np.testing.assert_allclose(tile.hboxes, [[0, 0, 10, 10], [30, 30, 40, 40]], atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file warns about nothing
        VectorLabels(write(tmp_path / "clean.gpkg", [good], ["ship"]))


def test_lines_and_unknown_classes_and_missing_crs_are_refused(tmp_path):
    path = write(tmp_path / "lines.gpkg", [LineString([px(0, 0), px(5, 5)]), px_box(1, 1, 2, 2)],
                 ["ship", "ship"])
    with pytest.raises(LabelError, match=r"lines.gpkg: 1 of 2 labels are lines \(LineString\)"):
        VectorLabels(path)
    path = write(tmp_path / "classes.gpkg", [px_box(0, 0, 5, 5), px_box(9, 9, 12, 12)],
                 ["ship", "boat"])
    with pytest.raises(LabelError, match=r"classes.gpkg: class 'boat' in column 'class_name' "
                                         r"is not one of the expected classes \['ship'\]"):
        VectorLabels(path, classes=["ship"])
    # classes=None: sorted names; the order of classes gives the ids
    assert VectorLabels(path).classes == ("boat", "ship")
    tile = VectorLabels(path, classes=["ship", "boat", "wreck"]).for_tile(TILE, (64, 64))
    assert tile.labels.tolist() == [0, 1]
    frame = gpd.GeoDataFrame({"class_name": ["ship"]}, geometry=[px_box(0, 0, 5, 5)])
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(tmp_path / "nocrs.shp")
    with pytest.raises(LabelError, match="nocrs.shp has no CRS"):
        VectorLabels(tmp_path / "nocrs.shp")
    with pytest.raises(LabelError, match="has no column 'kind'"):
        VectorLabels(path, class_column="kind")
    with pytest.raises(FileNotFoundError, match="nothere.gpkg"):
        VectorLabels(tmp_path / "nothere.gpkg")


def test_layers_must_be_chosen_when_there_are_several(tmp_path):
    path = tmp_path / "two.gpkg"
    gpd.GeoDataFrame({"class_name": ["ship"]}, geometry=[px_box(0, 0, 5, 5)],
                     crs=UTM31).to_file(path, layer="ships")
    gpd.GeoDataFrame({"class_name": ["water"]}, geometry=[px_box(0, 0, 64, 64)],
                     crs=UTM31).to_file(path, layer="water")
    with pytest.raises(LabelError, match=r"two.gpkg has layers \['ships', 'water'\]"):
        VectorLabels(path)
    assert VectorLabels(path, layer="water").classes == ("water",)


def test_labels_outside_every_scene_warn(tmp_path):
    geoms = [px_box(0, 0, 5, 5), px_box(50, 50, 60, 60), px_box(5000, 0, 5005, 5)]
    labels = VectorLabels(write(tmp_path / "far.gpkg", geoms, ["ship"] * 3))
    scene = shapely.box(*px(0, 64), *px(64, 0))
    with pytest.warns(LabelWarning, match=r"1 of 3 labels in .*far.gpkg lie outside every "
                                          "scene"):
        assert labels.check_coverage(scene, crs=UTM31) == 1
    # footprints in another CRS (a torchgeo index would be a GeoDataFrame like this one)
    footprints = gpd.GeoDataFrame(geometry=[scene], crs=UTM31).to_crs(4326)
    with pytest.warns(LabelWarning, match="1 of 3 labels"):
        assert labels.check_coverage(footprints) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert labels.check_coverage(shapely.box(*px(0, 64), *px(6000, 0)), crs=UTM31) == 0


def test_mask_of_a_water_polygon(tmp_path):
    # a lake with a bay and an island; edges off pixel centres so all_touched=False is exact
    outer = [px(3.2, 4.1), px(50.7, 8.3), px(44.1, 60.2), px(20.3, 30.6), px(6.4, 55.9)]
    island = [px(30.2, 20.2), px(38.8, 20.2), px(38.8, 27.7), px(30.2, 27.7)]
    lake = Polygon(outer, [island])
    path = write(tmp_path / "water.gpkg", [lake, px_box(-20, -20, -10, -10)], ["water", "water"])
    labels = VectorLabels(path, classes=["background", "land", "water"])
    with pytest.warns(LabelWarning, match="1 of 2 labels"):
        labels.check_coverage(shapely.box(*px(0, 64), *px(64, 0)), crs=UTM31)
    mask = labels.mask_for_tile(TILE, (64, 64), background=0)
    # expected: pixel centres inside the lake (computed with shapely, not rasterio)
    rows, cols = np.mgrid[0:64, 0:64] + 0.5
    xs, ys = ORIGIN[0] + cols * RES, ORIGIN[1] - rows * RES
    expected = np.where(shapely.contains_xy(lake, xs, ys), 2, 0)
    assert mask.dtype == np.uint8 and mask.shape == (64, 64)
    np.testing.assert_array_equal(mask, expected)
    assert (mask[21:27, 31:38] == 0).all()  # the island
    assert (labels.mask_for_tile(TILE, (64, 64), background=255) == 255).sum() == \
        (expected == 0).sum()
    # a class id that is also the background value cannot be told apart
    with pytest.raises(LabelError, match="background value 0 is also the id of class 'water'"):
        VectorLabels(path).mask_for_tile(TILE, (64, 64))


def test_footprints_give_their_crs_and_geometries_or_a_named_error():
    from sargeo.datasets.labels import LabelError, footprint_geometries

    scene = shapely.box(0, 0, 10, 10)
    series = gpd.GeoSeries([scene, scene.buffer(1)], crs=UTM31)
    crs, geoms = footprint_geometries(series, crs="EPSG:4326")
    assert crs == series.crs and geoms == list(series.values)
    assert footprint_geometries(scene, crs=UTM31) == (UTM31, [scene])
    with pytest.raises(LabelError, match=r"^scene footprints have no CRS; pass crs=$"):
        footprint_geometries(scene)
    with pytest.raises(TypeError, match=r"^footprints must be a GeoDataFrame, GeoSeries or "
                       r"shapely geometry, not list$"):
        footprint_geometries([scene], crs=UTM31)
