"""match_by_distance: one to one, within the distance, most matches then least distance."""

from __future__ import annotations

import numpy as np
import pytest

from sargeo.evaluation.matching import match_by_distance


def test_within_and_beyond_the_distance():
    pi, ti, d = match_by_distance([[150.0, 0.0], [1000.0, 250.0]], [[0.0, 0.0], [1000.0, 0.0]],
                                  200.0)
    assert pi.tolist() == [0] and ti.tolist() == [0] and d.tolist() == [150.0]


def test_hungarian_beats_greedy_nearest():
    # p0 is nearest to t0 but also near t1; p1 reaches t0 only. Greedy nearest would pair
    # p0-t0 and leave p1 and t1 alone; the optimal assignment matches both.
    truth = np.array([[0.0, 0.0], [150.0, 0.0]])
    pred = np.array([[60.0, 0.0], [-120.0, 0.0]])
    pi, ti, d = match_by_distance(pred, truth, 200.0)
    assert dict(zip(pi.tolist(), ti.tolist(), strict=True)) == {0: 1, 1: 0}
    np.testing.assert_allclose(sorted(d), [90.0, 120.0])


def test_two_detections_on_one_ship_count_once_and_groups_are_independent():
    truth = np.array([[0.0, 0.0], [5000.0, 0.0]])
    pred = np.array([[10.0, 0.0], [-20.0, 0.0], [5000.0, 30.0], [9000.0, 0.0]])
    pi, ti, d = match_by_distance(pred, truth, 200.0)
    assert sorted(zip(pi.tolist(), ti.tolist(), strict=True)) == [(0, 0), (2, 1)]


def test_empty_inputs_and_bad_distance():
    assert all(len(a) == 0 for a in match_by_distance(np.zeros((0, 2)), [[0.0, 0.0]], 200.0))
    with pytest.raises(ValueError, match="max_distance must be > 0, not 0"):
        match_by_distance([[0.0, 0.0]], [[0.0, 0.0]], 0.0)


def test_large_random_scene_matches_brute_force_count():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 5000, (60, 2))
    pred = np.concatenate([truth[:45] + rng.normal(0, 80, (45, 2)), rng.uniform(0, 5000, (20, 2))])
    pi, ti, d = match_by_distance(pred, truth, 200.0)
    dist = np.hypot(*(pred[:, None] - truth[None]).transpose(2, 0, 1))
    big = 1e9
    cost = np.where(dist <= 200.0, dist, big)
    r, c = linear_sum_assignment(cost)
    real = cost[r, c] < big
    assert len(pi) == int(real.sum())
    assert d.sum() == pytest.approx(cost[r, c][real].sum())
    assert len(set(pi.tolist())) == len(pi) and len(set(ti.tolist())) == len(ti)
