"""sargeo.mm.compat: mmengine's own checkpoints load under torch's weights_only default."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

pytest.importorskip("mmengine")

from mmengine.logging import HistoryBuffer, MessageHub  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint, save_checkpoint  # noqa: E402

import sargeo.mm  # noqa: E402,F401  (applies the fixes)
from sargeo.mm import compat  # noqa: E402


def runner_like_checkpoint() -> dict:
    hub = MessageHub.get_instance("sargeo-compat-test")
    hub.update_scalar("train/loss", 0.5)
    hub.update_scalar("train/loss", np.float64(0.25))
    hub.update_info("iter", 3)
    return dict(meta=dict(epoch=1, iter=3, seed=0, dataset_meta={"classes": ("ship",)}),
                state_dict={"w": torch.ones(2)}, message_hub=hub.state_dict(),
                optimizer={"state": {}, "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999)}]})


def test_mmengine_checkpoint_with_history_buffers_loads_weights_only(tmp_path):
    path = tmp_path / "epoch_1.pth"
    save_checkpoint(runner_like_checkpoint(), str(path))
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert "builtins.getattr" not in unsafe  # nothing that could call arbitrary code
    loaded = _load_checkpoint(str(path))  # mmengine's own loader, torch's default weights_only
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.375)
    assert buffer.statistics("current") == pytest.approx(0.25)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_history_buffer_pickles_without_bound_methods():
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    blob = pickle.dumps(buffer)
    assert b"getattr" not in blob
    restored = pickle.loads(blob)
    assert restored.max() == 2.0 and restored.mean() == 1.5


def test_vanilla_mmengine_pickles_still_unpickle(monkeypatch):
    """Buffers pickled before the fix (with their statistics methods) still restore."""
    buffer = HistoryBuffer([3.0], [1])
    buffer.__dict__["statistics_methods"] = dict(HistoryBuffer._statistics_methods)
    state = dict(buffer.__dict__)
    fresh = HistoryBuffer.__new__(HistoryBuffer)
    fresh.__setstate__(state)
    assert fresh.statistics("min") == 3.0 and "statistics_methods" not in fresh.__dict__


def test_safe_globals_cover_numpy_arrays_and_scalars(tmp_path):
    path = tmp_path / "np.pth"
    torch.save({"a": np.arange(3.0), "s": np.float32(2.5), "i": np.int64(7)}, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["a"].tolist() == [0.0, 1.0, 2.0] and loaded["s"] == 2.5 and loaded["i"] == 7
    assert compat._applied


def test_mmseg_class_weighted_cross_entropy_accepts_ignored_pixels():
    """mmseg 1.2.2 indexes class_weight with 255 and fails; with sargeo's fix the weighted mean
    skips ignored pixels, as torch's cross_entropy does."""
    import torch
    from mmseg.models.losses import CrossEntropyLoss


    loss = CrossEntropyLoss(class_weight=[0.3, 3.0], loss_weight=1.0)
    pred = torch.randn(2, 2, 4, 4)
    label = torch.randint(0, 2, (2, 4, 4))
    label[0, 0] = 255
    expected = torch.nn.functional.cross_entropy(pred, label, weight=torch.tensor([0.3, 3.0]),
                                                 ignore_index=255)
    torch.testing.assert_close(loss(pred, label, ignore_index=255), expected)
