"""One optimiser step of each OpenMMLab task on CPU, built from the packages' own configs:
the compiled stack (mmcv ops, mmdet, mmrotate, mmseg) trains together."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("mmcv.ops")

from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.structures import InstanceData, PixelData  # noqa: E402

from sargeo.mm.configs import load_package_config, replace_sync_bn  # noqa: E402

R18_CHANNELS = [64, 128, 256, 512]
pytestmark = pytest.mark.slow


def small_resnet(backbone: dict) -> dict:
    backbone.update(depth=18, init_cfg=None)
    return backbone


def detection_batch(bboxes, labels: list[int], size: int = 128) -> dict:
    """One random image with its ground-truth boxes, as mmdet/mmrotate models take it."""
    from mmdet.structures import DetDataSample

    sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(bboxes=bboxes, labels=torch.tensor(labels))
    image = torch.randint(0, 255, (3, size, size), dtype=torch.uint8)
    return dict(inputs=[image], data_samples=[sample])


def run_steps(model: torch.nn.Module, data: dict, steps: int = 2) -> list[dict]:
    """Run ``steps`` train_step calls (forward, backward, SGD step) and check they learn."""
    torch.manual_seed(0)
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    logs = [model.train_step(data, wrapper) for _ in range(steps)]
    for log in logs:
        assert math.isfinite(float(log["loss"])), log
    changed = [n for n, p in model.named_parameters() if p.requires_grad
               and not torch.equal(before[n], p.detach())]
    assert len(changed) > 0.5 * len(before), "the optimizer step left most weights unchanged"
    return logs


def test_mmdet_faster_rcnn_train_step():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    cfg = load_package_config("mmdet", "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py")
    small_resnet(cfg.model.backbone)
    cfg.model.neck.in_channels = R18_CHANNELS
    with DefaultScope.overwrite_default_scope("mmdet"):
        model = MODELS.build(cfg.model)
    boxes = torch.tensor([[20.0, 30.0, 60.0, 50.0], [70.0, 70.0, 100.0, 120.0]])
    logs = run_steps(model, detection_batch(boxes, [0, 3]))
    assert {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"} <= set(logs[0])


def test_mmrotate_oriented_rcnn_le90_train_step():
    from mmrotate.registry import MODELS
    from mmrotate.structures.bbox import RotatedBoxes
    from mmrotate.utils import register_all_modules

    register_all_modules()
    cfg = load_package_config("mmrotate", "oriented_rcnn/oriented-rcnn-le90_r50_fpn_6x_ssdd.py")
    assert cfg.angle_version == "le90"
    small_resnet(cfg.model.backbone)
    cfg.model.neck.in_channels = R18_CHANNELS
    with DefaultScope.overwrite_default_scope("mmrotate"):
        model = MODELS.build(cfg.model)
    boxes = RotatedBoxes(torch.tensor([[40.0, 40.0, 40.0, 12.0, 0.4],
                                       [90.0, 80.0, 30.0, 10.0, -1.0]]))
    with DefaultScope.overwrite_default_scope("mmrotate"):
        logs = run_steps(model, detection_batch(boxes, [0, 0]))
    assert {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"} <= set(logs[0])


def test_mmseg_upernet_train_step():
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules

    register_all_modules()
    cfg = load_package_config("mmseg", "upernet/upernet_r18_4xb4-80k_ade20k-512x512.py")
    replace_sync_bn(cfg.model)
    cfg.model.backbone.init_cfg = None
    cfg.model.pretrained = None
    cfg.model.data_preprocessor.size = (64, 64)
    with DefaultScope.overwrite_default_scope("mmseg"):
        model = MODELS.build(cfg.model)
    samples, images = [], []
    for i in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        mask = torch.zeros(1, 64, 64, dtype=torch.long)
        mask[:, 10 + i:40, 20:50] = 5
        sample.gt_sem_seg = PixelData(data=mask)
        samples.append(sample)
        images.append(torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8))
    logs = run_steps(model, dict(inputs=images, data_samples=samples))
    assert {"decode.loss_ce", "aux.loss_ce"} <= set(logs[0])
