"""bf16 vs fp32 scene inference with a *trained* detector (``perf_inference --trained``).

The bfloat16 agreement of ``perf_inference`` row 2c comes from untrained weights, whose
detections are noise-driven; this mode measures it where it matters. It runs the demo's stages
(:mod:`sargeo.demo`: simulated scenes, SARMAE ViT-Tiny pretraining, the CPU CenterNet ship
detector trained from the training scene and its GeoPackage; every stage cached in the demo's
folder, so a finished demo folder is reused as is), then runs ``predict_scene`` over the demo's
test scene with that detector in fp32 and in bf16 and compares the two sets of detections:

- the share of fp32 detections that bf16 finds again (same class, box IoU >= 0.5), and the
  other way round; the same at IoU >= 0.9 (box precision);
- the counts and their difference (bf16 - fp32);
- precision, recall and F1 of each against the scene's true ships (``sargeo evaluate``, the
  demo's scoring: one-to-one matches within 200 m).

    python -m benchmarks.perf_inference --trained [--demo-dir DIR] [--device cuda]

writes ``benchmarks/results/perf_inference_trained.json`` (the command, how the network was
trained: pretraining steps and detector iterations, every number).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from benchmarks.perf_inference import ROOT, agreement, write_json

RESULTS = ROOT / "benchmarks" / "results" / "perf_inference_trained.json"
SCORE_THR = 0.4  #: the demo's operating point for its trained detector


def train_demo_detector(demo_dir: Path, *, steps: int, det_iters: int, size: int,
                        test_size: int, seed: int = 0) -> dict[str, Any]:
    """Run (or reuse, when cached) the demo's stages in ``demo_dir``; return its stage record
    (``demo.json``: what the cached detector was trained with)."""
    from sargeo import demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)  # the demo's own defaults for every option not given here
    ns = parser.parse_args(["--out", str(demo_dir), "--steps", str(steps), "--det-iters",
                            str(det_iters), "--size", str(size), "--test-size", str(test_size),
                            "--seed", str(seed), "--score-thr", str(SCORE_THR), "--quiet"])
    demo.run(ns)
    stamp = json.loads((demo_dir / "demo.json").read_text())
    if "detector" not in stamp:
        raise RuntimeError(f"{demo_dir / 'demo.json'} records no trained detector after the "
                           "demo ran; delete the folder and run again")
    return stamp


def _run(test_tif: Path, config: Path, checkpoint: Path, precision: str, device: str,
         out: Path) -> dict[str, Any]:
    from sargeo.inference import predict_scene
    from sargeo.inference.mm_predictor import load_predictor

    predictor = load_predictor(config, checkpoint, precision=precision, device=device)
    res = predict_scene(test_tif, predictor, out / precision / f"{test_tif.stem}.gpkg",
                        score_thr=SCORE_THR, overwrite=True, progress=False)
    if res.status != "done":
        raise RuntimeError(f"predict_scene {precision}: {res.status} {res.error}")
    return {"seconds": res.seconds, "tiles": res.n_predicted, "n_objects": res.n_objects,
            "detections": str(res.outputs["detections"])}


def compare(fp32: Path, bf16: Path) -> dict[str, Any]:
    """Agreement of two detection files both ways (IoU >= 0.5 and >= 0.9) and their counts."""
    a50, b50 = agreement(fp32, bf16, 0.5), agreement(bf16, fp32, 0.5)
    a90, b90 = agreement(fp32, bf16, 0.9), agreement(bf16, fp32, 0.9)
    return {"fp32_detections": a50["reference"], "bf16_detections": a50["other"],
            "count_difference_bf16_minus_fp32": a50["other"] - a50["reference"],
            "fp32_found_in_bf16_iou50": a50["found_again"],
            "bf16_found_in_fp32_iou50": b50["found_again"],
            "fp32_found_in_bf16_iou90": a90["found_again"],
            "bf16_found_in_fp32_iou90": b90["found_again"]}


def run_trained(args: argparse.Namespace, command: str) -> int:
    """The ``--trained`` mode of ``perf_inference``: train (or reuse) the demo's detector,
    compare its fp32 and bf16 detections, write the JSON."""
    import torch

    from sargeo.evaluation import evaluate

    t_run = time.perf_counter()
    demo_dir = args.demo_dir or args.work / "demo"
    t0 = time.perf_counter()
    stamp = train_demo_detector(demo_dir, steps=args.demo_steps, det_iters=args.demo_det_iters,
                                size=args.demo_size, test_size=args.demo_test_size)
    demo_seconds = time.perf_counter() - t0
    test_tif, truth = demo_dir / "test_scene.tif", demo_dir / "test_truth.gpkg"
    config, checkpoint = demo_dir / "ship_detector.py", demo_dir / "ship_detector.pth"
    out = args.work / "trained_out"
    runs = {p: _run(test_tif, config, checkpoint, p, args.device, out) for p in ("fp32", "bf16")}
    for p, r in runs.items():
        scores = evaluate(Path(r["detections"]), truth, truth_layer="ships")
        r["scores_vs_truth"] = {k: scores[k] for k in ("precision", "recall", "f1", "tp",
                                                        "n_pred", "n_truth", "max_distance_m")}
        sv = r["scores_vs_truth"]
        print(f"{p}: {r['n_objects']} detections in {r['seconds']:.1f} s, precision "
              f"{sv['precision'] or 0:.3f} recall {sv['recall'] or 0:.3f}", flush=True)
    agree = compare(Path(runs["fp32"]["detections"]), Path(runs["bf16"]["detections"]))
    print(json.dumps(agree, indent=2))
    det = stamp["detector"]
    result = {
        "command": command,
        "network": {
            "trained": True,
            "what": "the demo's CPU ship detector: SARMAE ViT-Tiny/16 encoder pretrained on "
                    "the simulated training scene (SARE on), CenterNet head trained from that "
                    "scene and its GeoPackage",
            "pretraining_steps": det["steps"], "detector_iterations": det["det_iters"],
            "config": det["config"], "demo_dir": str(demo_dir),
            "demo_stage_seconds": demo_seconds,
            "note": "demo stages found cached in demo_dir are reused, not retrained"},
        "scene": f"the demo's simulated test scene, {det['test_size']} x {det['test_size']} px "
                 "(seed 1000), VV/VH linear power",
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(
            args.device),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads()},
        "score_thr": SCORE_THR, "fp32": runs["fp32"], "bf16": runs["bf16"],
        "agreement": agree, "bf16_vs_fp32_speed": runs["fp32"]["seconds"] / runs["bf16"]["seconds"],
        "run_seconds": time.perf_counter() - t_run}
    path = args.out or RESULTS
    write_json(path, result)
    print(f"wrote {path}")
    return 0
