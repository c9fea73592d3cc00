"""``sargeo infer``: run a trained model or a baseline over whole scenes.

Examples::

    sargeo infer S1A_IW_GRDH_..._1234.zip --baseline cfar --out ships/   # a SAFE product
    sargeo infer S1_scene.tif --config det.py --checkpoint det.pth --out results/
    sargeo infer scenes/ 'more/**/*.tif' --baseline cfar --rotated --out ships/ --geojson
    sargeo infer scene.tif --baseline water --out water/ --probs --preview water/
    torchrun --nproc-per-node 4 -m sargeo infer scenes/ --config ... --out results/ --resume

Detections go to ``OUT/NAME.gpkg`` (layer ``detections``, scene CRS), masks to
``OUT/NAME_mask.tif`` (Cloud-Optimized GeoTIFF of class ids, nodata 255). Existing outputs are
refused unless ``--overwrite``; ``--resume`` continues interrupted scenes and skips finished
ones. Under torchrun each rank takes every WORLD_SIZE-th scene.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sargeo.inference.baseline_args import (
    add_baseline_arguments,
    cfar_kwargs,
    prescreen_for,
    water_kwargs,
)
from sargeo.inference.runtimes import RUNTIME_PRECISIONS, RUNTIMES
from sargeo.units import UNITS_HELP


def add_infer_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``sargeo infer`` on ``parser``."""
    parser.add_argument("scenes", nargs="+", help="Sentinel-1 GRD products (NAME.SAFE "
                        "folder or NAME.zip: calibrated to sigma0, detections in the product's "
                        "UTM zone), GeoTIFF scenes, folders of *.tif (with "
                        "--pixel-coords also *.png, *.jpg), or glob patterns (quote them; ** "
                        "recurses)")
    model = parser.add_argument_group("model (--config and --checkpoint, or --baseline)")
    model.add_argument("--config", help="OpenMMLab config (.py) of the trained model")
    model.add_argument("--checkpoint", help="checkpoint (.pth) of the trained model")
    model.add_argument("--baseline", choices=("cfar", "water"),
                       help="no network: CFAR ship detection or threshold water segmentation")
    model.add_argument("--rotated", action="store_true",
                       help="--baseline cfar: oriented boxes instead of horizontal ones")
    add_baseline_arguments(model)  # --cfar-*, --water-threshold-db, --no-prescreen
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder (or, for one scene, the output file)")
    parser.add_argument("--tile", type=int, help="window size in pixels (default: the model's)")
    parser.add_argument("--overlap", type=int,
                        help="window overlap in pixels (default: the model's, else tile/8); "
                        "make it larger than the largest object")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="windows per forward pass (8)")
    parser.add_argument("--score-thr", type=float, default=0.3,
                        help="drop detections scoring less (default 0.3)")
    parser.add_argument("--nms-iou", type=float, default=0.5,
                        help="IoU above which detections of a class are merged (default 0.5)")
    parser.add_argument("--bands", type=int, nargs="+", metavar="N",
                        help="1-based bands to read (default: all)")
    parser.add_argument("--report", action="store_true",
                        help="also write NAME.html beside the detections: quick-look, counts, "
                        "timings, score histogram and the table of detections (self-contained)")
    parser.add_argument("--units", metavar="UNITS",
                        help="what the scenes hold when their metadata does not say it (it is "
                        "never guessed from the values): " + UNITS_HELP + "; converted to "
                        "what the model expects")
    parser.add_argument("--nodata", metavar="VALUE",
                        help="nodata value of the scenes, replacing theirs (a number or nan), "
                        "or 'none': zeros are data (default: the file's; without one, 0 is "
                        "nodata in linear or amplitude scenes, with a warning)")
    parser.add_argument("--device", help="torch device of the model (default: cuda:LOCAL_RANK "
                        "if available, else cpu); the baselines run on the CPU")
    parser.add_argument("--precision", choices=RUNTIME_PRECISIONS["openvino"], default="fp32",
                        help="bf16: backbone, neck and a two-stage detector's RoI box head in "
                        "bfloat16 autocast (faster on CPUs with AVX512-BF16/AMX and on GPUs; "
                        "box decoding and NMS stay float32); int8: --runtime openvino only")
    parser.add_argument("--runtime", choices=RUNTIMES, default="torch",
                        help="openvino: the backbone exported and compiled by OpenVINO for the "
                        "CPU (2.7-3.6x torch float32 in bf16 on this project's 2-core CPU; "
                        "neck and heads stay in torch); see sargeo.inference.runtimes")
    parser.add_argument("--calibrate", type=Path, metavar="SCENE",
                        help="--precision int8: quantise the backbone (NNCF) on tiles of this "
                        "scene, one like those to be run")
    parser.add_argument("--proposals", type=int, metavar="N",
                        help="two-stage detectors: at most N region proposals a tile "
                        "(default: the config's test_cfg.rpn.max_per_img); fewer is faster")
    parser.add_argument("--resume", action="store_true",
                        help="continue interrupted scenes, skip finished ones")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-scene "
                        "lines")
    parser.add_argument("--preview", type=Path,
                        help="also write quick-look PNGs: a folder, or a .png for one scene")
    parser.add_argument("--geojson", action="store_true",
                        help="also write detections as GeoJSON (EPSG:4326)")
    parser.add_argument("--probs", action="store_true",
                        help="also write per-class probabilities (segmentation) as a COG")
    parser.add_argument("--keep-going", action="store_true",
                        help="go on with the other scenes when one fails (exit status 1)")
    pixel = parser.add_argument_group("images without georeferencing (PNG/JPEG chips, TIFF "
                                      "without CRS)")
    pixel.add_argument("--pixel-coords", action="store_true",
                       help="run them; outputs in pixel coordinates (x right, y down): "
                       "NAME.gpkg without CRS, COCO results NAME.json (several images: also "
                       "OUT/detections.json), masks without CRS. 8-bit PNG/JPEG count as "
                       "display images (--units image); --bands 1 1 repeats a grey band")
    pixel.add_argument("--coco-images", type=Path, metavar="ANNOTATIONS.json",
                       help="--pixel-coords: take image ids (by file name) and category ids "
                       "(by class name) from this COCO dataset file, so that `sargeo evaluate "
                       "OUT/detections.json ANNOTATIONS.json` scores the run")
    sea = parser.add_argument_group("sea and land (detection; land data: roaring-landmask's "
                                    "OpenStreetMap polygons, (c) OpenStreetMap contributors)")
    sea.add_argument("--sea-only", action="store_true",
                     help="never read windows wholly on land, drop detections whose centre is "
                     "on land, add distance_to_shore_m (the land data load once: 15-40 s, 2.5 GB)")
    sea.add_argument("--land-buffer-m", type=float, default=500.0, metavar="M",
                     help="--sea-only: a window is skipped only when no sea lies within M "
                     "metres of it (default 500)")


def default_device() -> str:
    """``cuda:LOCAL_RANK`` when CUDA is available (torchrun sets LOCAL_RANK), else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def build_predictor(args: argparse.Namespace, read: dict | None = None):
    """The predictor the arguments ask for; ``read``: how scenes are read (``bands``, parsed
    ``units`` and ``nodata``), for the int8 calibration scene as for the others."""
    if args.config or args.checkpoint:
        if args.baseline:
            raise ValueError("give either --config/--checkpoint or --baseline, not both")
        if not (args.config and args.checkpoint):
            raise ValueError("--config and --checkpoint go together")
        from sargeo.inference.mm_predictor import load_predictor

        return load_predictor(args.config, args.checkpoint,
                              device=args.device or default_device(), precision=args.precision,
                              proposals=args.proposals, runtime=args.runtime,
                              calibration=args.calibrate, calibration_read=read)
    from sargeo.inference.predictor import CFARShipDetector, ThresholdWaterSegmenter

    for name, value, default in (("precision", args.precision, "fp32"),
                                 ("proposals", args.proposals, None),
                                 ("runtime", args.runtime, "torch"),
                                 ("calibrate", args.calibrate, None)):
        if value != default:
            raise ValueError(f"--{name} applies to --config/--checkpoint models; the "
                             "baselines run in numpy")
    common: dict = {}  # the baselines run on the CPU (numpy/scipy)
    if args.tile:
        common["tile_size"] = args.tile
    if args.baseline == "cfar":
        return CFARShipDetector(rotated=args.rotated, **cfar_kwargs(args), **common)
    if args.baseline == "water":
        return ThresholdWaterSegmenter(**water_kwargs(args), **common)
    raise ValueError("give a model: --config CONFIG --checkpoint CKPT, or --baseline cfar|water")


def run_infer(args: argparse.Namespace) -> int:
    """Run ``sargeo infer``; 0 on success, 1 when a scene failed (--keep-going), 2 on a usage
    or input error."""
    from sargeo.inference.engine import predict_scenes
    from sargeo.inference.inputs import parse_nodata
    from sargeo.units import Units

    prog = "sargeo infer"
    try:
        units = None if args.units is None else Units.parse(args.units)
        nodata = parse_nodata(args.nodata)
        predictor = build_predictor(args, dict(bands=args.bands, units=units, nodata=nodata))
        results = predict_scenes(
            args.scenes, predictor, args.out, tile=args.tile, overlap=args.overlap,
            batch_size=args.batch_size, score_thr=args.score_thr, nms_iou=args.nms_iou,
            bands=args.bands, overwrite=args.overwrite, resume=args.resume,
            preview=args.preview or args.report, progress=not args.quiet, geojson=args.geojson,
            save_probs=args.probs, keep_going=args.keep_going, units=units, nodata=nodata,
            sea_only=args.sea_only, land_buffer_m=args.land_buffer_m,
            pixel_coords=args.pixel_coords, coco_images=args.coco_images,
            prescreen=prescreen_for(args, predictor))
        if args.report:
            from sargeo.inference.report import report_for

            for r in results:
                page = report_for(r)
                if page is not None:
                    r.outputs["report"] = page
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    done = [r for r in results if r.status == "done"]
    skipped = [r for r in results if r.status == "skipped"]
    failed = [r for r in results if r.status == "failed"]
    if not args.quiet:
        for r in results:
            if r.status == "failed":
                print(f"  {r.scene.name}: FAILED: {r.error}", file=sys.stderr)
                continue
            main = r.outputs.get("detections") or r.outputs.get("mask")
            what = f"{r.n_objects} object(s)" if r.n_objects is not None else r.task
            if r.status == "skipped":
                print(f"  {r.scene.name}: skipped, {main} exists")
            else:
                extra = f", resumed after {r.n_resumed} window(s)" if r.n_resumed else ""
                if r.land:
                    extra += (f", {r.land['windows_skipped_land']} window(s) on land skipped, "
                              f"{r.land['detections_dropped_land']} detection(s) on land dropped")
                if r.prescreen:
                    extra += (f", {r.prescreen['windows_skipped_prescreen']} window(s) without "
                              "a CFAR candidate skipped")
                print(f"  {r.scene.name}: {what} in {r.n_windows} window(s) "
                      f"({r.n_nodata} nodata-only){extra}, {r.seconds:.1f} s -> "
                      + ", ".join(str(p) for p in r.outputs.values()))
    else:
        for r in failed:
            print(f"  {r.scene.name}: FAILED: {r.error}", file=sys.stderr)
    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = f" (rank {os.environ.get('RANK', 0)}/{world})" if world > 1 else ""
    objects = sum(r.n_objects or 0 for r in done)
    print(f"{prog}{rank}: {len(results)} scene(s): {len(done)} done, {len(skipped)} skipped "
          f"(finished), {len(failed)} failed"
          + (f"; {objects} object(s)" if predictor.task != "segmentation" else "")
          + f"; outputs in {args.out}")
    return 1 if failed else 0
