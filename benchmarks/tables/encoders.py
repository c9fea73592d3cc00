"""The small budget's encoders: pretrained by sargeo's own pretraining module on a cell's
training images (no labels), the records of those runs, and how collapsed their tokens are."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def pretrain_encoder(data: Any, out: Path, *, sare: bool, steps: int, img_size: int,
                     patch_size: int, in_chans: int = 3, batch_size: int = 32,
                     lr: float = 1.5e-3, warmup_epochs: float = 1.0, max_epochs: int = 10_000,
                     norm_pix_loss: bool = False, precision: str = "32-true",
                     seed: int = 0, warmup_fraction: float | None = None) -> Path:
    """Pretrain a ViT-Tiny SARMAE (``sare`` on) or plain MAE (off) on ``data`` (a dataset of
    ``{"image": (C, H, W) in [0, 1]}``, no labels) with sargeo's pretraining module; returns the
    encoder exported in the published SARMAE layout, with the loss at the first step and over
    the last ten beside it (``out`` with suffix ``.json``). An existing ``out`` is reused."""
    from sargeo.io import atomic_path
    from sargeo.pretrain.module import SARMAEPretrainModule
    from sargeo.pretrain.quick import fit_quick

    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    module = SARMAEPretrainModule(size="tiny", img_size=img_size, patch_size=patch_size,
                                  in_chans=in_chans, decoder_dim=128, decoder_depth=2,
                                  decoder_heads=4, sare=sare, lr=lr,
                                  norm_pix_loss=norm_pix_loss,
                                  warmup_epochs=warmup_epochs,
                                  warmup_fraction=warmup_fraction, seed=seed)
    start = time.monotonic()
    losses = [loss for _, loss in fit_quick(module, data, steps=steps, batch_size=batch_size,
                                            seed=seed, max_epochs=max_epochs,
                                            precision=precision)]
    tail = losses[-10:]
    with atomic_path(out.with_suffix(".json"), overwrite=True) as tmp:
        tmp.write_text(json.dumps({
            "steps": len(losses), "seconds": round(time.monotonic() - start, 1),
            "loss_first_step": round(losses[0], 4) if losses else None,
            "loss_last_10_steps": round(sum(tail) / len(tail), 4) if tail else None}) + "\n")
    return module.export_encoder(out)


def pretraining_records(inits: dict[str, str | None]) -> dict[str, Any]:
    """Each pretrained initialisation's record (steps, seconds, losses: the JSON
    :func:`pretrain_encoder` writes beside the checkpoint)."""
    return {label: json.loads(Path(init).with_suffix(".json").read_text())
            for label, init in inits.items()
            if init and Path(init).with_suffix(".json").is_file()}


def token_diversity(checkpoint: str | Path | None, images: Any, *, patch_size: int,
                    seed: int = 0) -> float:
    """How much a ViT-Tiny encoder's output patch tokens differ across positions of an image:
    the standard deviation over the tokens of each image, relative to the standard deviation
    over all tokens of the batch (``images``: (B, C, H, W) as the pretraining sees them, after
    its 0.5 / 0.5 normalisation). Near 0: every position says the same (collapsed features,
    little for detection or segmentation to use); ``checkpoint`` None: a random encoder."""
    from sargeo.probe import frozen_tokens

    tokens = frozen_tokens(checkpoint, images, patch_size=patch_size, seed=seed).flatten(1, 2)
    return float(tokens.std(1).mean() / tokens.std())


def image_index(files: list[Path], index_dir: Path, img_size: int, in_chans: int = 3) -> Any:
    """The images ``files`` resized to ``img_size`` as a pretraining dataset (sargeo's SAR-1M
    style index)."""
    from sargeo.pretrain.data import SARImageIndex

    index_dir.mkdir(parents=True, exist_ok=True)
    (index_dir / "unpaired.json").write_text(json.dumps([str(f) for f in files]))
    return SARImageIndex(index_dir, ("unpaired.json",), img_size=img_size, in_chans=in_chans)


class RandomCrops:
    """Item ``i``: a random ``size`` px crop (and flips) of item ``i % len(base)`` of ``base``
    (a pretraining dataset), the same in every run; ``length`` items."""

    def __init__(self, base: Any, size: int, length: int, seed: int = 0) -> None:
        self.base, self.size, self.length, self.seed = base, size, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Any]:
        import numpy as np

        rng = np.random.default_rng([self.seed, i])
        image = self.base[i % len(self.base)]["image"]
        h, w = image.shape[-2:]
        y = int(rng.integers(max(h - self.size, 0) + 1))
        x = int(rng.integers(max(w - self.size, 0) + 1))
        crop = image[:, y:y + self.size, x:x + self.size]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        if rng.random() < 0.5:
            crop = crop.flip(-2)
        return {"image": crop.contiguous()}
