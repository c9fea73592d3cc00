"""``sargeo demo``: the embedded default job, no download needed.

1. simulate a georeferenced Sentinel-1-like scene (UTM, VV/VH linear backscatter, speckle,
   ships, land and water) with :mod:`sargeo.datasets.simulate`;
2. pretrain a small SARMAE (ViT-Tiny/16, SARE speckle on) on chips drawn straight from the
   GeoTIFF by torchgeo random geo sampling, with Lightning on the CPU;
3. export the weights in the published SARMAE layout and load them back into a timm ViT;
4. render the reconstructions and the loss curve to PNG.

Results are cached in the output folder: a second run re-renders only. The trained weights are
what the tiled scene-inference demo will build its detector on.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sargeo import __version__

TINY = dict(size="tiny", img_size=64, patch_size=16, in_chans=3, decoder_dim=128,
            decoder_depth=2, decoder_heads=4, norm_pix_loss=False, sare=True, sarc=False,
            lr=1e-3, warmup_epochs=1, seed=0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_output"),
                        help="output folder (default: demo_output)")
    parser.add_argument("--steps", type=int, default=200, help="pretraining steps (200)")
    parser.add_argument("--size", type=int, default=1024, help="scene width/height in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="recompute even if cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import lightning as L
    import torch

    from sargeo.datasets.simulate import simulate_scene
    from sargeo.models.vit import create_vit, load_encoder_weights
    from sargeo.pretrain.data import ResumableDataLoader
    from sargeo.pretrain.datamodule import collate_pretrain
    from sargeo.pretrain.module import SARMAEPretrainModule
    from sargeo.pretrain.scenes import SceneChips
    from sargeo.viz import render_loss_curve, render_reconstructions

    start = time.monotonic()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    key = dict(version=__version__, steps=args.steps, scene_size=args.size, scene_seed=args.seed,
               model=TINY)
    stamp = out / "demo.json"
    cached = (not args.force and stamp.is_file()
              and json.loads(stamp.read_text()).get("key") == key)

    scene_tif, scene_gpkg = out / "scene.tif", out / "scene_truth.gpkg"
    if not cached or not scene_tif.is_file():
        print(f"[1/4] simulating a {args.size} x {args.size} px Sentinel-1-like scene")
        simulate_scene(scene_tif, scene_gpkg, width=args.size, height=args.size,
                       seed=args.seed, overwrite=True)
    else:
        print(f"[1/4] scene cached: {scene_tif}")

    chips = SceneChips(scene_tif, size=TINY["img_size"], length=512, seed=args.seed)
    weights = out / "sarmae_vit_tiny_demo.pth"
    torch.manual_seed(args.seed)
    module = SARMAEPretrainModule(**TINY)
    if cached and weights.is_file():
        print(f"[2/4] pretrained weights cached: {weights}")
        history = json.loads(stamp.read_text())["history"]
        from sargeo.models.export import load_sarmae_state_dict

        load_sarmae_state_dict(module.model, torch.load(weights, weights_only=True)["model"])
    else:
        print(f"[2/4] pretraining SARMAE ViT-Tiny/16 for {args.steps} steps on chips sampled "
              "from the GeoTIFF (CPU)")
        history = []

        class Record(L.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                history.append((trainer.global_step, float(outputs["loss"])))

        class Data(L.LightningDataModule):
            batch_size = 16

            def train_dataloader(self):
                return ResumableDataLoader(chips, 16, seed=args.seed,
                                           collate_fn=collate_pretrain)

        trainer = L.Trainer(max_steps=args.steps, max_epochs=1000, accelerator="cpu",
                            logger=False, enable_checkpointing=False,
                            enable_progress_bar=not args.quiet, enable_model_summary=False,
                            callbacks=[Record()], gradient_clip_val=1.0,
                            default_root_dir=out)
        trainer.fit(module, datamodule=Data())
        module.export_encoder(weights)

    print("[3/4] loading the exported weights into a timm ViT (published SARMAE layout)")
    vit = create_vit("tiny", img_size=TINY["img_size"])
    load_encoder_weights(vit, weights)
    x = torch.stack([chips[i]["image"] for i in range(4)])
    same = torch.allclose(vit.eval().forward_features(x),
                          module.model.encoder.eval().forward_features(x), atol=1e-5)

    print("[4/4] rendering reconstructions and the loss curve")
    recon_png = render_reconstructions(module.model, x, out / "reconstructions.png")
    steps, losses = zip(*history, strict=True) if history else ((), ())
    loss_png = render_loss_curve(steps, losses, out / "loss.png")
    stamp.write_text(json.dumps({"key": key, "history": history}))

    first = sum(losses[:20]) / max(1, len(losses[:20]))
    last = sum(losses[-20:]) / max(1, len(losses[-20:]))
    print(f"\nsargeo demo done in {time.monotonic() - start:.0f} s")
    print(f"  scene (EPSG UTM, VV/VH linear backscatter): {scene_tif}")
    print(f"  true ships and water polygons:              {scene_gpkg}")
    print(f"  pretrained SARMAE ViT-Tiny weights:          {weights}")
    print(f"  loss: {first:.3f} (first 20 steps) -> {last:.3f} (last 20 steps); "
          f"timm ViT reproduces the encoder: {same}")
    print(f"  pictures: {recon_png}, {loss_png}")
    print("  next: tiled inference over the scene (ships to GeoPackage) lands with the "
          "inference issue")
    return 0
