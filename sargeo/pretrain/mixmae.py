"""SAR-W-MixMAE pretraining as a LightningModule: the model option beside SARMAE.

:class:`MixMAEPretrainModule` subclasses :class:`~sargeo.pretrain.module.SARMAEPretrainModule`
and keeps its training step, optimizer (AdamW, no decay for biases and norms), warm-up +
cosine schedule, per-step random generator (exact resume), loader resume and NaN handling;
it replaces the model (:class:`sargeo.models.mixmae.MixMAE`), the losses and the export. In a
``sargeo pretrain`` config: ``model: {class_path: sargeo.pretrain.mixmae.MixMAEPretrainModule,
init_args: {...}}`` (``configs/pretrain/sar_w_mixmae_*.yaml``).

Inputs, as the release (``main_pretrain.py``, ``sarwmix/bigearthnetv2.py``): each batch's
``power`` (linear backscatter; sargeo's scene and BigEarthNet pretraining samples carry VV, VH)
is reordered to (VH, VV) (``power_bands``), turned into dB, randomly flipped left-right and
up-down (``flips``) and normalised with the BigEarthNet v2 statistics (``db_mean``,
``db_std``). Nodata pixels (power <= 0 or not finite) enter as the mean (0 after
normalisation) and get loss weight 0.

SAR-W (``sar_w``): weights from :func:`sargeo.models.sar_w.sar_w_weights` (``sar_w_mode``
``per_channel`` as released or ``shared_avg``, ``sar_w_scale`` s = 1). ``sar_w_from="db"``
applies the formula to the dB values, as the paper and the release's README state it;
``"normalized"`` applies it to the normalised values, which is what the released dataset code
does (it calls ``compute_weights`` after ``transforms.Normalize``): there the "linear power" is
10^((dB - mean) / (10 std)), a much flatter weighting. ``sar_w=False`` is the MixMAE baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from sargeo.models.mixmae import MixMAE
from sargeo.models.mixmim_weights import BENV2_S1_MEAN, BENV2_S1_STD
from sargeo.models.sar_w import SAR_W_MODES, db_to_linear, sar_w_weights
from sargeo.pretrain.module import SARMAEPretrainModule, seeded

SAR_W_SOURCES = ("db", "normalized")


class MixMAEPretrainModule(SARMAEPretrainModule):
    """Pretrain (SAR-W-)MixMAE.

    Args:
        size: MixMIM size (``tiny`` for CPUs, ``base`` as published, ``large``, ``huge``).
        img_size, patch_size, in_chans: 128, 4, 2 as published.
        mask_ratio, range_mask_ratio: mixing ratio on the last grid (0.5) and its random extra.
        decoder_dim, decoder_depth, decoder_heads, norm_pix_loss: the decoder (512, 8, 16) and
            MAE's per-patch target normalisation (off, as run).
        db_mean, db_std: dB normalisation per channel (BigEarthNet v2 S1, VH then VV).
        power_bands: indices of VH and VV in the batches' ``power`` (sargeo samples: VV, VH).
        flips: random horizontal and vertical flips per image, as released.
        sar_w, sar_w_mode, sar_w_scale, sar_w_from: the SAR-W loss (see the module docstring).
        lr, blr, weight_decay, betas, warmup_epochs, warmup_fraction, min_lr: as
            :class:`~sargeo.pretrain.module.SARMAEPretrainModule` (published: blr 1e-3 x batch /
            256, AdamW (0.9, 0.95), weight decay 0.05, 40 warm-up epochs, cosine to 0).
        init_checkpoint: a MixMAE checkpoint (published layout or sargeo export) to start from.
        schedule_epochs: run the cosine over this many epochs although training stops at
            ``trainer.max_epochs`` (the release planned 1024 epochs and published epoch 64);
            None: over the run.
    """

    def __init__(self, size: str = "base", img_size: int = 128, patch_size: int = 4,
                 in_chans: int = 2, mask_ratio: float = 0.5, range_mask_ratio: float = 0.0,
                 decoder_dim: int = 512, decoder_depth: int = 8, decoder_heads: int = 16,
                 norm_pix_loss: bool = False,
                 db_mean: Sequence[float] = BENV2_S1_MEAN, db_std: Sequence[float] = BENV2_S1_STD,
                 power_bands: Sequence[int] = (1, 0), flips: bool = True,
                 sar_w: bool = True,
                 sar_w_mode: Literal["per_channel", "shared_avg"] = "per_channel",
                 sar_w_scale: float = 1.0, sar_w_from: Literal["db", "normalized"] = "db",
                 lr: float | None = None, blr: float = 1e-3, weight_decay: float = 0.05,
                 betas: tuple[float, float] = (0.9, 0.95), warmup_epochs: float = 40.0,
                 min_lr: float = 0.0, drop_path_rate: float = 0.0,
                 init_checkpoint: str | None = None, seed: int = 0,
                 warmup_fraction: float | None = None,
                 schedule_epochs: float | None = None) -> None:
        args = {k: v for k, v in locals().items() if k != "self"}  # the init arguments only
        L.LightningModule.__init__(self)  # the parent's __init__ builds SARMAE: not called
        # explicit: Lightning finds the init arguments in frames of classes that call super()
        self.save_hyperparameters(args)
        if sar_w_mode not in SAR_W_MODES:
            raise ValueError(f"sar_w_mode {sar_w_mode!r}; choose one of {SAR_W_MODES}")
        if sar_w_from not in SAR_W_SOURCES:
            raise ValueError(f"sar_w_from {sar_w_from!r}; choose one of {SAR_W_SOURCES}")
        if not len(db_mean) == len(db_std) == len(power_bands) == in_chans:
            raise ValueError(f"db_mean, db_std and power_bands need {in_chans} entries (one per "
                             f"input channel), got {list(db_mean)}, {list(db_std)}, "
                             f"{list(power_bands)}")
        self.teacher = None  # no SARC, no SARE: the parent's hooks see none
        self.noise = None
        self._generator: torch.Generator | None = None
        self.model = seeded(seed, MixMAE, size, img_size=img_size, patch_size=patch_size,
                            in_chans=in_chans, mask_ratio=mask_ratio,
                            range_mask_ratio=range_mask_ratio, decoder_dim=decoder_dim,
                            decoder_depth=decoder_depth, decoder_heads=decoder_heads,
                            norm_pix_loss=norm_pix_loss, drop_path_rate=drop_path_rate)
        self.register_buffer("db_mean", torch.tensor(list(db_mean)).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("db_std", torch.tensor(list(db_std)).view(1, -1, 1, 1),
                             persistent=False)
        if init_checkpoint:
            from sargeo.models.mixmae_export import load_mixmae_state_dict
            from sargeo.models.vit import read_checkpoint

            load_mixmae_state_dict(self.model, read_checkpoint(init_checkpoint), init_checkpoint)

    def inputs(self, power: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batch ``power`` -> (normalised dB input, dB, valid-pixel mask), flipped."""
        hp = self.hparams
        if power.ndim != 4 or power.shape[1] <= max(hp.power_bands):
            raise ValueError(f"batch power of shape {tuple(power.shape)} has no bands "
                             f"{list(hp.power_bands)} (power_bands); MixMAE needs linear VV and "
                             "VH backscatter in 'power'")
        if tuple(power.shape[-2:]) != (hp.img_size, hp.img_size):
            raise ValueError(f"batch power is {power.shape[-2]} x {power.shape[-1]} px, the "
                             f"model takes {hp.img_size} (set data.img_size to model.img_size)")
        power = power[:, list(hp.power_bands)].float()
        valid = torch.isfinite(power) & (power > 0)
        db = 10.0 * torch.log10(torch.where(valid, power, torch.ones_like(power)))
        db = torch.where(valid, db, self.db_mean.expand_as(db))
        if hp.flips:
            draws = torch.rand(len(db), 2, generator=generator).to(db.device) < 0.5
            for dim, flip in ((-1, draws[:, 0]), (-2, draws[:, 1])):
                db = torch.where(flip[:, None, None, None], db.flip(dim), db)
                valid = torch.where(flip[:, None, None, None], valid.flip(dim), valid)
        return (db - self.db_mean) / self.db_std, db, valid

    def compute_losses(self, batch: dict[str, Any], generator: torch.Generator | None = None
                       ) -> dict[str, torch.Tensor]:
        if "power" not in batch:
            raise KeyError("MixMAE pretraining needs linear backscatter 'power' in each batch "
                           "(sargeo's scene and BigEarthNet samples carry it)")
        hp = self.hparams
        x, db, valid = self.inputs(batch["power"], generator)
        weight = valid.float()
        if hp.sar_w:
            source = db if hp.sar_w_from == "db" else x
            source = torch.where(valid, db_to_linear(source), torch.full_like(source, -1.0))
            weight = sar_w_weights(source, hp.sar_w_scale, hp.sar_w_mode)
        out = self.model(x, weight, generator=generator)
        return {"loss": out.loss, "loss_rec": out.loss.detach(),
                "weight_mean": weight.mean().detach()}

    def configure_optimizers(self) -> dict[str, Any]:
        """The parent's AdamW and warm-up + cosine; with ``schedule_epochs`` the cosine spans
        that many epochs of optimizer steps instead of the run."""
        config = super().configure_optimizers()
        if self.hparams.schedule_epochs is None:
            return config
        from sargeo.pretrain.schedules import optimizer_steps_per_epoch, warmup_cosine

        trainer = self.trainer
        per_epoch = optimizer_steps_per_epoch(trainer.num_training_batches,
                                              trainer.accumulate_grad_batches)
        total = max(1, int(self.hparams.schedule_epochs * per_epoch))
        warmup = self.warmup_steps(total)
        optimizer = config["optimizer"]
        base = optimizer.param_groups[0]["initial_lr"]
        min_ratio = self.hparams.min_lr / base if base > 0 else 0.0
        config["lr_scheduler"]["scheduler"] = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, warmup, min_ratio))
        return config

    def export_encoder(self, path: str | Path) -> Path:
        """Write the weights in the published SAR-W-MixMAE layout (``{"model": ...}``)."""
        from sargeo.models.mixmae_export import save_mixmae_checkpoint

        return save_mixmae_checkpoint(self.model, path)
