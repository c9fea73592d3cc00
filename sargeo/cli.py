"""The ``sargeo`` command line: one sub-command per job, each importing only what it needs."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from sargeo import __version__, threads

#: errors a command reports as one message (exit status 2): bad files, values, settings; set
#: TRACEBACK_ENV to see the traceback instead
USER_ERRORS = (OSError, ValueError, ImportError)
TRACEBACK_ENV = "SARGEO_TRACEBACK"

#: distributions reported by ``sargeo env``, in stack order.
STACK = (
    "torch", "torchvision", "timm", "torchgeo", "rasterio", "geopandas", "shapely", "pyproj",
    "lightning", "numpy", "mmengine", "mmcv", "mmdet", "mmsegmentation", "mmrotate_dev",
)


def _cmd_env(args: argparse.Namespace) -> int:
    """Print the versions of the stack and whether mmcv's compiled ops load."""
    from importlib.metadata import PackageNotFoundError, version

    print(f"sargeo {__version__} on Python {sys.version.split()[0]}")
    for dist in STACK:
        try:
            print(f"  {dist:<15} {version(dist)}")
        except PackageNotFoundError:
            print(f"  {dist:<15} not installed")
    try:
        importlib.import_module("mmcv._ext")
        print("  mmcv ops        compiled (mmcv._ext loads)")
    except ImportError as err:
        print(f"  mmcv ops        unavailable: {err}")
    info = threads.describe()
    print(f"  torch threads   {info['intra_op']} intra-op, {info['inter_op']} inter-op on "
          f"{info['runtime']}; " + ", ".join(f"{k}={info[k] or 'unset'}" for k in (
              "OMP_WAIT_POLICY", "OMP_NUM_THREADS", threads.ENV)))
    return 0


def _cmd_pretrain_export(args: argparse.Namespace) -> int:
    from sargeo.models.export import export_lightning_checkpoint
    from sargeo.models.mixmae_export import (
        export_mixmae_lightning_checkpoint,
        is_mixmae_lightning_checkpoint,
    )
    from sargeo.models.vit import read_checkpoint

    mixmae = is_mixmae_lightning_checkpoint(read_checkpoint(args.checkpoint,
                                                            allow_pickle=args.allow_pickle))
    export = export_mixmae_lightning_checkpoint if mixmae else export_lightning_checkpoint
    path = export(args.checkpoint, args.out, allow_pickle=args.allow_pickle)
    print(f"wrote {path}")
    return 0


MM_HELP = ("Thin wrappers over mmengine's Runner, with the options of OpenMMLab's tools/ "
           "scripts: --work-dir, --resume [CKPT], --cfg-options key=value ..., --launcher "
           "(pytorch under torchrun).")


def _add_mm_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mm_command", metavar="{train,test}", required=True)
    for name in ("train", "test"):
        p = sub.add_parser(name, help=f"{name} an mmdet/mmrotate/mmseg config")
        p.add_argument("config")
        if name == "test":
            p.add_argument("checkpoint")
        else:
            p.add_argument("--resume", nargs="?", const=True, default=False,
                           help="resume from the work dir's last checkpoint, or from CKPT")
            p.add_argument("--max-iters", type=_positive_int, metavar="N",
                           help="stop after N iterations, for epoch- and iteration-based "
                           "configs alike (a short trial run; validates and saves a "
                           "checkpoint at the end)")
        p.add_argument("--work-dir")
        p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE",
                       help="override config entries, e.g. train_dataloader.batch_size=2 "
                       "model.backbone.pretrained=None")
        p.add_argument("--launcher", default="none",
                       choices=["none", "pytorch", "slurm", "mpi"])
        add_threads_argument(p)


def _cmd_mm(args: argparse.Namespace) -> int:
    import os

    from mmengine.config import DictAction

    from sargeo.mm import runner

    if args.launcher == "pytorch" and "LOCAL_RANK" not in os.environ:
        raise SystemExit("--launcher pytorch expects to be started by torchrun")
    parsed = argparse.Namespace()
    DictAction(option_strings=["--cfg-options"], dest="opts")(None, parsed,
                                                               args.cfg_options or [])
    options = parsed.opts or {}
    if args.mm_command == "train":
        runner.train(args.config, work_dir=args.work_dir, resume=args.resume,
                     cfg_options=options, launcher=args.launcher, max_iters=args.max_iters)
    else:
        runner.test(args.config, args.checkpoint, work_dir=args.work_dir, cfg_options=options,
                    launcher=args.launcher)
    return 0


def _positive_int(value: str) -> int:
    try:
        return threads.parse_threads(value, "value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") \
            from None


THREADS_HELP = (f"CPU threads for torch (default: ${threads.ENV}, else one per core); idle "
                "threads sleep (OMP_WAIT_POLICY=PASSIVE), so a process sharing the CPU does "
                "not stall")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """Declare ``--threads N`` (see :mod:`sargeo.threads`)."""
    parser.add_argument("--threads", type=_positive_int, metavar="N", help=THREADS_HELP)


def _early_threads(argv: Sequence[str]) -> int | None:
    """``--threads N`` / ``--threads=N`` from ``argv`` (for commands whose own parser runs after
    torch is imported), or None."""
    for i, arg in enumerate(argv):
        if arg == "--threads":
            if i + 1 >= len(argv):
                raise ValueError("--threads needs a value: --threads N")
            return threads.parse_threads(argv[i + 1])
        if arg.startswith("--threads="):
            return threads.parse_threads(arg.split("=", 1)[1])
    return None


#: the sub-commands a module serves: name -> (module, help, the module's function that declares
#: the options, the one that runs the command); the module's docstring is the description
MODULE_COMMANDS = {
    "demo": ("sargeo.demo", "run the embedded demo: simulate a scene, pretrain a small SARMAE on "
             "it, export and render", "add_arguments", "run"),
    "simulate": ("sargeo.datasets.simulate", "write a simulated Sentinel-1-like scene (GeoTIFF) "
                 "with true ships and water (GeoPackage)", "add_simulate_arguments",
                 "run_simulate"),
    "infer": ("sargeo.inference.cli", "tiled inference over whole GeoTIFF scenes: ships to "
              "GeoPackage, masks to Cloud-Optimized GeoTIFF", "add_infer_arguments", "run_infer"),
    "finetune": ("sargeo.finetune", "fine-tune a SARMAE ViT classifier (FUSAR-Ship, MSTAR, "
                 "SAR-ACD, class folders) or a SAR-W-MixMAE MixMIM one (BigEarthNet-S1 "
                 "multi-label, SEN12-FLOOD) with the published protocol", "add_arguments", "run"),
    "convert": ("sargeo.convert", "convert a SARMAE/MAE checkpoint for timm, torchgeo, mmdet, "
                "mmseg or mmrotate", "add_arguments", "run"),
    "evaluate": ("sargeo.evaluation.cli", "score detections (in metres), COCO boxes or masks "
                 "against truth", "add_arguments", "run"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sargeo",
        description="SARMAE foundation model for SAR: pretraining, backbones for torchgeo/timm/"
        "OpenMMLab, georeferenced Sentinel-1 data and tiled scene inference.",
    )
    parser.add_argument("--version", action="version", version=f"sargeo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
        "env": ("show the installed stack and whether mmcv's compiled ops load", _cmd_env),
    }
    for name, (help_text, func) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
    # LightningCLI parses its own arguments: everything after `pretrain` goes to it
    sub.add_parser("pretrain", help="pretrain SARMAE on Lightning (--config configs/pretrain/"
                   "*.yaml; --help lists every option)", add_help=False)
    for name, (module_name, help_text, declare, run) in MODULE_COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        getattr(module, declare)(p)
        p.set_defaults(func=getattr(module, run))
    p = sub.add_parser("mm", help="train or test an OpenMMLab (mmdet, mmrotate, mmseg) config "
                       "with mmengine's Runner", description=MM_HELP)
    _add_mm_arguments(p)
    p.set_defaults(func=_cmd_mm)
    p = sub.add_parser("pretrain-export", help="write a pretraining checkpoint's weights in the "
                       "published SARMAE (or SAR-W-MixMAE) layout")
    p.add_argument("checkpoint", help="Lightning checkpoint (.ckpt) of `sargeo pretrain`")
    p.add_argument("out", help="output .pth")
    p.add_argument("--allow-pickle", action="store_true",
                   help="read a checkpoint that needs arbitrary pickled objects (it is read "
                   "with torch.load(weights_only=True) otherwise); trusted files only")
    p.set_defaults(func=_cmd_pretrain_export)
    for name, command in sub.choices.items():
        if name not in ("mm", "pretrain"):  # mm: on train/test; pretrain: LightningCLI's
            add_threads_argument(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # the thread policy goes into the environment before anything imports torch (building
    # the parser does not), since OpenMP reads it once, when torch loads it
    if argv[:1] == ["pretrain"]:
        try:
            threads.configure(_early_threads(argv[1:]))
        except ValueError as err:
            print(f"sargeo pretrain: error: {err}", file=sys.stderr)
            return 2
        from sargeo.pretrain.cli import run_pretrain

        return run_pretrain(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        threads.configure(getattr(args, "threads", None))
    except ValueError as err:  # a bad SARGEO_THREADS
        parser.error(str(err))
    try:
        return int(args.func(args))
    except USER_ERRORS as err:
        if os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            raise
        from sargeo.errors import error_text

        print(f"sargeo {args.command}: error: {error_text(err)}\n(the traceback: "
              f"{TRACEBACK_ENV}=1)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
