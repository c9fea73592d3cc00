"""``sargeo pretrain --config CONFIG.yaml [--out DIR] [--threads N] [--section.key value ...]``:
LightningCLI over :class:`SARMAEPretrainModule` (or, with ``model.class_path``, a subclass:
:class:`sargeo.pretrain.mixmae.MixMAEPretrainModule` for SAR-W-MixMAE) and
:class:`PretrainDataModule` (the ``fit`` subcommand).

Checkpoints and logs go under ``--out`` (else the config's ``trainer.default_root_dir``, in the
shipped configs ``sargeo_runs/<config name>``, else ``sargeo_runs/pretrain``): checkpoints in
``DIR/checkpoints``, CSV logs in ``DIR/lightning_logs``; the command prints the folder before it
starts. Resume with ``--ckpt_path DIR/checkpoints/last.ckpt`` (optimizer, scheduler and data
position are restored); export the encoder in the published layout with ``sargeo
pretrain-export CKPT OUT``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import LightningCLI

from sargeo.pretrain.datamodule import PretrainDataModule
from sargeo.pretrain.module import SARMAEPretrainModule
from sargeo.threads import set_threads

#: where checkpoints and logs go when neither --out nor the config says
DEFAULT_ROOT = Path("sargeo_runs") / "pretrain"


def _entries(node: Any) -> list:
    """A config's logger or callbacks entry as a list of class_path/init_args namespaces."""
    if node is None or isinstance(node, bool):
        return []
    return list(node) if isinstance(node, list) else [node]


def anchor_outputs(trainer: Any, out: str | None) -> Path:
    """Point the trainer config's root folder, CSV/TensorBoard logger and checkpoint callback
    (where they give no folder of their own) at ``out`` (or the configured root folder, or
    :data:`DEFAULT_ROOT`); returns that folder."""
    root = Path(out or trainer.get("default_root_dir") or DEFAULT_ROOT)
    trainer.default_root_dir = str(root)
    for logger in _entries(trainer.get("logger")):
        args = logger.get("init_args")
        if args is not None and "save_dir" in args and (out or not args.get("save_dir")):
            args.save_dir = str(root)
    for callback in _entries(trainer.get("callbacks")):
        args = callback.get("init_args")
        if str(callback.get("class_path", "")).endswith("ModelCheckpoint") and args is not None \
                and not args.get("dirpath"):
            args.dirpath = str(root / "checkpoints")
    return root


class PretrainCLI(LightningCLI):
    """LightningCLI with sargeo's ``--out`` (folder of checkpoints and logs) and ``--threads``."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_argument("--out", type=Optional[str], default=None,  # noqa: UP045
                            help="folder for checkpoints and logs (sets trainer.default_root_dir, "
                            "the logger's save_dir and the checkpoint dirpath)")
        parser.add_argument("--threads", type=Optional[PositiveInt], default=None,  # noqa: UP045
                            help="CPU threads for torch (default: $SARGEO_THREADS, else one per "
                            "core)")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if config.get("threads"):
            set_threads(config.threads)
        anchor_outputs(config.trainer, config.get("out"))

    def before_fit(self) -> None:
        root = Path(self.trainer.default_root_dir).resolve()
        checkpoints = [Path(c.dirpath).resolve() for c in self.trainer.checkpoint_callbacks
                       if getattr(c, "dirpath", None)]
        where = f"sargeo pretrain: writing to {root}"
        if self.trainer.log_dir:
            where += f" (logs {Path(self.trainer.log_dir).resolve()}"
            where += f", checkpoints {checkpoints[0]})" if checkpoints else ")"
        print(where, file=sys.stderr, flush=True)


def run_pretrain(argv: Sequence[str]) -> int:
    saved, sys.argv = sys.argv, ["sargeo pretrain"]  # LightningCLI reads only `args`
    try:
        # subclass mode: a config's ``model`` without class_path is SARMAE (as before); with
        # ``class_path: sargeo.pretrain.mixmae.MixMAEPretrainModule`` it is SAR-W-MixMAE
        PretrainCLI(SARMAEPretrainModule, PretrainDataModule, args=["fit", *argv],
                    save_config_kwargs={"overwrite": True}, seed_everything_default=0,
                    auto_configure_optimizers=False, subclass_mode_model=True)
    finally:
        sys.argv = saved
    return 0


def export_checkpoint(ckpt: str, out: str, allow_pickle: bool = False) -> int:
    """Lightning checkpoint -> published SARMAE layout (``{"model": sar_encoder.* ...}``), read
    with ``weights_only=True`` unless ``allow_pickle``."""
    from sargeo.models.export import export_lightning_checkpoint

    path = export_lightning_checkpoint(ckpt, out, allow_pickle=allow_pickle)
    print(f"wrote {path}")
    return 0
