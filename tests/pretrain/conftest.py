"""Tiny synthetic SAR-like data and a tiny SARMAE for pretraining tests."""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sargeo.pretrain.data import ResumableDataLoader
from sargeo.pretrain.module import SARMAEPretrainModule


class SpeckledBlobs(Dataset):
    """Smooth random reflectivity maps times Gamma speckle (4 looks), in [0, 1]; paired with an
    'optical' image that shares the layout."""

    def __init__(self, n: int = 64, size: int = 32, paired_every: int = 2) -> None:
        self.n, self.size, self.paired_every = n, size, paired_every

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        coarse = torch.rand(1, 1, 4, 4, generator=g)
        scene = F.interpolate(coarse, size=(self.size, self.size), mode="bilinear")[0]
        speckle = torch._standard_gamma(torch.full_like(scene, 4.0), generator=g) / 4.0
        sar = (scene * speckle * 0.6).clamp(0, 1)
        return {"image": sar.expand(3, -1, -1).clone(), "optical": scene.expand(3, -1, -1).clone(),
                "paired": i % self.paired_every == 0, "power": (scene * speckle * 0.2)}


class TinyData(L.LightningDataModule):
    def __init__(self, batch_size: int = 8, n: int = 64, seed: int = 1, size: int = 32) -> None:
        super().__init__()
        self.batch_size, self.n, self.seed, self.size = batch_size, n, seed, size

    def train_dataloader(self):
        return ResumableDataLoader(SpeckledBlobs(self.n, self.size), self.batch_size,
                                   seed=self.seed)


def tiny_module(**kw) -> SARMAEPretrainModule:
    torch.manual_seed(0)
    args = dict(size="tiny", img_size=32, patch_size=8, decoder_dim=32, decoder_depth=1,
                decoder_heads=4, lr=1e-3, warmup_epochs=0.5) | kw
    return SARMAEPretrainModule(**args)


class LossRecorder(L.Callback):
    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append((trainer.global_step, float(outputs["loss"])))


@pytest.fixture
def recorder() -> LossRecorder:
    return LossRecorder()


def trainer(max_steps: int, tmp_path, *callbacks, every: int | None = None, **kw) -> L.Trainer:
    cbs = list(callbacks)
    if every:
        cbs.append(L.pytorch.callbacks.ModelCheckpoint(tmp_path, every_n_train_steps=every,
                                                       save_top_k=-1, filename="{step}"))
    return L.Trainer(max_steps=max_steps, max_epochs=kw.pop("max_epochs", 50),
                     accelerator="cpu", logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=bool(every),
                     deterministic=True, default_root_dir=tmp_path, callbacks=cbs, **kw)
