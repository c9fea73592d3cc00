"""``sargeo convert CKPT --to {timm,torchgeo,mmdet,mmseg} OUT``: one file per framework.

All targets start from the same mapping (:func:`sargeo.models.vit.encoder_state_dict`), so a
SARMAE release, an MAE checkpoint, a sargeo export or a Lightning pretraining checkpoint all
convert:

- ``timm`` / ``torchgeo``: a plain state dict with timm's ViT keys (``patch_embed.*``,
  ``blocks.N.*``, ``norm.*``), loadable with ``timm.create_model(...,
  pretrained_cfg_overlay=dict(file=OUT))`` or a torchgeo ``Weights`` whose URL is ``file://OUT``;
- ``mmdet`` / ``mmseg`` (and mmrotate): ``{"state_dict": {"backbone.vit.<timm keys>"}, "meta"}``,
  the layout of an OpenMMLab checkpoint whose backbone is sargeo's ``SARMAEViT``, usable as
  ``load_from`` or ``init_cfg=dict(type="Pretrained", checkpoint=OUT)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sargeo.io import atomic_path

TARGETS = ("timm", "torchgeo", "mmdet", "mmseg", "mmrotate")


def lightning_to_sarmae(checkpoint: dict) -> dict:
    """A `sargeo pretrain` Lightning checkpoint's weights under their SARMAE names."""
    state = checkpoint.get("state_dict", {})
    if not any(k.startswith("model.encoder.") for k in state):
        return checkpoint
    return {k[len("model.encoder."):]: v for k, v in state.items()
            if k.startswith("model.encoder.")}


def convert(src: str | Path, target: str, out: str | Path, *, allow_pickle: bool = False,
            overwrite: bool = False) -> Path:
    """Convert ``src`` for ``target`` (one of :data:`TARGETS`) and write ``out`` atomically."""
    import torch

    from sargeo.models.vit import encoder_state_dict, read_checkpoint

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {TARGETS}")
    # Lightning checkpoints hold hyper-parameters objects: read those only when allowed
    checkpoint = read_checkpoint(src, allow_pickle=allow_pickle or str(src).endswith(".ckpt"))
    encoder = encoder_state_dict(lightning_to_sarmae(checkpoint))
    if target in ("timm", "torchgeo"):
        payload: dict = encoder
    else:
        payload = {"state_dict": {f"backbone.vit.{k}": v for k, v in encoder.items()},
                   "meta": {"converted_by": "sargeo convert", "source": Path(src).name}}
    with atomic_path(out, overwrite=overwrite) as tmp:
        torch.save(payload, tmp)
    return Path(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="SARMAE / MAE / sargeo checkpoint (.pth or .ckpt)")
    parser.add_argument("--to", required=True, choices=TARGETS, dest="target")
    parser.add_argument("out", help="output file")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read files that need arbitrary pickled objects (trusted only)")


def run(args: argparse.Namespace) -> int:
    out = convert(args.checkpoint, args.target, args.out, allow_pickle=args.allow_pickle,
                  overwrite=args.overwrite)
    print(f"wrote {out} for {args.target}")
    return 0
