"""``fit_quick``: a short CPU pretraining run on a dataset in hand, recording the loss.

For the demo and the small-budget benchmarks: the same :class:`SARMAEPretrainModule` and
resumable loader as ``sargeo pretrain``, on the CPU, without logger or checkpoints, gradients
clipped at 1.0 as the published recipes do. Long runs belong to ``sargeo pretrain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def fit_quick(module: Any, dataset: Any, *, steps: int, batch_size: int, seed: int = 0,
              max_epochs: int = 1000, progress: bool = False,
              root_dir: str | Path | None = None,
              precision: str = "32-true") -> list[tuple[int, float]]:
    """Train ``module`` (a :class:`~sargeo.pretrain.module.SARMAEPretrainModule`) for ``steps``
    batches of ``dataset`` on the CPU; returns ``(global step, loss)`` after each batch.
    ``max_epochs`` bounds the run beside ``steps`` (``-1``: no bound); the warm-up is the
    module's (``warmup_epochs`` of real optimizer steps, or ``warmup_fraction`` of ``steps``);
    ``precision`` is Lightning's (``"bf16-mixed"``: 1.4x on CPUs with AVX512-BF16)."""
    import lightning as L

    from sargeo.pretrain.data import ResumableDataLoader
    from sargeo.pretrain.datamodule import collate_pretrain

    history: list[tuple[int, float]] = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            history.append((trainer.global_step, float(outputs["loss"])))

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return ResumableDataLoader(dataset, batch_size, seed=seed,
                                       collate_fn=collate_pretrain)

    trainer = L.Trainer(max_steps=steps, max_epochs=max_epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=progress,
                        enable_model_summary=False, callbacks=[Record()],
                        gradient_clip_val=1.0, default_root_dir=root_dir,
                        precision=precision)
    trainer.fit(module, datamodule=Data())
    return history
