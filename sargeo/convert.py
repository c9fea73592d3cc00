"""``sargeo convert CKPT --to {timm,torchgeo,mmdet,mmseg,mmrotate} OUT``: one file per framework.

All targets start from the same mapping (:func:`sargeo.models.vit.encoder_state_dict`), so a
SARMAE release, an MAE checkpoint, a sargeo export, a Lightning pretraining checkpoint or a
trained OpenMMLab detector / segmentor (its backbone) all convert:

- ``timm`` / ``torchgeo``: a plain state dict with timm's ViT keys (``patch_embed.*``,
  ``blocks.N.*``, ``norm.*``), kept at the checkpoint's own grid and class token. The command
  prints the ``timm.create_model(...)`` call that loads it strictly (e.g. a detector's backbone:
  ``img_size=608, class_token=False, global_pool=''``); torchgeo / sargeo models load it with
  ``sargeo.models.load_encoder_weights(model, OUT)``. Window attention of a ViTDet-style
  backbone is not part of the weights: timm's ViT attends globally.
- ``mmdet`` / ``mmseg`` / ``mmrotate``: ``{"state_dict": {"backbone.vit.<timm keys>"}, "meta"}``,
  the layout of an OpenMMLab checkpoint whose backbone is sargeo's ``SARMAEViT``. Use it as
  ``model.backbone.pretrained=OUT``, ``load_from = OUT`` or the backbone's
  ``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')``: on every path the
  position embedding is resized to the detector's input size and the class token dropped when
  the backbone has none.

Files are read with ``torch.load(weights_only=True)``, Lightning ``.ckpt`` files included; one
that needs pickle is refused unless ``--allow-pickle`` is given (trusted files only).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sargeo.io import atomic_path

TARGETS = ("timm", "torchgeo", "mmdet", "mmseg", "mmrotate")
#: image size of timm's ``vit_*_224`` models
TIMM_IMG_SIZE = 224


def lightning_to_sarmae(checkpoint: dict) -> dict:
    """A `sargeo pretrain` Lightning checkpoint's weights under their SARMAE names."""
    state = checkpoint.get("state_dict", {})
    if not any(k.startswith("model.encoder.") for k in state):
        return checkpoint
    return {k[len("model.encoder."):]: v for k, v in state.items()
            if k.startswith("model.encoder.")}


def timm_model_args(encoder: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The timm model name and keyword arguments whose ViT loads ``encoder`` (timm key names)
    strictly: size and patch from the weights, ``img_size`` from the position grid, no class
    token (``class_token=False, global_pool=''``) when the weights have none."""
    import timm

    from sargeo.models.vit import CheckpointError, EncoderShape, pos_embed_prefix_rows

    shape = EncoderShape.of(encoder)
    if shape.size is None or not shape.patch_size:
        raise CheckpointError(f"no timm ViT matches these weights ({shape})")
    patch = shape.patch_size[0]
    name = f"vit_{shape.size}_patch{patch}_{TIMM_IMG_SIZE}"
    kwargs: dict[str, Any] = {"num_classes": 0}
    if not timm.is_model(name):
        name, kwargs["patch_size"] = f"vit_{shape.size}_patch16_{TIMM_IMG_SIZE}", patch
    has_cls = "cls_token" in encoder
    pos = encoder.get("pos_embed")
    if pos is not None:
        cells = pos.shape[1] - pos_embed_prefix_rows(pos.shape[1], has_cls)
        side = round(cells ** 0.5)
        if side * side != cells:
            raise CheckpointError(f"the position embedding's {cells} cells are not a square "
                                  "grid: give timm img_size=(H, W) yourself")
        if side * patch != TIMM_IMG_SIZE:
            kwargs["img_size"] = side * patch
    in_chans = int(encoder["patch_embed.proj.weight"].shape[1])
    if in_chans != 3:
        kwargs["in_chans"] = in_chans
    if not has_cls:
        kwargs["class_token"] = False
        kwargs["global_pool"] = "avg" if "fc_norm.weight" in encoder else ""
    elif "fc_norm.weight" in encoder and "norm.weight" not in encoder:
        kwargs["global_pool"] = "avg"
    return name, kwargs


def _call(func: str, *args: str, **kwargs: Any) -> str:
    text = ", ".join([*args, *(f"{k}={v!r}" for k, v in kwargs.items())])
    return f"{func}({text})"


def convert(src: str | Path, target: str, out: str | Path, *, allow_pickle: bool = False,
            overwrite: bool = False) -> Path:
    """Convert ``src`` for ``target`` (one of :data:`TARGETS`) and write ``out`` atomically.

    ``src`` is read with ``weights_only=True`` whatever its name; ``allow_pickle=True`` (CLI
    ``--allow-pickle``) is the only way to read a file that needs pickle.
    """
    return _convert(src, target, out, allow_pickle=allow_pickle, overwrite=overwrite)[0]


def _convert(src: str | Path, target: str, out: str | Path, *, allow_pickle: bool,
             overwrite: bool) -> tuple[Path, str]:
    import torch

    from sargeo.models.vit import EncoderShape, encoder_state_dict, read_checkpoint

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {TARGETS}")
    checkpoint = read_checkpoint(src, allow_pickle=allow_pickle)
    encoder = encoder_state_dict(lightning_to_sarmae(checkpoint))
    out = Path(out)
    if target in ("timm", "torchgeo"):
        payload: dict = encoder
        name, kwargs = timm_model_args(encoder)
        # the overlay keeps timm's load strict: timm relaxes it when num_classes differs from
        # the config's, and re-adapts a first conv of other than 3 channels unless told not to
        overlay = dict(file=str(out), num_classes=0)
        if "in_chans" in kwargs:
            overlay["first_conv"] = None
        overlay_text = _call("dict", **overlay)
        usage = _call("timm.create_model", repr(name), "pretrained=True",
                      f"pretrained_cfg_overlay={overlay_text}", **kwargs)
        if target == "torchgeo":
            kwargs.pop("num_classes")
            builder = _call("sargeo.models.create_vit", repr(EncoderShape.of(encoder).size),
                            **kwargs)
            usage = (f"sargeo.models.load_encoder_weights({builder}, {str(out)!r}) (or a "
                     f"torchgeo model of that architecture); timm: {usage}")
    else:
        payload = {"state_dict": {f"backbone.vit.{k}": v for k, v in encoder.items()},
                   "meta": {"converted_by": "sargeo convert", "source": Path(src).name}}
        usage = (f"model.backbone.pretrained={str(out)!r}, load_from = {str(out)!r} or the "
                 f"backbone's init_cfg=dict(type='Pretrained', checkpoint={str(out)!r}, "
                 "prefix='backbone.')")
    with atomic_path(out, overwrite=overwrite) as tmp:
        torch.save(payload, tmp)
    return out, f"{EncoderShape.of(encoder)}; load it with {usage}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="SARMAE / MAE / sargeo checkpoint (.pth or .ckpt)")
    parser.add_argument("--to", required=True, choices=TARGETS, dest="target")
    parser.add_argument("out", help="output file")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read a file that needs arbitrary pickled objects (files are read "
                        "with torch.load(weights_only=True) otherwise, .ckpt included); "
                        "unpickling runs code: trusted files only")


def run(args: argparse.Namespace) -> int:
    if Path(args.out).exists() and not args.overwrite:
        import sys

        print(f"sargeo convert: error: {args.out} exists; add --overwrite to replace it",
              file=sys.stderr)
        return 2
    out, usage = _convert(args.checkpoint, args.target, args.out,
                          allow_pickle=args.allow_pickle, overwrite=args.overwrite)
    print(f"wrote {out} for {args.target}: {usage}")
    return 0
