"""``fit_quick``: the short CPU pretraining run the demo and the small-budget benchmarks use."""

from __future__ import annotations

import torch

from sargeo.pretrain.quick import fit_quick
from tests.pretrain.conftest import SpeckledBlobs, tiny_module


def test_fit_quick_trains_the_given_steps_and_records_each_loss():
    module = tiny_module()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    history = fit_quick(module, SpeckledBlobs(16, 32), steps=5, batch_size=4, seed=0)
    assert [step for step, _ in history] == [1, 2, 3, 4, 5]
    assert all(torch.isfinite(torch.tensor(loss)) for _, loss in history)
    changed = [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("model.encoder") or "blocks" in k for k in changed), changed


def test_fit_quick_runs_in_bfloat16_autocast():
    module = tiny_module()
    dtypes: list[torch.dtype] = []
    linear = next(m for m in module.model.encoder.modules() if isinstance(m, torch.nn.Linear))
    linear.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype) and None)
    history = fit_quick(module, SpeckledBlobs(8, 32), steps=2, batch_size=4, seed=0,
                        precision="bf16-mixed")
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(v)) for _, v in history)
    assert torch.bfloat16 in dtypes
