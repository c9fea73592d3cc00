"""Window planning, box merging and the streaming blended mosaic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rasterio.windows import Window

from sargeo.inference.merge import (
    BlendedMosaic,
    Detections,
    merge_detections,
    nms_rotated,
    nms_rotated_shapely,
    window_detections,
    window_interiors,
)
from sargeo.inference.windows import plan_windows


@pytest.mark.parametrize(("h", "w", "tile", "overlap"),
                         [(1000, 700, 256, 32), (256, 256, 256, 0), (300, 90, 128, 16),
                          (50, 40, 64, 8), (513, 1025, 512, 64)])
def test_windows_cover_the_scene_inside_it(h, w, tile, overlap):
    wins = plan_windows(h, w, tile, overlap)
    cover = np.zeros((h, w), int)
    for win in wins:
        r, c, wh, ww = int(win.row_off), int(win.col_off), int(win.height), int(win.width)
        assert r >= 0 and c >= 0 and r + wh <= h and c + ww <= w
        assert wh == min(tile, h) and ww == min(tile, w)
        cover[r:r + wh, c:c + ww] += 1
    assert cover.min() >= 1
    rows = [int(x.row_off) for x in wins]
    assert rows == sorted(rows)  # row-major, as the streaming mosaic needs
    # neighbours overlap by at least `overlap`
    offs = sorted({int(x.col_off) for x in wins})
    assert all(b - a <= tile - overlap for a, b in zip(offs, offs[1:], strict=False))


def test_small_scene_is_one_window_and_bad_arguments_fail():
    assert plan_windows(50, 40, 64, 8) == [Window(0, 0, 40, 50)]
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(100, 100, 64, 64)
    with pytest.raises(ValueError, match="tile"):
        plan_windows(100, 100, 0, 0)


def _dets(boxes, scores, labels=None, truncated=None):
    boxes = np.asarray(boxes, float)
    n = len(boxes)
    return Detections(boxes, np.asarray(scores, float),
                      np.zeros(n, np.int64) if labels is None else np.asarray(labels),
                      np.zeros(n, bool) if truncated is None else np.asarray(truncated))


def test_nms_is_class_aware():
    d = _dets([[0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10]], [0.9, 0.8, 0.7], [0, 0, 1])
    merged = merge_detections(d, iou_thr=0.5)
    assert len(merged) == 2 and sorted(merged.labels.tolist()) == [0, 1]


def test_truncated_view_loses_to_the_whole_one_even_with_a_higher_score():
    # window A sees cols 120..128 of an object (cut at its edge), window B all of it (120..140)
    win_a, win_b = Window(0, 0, 128, 128), Window(96, 0, 128, 128)
    a = window_detections({"boxes": [[120, 20, 128, 28]], "scores": [0.95], "labels": [0]},
                          win_a, 200, 300, False, 0.1)
    b = window_detections({"boxes": [[24, 20, 44, 28]], "scores": [0.6], "labels": [0]},
                          win_b, 200, 300, False, 0.1)
    assert a.truncated.tolist() == [True] and b.truncated.tolist() == [False]
    merged = merge_detections(Detections.concat([a, b], False), iou_thr=0.5)
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], [120, 20, 140, 28])


def test_a_sliver_at_an_inner_edge_that_another_window_saw_whole_is_dropped():
    # a 240 x 128 scene, windows rows [0, 128) and [112, 240); the second window reports a thin
    # box along its top edge (a model artefact) that the first window saw whole and did not find
    windows = [Window(0, 0, 128, 128), Window(0, 112, 128, 128)]
    sliver = window_detections({"boxes": [[91, 0, 100, 2]], "scores": [0.9], "labels": [0]},
                               windows[1], 240, 128, False, 0.1)
    assert sliver.truncated.tolist() == [True]
    interiors = window_interiors(windows, 240, 128)
    np.testing.assert_allclose(interiors, [[0, 0, 128, 127], [0, 113, 128, 240]])
    assert len(merge_detections(sliver, interiors=interiors)) == 0
    assert len(merge_detections(sliver)) == 1  # without the windows nothing says it is spurious


def test_an_object_longer_than_the_overlap_keeps_both_cut_halves():
    # rows [100, 140) span the 16 px overlap [112, 128): no window sees the object whole
    windows = [Window(0, 0, 128, 128), Window(0, 112, 128, 128)]
    a = window_detections({"boxes": [[40, 100, 48, 128]], "scores": [0.9], "labels": [0]},
                          windows[0], 240, 128, False, 0.1)
    b = window_detections({"boxes": [[40, 0, 48, 28]], "scores": [0.8], "labels": [0]},
                          windows[1], 240, 128, False, 0.1)
    merged = merge_detections(Detections.concat([a, b], False),
                              interiors=window_interiors(windows, 240, 128))
    assert len(merged) == 2


def test_boxes_at_the_scene_edge_are_not_truncated():
    d = window_detections({"boxes": [[0, 0, 5, 5], [123, 123, 128, 128]], "scores": [1, 1],
                           "labels": [0, 0]}, Window(0, 0, 128, 128), 128, 128, False, 0.0)
    assert not d.truncated.any()


def test_rotated_nms_mmcv_and_shapely_agree():
    # mmcv's compiled ops are part of the tested stack: without them this must fail, not
    # compare the shapely fallback with itself
    from mmcv.ops import nms_rotated as mmcv_nms_rotated

    from sargeo.inference.merge import _mmcv_nms_rotated

    assert _mmcv_nms_rotated() is mmcv_nms_rotated
    rng = np.random.default_rng(0)
    n = 60
    boxes = np.column_stack([rng.uniform(0, 100, n), rng.uniform(0, 100, n),
                             rng.uniform(8, 30, n), rng.uniform(2, 8, n),
                             rng.uniform(-math.pi / 2, math.pi / 2, n)])
    scores, labels = rng.uniform(size=n), rng.integers(0, 2, n)
    ref = nms_rotated_shapely(boxes, scores, labels, 0.3)
    got = nms_rotated(boxes, scores, labels, 0.3)
    assert 0 < len(ref) < n
    assert got.tolist() == ref.tolist()


def test_rotated_nms_merges_a_turned_duplicate_but_not_a_neighbour():
    boxes = np.array([[50, 50, 30, 6, 0.5], [50.5, 50, 30, 6, 0.52], [50, 70, 30, 6, 0.5]])
    keep = nms_rotated(boxes, np.array([0.9, 0.8, 0.7]), np.zeros(3, int), 0.5)
    assert keep.tolist() == [0, 2]


def _run_mosaic(h, w, tile, overlap, probs_of, weight="cosine", block=64, valid_of=None):
    wins = plan_windows(h, w, tile, overlap)
    m = BlendedMosaic(h, w, 2, wins, overlap=overlap, block=block, weight=weight)
    strips = []
    for i, win in enumerate(wins):
        strips += m.advance(i)
        valid = np.ones((tile, tile), bool) if valid_of is None else valid_of(win)
        m.add(win, probs_of(win), valid)
    strips += m.advance(len(wins))
    probs = np.concatenate([s.probs for s in strips], axis=1)
    classes = np.concatenate([s.classes for s in strips])
    assert [s.row0 for s in strips] == list(range(0, h, block))
    return probs, classes, m


@pytest.mark.parametrize("weight", ["cosine", "uniform", "random"])
def test_constant_probabilities_blend_without_seams(weight):
    rng = np.random.default_rng(1)
    if weight == "random":  # every window its own positive weights
        def weight(win):
            return rng.uniform(0.05, 3.0, (int(win.height), int(win.width)))
    const = np.array([0.3, 0.7], np.float32)[:, None, None]
    probs, classes, _ = _run_mosaic(300, 250, 96, 24, lambda win: np.broadcast_to(
        const, (2, 96, 96)), weight=weight)
    assert probs.shape == (2, 300, 250)
    assert np.abs(probs - const).max() < 1e-6
    assert (classes == 1).all()


def test_mosaic_blends_neighbours_smoothly_and_marks_unseen_pixels():
    # left half of the windows says class 0, right half class 1: the cosine ramp makes a
    # gradual transition, and pixels no valid window saw are nodata
    def probs_of(win):
        p = np.zeros((2, 64, 64), np.float32)
        p[int(win.col_off) // 48 % 2] = 1
        return p

    def valid_of(win):
        v = np.ones((64, 64), bool)
        if int(win.row_off) == 0 and int(win.col_off) == 0:
            v[:4, :4] = False
        return v

    probs, classes, _ = _run_mosaic(64, 160, 64, 16, probs_of, valid_of=valid_of)
    assert (classes[:4, :4] == 255).all() and np.isnan(probs[:, :4, :4]).all()
    row = probs[1, 32]
    assert np.all(np.abs(np.diff(row[4:])) < 0.2)  # no jump anywhere along the row


def test_mosaic_memory_depends_on_tile_not_scene_height():
    small = BlendedMosaic(600, 200, 3, plan_windows(600, 200, 128, 16), overlap=16, block=64)
    tall = BlendedMosaic(20_000, 200, 3, plan_windows(20_000, 200, 128, 16), overlap=16,
                         block=64)
    assert small.nbytes == tall.nbytes == (3 + 1) * (128 + 64) * 200 * 4
    # and a tall scene streams through that buffer (add() refuses windows beyond it)
    ones = np.ones((3, 128, 128), np.float32) / 3
    rows = 0
    for i, win in enumerate(tall.windows):
        rows += sum(s.row1 - s.row0 for s in tall.advance(i))
        tall.add(win, ones, np.ones((128, 128), bool))
    rows += sum(s.row1 - s.row0 for s in tall.advance(len(tall.windows)))
    assert rows == 20_000


def test_mosaic_restarted_at_a_flushed_row_gives_the_same_rows():
    rng = np.random.default_rng(2)
    h, w, tile, ov, block = 400, 150, 96, 20, 64
    wins = plan_windows(h, w, tile, ov)
    tiles = [rng.uniform(size=(2, tile, tile)).astype(np.float32) for _ in wins]

    def run(start_row):
        m = BlendedMosaic(h, w, 2, wins, overlap=ov, block=block, start_row=start_row)
        start = next(i for i, x in enumerate(wins) if x.row_off + x.height > start_row)
        out = []
        for i in range(start, len(wins)):
            out += m.advance(i)
            m.add(wins[i], tiles[i], np.ones((tile, tile), bool))
        out += m.advance(len(wins))
        return {s.row0: s.probs for s in out}

    full, resumed = run(0), run(192)
    assert sorted(resumed) == [r for r in sorted(full) if r >= 192]
    for r, p in resumed.items():
        np.testing.assert_array_equal(p, full[r])
