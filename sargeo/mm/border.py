"""``InputBorder``: where an image lies in the network input, for CenterNet-style heads.

mmdet's ``CenterNetHead`` subtracts ``border`` (top, bottom, left, right of the image inside the
network input) from every predicted box; mmdet's ``RandomCenterCropPad`` sets it when it pads an
image into a larger canvas. Scene tiles go into the network as they are, at the origin, so their
border is ``(0, height, 0, width)``: this transform says so in a test pipeline, and tiled
inference (:mod:`sargeo.inference.mm_predictor`) passes the same value.
"""

from __future__ import annotations

from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS


def input_border(height: int, width: int) -> tuple[int, int, int, int]:
    """``border`` (top, bottom, left, right) of an image at the network input's origin."""
    return 0, int(height), 0, int(width)


@TRANSFORMS.register_module()
class InputBorder(BaseTransform):
    """Sets ``results["border"]`` from ``img_shape`` (see :func:`input_border`)."""

    def transform(self, results: dict) -> dict:
        results["border"] = input_border(*results["img_shape"][:2])
        return results
