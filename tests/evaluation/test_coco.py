"""coco_box_scores: pycocotools AP as mmdet's CocoMetric gives it; P/R/F1 at IoU 0.5."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sargeo.evaluation.coco import coco_box_scores
from sargeo.evaluation.objects import EvaluationError


def make_truth(rng, n_images=6):
    images, anns = [], []
    for i in range(n_images):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 256, "height": 256})
        for _ in range(rng.integers(1, 5)):
            x, y = rng.uniform(0, 200, 2)
            w, h = rng.uniform(8, 40, 2)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 0,
                         "bbox": [float(x), float(y), float(w), float(h)],
                         "area": float(w * h), "iscrowd": 0})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 0, "name": "ship"}]}  # SSDD's category id is 0


def make_preds(rng, truth):
    preds = []
    for ann in truth["annotations"]:
        if rng.uniform() < 0.8:  # a jittered hit
            x, y, w, h = ann["bbox"]
            j = rng.normal(0, 2.5, 4)
            preds.append({"image_id": ann["image_id"], "category_id": 0,
                          "bbox": [x + j[0], y + j[1], max(w + j[2], 2), max(h + j[3], 2)],
                          "score": float(rng.uniform(0.4, 1.0))})
    for img in truth["images"]:  # false alarms
        x, y = rng.uniform(0, 220, 2)
        preds.append({"image_id": img["id"], "category_id": 0, "bbox": [x, y, 20.0, 20.0],
                      "score": float(rng.uniform(0.0, 0.6))})
    return preds


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(3)
    truth = make_truth(rng)
    preds = make_preds(rng, truth)
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    return tmp_path / "pred.json", tmp_path / "truth.json", truth, preds


def test_ap_equals_mmdet_coco_metric(files):
    torch = pytest.importorskip("torch")
    from mmdet.evaluation import CocoMetric

    pred_path, truth_path, truth, preds = files
    ours = coco_box_scores(pred_path, truth_path)
    metric = CocoMetric(ann_file=str(truth_path), metric="bbox")
    metric.dataset_meta = {"classes": ("ship",)}
    samples = []
    for img in truth["images"]:
        mine = [p for p in preds if p["image_id"] == img["id"]]
        boxes = torch.tensor([[b[0], b[1], b[0] + b[2], b[1] + b[3]]
                              for b in (p["bbox"] for p in mine)], dtype=torch.float32)
        samples.append({"img_id": img["id"], "ori_shape": (256, 256),
                        "pred_instances": {"bboxes": boxes.reshape(-1, 4),
                                           "scores": torch.tensor([p["score"] for p in mine]),
                                           "labels": torch.zeros(len(mine), dtype=torch.long)}})
    metric.process({}, samples)
    theirs = metric.evaluate(size=len(samples))
    assert 0.05 < ours["ap"] < 0.95 and ours["ap50"] > 0.3  # neither trivial nor perfect
    # CocoMetric rounds to 3 decimals and its boxes went through float32
    assert ours["ap"] == pytest.approx(theirs["coco/bbox_mAP"], abs=1e-3)
    assert ours["ap50"] == pytest.approx(theirs["coco/bbox_mAP_50"], abs=1e-3)
    assert ours["ap75"] == pytest.approx(theirs["coco/bbox_mAP_75"], abs=1e-3)


def test_precision_recall_at_iou_half(tmp_path):
    truth = {"images": [{"id": 1, "width": 100, "height": 100}],
             "annotations": [{"id": 1, "image_id": 1, "category_id": 0, "bbox": [10, 10, 20, 20],
                              "area": 400, "iscrowd": 0},
                             {"id": 2, "image_id": 1, "category_id": 0, "bbox": [60, 60, 20, 20],
                              "area": 400, "iscrowd": 0}],
             "categories": [{"id": 0, "name": "ship"}]}
    preds = [{"image_id": 1, "category_id": 0, "bbox": [10, 10, 20, 20], "score": 0.9},
             {"image_id": 1, "category_id": 0, "bbox": [12, 12, 20, 20], "score": 0.8},  # twice
             {"image_id": 1, "category_id": 0, "bbox": [60, 70, 20, 20], "score": 0.7}]  # IoU 1/3
    (tmp_path / "t.json").write_text(json.dumps(truth))
    (tmp_path / "p.json").write_text(json.dumps(preds))
    s = coco_box_scores(tmp_path / "p.json", tmp_path / "t.json")
    assert (s["tp"], s["n_pred"], s["n_truth"]) == (1, 3, 2)
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == 0.5
    assert coco_box_scores(tmp_path / "p.json", tmp_path / "t.json",
                           score_threshold=0.85)["precision"] == 1.0


def test_detections_on_unknown_images_are_refused(files, tmp_path):
    pred_path, truth_path, _, preds = files
    preds.append({"image_id": 99, "category_id": 0, "bbox": [0, 0, 5, 5], "score": 0.5})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(preds))
    with pytest.raises(EvaluationError, match=r"bad.json: detections on images not in .*\[99\]"):
        coco_box_scores(bad, truth_path)
    with pytest.raises(EvaluationError, match="pred.json: not a COCO dataset"):
        coco_box_scores(truth_path, pred_path)
