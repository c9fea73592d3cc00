"""sargeo.geo: pixel <-> map round trips and the rbox (le90) conventions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from affine import Affine

from sargeo.geo import (
    bounds_slices,
    corners_to_rbox,
    hbox_corners,
    le90,
    map_to_pixel,
    pixel_to_map,
    points_to_map,
    points_to_pixel,
    rbox_corners,
    tile_transform,
)


def angle_diff(a, b, period=math.pi):
    """Smallest signed difference of angles modulo ``period``."""
    return (np.asarray(a) - np.asarray(b) + period / 2) % period - period / 2


@pytest.mark.parametrize("transform", [
    Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 5_800_000.0),  # north-up UTM
    Affine(9.5, 1.2, 412_345.6, 0.8, -10.3, 6_100_000.0),  # rotated/sheared
])
def test_pixel_map_round_trip(transform):
    rng = np.random.default_rng(0)
    cols, rows = rng.uniform(-50, 600, size=(2, 7, 3))
    x, y = pixel_to_map(transform, cols, rows)
    assert x.shape == (7, 3)
    # the same as the affine applied directly (rasterio convention)
    ex, ey = transform * (cols, rows)
    np.testing.assert_allclose(x, ex, rtol=0, atol=1e-6)
    np.testing.assert_allclose(y, ey, rtol=0, atol=1e-6)
    c2, r2 = map_to_pixel(transform, x, y)
    np.testing.assert_allclose(c2, cols, atol=1e-7)
    np.testing.assert_allclose(r2, rows, atol=1e-7)
    pts = np.stack([cols, rows], -1)
    np.testing.assert_allclose(points_to_pixel(transform, points_to_map(transform, pts)), pts,
                               atol=1e-7)


def test_tile_transform_of_torchgeo_bounds_and_pixel_centres():
    bounds = (slice(500_000.0, 502_560.0), slice(5_797_440.0, 5_800_000.0), slice(None))
    t = tile_transform(bounds, (10.0, 10.0))
    assert t == tile_transform((500_000.0, 5_797_440.0, 502_560.0, 5_800_000.0), 10.0)
    x, y = pixel_to_map(t, 0.5, 0.5)  # centre of the upper-left pixel
    assert (float(x), float(y)) == (500_005.0, 5_799_995.0)
    x, y = pixel_to_map(t, 256, 256)  # lower-right corner of the tile
    assert (float(x), float(y)) == (502_560.0, 5_797_440.0)


def test_rbox_corner_convention():
    # t = 0: the w edge along +x (columns); t = pi/2: along +y (rows, down on screen)
    c = rbox_corners([[10, 20, 8, 2, 0.0]])[0]
    np.testing.assert_allclose(np.ptp(c, axis=0), [8, 2], atol=1e-9)
    c = rbox_corners([[10, 20, 8, 2, math.pi / 2]])[0]
    np.testing.assert_allclose(np.ptp(c, axis=0), [2, 8], atol=1e-9)
    np.testing.assert_allclose(c.mean(0), [10, 20])
    np.testing.assert_allclose(hbox_corners([[1, 2, 5, 7]])[0],
                               [[1, 2], [5, 2], [5, 7], [1, 7]])


def test_rbox_corners_round_trip_keeps_angle():
    rng = np.random.default_rng(1)
    n = 200
    w = rng.uniform(2, 50, n)
    h = w * rng.uniform(0.1, 0.9, n)  # w > h: already le90
    t = rng.uniform(-math.pi / 2 + 1e-3, math.pi / 2 - 1e-3, n)
    rboxes = np.stack([rng.uniform(0, 512, n), rng.uniform(0, 512, n), w, h, t], -1)
    back = corners_to_rbox(rbox_corners(rboxes))
    np.testing.assert_allclose(back[:, :4], rboxes[:, :4], atol=1e-6)
    assert np.abs(angle_diff(back[:, 4], t)).max() < 1e-7


def test_le90_normalisation():
    # h > w: the long edge becomes w and the angle turns by 90 degrees, into [-pi/2, pi/2)
    cx, cy, w, h, t = le90(5.0, 6.0, 2.0, 8.0, 0.3)
    assert (cx, cy, w, h) == (5.0, 6.0, 8.0, 2.0)
    assert t == pytest.approx(0.3 + math.pi / 2 - math.pi)
    for angle in (math.pi / 2, 3.0, -2.0, 7.5, -math.pi / 2):
        t = le90(0, 0, 4, 1, angle)[4]
        assert -math.pi / 2 <= t < math.pi / 2
        assert angle_diff(t, angle) == pytest.approx(0.0, abs=1e-12)
    # corners of a "tall" box give the le90 rbox of the same rectangle
    tall = np.array([[100.0, 50.0, 4.0, 20.0, 0.2]])
    back = corners_to_rbox(rbox_corners(tall))[0]
    np.testing.assert_allclose(back[:4], [100, 50, 20, 4], atol=1e-6)
    assert back[4] == pytest.approx(0.2 + math.pi / 2 - math.pi, abs=1e-7)
    assert -math.pi / 2 <= back[4] < math.pi / 2
    np.testing.assert_allclose(np.sort(rbox_corners(back[None])[0], axis=0),
                               np.sort(rbox_corners(tall)[0], axis=0), atol=1e-6)


def test_bounds_slices_reads_torchgeo_bounds_back_as_a_query():
    import torch

    ts = pd.Timestamp("2022-10-02T20:51:26").timestamp()
    bounds = torch.tensor([500_000.0, 500_320.0, 10.0, 5_799_680.0, 5_800_000.0, 10.0,
                           ts, ts + 60.0, 1.0], dtype=torch.float64)
    x, y, t = bounds_slices(bounds)
    assert (x.start, x.stop, x.step) == (500_000.0, 500_320.0, 10.0)
    assert (y.start, y.stop, y.step) == (5_799_680.0, 5_800_000.0, 10.0)
    assert (t.start, t.stop) == (ts, ts + 60.0)
    query = (slice(500_000.0, 500_320.0, 10.0), slice(5_799_680.0, 5_800_000.0, 10.0))
    assert bounds_slices(query)[:2] == query
    # the tile's transform is the same whichever form the bounds take; 4 numbers are
    # (xmin, ymin, xmax, ymax) and the 9-value form is not mistaken for them
    expected = Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 5_800_000.0)
    assert tile_transform(bounds, 10.0) == expected
    assert tile_transform(query, 10.0) == expected
    assert tile_transform((500_000.0, 5_799_680.0, 500_320.0, 5_800_000.0), 10.0) == expected
    with pytest.raises(ValueError, match="9 values"):
        bounds_slices(torch.zeros(6))
    with pytest.raises(ValueError, match="not 5 values"):
        tile_transform((1.0, 2.0, 3.0, 4.0, 5.0), 10.0)
