"""``sargeo pretrain --config CONFIG.yaml [--section.key value ...]``: LightningCLI over
:class:`SARMAEPretrainModule` and :class:`PretrainDataModule` (the ``fit`` subcommand).

Resume with ``--ckpt_path PATH`` (optimizer, scheduler and data position are restored);
export the encoder in the published layout with ``sargeo pretrain-export CKPT OUT``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from lightning.pytorch.cli import LightningCLI

from sargeo.pretrain.datamodule import PretrainDataModule
from sargeo.pretrain.module import SARMAEPretrainModule


def run_pretrain(argv: Sequence[str]) -> int:
    saved, sys.argv = sys.argv, ["sargeo pretrain"]  # LightningCLI reads only `args`
    try:
        LightningCLI(SARMAEPretrainModule, PretrainDataModule, args=["fit", *argv],
                     save_config_kwargs={"overwrite": True}, seed_everything_default=0,
                     auto_configure_optimizers=False)
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
