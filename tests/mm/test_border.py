"""``InputBorder``: CenterNet's border meta for tiles that enter the network as they are."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mmcv.ops")

from sargeo.mm.border import InputBorder  # noqa: E402


def test_border_is_the_whole_image_at_the_origin():
    results = InputBorder()({"img": np.zeros((96, 128, 2), np.float32), "img_shape": (96, 128)})
    assert results["border"] == (0, 96, 0, 128)


def test_centernet_boxes_stay_where_the_heatmap_puts_them():
    # mmdet's CenterNetHead subtracts the border's top/left from its boxes: with InputBorder's
    # value a peak at feature cell (x=10, y=5), stride 4, is a box centred on pixel (40, 20)
    import torch
    from mmdet.models.dense_heads import CenterNetHead
    from mmengine.config import ConfigDict

    head = CenterNetHead(num_classes=1, in_channels=8, feat_channels=8,
                         test_cfg=ConfigDict(topk=1, local_maximum_kernel=3, max_per_img=1))
    heat = torch.full((1, 1, 24, 32), -10.0)
    heat[0, 0, 5, 10] = 10.0
    wh = torch.zeros(1, 2, 24, 32)
    wh[0, :, 5, 10] = torch.tensor([6.0, 2.0])  # in feature cells
    offset = torch.zeros(1, 2, 24, 32)
    meta = InputBorder()({"img_shape": (96, 128)}) | {"batch_input_shape": (96, 128)}
    result = head.predict_by_feat([heat.sigmoid()], [wh], [offset], [meta], rescale=False)[0]
    np.testing.assert_allclose(result.bboxes[0].numpy(), [28, 16, 52, 24])
