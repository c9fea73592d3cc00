"""CPU runtimes for a detector's backbone: torch, ONNX Runtime and OpenVINO on the same tiles.

    python -m benchmarks.perf_runtimes [--rounds 3] [--detectors centernet vitb]

For each detector the backbone alone (the part that dominates a ViT detector's time) runs in
every configuration of :data:`RUNTIMES` on the same real tiles: windows of the demo's test scene
(``benchmarks/results/work/demo/test_scene.tif``) taken at the backbone's input while the
predictor runs over the scene with ``predict_scene`` (so through the predictor's own unit
conversion, ``SARNormalize`` and data preprocessor, in its batches of 8). Detectors:

- ``centernet``: the demo's trained CenterNet ViT-Tiny ship detector (``sargeo demo``, cached in
  the demo folder); besides speed and feature agreement, its end-to-end detections over the
  test scene with the backbone replaced by each runtime (:class:`RuntimeBackbone`) are matched
  to torch float32's (same class, box IoU >= 0.9, both ways; ``perf_inference.agreement``);
- ``vitb``: the ViT-B/16 backbone of ``configs/mmdet/sarmae_vit-b16_faster-rcnn_s1-ships.py``
  from the briefly trained checkpoint ``perf_scene --detector vitb`` caches (speed and feature
  agreement only; its detections are compared over a whole scene by ``perf_scene``).

The runtimes' export, compilation and quantisation are sargeo's own
(:mod:`sargeo.inference.runtimes`, ``sargeo infer --runtime openvino``); ONNX Runtime is
measured here only.

The configurations run on the same number of threads (sargeo's default: ``SARGEO_THREADS``,
else torch's one per core), alternated in rounds (the order reversed every other round); each
keeps its fastest round (the machine may be shared) and records every round, and its speed-up
is the median over rounds of torch float32's time in the same round over its own. OpenVINO's
int8 model is quantised by NNCF (post-training, calibrated on tiles of the demo's *training*
scene, never the test scene). A configuration that fails keeps its error text in the JSON.

Agreement with torch float32: the feature maps (max abs error, and relative L2 error
``||f - f32|| / ||f32||``; float32 runtimes must stay within :data:`FEATURE_RTOL_FP32`), and for
the trained detector the detections: a runtime *agrees* when both ways at least
:data:`AGREE_SHARE` of the detections are found again at IoU >= :data:`MATCH_IOU`.

Writes ``benchmarks/results/perf_runtimes.json`` (the command, the machine's load before and
after, versions, every configuration).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.perf_inference import ROOT, agreement, write_json
from benchmarks.perf_inference_trained import SCORE_THR
from benchmarks.perf_scene import vitb_files
from sargeo.inference.runtimes import (
    Runner,
    export_onnx,
    openvino_int8_model,
    openvino_runner,
    runtime_backbone,
)

RESULTS = ROOT / "benchmarks" / "results" / "perf_runtimes.json"
WORK = ROOT / "benchmarks" / "results" / "work"
DEMO = WORK / "demo"
#: (config, checkpoint) of each detector, cached by ``sargeo demo`` and ``perf_scene``
DETECTORS = {
    "centernet": (DEMO / "ship_detector.py", DEMO / "ship_detector.pth"),
    "vitb": vitb_files(WORK),
}
RUNTIMES = ("torch_fp32", "torch_bf16", "ort_fp32", "ort_int8_dynamic", "openvino_fp32",
            "openvino_bf16", "openvino_int8")
#: float32 runtimes agree with torch float32 when the features' relative L2 error is below this
FEATURE_RTOL_FP32 = 1e-4
#: detections agree when this share of each side is found again at IoU >= MATCH_IOU, both ways
AGREE_SHARE = 0.98
MATCH_IOU = 0.9


def recording_backbone(inner: Any, compute: bool = True) -> Any:
    """A ``torch.nn.Module`` standing in for a backbone that keeps every input batch it gets
    (``.inputs``, numpy) and returns ``inner``'s features, or zeros of their shape when
    ``compute`` is False (only the inputs wanted)."""
    import torch

    class RecordingBackbone(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.inputs: list[np.ndarray] = []
            self.shapes: list[tuple[int, ...]] | None = None

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            self.inputs.append(x.detach().cpu().numpy().copy())
            if compute or self.shapes is None:
                out = self.inner(x)
                self.shapes = [tuple(o.shape[1:]) for o in out]
                return out
            return tuple(torch.zeros(len(x), *s) for s in self.shapes)

    return RecordingBackbone()


def torch_runner(backbone: Any, precision: str) -> Runner:
    """The backbone in torch eager, under sargeo's autocast for ``precision``."""
    import torch

    from sargeo.precision import autocast

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode(), autocast(precision, "cpu"):
            out = backbone(torch.from_numpy(x))
        return [o.float().numpy() for o in out]

    return run


def ort_runner(onnx_path: Path, threads: int) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def ort_int8_model(onnx_path: Path) -> Path:
    """ONNX Runtime's dynamic int8 quantisation (weights int8, activations per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = onnx_path.with_name(onnx_path.stem + "_int8_dynamic.onnx")
    quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8)
    return out


def build_runners(backbone: Any, example: np.ndarray, calibration: Sequence[np.ndarray],
                  runtimes: Sequence[str], threads: int, work: Path
                  ) -> tuple[dict[str, Runner], dict[str, dict[str, Any]]]:
    """Every configuration of ``runtimes`` that builds (its runner), and for each one a record:
    ``ok``, build seconds, notes, and the error text when it failed."""
    import openvino as ov

    runners: dict[str, Runner] = {}
    records: dict[str, dict[str, Any]] = {}
    onnx_path = work / "backbone.onnx"
    cache: dict[str, Any] = {}

    def onnx() -> Path:
        if "onnx" not in cache:
            cache["onnx"] = export_onnx(backbone, example, onnx_path)
        return cache["onnx"]

    def build(name: str) -> tuple[Runner, dict[str, Any]]:
        if name in ("torch_fp32", "torch_bf16"):
            return torch_runner(backbone, name.split("_")[1]), {"engine": "torch eager"}
        if name == "ort_fp32":
            return ort_runner(onnx(), threads), {}
        if name == "ort_int8_dynamic":
            return ort_runner(ort_int8_model(onnx()), threads), {}
        if name == "openvino_int8":
            if not calibration:
                raise ValueError("openvino_int8 needs calibration tiles (NNCF), none given")
            run, got = openvino_runner(openvino_int8_model(onnx(), calibration), threads, None)
            return run, {"calibration_tiles": len(calibration),
                         "non_int8_ops_precision": got}
        hint = {"openvino_fp32": "f32", "openvino_bf16": "bf16"}[name]
        run, got = openvino_runner(ov.Core().read_model(str(onnx())), threads, hint)
        return run, {"inference_precision": got}

    for name in runtimes:
        t0 = time.perf_counter()
        try:
            runners[name], notes = build(name)
            records[name] = {"ok": True, **notes}
        except Exception as err:  # every failure is a result: keep its text, go on
            records[name] = {"ok": False, "error": f"{type(err).__name__}: {err}",
                             "traceback": traceback.format_exc(limit=4)}
        records[name]["build_seconds"] = round(time.perf_counter() - t0, 2)
    return runners, records


def feature_agreement(reference: list[list[np.ndarray]], other: list[list[np.ndarray]]
                      ) -> dict[str, float]:
    """Max abs error, its ratio to the reference's max abs value, and the relative L2 error of
    ``other``'s feature maps against ``reference``'s (batches of lists of maps)."""
    ref = np.concatenate([m.ravel() for batch in reference for m in batch]).astype(np.float64)
    got = np.concatenate([m.ravel() for batch in other for m in batch]).astype(np.float64)
    diff = np.abs(got - ref)
    return {"max_abs": float(diff.max()), "max_abs_over_max_ref": float(diff.max()
                                                                           / np.abs(ref).max()),
            "rel_l2": float(np.linalg.norm(got - ref) / np.linalg.norm(ref))}


def time_rounds(runners: dict[str, Runner], batches: Sequence[np.ndarray], rounds: int,
                records: dict[str, dict[str, Any]]) -> dict[str, list[list[np.ndarray]]]:
    """One untimed pass per configuration (its outputs returned, for agreement), then
    ``rounds`` timed passes over ``batches``, the configurations alternated (order reversed
    every other round). Fills ``records``: seconds per round, images/s of the fastest round and
    the median round, speed-up vs ``torch_fp32`` (median over rounds of the ratio within a
    round). A configuration that fails is dropped with its error."""
    outputs: dict[str, list[list[np.ndarray]]] = {}
    live = dict(runners)

    def fail(name: str, err: Exception) -> None:
        live.pop(name)
        records[name].update(ok=False, error=f"{type(err).__name__}: {err}",
                             traceback=traceback.format_exc(limit=4))

    for name in list(live):
        try:
            outputs[name] = [[np.array(o) for o in live[name](b)] for b in batches]
        except Exception as err:  # kept in the JSON
            fail(name, err)
    seconds: dict[str, list[float]] = {n: [] for n in live}
    for r in range(rounds):
        order = list(live) if r % 2 == 0 else list(reversed(live))
        for name in order:
            t0 = time.perf_counter()
            try:
                for b in batches:
                    live[name](b)
            except Exception as err:  # kept in the JSON
                fail(name, err)
                continue
            seconds[name].append(time.perf_counter() - t0)
    tiles = sum(len(b) for b in batches)
    base = seconds.get("torch_fp32") if "torch_fp32" in live else None
    for name in live:
        s = seconds[name]
        records[name].update(seconds_per_round=[round(v, 4) for v in s],
                             images_per_s=tiles / min(s),
                             images_per_s_median=tiles / float(np.median(s)))
        if base:
            records[name]["speedup_vs_torch_fp32"] = float(np.median(
                [b / v for b, v in zip(base, s, strict=True)]))
    return {n: outputs[n] for n in live}


def benchmark_backbone(backbone: Any, batches: Sequence[np.ndarray],
                       calibration: Sequence[np.ndarray], *, runtimes: Sequence[str] = RUNTIMES,
                       rounds: int = 3, threads: int, work: Path
                       ) -> tuple[dict[str, dict[str, Any]], dict[str, Runner]]:
    """Every configuration of ``runtimes`` on ``batches``: speed and feature agreement with
    ``torch_fp32`` (which must be among them). Returns the records and the working runners."""
    if "torch_fp32" not in runtimes:
        raise ValueError(f"runtimes must include torch_fp32 (the reference), got {runtimes}")
    backbone.eval()
    runners, records = build_runners(backbone, batches[0], calibration, runtimes, threads, work)
    outputs = time_rounds(runners, batches, rounds, records)
    for name, out in outputs.items():
        if "torch_fp32" in outputs:
            records[name]["features_vs_torch_fp32"] = feature_agreement(outputs["torch_fp32"],
                                                                        out)
        if name in ("ort_fp32", "openvino_fp32", "torch_fp32"):
            rel = records[name]["features_vs_torch_fp32"]["rel_l2"]
            records[name]["features_agree"] = rel <= FEATURE_RTOL_FP32
    return records, {n: runners[n] for n in outputs}


def scene_inputs(predictor: Any, scene: Path, out: Path, *, overlap: int | None = None,
                 compute: bool = True) -> tuple[list[np.ndarray], Any]:
    """The backbone's input batches while ``predictor`` runs over ``scene`` (``predict_scene``,
    detections written under ``out``), and the run's result; ``compute=False`` skips the
    backbone's work after the first batch (zeros go on to the heads: only the inputs count)."""
    from sargeo.inference import predict_scene

    model = predictor.model
    real = model.backbone
    recorder = recording_backbone(real, compute=compute)
    model.backbone = recorder
    try:
        res = predict_scene(scene, predictor, out / f"{scene.stem}.gpkg", overlap=overlap,
                            score_thr=SCORE_THR, overwrite=True, progress=False)
    finally:
        model.backbone = real
    if res.status != "done":
        raise RuntimeError(f"predict_scene over {scene}: {res.status} {res.error}")
    return recorder.inputs, res


def detections_with(predictor: Any, backbone: Any, scene: Path, out: Path) -> Any:
    """``predict_scene`` over ``scene`` with ``predictor``'s backbone replaced by ``backbone``
    for the run."""
    from sargeo.inference import predict_scene

    real = predictor.model.backbone
    predictor.model.backbone = backbone
    try:
        res = predict_scene(scene, predictor, out / f"{scene.stem}.gpkg", score_thr=SCORE_THR,
                            overwrite=True, progress=False)
    finally:
        predictor.model.backbone = real
    if res.status != "done":
        raise RuntimeError(f"predict_scene over {scene}: {res.status} {res.error}")
    return res


def detection_agreement(reference: Path, other: Path) -> dict[str, Any]:
    """Counts and shares found again at IoU >= :data:`MATCH_IOU` both ways; ``agrees``."""
    a, b = agreement(reference, other, MATCH_IOU), agreement(other, reference, MATCH_IOU)
    shares = [s for s in (a["found_again"], b["found_again"]) if s is not None]
    return {"torch_fp32_detections": a["reference"], "detections": a["other"],
            "torch_fp32_found_again_iou90": a["found_again"],
            "found_in_torch_fp32_iou90": b["found_again"],
            "agrees": bool(a["reference"] == a["other"] == 0
                           or (len(shares) == 2 and min(shares) >= AGREE_SHARE))}


def run_detector(name: str, args: argparse.Namespace, threads: int) -> dict[str, Any]:
    """Speed and agreement of every runtime for detector ``name`` (see module docstring)."""
    from sargeo.inference.mm_predictor import load_predictor

    config, checkpoint = DETECTORS[name]
    for path in (config, checkpoint):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `sargeo demo` (centernet) or "
                                    "`python -m benchmarks.perf_scene --detector vitb` (vitb)")
    work = args.work / name
    predictor = load_predictor(config, checkpoint, device="cpu", precision="fp32")
    end_to_end = name == "centernet"
    test, train = DEMO / "test_scene.tif", DEMO / "train_scene.tif"
    inputs, ref_run = scene_inputs(predictor, test, work / "torch_fp32", compute=end_to_end)
    batch = len(inputs[0])
    full = [b for b in inputs if len(b) == batch][:args.batches[name]]
    half = predictor.tile_size // 2  # the most overlap the engine allows: the most tiles
    calibration, _ = scene_inputs(predictor, train, work / "calibration", overlap=half,
                                  compute=False)
    calib_tiles = [t for b in calibration for t in b][:args.calibration_tiles]
    records, runners = benchmark_backbone(predictor.model.backbone, full, calib_tiles,
                                          runtimes=args.runtimes, rounds=args.rounds,
                                          threads=threads, work=work)
    result: dict[str, Any] = {
        "config": str(config), "checkpoint": str(checkpoint),
        "timed_tiles": sum(len(b) for b in full), "batch": batch,
        "tile": [int(s) for s in full[0].shape[1:]],
        "calibration": f"{len(calib_tiles)} tiles of {train.name} (windows at overlap {half})",
        "configs": records}
    if not end_to_end:
        return result
    reference = Path(ref_run.outputs["detections"])
    result["scene"] = {"path": str(test), "windows": ref_run.n_predicted,
                       "torch_fp32_seconds": ref_run.seconds, "score_thr": SCORE_THR}
    for rt, runner in runners.items():
        if rt == "torch_fp32":
            continue
        try:
            if rt == "torch_bf16":  # as sargeo runs it: backbone and neck under autocast
                bf16 = load_predictor(config, checkpoint, device="cpu", precision="bf16")
                res = detections_with(bf16, bf16.model.backbone, test, work / rt)
            else:
                res = detections_with(predictor, runtime_backbone(runner), test, work / rt)
            records[rt]["detections"] = {
                **detection_agreement(reference, Path(res.outputs["detections"])),
                "scene_seconds": res.seconds}
        except Exception as err:  # kept in the JSON
            records[rt]["detections"] = {"error": f"{type(err).__name__}: {err}"}
    return result


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("torch", "onnx", "onnxruntime", "openvino", "nncf"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cpu_flags() -> dict[str, bool]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(next((ln.split(":", 1)[1].split() for ln in text.splitlines()
                      if ln.startswith("flags")), []))
    return {f: f in flags for f in ("avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")}


def table(result: dict[str, Any]) -> str:
    """A markdown table of images/s, speed-up and agreement per detector and runtime."""
    lines = ["| detector | runtime | images/s (fastest) | median | x torch fp32 | feature "
             "rel L2 | detections (IoU 0.9 both ways) |", "|---|---|---|---|---|---|---|"]
    for det, d in result["detectors"].items():
        for rt, r in d.get("configs", {}).items():
            if not r.get("ok"):
                lines.append(f"| {det} | {rt} | failed: {r['error'][:60]} | | | | |")
                continue
            f = r.get("features_vs_torch_fp32", {})
            dd = r.get("detections", {})
            agree = ("" if not dd else dd.get("error") or
                     f"{dd['detections']} vs {dd['torch_fp32_detections']}, "
                     f"{dd['torch_fp32_found_again_iou90']:.3f}/"
                     f"{dd['found_in_torch_fp32_iou90']:.3f}, agrees={dd['agrees']}")
            lines.append(f"| {det} | {rt} | {r['images_per_s']:.1f} | "
                         f"{r['images_per_s_median']:.1f} | "
                         f"{r.get('speedup_vs_torch_fp32', float('nan')):.2f} | "
                         f"{f.get('rel_l2', float('nan')):.1e} | {agree} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--detectors", nargs="+", choices=sorted(DETECTORS),
                        default=list(DETECTORS))
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    parser.add_argument("--centernet-batches", type=int, default=8,
                        help="batches of the test scene timed per round (centernet)")
    parser.add_argument("--vitb-batches", type=int, default=2,
                        help="batches of the test scene timed per round (vitb)")
    parser.add_argument("--calibration-tiles", type=int, default=256)
    parser.add_argument("--work", type=Path, default=WORK / "perf_runtimes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.batches = {"centernet": args.centernet_batches, "vitb": args.vitb_batches}
    command = "python -m benchmarks.perf_runtimes " + shlex.join(
        sys.argv[1:] if argv is None else argv)

    from sargeo.threads import configure

    configure()  # sargeo's wait policy (and SARGEO_THREADS, if set) before torch loads
    import torch

    threads = torch.get_num_threads()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    detectors: dict[str, Any] = {}
    for name in args.detectors:
        try:
            detectors[name] = run_detector(name, args, threads)
        except Exception as err:  # kept in the JSON
            detectors[name] = {"error": f"{type(err).__name__}: {err}",
                               "traceback": traceback.format_exc(limit=6)}
        print(f"{name}: done after {time.perf_counter() - t0:.0f} s", flush=True)
    result = {
        "command": command,
        "threads": {"count": threads, "source": "sargeo's default: SARGEO_THREADS, else "
                    "torch's one per core; the same count for ONNX Runtime (intra-op) and "
                    "OpenVINO (INFERENCE_NUM_THREADS, one stream)"},
        "timing": f"{args.rounds} rounds, configurations alternated (order reversed every "
                  "other round); images_per_s: the fastest round; speedup_vs_torch_fp32: "
                  "median over rounds of the ratio within a round",
        "tolerance": {"features_rel_l2_fp32": FEATURE_RTOL_FP32, "detections": (
            f"agrees: both ways >= {AGREE_SHARE} of the detections found again (same class, "
            f"box IoU >= {MATCH_IOU})")},
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "cpu_flags": cpu_flags(), **versions()},
        "detectors": detectors, "run_seconds": round(time.perf_counter() - t0, 1)}
    result["table"] = table(result)
    write_json(args.out, result)
    print(result["table"])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
