"""mmcv's compiled ops give correct numbers (checked against torchvision and shapely)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.ops as tvops
from shapely import affinity
from shapely.geometry import box as shapely_box

mmcv_ops = pytest.importorskip("mmcv.ops")


def random_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 30 + 5
    scores = torch.rand(n, generator=g)
    return torch.cat([xy, xy + wh], dim=1), scores


def rotated_polygon(cx: float, cy: float, w: float, h: float, theta: float):
    """Shapely polygon of an mmcv rotated box (theta in radians, image y axis pointing down)."""
    poly = shapely_box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return affinity.rotate(poly, theta, origin=(cx, cy), use_radians=True)


def test_nms_matches_torchvision():
    boxes, scores = random_boxes(200)
    _, keep = mmcv_ops.nms(boxes, scores, iou_threshold=0.5)
    expected = tvops.nms(boxes, scores, 0.5)
    assert torch.equal(keep.sort().values, expected.sort().values)
    assert 0 < len(keep) < len(boxes)


def test_batched_nms_matches_torchvision():
    boxes, scores = random_boxes(300, seed=1)
    idxs = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(2))
    _, keep = mmcv_ops.batched_nms(boxes, scores, idxs, dict(type="nms", iou_threshold=0.4))
    expected = tvops.batched_nms(boxes, scores, idxs, 0.4)
    assert torch.equal(keep.sort().values, expected.sort().values)


def test_roi_align_matches_torchvision_forward_and_backward():
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(2, 4, 32, 32, generator=g, requires_grad=True)
    rois = torch.tensor([[0, 1.5, 2.0, 20.0, 18.5], [1, 4.0, 7.0, 30.0, 29.0],
                         [0, 10.0, 10.0, 12.0, 12.0]])
    out = mmcv_ops.roi_align(feats, rois, (7, 7), 0.5, 2, "avg", True)
    ref = tvops.roi_align(feats, rois, (7, 7), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    (grad,) = torch.autograd.grad(out.square().sum(), feats)
    (ref_grad,) = torch.autograd.grad(ref.square().sum(), feats)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-4, atol=1e-5)


def test_box_iou_rotated_matches_polygon_iou():
    rng = np.random.default_rng(4)
    a = np.column_stack([rng.uniform(20, 40, (12, 2)), rng.uniform(5, 20, (12, 2)),
                         rng.uniform(-math.pi / 2, math.pi / 2, 12)]).astype(np.float32)
    b = a.copy()
    b[:, :2] += rng.uniform(-5, 5, (12, 2))
    b[:, 4] += rng.uniform(-0.5, 0.5, 12)
    ious = mmcv_ops.box_iou_rotated(torch.from_numpy(a), torch.from_numpy(b), aligned=True)
    expected = []
    for ra, rb in zip(a, b, strict=True):
        pa, pb = rotated_polygon(*ra), rotated_polygon(*rb)
        expected.append(pa.intersection(pb).area / pa.union(pb).area)
    np.testing.assert_allclose(ious.numpy(), expected, atol=1e-4)
    assert 0.05 < float(ious.min()) < float(ious.max()) < 1.0


def test_box_iou_rotated_is_one_for_swapped_sides_and_quarter_turn():
    box = torch.tensor([[50.0, 50.0, 40.0, 10.0, 0.0]])
    turned = torch.tensor([[50.0, 50.0, 10.0, 40.0, math.pi / 2]])
    assert float(mmcv_ops.box_iou_rotated(box, turned)) == pytest.approx(1.0, abs=1e-5)


def test_nms_rotated_suppresses_overlaps_only():
    dets = torch.tensor([
        [50.0, 50.0, 40.0, 10.0, 0.3],
        [50.5, 50.0, 40.0, 10.0, 0.3],  # near duplicate of the first, lower score
        [50.0, 50.0, 40.0, 10.0, 0.3 + math.pi / 2],  # crossing it: small IoU, kept
        [150.0, 150.0, 20.0, 8.0, -1.0],  # far away
    ])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    _, keep = mmcv_ops.nms_rotated(dets, scores, 0.5)
    assert keep.tolist() == [0, 2, 3]


def test_roi_align_rotated_at_zero_angle_equals_roi_align():
    g = torch.Generator().manual_seed(5)
    feats = torch.randn(1, 3, 40, 40, generator=g)
    cx, cy, w, h = 18.0, 21.0, 16.0, 10.0
    rois = torch.tensor([[0, cx, cy, w, h, 0.0]])
    layer = mmcv_ops.RoIAlignRotated((5, 5), spatial_scale=1.0, sampling_ratio=2,
                                     aligned=True, clockwise=True)
    out = layer(feats, rois)
    ref = tvops.roi_align(feats, torch.tensor([[0, cx - w / 2, cy - h / 2, cx + w / 2,
                                                cy + h / 2]]), (5, 5), 1.0, 2, aligned=True)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def bilinear(feats: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Value of (C, H, W) ``feats`` at pixel-centre coordinates (x, y), zero outside."""
    _, h, w = feats.shape
    x0, y0 = math.floor(x), math.floor(y)
    value = torch.zeros(feats.shape[0])
    for dy, wy in ((0, 1 - (y - y0)), (1, y - y0)):
        for dx, wx in ((0, 1 - (x - x0)), (1, x - x0)):
            if 0 <= y0 + dy < h and 0 <= x0 + dx < w:
                value += wy * wx * feats[:, y0 + dy, x0 + dx]
    return value


def rotated_roi_reference(feats, cx, cy, w, h, theta, out_h, out_w, clockwise):
    """Hand-computed RoIAlignRotated with one sample per bin: rotate each bin centre by theta
    (clockwise in image space, whose y axis points down) around the box centre."""
    sign = 1.0 if clockwise else -1.0
    c, s = math.cos(theta), sign * math.sin(theta)
    out = torch.zeros(feats.shape[0], out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            xl, yl = -w / 2 + (j + 0.5) * w / out_w, -h / 2 + (i + 0.5) * h / out_h
            x, y = xl * c - yl * s + cx - 0.5, xl * s + yl * c + cy - 0.5  # aligned: -0.5
            out[:, i, j] = bilinear(feats, x, y)
    return out


@pytest.mark.parametrize("clockwise", [True, False])
def test_roi_align_rotated_matches_hand_computed_sampling(clockwise):
    g = torch.Generator().manual_seed(6)
    feats = torch.randn(1, 2, 32, 32, generator=g)
    box = (15.3, 14.2, 12.0, 6.0, 0.6)
    layer = mmcv_ops.RoIAlignRotated((3, 5), 1.0, 1, aligned=True, clockwise=clockwise)
    out = layer(feats, torch.tensor([[0.0, *box]]))[0]
    expected = rotated_roi_reference(feats[0], *box, 3, 5, clockwise)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    mirrored = rotated_roi_reference(feats[0], *box, 3, 5, not clockwise)
    assert not torch.allclose(out, mirrored, atol=1e-3)
