"""``sargeo demo``: the main job end to end on an embedded default, no download needed.

1. simulate two georeferenced Sentinel-1-like scenes (UTM, VV/VH linear backscatter, speckle,
   ships of known size and heading, land and water) with :mod:`sargeo.datasets.simulate`: one
   to train on, one to run inference over;
2. pretrain a small SARMAE (ViT-Tiny/16, SARE speckle on) on chips drawn straight from the
   training GeoTIFF by torchgeo random geo sampling, with Lightning on the CPU, and export it in
   the published SARMAE layout;
3. train a ship detector (a CenterNet head on that encoder,
   ``configs/mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py``) from the training scene and
   its GeoPackage through :class:`sargeo.mm.GeoTileDataset`, without tiling to disk;
4. run the streaming tiled inference (``sargeo infer``) over the whole test scene: ships to a
   GeoPackage in the scene's CRS, and a PNG quicklook;
5. score the detections against the test scene's true ships with ``sargeo evaluate`` (one-to-one
   matching within 200 m: precision, recall, F1, length error).

Every stage is cached in the output folder; a second run only re-scores. With ``--config`` and
``--checkpoint`` a user's own SARMAE-based detector replaces stages 2-3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from sargeo import __version__
from sargeo.precision import PRECISIONS

TINY = dict(size="tiny", img_size=64, patch_size=16, in_chans=3, decoder_dim=128,
            decoder_depth=2, decoder_heads=4, norm_pix_loss=False, sare=True, sarc=False,
            lr=1e-3, warmup_epochs=1, seed=0)
DETECTOR_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "mmdet" / \
    "sarmae_vit-t16_centernet_s1-ships_cpu.py"
MATCH_M = 200.0  #: a detection matches a true ship within this distance (xView3's rule)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_output"),
                        help="output folder (default: demo_output)")
    parser.add_argument("--steps", type=int, default=200, help="pretraining steps (200)")
    parser.add_argument("--det-iters", type=int, default=1200,
                        help="detector training iterations (1200)")
    parser.add_argument("--size", type=int, default=1024, help="training scene width/height")
    parser.add_argument("--test-size", type=int, default=2048, help="test scene width/height")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="your detector's config (with --checkpoint)")
    parser.add_argument("--checkpoint", type=Path, help="your trained detector checkpoint")
    parser.add_argument("--score-thr", type=float, default=0.4,
                        help="detections below this score are not written (0.4)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="inference precision (sargeo infer --precision)")
    parser.add_argument("--product", nargs="?", const=True, metavar="SAFE",
                        help="run the test scene as a Sentinel-1 GRD product laid out as SAFE "
                        "(default: the first in ../shared/data/s1_safe_annotations), zipped")
    parser.add_argument("--force", action="store_true", help="recompute even if cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _stage_done(stamp: dict, name: str, key: Any, *files: Path) -> bool:
    return stamp.get(name) == key and all(f.is_file() for f in files)


def _pretrain(args: argparse.Namespace, scene_tif: Path, weights: Path) -> list:
    """Pretrain SARMAE ViT-Tiny on chips of the scene; returns the loss history."""
    import torch

    from sargeo.pretrain.module import SARMAEPretrainModule
    from sargeo.pretrain.quick import fit_quick
    from sargeo.pretrain.scenes import SceneChips

    chips = SceneChips(scene_tif, size=TINY["img_size"], length=512, seed=args.seed)
    torch.manual_seed(args.seed)
    module = SARMAEPretrainModule(**TINY | {"seed": args.seed})
    history = fit_quick(module, chips, steps=args.steps, batch_size=16, seed=args.seed,
                        max_epochs=1000, progress=not args.quiet, root_dir=weights.parent)
    module.export_encoder(weights)
    from sargeo.viz import render_loss_curve, render_reconstructions

    x = torch.stack([chips[i]["image"] for i in range(4)])
    render_reconstructions(module.model, x, weights.parent / "reconstructions.png")
    steps, losses = zip(*history, strict=True)
    render_loss_curve(steps, losses, weights.parent / "pretrain_loss.png")
    return history


def _train_detector(args: argparse.Namespace, scene_tif: Path, truth: Path, weights: Path,
                    out: Path) -> tuple[Path, Path]:
    """Train the CPU ship detector from the scene + GeoPackage; returns (config, checkpoint)."""
    import logging

    from mmengine.runner import Runner

    from sargeo.mm.runner import load_config

    cfg = load_config(DETECTOR_CONFIG)
    cfg.model.backbone.pretrained = str(weights.resolve())
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.update(scenes=str(scene_tif.resolve()), labels=str(truth.resolve()),
                                   layer="ships")
    cfg.train_dataloader.dataset.seed = args.seed
    # no validation loop (mmengine would run one after the last iteration): stage 5 scores
    # the whole test scene instead
    cfg.train_cfg.update(max_iters=args.det_iters)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    warmup = min(50, max(1, args.det_iters // 5))
    cfg.param_scheduler[0].update(end=warmup)
    cfg.param_scheduler[-1].update(begin=warmup, end=max(warmup + 1, args.det_iters))
    cfg.default_hooks.checkpoint.interval = args.det_iters
    cfg.randomness = dict(seed=args.seed)
    work = out / "detector_work"
    shutil.rmtree(work, ignore_errors=True)
    cfg.work_dir = str(work)
    if args.quiet:
        cfg.log_level = "WARNING"
    runner = Runner.from_cfg(cfg)
    runner.train()
    logging.getLogger("mmengine").setLevel(logging.WARNING)
    config, checkpoint = out / "ship_detector.py", out / "ship_detector.pth"
    cfg.dump(str(config))
    shutil.copyfile(work / f"iter_{args.det_iters}.pth", checkpoint)
    return config, checkpoint


def run(args: argparse.Namespace) -> int:
    import torch

    from sargeo.datasets.simulate import simulate_scene

    start = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stamp_path = out / "demo.json"
    stamp = {} if args.force or not stamp_path.is_file() else json.loads(stamp_path.read_text())
    own_model = args.config is not None or args.checkpoint is not None
    if own_model and not (args.config and args.checkpoint):
        raise ValueError("--config and --checkpoint go together")

    train_tif, train_truth = out / "train_scene.tif", out / "train_truth.gpkg"
    test_tif, test_truth = out / "test_scene.tif", out / "test_truth.gpkg"
    # a busy training scene (a ship per 0.4 km^2): more ships per tile to learn from
    n_train_ships = max(20, args.size ** 2 // 4_000)
    key = dict(version=__version__, size=args.size, test_size=args.test_size, seed=args.seed,
               train_ships=n_train_ships)
    if _stage_done(stamp, "scenes", key, train_tif, train_truth, test_tif, test_truth):
        print(f"[1/5] scenes cached: {train_tif.name}, {test_tif.name}")
    else:
        print(f"[1/5] simulating a {args.size} px training scene and a {args.test_size} px "
              "test scene (Sentinel-1-like, UTM, VV/VH)")
        t0 = time.monotonic()
        simulate_scene(train_tif, train_truth, width=args.size, height=args.size,
                       seed=args.seed, n_ships=n_train_ships, overwrite=True)
        simulate_scene(test_tif, test_truth, width=args.test_size, height=args.test_size,
                       seed=args.seed + 1000, overwrite=True, progress=not args.quiet)
        print(f"      {time.monotonic() - t0:.0f} s")
        stamp = {"scenes": key}

    weights = out / "sarmae_vit_tiny_demo.pth"
    if own_model:
        config, checkpoint = args.config, args.checkpoint
        print("[2/5] using your model: no pretraining")
        print(f"[3/5] using your detector: {config}, {checkpoint}")
    else:
        key = dict(key, steps=args.steps, model=TINY)
        if _stage_done(stamp, "pretrain", key, weights):
            print(f"[2/5] pretrained weights cached: {weights}")
        else:
            print(f"[2/5] pretraining SARMAE ViT-Tiny/16 (SARE on) for {args.steps} steps on "
                  "chips sampled from the training GeoTIFF (CPU)")
            t0 = time.monotonic()
            history = _pretrain(args, train_tif, weights)
            print(f"      loss {history[0][1]:.3f} -> {history[-1][1]:.3f}, "
                  f"{time.monotonic() - t0:.0f} s")
            stamp = {k: v for k, v in stamp.items() if k == "scenes"} | {"pretrain": key}
        config, checkpoint = out / "ship_detector.py", out / "ship_detector.pth"
        key = dict(key, det_iters=args.det_iters, config=DETECTOR_CONFIG.name,
                   config_sha=hashlib.sha256(DETECTOR_CONFIG.read_bytes()).hexdigest()[:16])
        if _stage_done(stamp, "detector", key, config, checkpoint):
            print(f"[3/5] detector cached: {checkpoint}")
        else:
            print(f"[3/5] training a ship detector (CenterNet head) on the SARMAE encoder for "
                  f"{args.det_iters} iterations, straight from the training scene and its "
                  "GeoPackage")
            t0 = time.monotonic()
            config, checkpoint = _train_detector(args, train_tif, train_truth, weights, out)
            print(f"      {time.monotonic() - t0:.0f} s")
            stamp["detector"] = key
    stamp_path.write_text(json.dumps(stamp))
    if args.product:  # stages 4-5 on a SAFE product zip (sargeo.demo_product)
        from sargeo.demo_product import run_demo_product
        return run_demo_product(args, test_tif, test_truth, config, checkpoint, start)

    from sargeo.inference import predict_scene
    from sargeo.inference.mm_predictor import load_predictor

    results = out / "results"
    detections = results / f"{test_tif.stem}.gpkg"
    preview = out / "detections.png"
    key = dict(model=stamp.get("detector") or str(checkpoint), score_thr=args.score_thr,
               precision=args.precision)
    if _stage_done(stamp, "inference", key, detections, preview) and not own_model:
        print(f"[4/5] inference cached: {detections}")
    else:
        print(f"[4/5] tiled inference over the whole {args.test_size} px test scene "
              "(sargeo infer)")
        torch.set_num_threads(max(1, torch.get_num_threads()))
        predictor = load_predictor(config, checkpoint, precision=args.precision)
        result = predict_scene(test_tif, predictor, detections,
                               score_thr=args.score_thr, overwrite=True, preview=preview,
                               progress=not args.quiet)
        print(f"      {result.n_windows} tiles, {result.n_objects} ships, {args.precision}, "
              f"{result.seconds:.1f} s")
        stamp["inference"] = key
        stamp_path.write_text(json.dumps(stamp))

    print("[5/5] scoring the detections against the true ships")
    from sargeo.evaluation import evaluate

    score = evaluate(detections, test_truth, out / "evaluation.json", truth_layer="ships",
                     max_distance_m=MATCH_M)
    print(f"\nsargeo demo done in {time.monotonic() - start:.0f} s")
    print(f"  test scene (UTM, VV/VH linear backscatter): {test_tif}")
    print(f"  ships found (GeoPackage, scene CRS):        {detections}")
    print(f"  quicklook:                                  {preview}")
    print(f"  detector (config, checkpoint):              {config}, {checkpoint}")
    print(f"  F1 {score['f1'] or 0:.2f}, precision {score['precision'] or 0:.2f}, recall "
          f"{score['recall'] or 0:.2f} ({score['tp']} of {score['n_truth']} true ships, "
          f"{score['n_pred']} detections, matched within {MATCH_M:g} m; sargeo evaluate: "
          f"{out / 'evaluation.md'})")
    print(f"  rerun the inference yourself: sargeo infer {test_tif} --config {config} "
          f"--checkpoint {checkpoint} --out {results} --overwrite --precision {args.precision}")
    return 0
