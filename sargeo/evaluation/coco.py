"""COCO box AP (pycocotools, as mmdet's CocoMetric computes it) plus precision, recall and F1 at
IoU 0.5, for data sets in pixel coordinates (SSDD, HRSID, ``sargeo infer --pixel-coords``)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from sargeo.errors import error_text
from sargeo.evaluation.objects import EvaluationError

IOU = 0.5


def _load(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise EvaluationError(f"{path}: not readable as COCO JSON ({error_text(err)})") from err


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Detections as a COCO results list (``image_id, category_id, bbox, score``); a COCO
    dataset dict with ``annotations`` (and ``score`` per annotation) is read too."""
    data = _load(path)
    results = data.get("annotations") if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise EvaluationError(f"{path}: expected a COCO results list or a dict with "
                              "'annotations'")
    for i, r in enumerate(results):
        missing = {"image_id", "category_id", "bbox"} - set(r)
        if missing:
            raise EvaluationError(f"{path}: detection {i} has no {sorted(missing)}")
    return [{**r, "score": float(r.get("score", 1.0))} for r in results]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xywh boxes ``a`` (N, 4) against ``b`` (M, 4)."""
    ax2, ay2, bx2, by2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax2[:, None], bx2) - np.maximum(a[:, None, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(ay2[:, None], by2) - np.maximum(a[:, None, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match_counts(results: list[dict[str, Any]], truth: dict[str, Any],
                 iou: float = IOU) -> tuple[int, int, int]:
    """True positives, predictions, truths: greedy by score, one to one per image and class."""
    gts: dict[tuple[int, int], list[list[float]]] = {}
    for ann in truth.get("annotations", []):
        if not ann.get("iscrowd", 0):
            gts.setdefault((ann["image_id"], ann["category_id"]), []).append(ann["bbox"])
    tp = 0
    preds: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in results:
        preds.setdefault((r["image_id"], r["category_id"]), []).append(r)
    for key, dets in preds.items():
        boxes = np.asarray(gts.get(key, []), dtype=np.float64).reshape(-1, 4)
        if not len(boxes):
            continue
        dets = sorted(dets, key=lambda d: -d["score"])
        overlaps = _iou(np.asarray([d["bbox"] for d in dets], dtype=np.float64), boxes)
        free = np.ones(len(boxes), bool)
        for row in overlaps:
            row = np.where(free, row, -1.0)
            j = int(row.argmax())
            if row[j] >= iou:
                free[j] = False
                tp += 1
    n_truth = sum(len(v) for v in gts.values())
    return tp, len(results), n_truth


def coco_box_scores(pred_path: str | Path, truth_path: str | Path, *,
                    score_threshold: float | None = None) -> dict[str, Any]:
    """AP, AP50, AP75 (pycocotools over all detections) and precision, recall, F1 at IoU 0.5
    over the detections scored at or above ``score_threshold`` (default: all)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    truth = _load(truth_path)
    if not isinstance(truth, dict) or "images" not in truth or "annotations" not in truth:
        raise EvaluationError(f"{truth_path}: not a COCO dataset (needs 'images' and "
                              "'annotations')")
    truth.setdefault("categories", [{"id": c} for c in
                                    sorted({a["category_id"] for a in truth["annotations"]})])
    results = load_results(pred_path)
    image_ids = {img["id"] for img in truth["images"]}
    unknown = sorted({r["image_id"] for r in results} - image_ids)
    if unknown:
        raise EvaluationError(f"{pred_path}: detections on images not in {truth_path}: "
                              f"{unknown[:5]}")
    ap = {"ap": None, "ap50": None, "ap75": None}
    if results and truth["annotations"]:
        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO()
            gt.dataset = truth
            gt.createIndex()
            dt = gt.loadRes(results)
            ev = COCOeval(gt, dt, "bbox")
            ev.evaluate(), ev.accumulate(), ev.summarize()
        ap = {"ap": float(ev.stats[0]), "ap50": float(ev.stats[1]), "ap75": float(ev.stats[2])}
    kept = [r for r in results if score_threshold is None or r["score"] >= score_threshold]
    tp, n_pred, n_truth = match_counts(kept, truth)
    precision = tp / n_pred if n_pred else None
    recall = tp / n_truth if n_truth else None
    f1 = (2 * precision * recall / (precision + recall) if precision is not None
          and recall is not None and precision + recall else (0.0 if precision is not None
                                                              and recall is not None else None))
    return {"precision": precision, "recall": recall, "f1": f1, **ap, "tp": tp,
            "n_pred": n_pred, "n_truth": n_truth, "iou": IOU, "score_threshold": score_threshold,
            "pred": str(pred_path), "truth": str(truth_path)}
