"""One-to-one matching of predicted and true objects by distance (xView3's rule).

Pairs closer than ``max_distance`` are candidates; among them the assignment that matches the
most objects with the smallest total distance is taken (Hungarian algorithm, scipy's
``linear_sum_assignment``). The candidate graph is split into connected groups first, so a
scene with thousands of ships costs little more than its crowded harbours.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def match_by_distance(pred_xy: np.ndarray, truth_xy: np.ndarray,
                      max_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match predictions to truths one to one within ``max_distance`` (same units as the
    coordinates). Returns ``(pred_index, truth_index, distance)`` of the matched pairs."""
    pred_xy = np.asarray(pred_xy, dtype=np.float64).reshape(-1, 2)
    truth_xy = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if not len(pred_xy) or not len(truth_xy):
        return empty
    if not max_distance > 0:
        raise ValueError(f"max_distance must be > 0, not {max_distance}")
    pairs = cKDTree(pred_xy).sparse_distance_matrix(cKDTree(truth_xy), max_distance,
                                                    output_type="coo_matrix")
    keep = pairs.data <= max_distance
    rows, cols, dist = pairs.row[keep], pairs.col[keep], pairs.data[keep]
    if not len(rows):
        return empty
    n_pred = len(pred_xy)
    graph = coo_matrix((np.ones(len(rows)), (rows, n_pred + cols)),
                       shape=(n_pred + len(truth_xy),) * 2)
    _, group = connected_components(graph, directed=False)
    out_p, out_t, out_d = [], [], []
    order = np.argsort(group[rows], kind="stable")
    rows, cols, dist = rows[order], cols[order], dist[order]
    bounds = np.flatnonzero(np.diff(group[rows])) + 1
    for r, c, d in zip(np.split(rows, bounds), np.split(cols, bounds), np.split(dist, bounds),
                       strict=True):
        if len(r) == 1:
            out_p.append(r), out_t.append(c), out_d.append(d)
            continue
        pu, ri = np.unique(r, return_inverse=True)
        tu, ci = np.unique(c, return_inverse=True)
        # unmatched candidates cost more than any real pair: most matches first, then distance
        big = max_distance * (len(r) + 1) + 1.0
        cost = np.full((len(pu), len(tu)), big)
        cost[ri, ci] = d
        pi, ti = linear_sum_assignment(cost)
        real = cost[pi, ti] < big
        out_p.append(pu[pi[real]]), out_t.append(tu[ti[real]]), out_d.append(cost[pi, ti][real])
    return (np.concatenate(out_p).astype(np.int64), np.concatenate(out_t).astype(np.int64),
            np.concatenate(out_d))
