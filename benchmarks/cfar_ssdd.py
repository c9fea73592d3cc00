"""The CFAR ship-detection baseline on real high-resolution SAR chips (SSDD), scored with
``sargeo.evaluation.coco_box_scores``: precision, recall, F1 at IoU 0.5 and COCO AP.

    python -m benchmarks.cfar_ssdd --label after [--params '{"pixel_size_m": 3}']
        [--split test|train] [--data-root ../shared/data/ssdd_coco]

Each run adds one entry under ``runs[LABEL]`` of ``benchmarks/results/cfar_ssdd.json`` (the
command, the git commit of the code, the detector's settings, the scores); entries of other
labels stay. SSDD's chips are 8-bit JPEGs of amplitude (RadarSat-2, TerraSAR-X, Sentinel-1,
1-15 m pixels, not georeferenced): the grey value is taken as amplitude, its square as power,
and the detector is given an assumed pixel size (``pixel_size_m`` in ``--params``), the one
unknown of a detector whose windows are in metres. Choose it on ``--split train`` (the first
300 training chips), then report ``--split test`` (232 chips, 544 ships).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "cfar_ssdd.json"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ssdd_coco"
SPLITS = {"test": ("annotations/instances_sarship_test.json", "test"),
          "train": ("annotations/instances_sarship_train_subset300.json", "train_subset300")}


def load_chip(path: Path, values: str = "amplitude") -> np.ndarray:
    """A chip as power ``(1, 1, H, W)`` float32: the grey value squared (``amplitude``) or as
    it is (``power``)."""
    from PIL import Image

    with Image.open(path) as im:
        grey = np.asarray(im.convert("L"), dtype=np.float32)
    return (grey ** 2 if values == "amplitude" else grey)[None, None]


def detect(detector: Any, truth: dict[str, Any], images: Path,
           values: str = "amplitude") -> list[dict[str, Any]]:
    """COCO results of ``detector`` over every image of ``truth``."""
    results = []
    for img in truth["images"]:
        power = load_chip(images / img["file_name"], values)
        valid = np.ones(power[:, 0].shape, bool)
        out = detector(power, valid)[0]
        for (x1, y1, x2, y2), s in zip(np.asarray(out["boxes"]), np.asarray(out["scores"]),
                                       strict=True):
            results.append({"image_id": img["id"], "category_id": 0, "score": float(s),
                            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]})
    return results


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(label: str, params: dict[str, Any], split: str, data_root: Path,
        out: Path = RESULTS, values: str = "amplitude") -> dict[str, Any]:
    """Detect, score and record one configuration; returns its entry."""
    from sargeo.evaluation import coco_box_scores
    from sargeo.inference.predictor import CFARShipDetector
    from sargeo.io import atomic_path

    ann, folder = SPLITS[split]
    truth_path = data_root / ann
    truth = json.loads(truth_path.read_text())
    detector = CFARShipDetector(**params)
    t0 = time.perf_counter()
    results = detect(detector, truth, data_root / folder, values)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        pred = Path(tmp) / "pred.json"
        pred.write_text(json.dumps(results))
        scores = coco_box_scores(pred, truth_path)
    scores.pop("pred", None)
    scores["truth"] = str(Path(ann))
    settings = {k: v for k, v in sorted(vars(detector).items()) if not k.startswith("_")
                and isinstance(v, int | float | str | bool | type(None))}
    entry = {"command": "python -m benchmarks.cfar_ssdd " + " ".join(sys.argv[1:]),
             "commit": commit(), "split": split, "values": values,
             "n_images": len(truth["images"]),
             "params": params, "detector": settings, "seconds": round(seconds, 2),
             "scores": scores}
    data = json.loads(out.read_text()) if out.exists() else {}
    data.setdefault("what", "CFARShipDetector on SSDD chips (grey value = amplitude), "
                    "sargeo.evaluation.coco_box_scores: P/R/F1 at IoU 0.5 and COCO AP")
    data.setdefault("runs", {})[label] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="name of this entry under runs")
    parser.add_argument("--params", default="{}", help="CFARShipDetector keyword arguments "
                        "as JSON")
    parser.add_argument("--split", choices=sorted(SPLITS), default="test")
    parser.add_argument("--data-root", type=Path, default=DATA)
    parser.add_argument("--values", choices=("amplitude", "power"), default="amplitude",
                        help="what the grey value is: amplitude (squared to power, default) "
                        "or power")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    entry = run(args.label, json.loads(args.params), args.split, args.data_root, args.out,
                args.values)
    s = entry["scores"]
    print(f"{args.label} ({args.split}): precision {s['precision']}, recall {s['recall']}, "
          f"F1 {s['f1']}, AP {s['ap']}, AP50 {s['ap50']} ({s['n_pred']} boxes, "
          f"{s['n_truth']} ships, {entry['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
