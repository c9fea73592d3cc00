"""SARMAE pretraining as a LightningModule: SARE noise on the input, clean reconstruction target,
SARC alignment to a frozen optical teacher for paired samples, optional SAR-W loss weighting.

Batches are dicts: ``image`` (B, C, H, W) SAR in [0, 1]; optionally ``optical`` (B, 3, H, W) in
[0, 1] and ``paired`` (B,) bool; optionally ``power`` (B, P, H, W) linear backscatter for SAR-W.
Distributed training, precision, accumulation and checkpointing are Lightning's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from sargeo.models.sar_w import sar_w_weights
from sargeo.models.sarmae import SARMAE
from sargeo.models.speckle import SpeckleNoise
from sargeo.models.teacher import OpticalTeacher
from sargeo.models.vit import load_encoder_weights
from sargeo.pretrain.data import INPUT_MEAN, INPUT_STD
from sargeo.pretrain.schedules import (
    LossSchedule,
    alignment_weight,
    optimizer_steps_per_epoch,
    warmup_cosine,
    warmup_from_epochs,
    warmup_from_fraction,
)


def seeded[M](seed: int, build: Callable[..., M], *args: Any, **kwargs: Any) -> M:
    """``build(*args, **kwargs)`` under the global RNG seeded with ``seed`` and restored after:
    the initial weights follow ``seed``, not whatever drew from the RNG before."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args, **kwargs)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step and the batch."""


class SARMAEPretrainModule(L.LightningModule):
    """Pretrain SARMAE.

    Args:
        size: encoder size (``tiny``, ``small``, ``base``, ``large``).
        img_size, patch_size, in_chans: input geometry; the published models use 224, 16, 3
            (grayscale SAR repeated to three channels).
        mask_ratio, decoder_dim, decoder_depth, decoder_heads, norm_pix_loss: MAE settings
            (``norm_pix_loss`` off, as released; True is MAE's per-patch normalised target).
        mean, std: input normalisation applied after SARE noise, to input and target alike
            (0.5 / 0.5 as released).
        sare: inject speckle (``noise_*`` and ``noise_mode`` as in
            :class:`sargeo.models.speckle.SpeckleNoise`).
        sarc: align to an optical teacher (``teacher_*``) on paired samples;
            ``teacher_mode="released"`` (default) is the released patch-embedding teacher,
            ``"full"`` the whole DINOv3 ViT (:class:`sargeo.models.teacher.OpticalTeacher`).
        mae_loss_weight, alignment_loss_weight, loss_schedule: total loss
            ``mae_loss_weight * MAE + w(t) * alignment`` with ``w`` from ``loss_schedule``.
        sar_w: weight the reconstruction loss by backscatter power (needs ``power`` in batches).
        lr: absolute peak learning rate (the published 1e-4 is absolute, at batch 4096); if
            None, ``blr * effective_batch / 256`` (linear scaling).
        warmup_epochs: linear warm-up over this many epochs of real optimizer steps (batches
            per epoch / gradient accumulation), at most the whole run; ``warmup_fraction``, if
            set, replaces it with this share of all optimizer steps.
        init_checkpoint: MAE/SARMAE checkpoint for the encoder (e.g. mae_pretrain_vit_base.pth),
            or a weights name such as ``torchgeo:ViTBase16_Weights.SENTINEL1_GRD_MAE``.
    """

    def __init__(self, size: str = "base", img_size: int = 224, patch_size: int = 16,
                 in_chans: int = 3, mask_ratio: float = 0.75, decoder_dim: int = 512,
                 decoder_depth: int = 8, decoder_heads: int = 16, norm_pix_loss: bool = False,
                 mean: float = INPUT_MEAN, std: float = INPUT_STD,
                 sare: bool = True, noise_ratio: float = 0.5, noise_min: float = 0.0,
                 noise_max: float = 0.7, random_noise: bool = True, noise_level: float = 0.3,
                 noise_mode: Literal["released", "gamma"] = "released",
                 sarc: bool = False, teacher_mode: Literal["released", "full"] = "released",
                 teacher_model: str = "vit_base_patch16_dinov3",
                 teacher_checkpoint: str | None = None,
                 mae_loss_weight: float = 1.0, alignment_loss_weight: float = 0.8,
                 loss_schedule: LossSchedule = "released",
                 sar_w: bool = False, sar_w_scale: float = 1.0,
                 lr: float | None = None, blr: float = 1.5e-4, weight_decay: float = 0.05,
                 betas: tuple[float, float] = (0.9, 0.95), warmup_epochs: float = 1.0,
                 min_lr: float = 0.0, init_checkpoint: str | None = None,
                 seed: int = 0, warmup_fraction: float | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.teacher: OpticalTeacher | None = None
        teacher_dim = None
        if sarc:
            teacher = OpticalTeacher(teacher_mode, teacher_model, teacher_checkpoint, img_size)
            teacher_dim = teacher.dim
            # kept out of the module's state: frozen weights do not belong in every checkpoint
            object.__setattr__(self, "teacher", teacher)
        self.model = seeded(seed, SARMAE, size, img_size=img_size, patch_size=patch_size,
                            in_chans=in_chans, mask_ratio=mask_ratio, decoder_dim=decoder_dim,
                            decoder_depth=decoder_depth, decoder_heads=decoder_heads,
                            norm_pix_loss=norm_pix_loss, teacher_dim=teacher_dim,
                            mae_weight=mae_loss_weight)
        if self.teacher is not None:
            grid = tuple(self.teacher.model.patch_embed.grid_size)
            if grid != tuple(self.model.encoder.patch_embed.grid_size):
                raise ValueError(f"teacher patch grid {grid} differs from the SAR encoder's "
                                 f"{tuple(self.model.encoder.patch_embed.grid_size)}: SARC "
                                 "aligns patch by patch, so use the same patch size")
        if init_checkpoint:
            from sargeo.models.weights import resolve_checkpoint

            load_encoder_weights(self.model.encoder, resolve_checkpoint(init_checkpoint))
        self.noise = SpeckleNoise(noise_ratio, noise_min, noise_max, random_noise, noise_level,
                                  noise_mode) if sare else None
        self._generator: torch.Generator | None = None

    # -- helpers -------------------------------------------------------------------------------
    def _rng(self, batch_idx: int = 0) -> torch.Generator:
        """CPU generator for noise and masks, reseeded for each micro-batch from (seed, global
        step, rank, micro-batch within the step), so a resumed run draws exactly what an
        uninterrupted one would and the micro-batches of an accumulated step draw their own.

        ``batch_idx % accumulate_grad_batches`` is the micro-batch's place in its optimizer
        step (Lightning steps every ``accumulate`` batches of an epoch and at its end); without
        accumulation it is 0 and the seeds are those of earlier sargeo versions. torch's CPU
        generator keeps 32 bits of a seed, so micro-batch ``m`` shifts it by
        ``m * 2**32 // accumulate``: no two micro-batches of a run share a seed before step
        ``2**32 / (101 * accumulate)`` (42 million / accumulate) with up to 100 ranks. Draws
        happen on the CPU and are moved to the model's device
        (:func:`sargeo.models.mae.random_masking`), so CPU and GPU runs draw the same.
        """
        if self._generator is None:
            self._generator = torch.Generator()
        accumulate = max(1, self._trainer.accumulate_grad_batches if self._trainer is not None
                         else 1)
        micro = batch_idx % accumulate
        self._generator.manual_seed(
            (self.hparams.seed * 1_000_003 + self.global_step * 101 + self.global_rank
             + micro * (2**32 // accumulate)) % 2**63)
        return self._generator

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.hparams.mean) / self.hparams.std

    def progress(self) -> float:
        """Training progress t in [0, 1]: epoch / max_epochs as in the released scheduler (which
        steps once per epoch), or the step fraction for step-limited runs."""
        if self._trainer is None:
            return 0.0
        trainer = self.trainer
        if trainer.max_epochs and trainer.max_epochs > 0 and trainer.max_steps in (-1, None):
            return self.current_epoch / trainer.max_epochs
        total = trainer.estimated_stepping_batches
        if not total or math.isinf(total):
            return 0.0
        return self.global_step / total

    def on_fit_start(self) -> None:
        if self.teacher is not None:
            self.teacher.to(self.device)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        loops = checkpoint.get("loops") or {}
        self._loader_states = loops.get("fit_loop", {}).get("state_dict", {}).get(
            "combined_loader", [])

    def on_train_start(self) -> None:
        """Put stateful train loaders back where the checkpoint left them. Lightning 2.6 skips
        this when the loader was built early to estimate the number of steps (as
        ``configure_optimizers`` does here), which would replay already-seen batches."""
        states = getattr(self, "_loader_states", None)
        if not states:
            return
        loaders = self.trainer.train_dataloader
        loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
        stateful = [dl for dl in loaders if hasattr(dl, "load_state_dict")]
        for loader, state in zip(stateful, states, strict=False):
            loader.load_state_dict(state)
        self._loader_states = []

    # -- training ------------------------------------------------------------------------------
    def compute_losses(self, batch: dict[str, Any], generator: torch.Generator | None = None
                       ) -> dict[str, torch.Tensor]:
        clean = batch["image"]
        if clean.shape[1] != self.hparams.in_chans:
            raise ValueError(f"batch has {clean.shape[1]} image channels, the model expects "
                             f"{self.hparams.in_chans} (in_chans)")
        noisy, noised = (clean, torch.zeros(len(clean), dtype=torch.bool, device=clean.device)
                         ) if self.noise is None else self.noise(clean, generator)
        teacher_tokens = paired = None
        if self.teacher is not None and "optical" in batch:
            paired = batch.get("paired", torch.ones(len(clean), dtype=torch.bool)).bool()
            if bool(paired.any()):
                teacher_tokens = self.teacher(batch["optical"])
        pixel_weight = None
        if self.hparams.sar_w:
            if "power" not in batch:
                raise KeyError("sar_w=True needs linear backscatter 'power' in each batch")
            pixel_weight = sar_w_weights(batch["power"], self.hparams.sar_w_scale).expand_as(
                clean)
        w = alignment_weight(self.progress(), self.hparams.alignment_loss_weight,
                             self.hparams.loss_schedule)
        out = self.model(self.normalize(noisy), self.normalize(clean),
                         teacher_tokens=teacher_tokens, paired=paired, align_weight=w,
                         pixel_weight=pixel_weight, generator=generator)
        return {"loss": out.loss, "loss_mae": out.loss_mae, "loss_align": out.loss_align,
                "align_weight": torch.tensor(w), "noised": noised.float().mean()}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        losses = self.compute_losses(batch, self._rng(batch_idx))
        if not torch.isfinite(losses["loss"]):
            names = batch.get("path")
            raise NonFiniteLossError(
                f"non-finite loss {float(losses['loss'])} at global step {self.global_step} "
                f"(batch {batch_idx} of epoch {self.current_epoch}"
                f"{', files ' + str(list(names)[:8]) if names is not None else ''}); "
                "the last checkpoint is intact: lower the learning rate or check the inputs")
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=False,
                      on_step=True, batch_size=len(batch["image"]))
        self.log("loss", losses["loss"], prog_bar=True, on_step=True, logger=False,
                 batch_size=len(batch["image"]))
        return losses["loss"]

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            if not param.requires_grad:
                continue
            # as released: no decay for biases and norms; class and mask tokens are decayed
            (no_decay if param.ndim <= 1 or "norm" in name else decay).append(param)
        lr = hp.lr
        if lr is None:
            effective = self.trainer.world_size * self._batch_size() * \
                self.trainer.accumulate_grad_batches
            lr = hp.blr * effective / 256
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": hp.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}],
                                      lr=lr, betas=tuple(hp.betas))
        total = int(self.trainer.estimated_stepping_batches)
        warmup = self.warmup_steps(total)
        min_ratio = hp.min_lr / lr if lr > 0 else 0.0
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, warmup, min_ratio))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def warmup_steps(self, total: int) -> int:
        """Warm-up length in optimizer steps for a run of ``total`` steps (see
        ``warmup_epochs`` and ``warmup_fraction``)."""
        hp = self.hparams
        if hp.warmup_fraction is not None:
            return warmup_from_fraction(hp.warmup_fraction, total)
        trainer = self.trainer
        if trainer.train_dataloader is None:  # Lightning loads it early only with max_epochs
            trainer.fit_loop.setup_data()
        per_epoch = optimizer_steps_per_epoch(trainer.num_training_batches,
                                              trainer.accumulate_grad_batches)
        return warmup_from_epochs(hp.warmup_epochs, per_epoch, total)

    def _batch_size(self) -> int:
        dm = getattr(self.trainer, "datamodule", None)
        return int(getattr(dm, "batch_size", 1))

    # -- export --------------------------------------------------------------------------------
    def export_encoder(self, path: str | Path) -> Path:
        """Write the weights in the published SARMAE layout (``{"model": MAE keys}``)."""
        from sargeo.models.export import save_sarmae_checkpoint

        return save_sarmae_checkpoint(self.model, path)
