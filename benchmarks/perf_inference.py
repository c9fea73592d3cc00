"""Speed and memory of scene inference (predict_scene): side-by-side ratios on the CPU.

Everything is measured in one run, as ratios against a baseline run beside it:

1. **Engine vs pure forward.** ``predict_scene`` over a simulated VV/VH scene (reading,
   normalisation, merging, writing the GeoPackage: everything) against the bare predictor call on
   the very same tiles, already in memory, in the same batches (same number of tiles, same batch
   size, same ``predictor(images, valid)`` call under ``torch.inference_mode``). The model is
   the SARMAE ViT-B/16 Faster R-CNN scene config (``configs/mmdet/..._s1-ships.py``), untrained
   weights written to a checkpoint and loaded with ``load_predictor`` as a user would. Goal:
   engine throughput >= 0.9x the pure forward.
2. **Engine vs the naive torchgeo loop** users write today: ``Sentinel1GRD`` +
   ``GridGeoSampler(size=tile, stride=tile - overlap)`` + ``DataLoader(batch_size=1,
   collate_fn=collate_geo)``, one predictor call per tile (the same predictor, hence the same
   ``SARNormalize`` normalisation), each tile's boxes moved to map coordinates from its bounds,
   then one NMS in map coordinates and a GeoPackage. Goal: the engine >= 2x faster on the scene.
3. **Peak memory vs scene size.** Peak RSS (``VmHWM``; ``getrusage``'s ``ru_maxrss`` survives
   ``exec`` and would report the parent's RSS) of ``predict_scene`` in a fresh subprocess per
   scene (2,000^2 and 20,000^2 px, same tile and batch), with the cheap ``CFARShipDetector``
   (ViT-B would take hours over the 8,100 tiles of the large scene), with ``GDAL_CACHEMAX``
   capped (64 MB) and, for comparison, with GDAL's default block cache (5 % of RAM).
   Goal: within 10 %.

Rows beside part 2, each against the same naive float32 loop:

- 2b. ``predict_scene`` at a larger batch (``--extra-batch``, default 16);
- 2c. ``predict_scene`` with ``precision="bf16"`` (backbone and neck under bfloat16 autocast,
  ``sargeo infer --precision bf16``), with the share of the float32 engine's detections that
  the bfloat16 run finds again (same class, box IoU >= 0.5). The weights here are untrained, so
  that share says little about a real detector: ``--trained`` measures it with the demo's
  trained CenterNet ship detector instead (:mod:`benchmarks.perf_inference_trained`, written to
  ``results/perf_inference_trained.json``);
- 2d. a scene with a Sentinel-1 footprint (``--footprint``: swath width, default 2560 px): a
  GRD swath projected to UTM is a rectangle turned by its track heading (12 degrees here,
  250 x 170 km), so its bounding box has nodata corners (30 %); the engine skips windows
  with no valid pixel (12 % of them at 2560 px, 256 px tiles; the share grows with the scene:
  a whole 25,000 px GRD approaches the collar's 30 %), the naive loop runs them all. Float32
  and bfloat16 engine rows.

Parts 1 and 2 alternate over ``--rounds`` rounds, the order rotating (the best wall time of each
counts: the machine is shared); process CPU time is kept beside wall time, and every round's
numbers. Scenes and the model checkpoint are cached under ``--work``.

    python -m benchmarks.perf_inference [--work DIR] [--tile N] [--quick] [--config CFG]
    python -m benchmarks.perf_inference --trained [--demo-dir DIR] [--device cuda]

writes ``benchmarks/results/perf_inference.json`` (the command, the machine, every number, the
ratios) and prints a markdown table. ``--profile`` also runs the engine once under cProfile
(main thread) and prints where its time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.naive_loop import naive_torchgeo
from benchmarks.perf_inference_memory import measure_memory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "perf_inference.json"
CONFIG = ROOT / "configs" / "mmdet" / "sarmae_vit-b16_faster-rcnn_s1-ships.py"
THREADS = 2
GOALS = {"engine_vs_forward": 0.9, "engine_vs_naive": 2.0, "rss_large_vs_small": 1.10}


# -- inputs ------------------------------------------------------------------------------------
def scene(work: Path, size: int, seed: int = 0) -> Path:
    """A simulated ``size`` x ``size`` VV/VH scene (float32 linear power, DEFLATE, 512 px
    blocks), simulated once and reused."""
    from sargeo.datasets.simulate import simulate_scene

    path = work / f"scene_{size}x{size}_s{seed}.tif"
    if not path.is_file():
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        simulate_scene(path, None, width=size, height=size, seed=seed, progress=False)
        print(f"simulated {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def mm_predictor(work: Path, tile: int, config: Path = CONFIG, precision: str = "fp32",
                 device: str = "cpu"):
    """``load_predictor`` on a copy of ``config`` at ``tile`` px and a checkpoint of its
    untrained model (seed 0), both written once under ``work/models``."""
    import torch

    from sargeo.inference.mm_predictor import load_predictor

    folder = work / "models"
    cfg_path = folder / f"{config.stem}_t{tile}.py"
    ckpt = folder / f"{config.stem}_t{tile}.pth"
    if not (cfg_path.is_file() and ckpt.is_file()):
        from sargeo.mm.runner import build_model, load_config

        cfg = load_config(config)
        cfg.model.backbone.update(img_size=tile, pretrained=None)
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            if cfg.get(loader) and "dataset" in cfg[loader]:
                cfg[loader].dataset.tile_size = tile
        folder.mkdir(parents=True, exist_ok=True)
        cfg.dump(str(cfg_path))
        torch.manual_seed(0)
        model = build_model(cfg)
        tmp = ckpt.with_suffix(".part")
        torch.save({"state_dict": model.state_dict(), "meta": {"note": "untrained, seed 0"}},
                   tmp)
        tmp.replace(ckpt)
    return load_predictor(cfg_path, ckpt, precision=precision, device=device)


def footprint_scene(work: Path, width: int, heading_deg: float = 12.0,
                    aspect: float = 170 / 250, seed: int = 0) -> Path:
    """A simulated scene shaped like a Sentinel-1 GRD projected to UTM: a swath ``width`` px
    across and ``aspect * width`` px along track, turned by ``heading_deg``, in its bounding
    box; nodata (0) outside the swath."""
    import numpy as np
    import rasterio

    from sargeo.datasets.simulate import simulate_scene

    path = work / f"scene_footprint{width}_h{heading_deg:g}_s{seed}.tif"
    if path.is_file():
        return path
    t = np.deg2rad(heading_deg)
    c, s_ = np.cos(t), np.sin(t)
    w, h = width, aspect * width
    nx, ny = int(np.ceil(w * c + h * s_)), int(np.ceil(w * s_ + h * c))
    work.mkdir(parents=True, exist_ok=True)
    full = work / f"{path.stem}.full.tif"
    simulate_scene(full, None, width=nx, height=ny, seed=seed, overwrite=True, progress=False)
    rows, cols = np.mgrid[0:ny, 0:nx] + 0.5
    dx, dy = cols - nx / 2, rows - ny / 2
    u, v = dx * c + dy * s_, -dx * s_ + dy * c  # coordinates along the turned axes
    inside = (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)
    with rasterio.open(full) as src:
        profile, data, names = src.profile, src.read(), src.descriptions
    data[:, ~inside] = profile["nodata"]
    tmp = path.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(SARGEO_UNITS="sigma0-linear:VV,VH")  # what it holds (sargeo.units)
    tmp.replace(path)
    full.unlink()
    return path


def nodata_fraction(path: Path) -> float:
    """Share of the scene's pixels that are nodata in every band."""
    import rasterio

    with rasterio.open(path) as src:
        return float((src.read_masks() == 0).all(0).mean())


def agreement(reference: Path, other: Path, iou: float = 0.5) -> dict[str, Any]:
    """Share of ``reference``'s detections that ``other`` has too (same class, box IoU >=
    ``iou``), and the two counts."""
    import geopandas as gpd
    import numpy as np
    import torch
    from torchvision.ops import box_iou

    a, b = gpd.read_file(reference), gpd.read_file(other)
    if len(a) == 0:
        return {"reference": 0, "other": len(b), "found_again": None}
    ba = torch.tensor(a.geometry.bounds.to_numpy())
    bb = torch.tensor(b.geometry.bounds.to_numpy()).reshape(-1, 4)
    same = torch.as_tensor(a["class_name"].to_numpy()[:, None] == b["class_name"].to_numpy()[None])
    hit = ((box_iou(ba, bb) >= iou) & same).any(1) if len(b) else torch.zeros(len(a), dtype=bool)
    return {"reference": len(a), "other": len(b), "found_again": float(np.mean(hit.numpy()))}


class TimedPredictor:
    """A predictor around another that adds up the seconds spent in its calls (so the engine's
    own time is the rest)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.task, self.classes = inner.task, inner.classes
        self.in_channels, self.tile_size = inner.in_channels, inner.tile_size
        self.overlap = getattr(inner, "overlap", None)
        self.fingerprint = getattr(inner, "fingerprint", None)
        self.seconds, self.calls, self.tiles = 0.0, 0, 0

    def prepare(self, info: Any) -> None:
        if callable(getattr(self.inner, "prepare", None)):
            self.inner.prepare(info)

    def __call__(self, images, valid):
        t0 = time.perf_counter()
        out = self.inner(images, valid)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        self.tiles += len(images)
        return out


# -- 1. engine vs pure forward -----------------------------------------------------------------
def engine_batches(path: Path, predictor: Any, tile: int, overlap: int, batch_size: int):
    """The batches the engine feeds the predictor, read into memory with the engine's own
    functions (same windows, nodata-only windows skipped, same padding and validity)."""
    import numpy as np
    import rasterio

    from sargeo.inference.reader import open_scene, read_window
    from sargeo.inference.windows import plan_windows

    info = open_scene(path, in_channels=predictor.in_channels)
    windows = plan_windows(info.height, info.width, tile, overlap)
    tiles = []
    with rasterio.open(path) as src:
        for w in windows:
            img, ok = read_window(src, info, w, tile)
            if ok.any():
                tiles.append((img, ok))
    return [(np.stack([t[0] for t in tiles[i:i + batch_size]]),
             np.stack([t[1] for t in tiles[i:i + batch_size]]))
            for i in range(0, len(tiles), batch_size)]


def time_forward(predictor: Any, batches: list) -> dict[str, Any]:
    """The predictor alone over in-memory batches, called as the engine calls it."""
    import torch

    c0, t0 = time.process_time(), time.perf_counter()
    for images, valid in batches:
        with torch.inference_mode():
            predictor(torch.from_numpy(images), torch.from_numpy(valid))
    seconds = time.perf_counter() - t0
    tiles = sum(len(b[0]) for b in batches)
    return {"seconds": seconds, "cpu_seconds": time.process_time() - c0, "tiles": tiles,
            "tiles_per_s": tiles / seconds}


def time_engine(path: Path, predictor: Any, out: Path, *, tile: int, overlap: int,
                batch_size: int, score_thr: float, nms_iou: float) -> dict[str, Any]:
    """``predict_scene`` end to end (scene check, reading, predictor, merge, GeoPackage)."""
    from sargeo.inference import predict_scene

    timed = TimedPredictor(predictor)
    c0, t0 = time.process_time(), time.perf_counter()
    res = predict_scene(path, timed, out, tile=tile, overlap=overlap, batch_size=batch_size,
                        score_thr=score_thr, nms_iou=nms_iou, overwrite=True, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if res.status != "done":
        raise RuntimeError(f"predict_scene: {res.status} {res.error}")
    return {"seconds": seconds, "cpu_seconds": cpu, "tiles": res.n_predicted,
            "tiles_per_s": res.n_predicted / seconds,
            "n_windows": res.n_windows, "n_nodata": res.n_nodata, "n_objects": res.n_objects,
            "predictor_seconds": timed.seconds, "predictor_calls": timed.calls,
            "engine_own_seconds": seconds - timed.seconds,
            "detections": str(res.outputs["detections"])}


# -- reporting ---------------------------------------------------------------------------------
def _relative(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_json(path: Path, result: dict[str, Any]) -> None:
    """``result`` as indented JSON at ``path``, written atomically."""
    from sargeo.io import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return min(rows, key=lambda r: r["seconds"])


def table(result: dict[str, Any]) -> str:
    r = result["ratios"]
    f, e, nv = result["forward"]["best"], result["engine"]["best"], result["naive"]["best"]
    px = result["scene_pixels"]
    lines = ["| measurement | sargeo | baseline | ratio | goal | met |",
             "|---|---|---|---|---|---|",
             f"| 1. predict_scene vs pure forward ({result['model']['name']}, tile "
             f"{result['tile']}, batch {result['batch_size']}, {e['tiles']} tiles) | "
             f"{e['tiles_per_s']:.3f} tiles/s ({px / e['seconds']:.0f} px/s) | "
             f"{f['tiles_per_s']:.3f} tiles/s | {r['engine_vs_forward']:.3f}x (CPU time "
             f"{r['engine_vs_forward_cpu_time']:.3f}x) | >= 0.9x | "
             f"{'yes' if r['engine_vs_forward'] >= GOALS['engine_vs_forward'] else 'no'} |",
             f"| 2. predict_scene vs naive torchgeo loop (same scene, {nv['tiles']} tiles, "
             f"batch 1) | {e['seconds']:.1f} s | {nv['seconds']:.1f} s | "
             f"{r['engine_vs_naive']:.2f}x faster (CPU time "
             f"{r['engine_vs_naive_cpu_time']:.2f}x) | >= 2x | "
             f"{'yes' if r['engine_vs_naive'] >= GOALS['engine_vs_naive'] else 'no'} |"]
    if result.get("engine_big_batch"):
        b = result["engine_big_batch"]
        ratio = r["engine_big_batch_vs_naive"]
        lines.append(
            f"| 2b. the same, predict_scene at batch {b['batch_size']} (diagnostic) | "
            f"{b['best']['seconds']:.1f} s | {nv['seconds']:.1f} s | {ratio:.2f}x faster (CPU time "
            f"{r['engine_big_batch_vs_naive_cpu_time']:.2f}x) | >= 2x | "
            f"{'yes' if ratio >= GOALS['engine_vs_naive'] else 'no'} |")
    two = GOALS["engine_vs_naive"]
    if result.get("engine_bf16"):
        b = result["engine_bf16"]
        ag = b["agreement_with_fp32"]
        found = "n/a" if ag["found_again"] is None else f"{100 * ag['found_again']:.1f} %"
        lines.append(
            f"| 2c. the same, predict_scene with precision bf16 ({b['vs_engine_fp32']:.2f}x "
            f"the fp32 engine; {found} of its {ag['reference']} detections found again) | "
            f"{b['best']['seconds']:.1f} s | {nv['seconds']:.1f} s | {b['vs_naive']:.2f}x "
            f"faster | >= 2x | {'yes' if b['vs_naive'] >= two else 'no'} |")
    if result.get("footprint"):
        fp = result["footprint"]
        fe, fn = fp["engine"]["best"], fp["naive"]["best"]
        what = (f"Sentinel-1 footprint scene ({fp['scene']}, {100 * fp['nodata_fraction']:.0f} "
                f"% nodata; engine {fe['tiles']} of {fn['tiles']} windows)")
        lines.append(
            f"| 2d. predict_scene vs naive loop, {what} | {fe['seconds']:.1f} s | "
            f"{fn['seconds']:.1f} s | {fp['engine_vs_naive']:.2f}x faster | >= 2x | "
            f"{'yes' if fp['engine_vs_naive'] >= two else 'no'} |")
        if fp.get("engine_bf16"):
            lines.append(
                f"| 2d. the same, predict_scene with precision bf16 | "
                f"{fp['engine_bf16']['best']['seconds']:.1f} s | {fn['seconds']:.1f} s | "
                f"{fp['engine_bf16_vs_naive']:.2f}x faster | >= 2x | "
                f"{'yes' if fp['engine_bf16_vs_naive'] >= two else 'no'} |")
    for m in result["memory"]:
        small, large = m["small"], m["large"]
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        met = "yes" if ratio <= GOALS["rss_large_vs_small"] else "no"
        lines.append(
            f"| 3. peak RSS {m['large_size']}^2 vs {m['small_size']}^2 px ({m['predictor']}, "
            f"GDAL_CACHEMAX {m['gdal_cachemax']}) | {large['peak_rss_mb']:.0f} MB | "
            f"{small['peak_rss_mb']:.0f} MB | {ratio:.3f}x | <= 1.10x | {met} |")
    return "\n".join(lines)


#: the on/off options of the command line
SWITCHES = {
    "--no-bf16": "skip the bfloat16 engine rows (2c, 2d bf16)",
    "--no-default-cache": "skip part 3 with GDAL's default block cache",
    "--no-memory": "skip part 3 (peak memory, CPU CFAR baseline)",
    "--profile": "also profile one engine run (cProfile, main thread)",
}


# -- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/sargeo_bench"),
                        help="cache for scenes, the checkpoint and outputs")
    parser.add_argument("--tile", type=int, default=256, help="tile size (the config's: 256)")
    parser.add_argument("--quick", action="store_true",
                        help="small scenes, one round: checks the harness, not the goals")
    parser.add_argument("--batch", type=int, default=8,
                        help="engine batch size (8, predict_scene's default)")
    parser.add_argument("--scene", type=int, default=None,
                        help="side of the scene for parts 1-2 (default 768; quick 512)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3; quick 1")
    parser.add_argument("--memory-sizes", type=int, nargs=2, default=None,
                        help="small and large scene sides (default 2000 20000; quick 1000 3000)")
    parser.add_argument("--extra-batch", type=int, default=None,
                        help="also time predict_scene at this batch size (default 16; quick and "
                             "0: not)")
    parser.add_argument("--device", default="cpu",
                        help="the model's torch device (cpu; cuda:0 on a GPU machine)")
    parser.add_argument("--footprint", type=int, default=None,
                        help="swath width in px of the Sentinel-1 footprint scene of row 2d "
                             "(default 2560; quick and 0: not)")
    parser.add_argument("--gdal-cachemax", type=int, default=64, help="MB, for part 3")
    for flag, text in SWITCHES.items():
        parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help="detector config of parts 1-2 (default: the ViT-B/16 Faster R-CNN "
                             "scene config), untrained weights")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON (default results/perf_inference.json; with --trained "
                             "results/perf_inference_trained.json)")
    trained = parser.add_argument_group(
        "trained detector (--trained): fp32 vs bf16 detections of the demo's trained detector")
    trained.add_argument("--trained", action="store_true",
                         help="train the demo's CPU ship detector (cached) and compare its "
                              "fp32 and bf16 detections on the demo's test scene")
    trained.add_argument("--demo-dir", type=Path, default=None,
                         help="the demo's output folder, reused when its stages are cached "
                              "(default WORK/demo)")
    trained.add_argument("--demo-steps", type=int, default=200, help="pretraining steps (200)")
    trained.add_argument("--demo-det-iters", type=int, default=1200,
                         help="detector iterations (1200, the demo's)")
    trained.add_argument("--demo-size", type=int, default=1024, help="training scene side")
    trained.add_argument("--demo-test-size", type=int, default=2048, help="test scene side")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.perf_inference " + " ".join(
        argv if argv is not None else sys.argv[1:])
    if args.trained:
        from benchmarks.perf_inference_trained import run_trained

        return run_trained(args, command.strip())
    args.out = args.out or RESULTS

    import torch

    torch.set_num_threads(THREADS)
    t_run = time.perf_counter()
    size = args.scene or (512 if args.quick else 768)
    rounds = args.rounds or (1 if args.quick else 3)
    small_size, large_size = args.memory_sizes or ((1000, 3000) if args.quick
                                                   else (2000, 20000))
    tile, batch = args.tile, args.batch
    overlap = tile // 8  # the engine's default for a predictor without its own overlap
    score_thr, nms_iou = 0.3, 0.5  # the engine's defaults
    work = args.work
    out = work / "out"

    path = scene(work, size)
    t0 = time.perf_counter()
    predictor = mm_predictor(work, tile, args.config, device=args.device)
    load_s = time.perf_counter() - t0
    bf16 = None if args.no_bf16 else mm_predictor(work, tile, args.config, precision="bf16",
                                                  device=args.device)
    batches = engine_batches(path, predictor, tile, overlap, batch)
    with torch.inference_mode():  # warm-up: first-call allocations, lazy imports
        for p in (predictor, bf16) if bf16 else (predictor,):
            p(torch.from_numpy(batches[0][0][:1]), torch.from_numpy(batches[0][1][:1]))
            p(torch.from_numpy(batches[0][0]), torch.from_numpy(batches[0][1]))
    measure = {
        "forward": lambda: time_forward(predictor, batches),
        "engine": lambda: time_engine(path, predictor, out, tile=tile, overlap=overlap,
                                      batch_size=batch, score_thr=score_thr, nms_iou=nms_iou),
        "naive": lambda: naive_torchgeo(path, predictor, out, tile=tile, overlap=overlap,
                                        score_thr=score_thr, nms_iou=nms_iou)}
    big = (0 if args.quick else 16) if args.extra_batch is None else args.extra_batch
    if big:  # the engine's one lever on a compute-bound CPU run: the batch size
        measure["engine_big_batch"] = lambda: time_engine(
            path, predictor, out, tile=tile, overlap=overlap, batch_size=big,
            score_thr=score_thr, nms_iou=nms_iou)
    engine_kw = dict(tile=tile, overlap=overlap, batch_size=batch, score_thr=score_thr,
                     nms_iou=nms_iou)
    if bf16:
        measure["engine_bf16"] = lambda: time_engine(path, bf16, out / "bf16", **engine_kw)
    fp_size = (0 if args.quick else 2560) if args.footprint is None else args.footprint
    fp_path = footprint_scene(work, fp_size) if fp_size else None
    if fp_path:
        measure["footprint_engine"] = lambda: time_engine(fp_path, predictor, out, **engine_kw)
        measure["footprint_naive"] = lambda: naive_torchgeo(
            fp_path, predictor, out, tile=tile, overlap=overlap, score_thr=score_thr,
            nms_iou=nms_iou)
        if bf16:
            measure["footprint_engine_bf16"] = lambda: time_engine(
                fp_path, bf16, out / "bf16", **engine_kw)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in measure}
    order = list(measure)
    for i in range(rounds):  # the order rotates so that no side always goes first
        k = i % len(order)
        for name in order[k:] + order[:k]:
            row = measure[name]()
            row["round"] = i + 1
            runs[name].append(row)
            print(f"round {i + 1}: {name:<16} {row['seconds']:6.1f} s wall, "
                  f"{row['cpu_seconds']:6.1f} s CPU, {row['tiles']} tiles, predictor "
                  f"{row.get('predictor_seconds', row['seconds']):.1f} s", flush=True)
    fwd, eng, nai = runs["forward"], runs["engine"], runs["naive"]
    f, e, nv = _best(fwd), _best(eng), _best(nai)
    cpu = {k: min(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    if f["tiles"] != e["tiles"]:
        raise RuntimeError(f"the pure forward ran {f['tiles']} tiles, the engine {e['tiles']}")

    extra: dict[str, Any] = {}
    if bf16:
        eb = _best(runs["engine_bf16"])
        extra["engine_bf16"] = {
            "best": eb, "rounds": runs["engine_bf16"],
            "vs_naive": nv["seconds"] / eb["seconds"],
            "vs_engine_fp32": e["seconds"] / eb["seconds"],
            "agreement_with_fp32": agreement(Path(e["detections"]), Path(eb["detections"])),
            "network": "untrained (seed 0): see --trained for a trained detector"}
    if fp_path:
        fe, fn = _best(runs["footprint_engine"]), _best(runs["footprint_naive"])
        import rasterio

        with rasterio.open(fp_path) as src:
            fp_shape = f"{src.width} x {src.height} px"
        fp = {"scene": f"{fp_shape}: a {fp_size} px swath turned 12 deg, nodata outside",
              "nodata_fraction": nodata_fraction(fp_path),
              "engine": {"best": fe, "rounds": runs["footprint_engine"]},
              "naive": {"best": fn, "rounds": runs["footprint_naive"]},
              "engine_vs_naive": fn["seconds"] / fe["seconds"]}
        if bf16:
            fb = _best(runs["footprint_engine_bf16"])
            fp["engine_bf16"] = {"best": fb, "rounds": runs["footprint_engine_bf16"]}
            fp["engine_bf16_vs_naive"] = fn["seconds"] / fb["seconds"]
        extra["footprint"] = fp

    profile = None
    if args.profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        time_engine(path, predictor, out, tile=tile, overlap=overlap, batch_size=batch,
                    score_thr=score_thr, nms_iou=nms_iou)
        prof.disable()
        prof.dump_stats(work / "engine.prof")
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        profile = buf.getvalue()
        print(profile)

    memory = []
    settings = [] if args.no_memory else [args.gdal_cachemax] + (
        [] if args.no_default_cache else [None])
    for cachemax in settings:
        small_path, large_path = scene(work, small_size), scene(work, large_size)
        mem = {}
        for key, p in (("small", small_path), ("large", large_path)):
            mem[key] = measure_memory(p, out / "memory", tile=tile, overlap=overlap,
                                       batch_size=batch, gdal_cachemax_mb=cachemax)
            print(f"memory {p.name} GDAL_CACHEMAX={mem[key]['gdal_cachemax_env']}: peak "
                  f"{mem[key]['peak_rss_mb']:.0f} MB in {mem[key]['seconds']:.0f} s",
                  flush=True)
        memory.append({"predictor": "CFARShipDetector (CPU numpy/scipy baseline)",
                       "gdal_cachemax": f"{cachemax} MB" if cachemax else "GDAL default",
                       "small_size": small_size, "large_size": large_size, **mem,
                       "peak_ratio": mem["large"]["peak_rss_mb"] / mem["small"]["peak_rss_mb"],
                       "growth_ratio": (mem["large"]["peak_rss_mb"]
                                        - mem["large"]["rss_before_predict_mb"])
                       / (mem["small"]["peak_rss_mb"] - mem["small"]["rss_before_predict_mb"])})

    result = {
        "command": command.strip(), "quick": args.quick,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.machine(), "python": platform.python_version(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "load_avg_at_end": os.getloadavg()},
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(
            args.device),
        "model": {"name": f"{args.config.stem} (untrained weights, seed 0)",
                  "config": _relative(args.config), "load_seconds": load_s},
        "scene": f"simulated {size} x {size} px, VV/VH float32 linear power, DEFLATE, "
                 "512 px blocks", "scene_pixels": size * size,
        "tile": tile, "overlap": overlap, "stride": tile - overlap, "batch_size": batch,
        "score_thr": score_thr, "nms_iou": nms_iou, "rounds": rounds,
        "timing": "wall seconds: best of the rounds (forward, engine and naive alternate, "
                  "the order rotating each round); cpu_seconds: process CPU time (all threads), "
                  "its ratios use the least CPU time of each side",
        "naive_loop": "Sentinel1GRD + GridGeoSampler(size=tile, stride=tile-overlap) + "
                      "DataLoader(batch_size=1, collate_fn=collate_geo, num_workers=0); the "
                      "same predictor per tile (same SARNormalize), boxes to map coordinates "
                      "per tile, torchvision batched_nms in map coordinates, GeoPackage",
        "forward": {"best": f, "rounds": fwd},
        "engine": {"best": e, "rounds": eng},
        "naive": {"best": nv, "rounds": nai},
        "engine_big_batch": ({"batch_size": big, "best": _best(runs["engine_big_batch"]),
                              "rounds": runs["engine_big_batch"]} if big else None),
        "ratios": {
            "engine_vs_forward": f["seconds"] / e["seconds"],
            "engine_vs_naive": nv["seconds"] / e["seconds"],
            "engine_vs_naive_per_tile": e["tiles_per_s"] / nv["tiles_per_s"],
            "engine_vs_forward_cpu_time": cpu["forward"] / cpu["engine"],
            # the engine's own share of its wall time (everything but predictor calls), and how
            # fast the model ran inside the engine compared with the pure forward (> 1: slower,
            # e.g. the reader thread or another process competing for the cores)
            "engine_own_share": e["engine_own_seconds"] / e["seconds"],
            "predictor_in_engine_vs_pure_forward": e["predictor_seconds"] / f["seconds"],
            "engine_vs_naive_cpu_time": cpu["naive"] / cpu["engine"],
            "batched_vs_batch1_predictor_per_tile": (nv["predictor_seconds"] / nv["tiles"])
            / (f["seconds"] / f["tiles"]),
            "engine_big_batch_vs_naive": (nv["seconds"] / _best(runs["engine_big_batch"])["seconds"]
                                          if big else None),
            "engine_big_batch_vs_naive_cpu_time": (cpu["naive"] / cpu["engine_big_batch"]
                                                   if big else None),
            "rss_large_vs_small": {m["gdal_cachemax"]: m["peak_ratio"] for m in memory}},
        **extra,
        "goals": GOALS,
        "memory": memory,
        "profile_top": profile,
        "run_seconds": time.perf_counter() - t_run,
    }
    write_json(args.out, result)
    print()
    print(table(result))
    print(f"\nrun time {result['run_seconds']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
