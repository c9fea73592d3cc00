"""The harness's own pipeline transform and metric, registered in mmengine's root registries
(seen from mmdet, mmseg and mmrotate configs) by :func:`register_mm_extras`."""

from __future__ import annotations


def register_mm_extras() -> None:
    """Register ``LoadSen1Floods11Chip`` (a transform) and ``ClassIoUMetric`` (a metric) once."""
    import numpy as np
    from mmcv.transforms import BaseTransform
    from mmengine.registry import METRICS, TRANSFORMS
    from mmseg.evaluation import IoUMetric

    if "LoadSen1Floods11Chip" not in TRANSFORMS.module_dict:
        @TRANSFORMS.register_module()
        class LoadSen1Floods11Chip(BaseTransform):
            """Read an S1Hand GeoTIFF (bands VV, VH in dB, NaN no-data) as ``img`` (H, W, 2)
            float32 and its LabelHand GeoTIFF as ``gt_seg_map``: 1 water, 0 not water, 255
            (ignored) where the label is -1 or the image is NaN
            (:func:`sargeo.datasets.sen1floods11.read_chip`)."""

            def transform(self, results: dict) -> dict:
                from sargeo.datasets.sen1floods11 import read_chip

                image, label = read_chip(results["img_path"], results["seg_map_path"])
                img = np.moveaxis(image, 0, -1)
                seg = (label == 1).astype(np.uint8)
                seg[label < 0] = 255
                results.update(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                               gt_seg_map=seg)
                results.setdefault("seg_fields", []).append("gt_seg_map")
                return results

    if "ClassIoUMetric" not in METRICS.module_dict:
        @METRICS.register_module()
        class ClassIoUMetric(IoUMetric):
            """mmseg's IoUMetric that also returns ``IoU.<class>`` (%) per class."""

            def compute_metrics(self, results: list) -> dict[str, float]:
                metrics = super().compute_metrics(results)
                intersect = sum(r[0] for r in results)
                union = sum(r[1] for r in results)
                for name, i, u in zip(self.dataset_meta["classes"], intersect, union,
                                      strict=True):
                    metrics[f"IoU.{name}"] = float(i / u * 100) if u > 0 else float("nan")
                return metrics
