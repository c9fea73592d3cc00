"""The fine-tuning loop both classification protocols share (:mod:`sargeo.finetune_loop`)."""

from __future__ import annotations

import math

import pytest
import torch

from sargeo.finetune_loop import Schedule, base_lr, check_run, log_batch, mean_std, train_epochs
from sargeo.finetune_s1 import S1FinetuneConfig


class _Cfg(Schedule):
    """A schedule with the options the loop reads beyond :class:`Schedule`."""

    num_workers: int = 0
    eval_every: int = 2
    precision: str = "fp32"


def _cfg(**changes) -> _Cfg:
    cfg = _Cfg(epochs=5, batch_size=256, blr=1.0, min_lr=0.0, warmup_epochs=1.0)
    for name, value in changes.items():
        setattr(cfg, name, value)
    return cfg


def test_epochs_to_evaluate_and_the_lr_of_every_iteration():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD([{"params": model.parameters(), "lr_scale": 0.5}], lr=0.0)
    loader = [(torch.ones(1, 2), torch.zeros(1, 1))] * 2  # two batches an epoch
    lrs = []

    def loss_of(x, y):
        lrs.append(optimizer.param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(model(x), y)

    cfg = _cfg()
    assert base_lr(cfg) == 1.0
    assert list(train_epochs(model, loader, optimizer, loss_of, cfg, 0, False)) == [2, 4, 5]
    # 2 warm-up steps (linear from 0), then half a cosine over the 8 remaining, x lr_scale
    expected = [0.0, 0.25] + [0.25 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    assert lrs == pytest.approx(expected, abs=1e-12)


def test_a_non_finite_loss_stops_the_run():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD([{"params": model.parameters(), "lr_scale": 1.0}], lr=0.0)
    loader = [(torch.ones(1, 2), torch.zeros(1, 1))]
    with pytest.raises(FloatingPointError, match=r"^non-finite loss at epoch 0, step 0$"):
        next(train_epochs(model, loader, optimizer, lambda x, y: model(x).sum() * math.inf,
                          _cfg(), 0, False))


def test_runs_that_cannot_work_are_refused_before_any_work():
    with pytest.raises(ValueError, match=r"^eval_every must be >= 1, got 0$"):
        check_run(_cfg(eval_every=0), range(300))
    with pytest.raises(ValueError, match=r"^3 training images are fewer than one batch \(256\): "
                       r"lower --batch-size$"):
        check_run(_cfg(), range(3))
    check_run(_cfg(), range(256))


def test_the_s1_protocol_overrides_only_its_own_defaults():
    shared, s1 = Schedule(), S1FinetuneConfig()
    assert (s1.img_size, s1.patch_size, s1.epochs, s1.batch_size) == (128, 4, 50, 32)
    assert (s1.blr, s1.min_lr, s1.warmup_epochs, s1.weight_decay, s1.layer_decay,
            s1.drop_path) == (shared.blr, shared.min_lr, shared.warmup_epochs,
                              shared.weight_decay, shared.layer_decay, shared.drop_path)


def test_mean_and_sample_std():
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": math.sqrt(2.0)}
    assert mean_std([4.0]) == {"mean": 4.0, "std": 0.0}


def test_progress_lines_come_every_n_batches(capsys):
    for batch in range(1, 26):
        log_batch(0, 2, 5, batch, 25, 0.5, 2.0 * batch, every=10)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0].strip() for line in lines] == [
        f"seed 0 epoch 2/5 batch {b}/25" for b in (1, 10, 20, 25)]
    assert lines[0].endswith("loss 0.5000, 2.00 s/batch")
