"""The pretraining DataModule: SAR-1M style index files or GeoTIFF scenes, behind a resumable
loader."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
from torch.utils.data import ConcatDataset, Dataset

from sargeo.pretrain.data import RELEASED_PAIRED_RATIO, ResumableDataLoader, SARImageIndex
from sargeo.pretrain.scenes import SceneChips


class PretrainDataModule(L.LightningDataModule):
    """Data for :class:`~sargeo.pretrain.module.SARMAEPretrainModule`.

    Args:
        data_root: folder with ``paired.json`` / ``unpaired.json`` (SAR-1M layout), or None.
        scenes: GeoTIFF files or folders to sample chips from (``scene_chips`` per epoch).
        scene_optical: co-registered optical GeoTIFFs for SARC on scenes (chips are drawn where
            both exist).
        batch_size: per-device batch size.
        on_missing: ``skip`` index entries whose files are missing (counted warning) or
            ``error``.
        on_bad_image: ``error`` on an image that fails to decode (naming it) or ``skip`` it
            (counted warning; the next image takes its place).
        sampling, paired_ratio: what an epoch of the index holds: ``each`` entry once, or the
            ``released`` SAR-1M mix, about ``paired_ratio`` (0.7) paired samples
            (:func:`sargeo.pretrain.data.released_mix`).
        bigearthnet: BigEarthNet-S1 patch folders (SAR-W-MixMAE's pretraining data): samples
            with ``power`` (VV, VH) and ``image`` as scene chips, labels unused.
    """

    def __init__(self, data_root: str | None = None, scenes: Sequence[str] | None = None,
                 index_files: Sequence[str] = ("paired.json", "unpaired.json"),
                 img_size: int = 224, in_chans: int = 3, batch_size: int = 64,
                 num_workers: int = 0, seed: int = 0, scene_chips: int = 1000,
                 scene_glob: str = "*.tif", scene_optical: Sequence[str] | None = None,
                 on_missing: str = "skip", on_bad_image: str = "error",
                 sampling: str = "each", paired_ratio: float = RELEASED_PAIRED_RATIO,
                 bigearthnet: str | None = None) -> None:
        super().__init__()
        if data_root is None and not scenes and bigearthnet is None:
            raise ValueError("give data_root (SAR-1M index files), scenes (GeoTIFFs) and/or "
                             "bigearthnet (BigEarthNet-S1 patch folders)")
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.dataset: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        hp = self.hparams
        parts: list[Dataset] = []
        if hp.data_root is not None:
            parts.append(SARImageIndex(hp.data_root, hp.index_files, hp.img_size, hp.in_chans,
                                       hp.on_missing, hp.on_bad_image, hp.sampling,
                                       hp.paired_ratio))
        if hp.scenes:
            parts.append(SceneChips(hp.scenes, hp.img_size, hp.scene_chips, hp.seed,
                                    hp.in_chans, glob=hp.scene_glob,
                                    optical=hp.scene_optical or None))
        if hp.bigearthnet:
            from sargeo.datasets.bigearthnet import BigEarthNetPretrain

            parts.append(BigEarthNetPretrain(hp.bigearthnet, hp.img_size))
        self.dataset = parts[0] if len(parts) == 1 else ConcatDataset(parts)

    def train_dataloader(self) -> ResumableDataLoader:
        self.setup()
        assert self.dataset is not None
        if len(self.dataset) < self.batch_size:
            raise ValueError(f"{len(self.dataset)} samples are fewer than one batch "
                             f"({self.batch_size})")
        return ResumableDataLoader(self.dataset, self.batch_size, seed=self.hparams.seed,
                                   num_workers=self.hparams.num_workers,
                                   persistent_workers=self.hparams.num_workers > 0,
                                   collate_fn=collate_pretrain)


def collate_pretrain(samples: list[dict]) -> dict:
    """Stack tensors, keep paths as a list, turn ``paired`` flags into a bool tensor."""
    import torch

    batch: dict = {}
    keys = [k for k in samples[0] if all(k in s for s in samples)]  # mixed sources: common keys
    for key in keys:
        values = [s[key] for s in samples]
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(values[0], bool):
            batch[key] = torch.tensor(values, dtype=torch.bool)
        else:
            batch[key] = values
    return batch
