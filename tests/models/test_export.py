"""`sargeo pretrain-export`: a Lightning checkpoint to the published SARMAE layout, read
without pickle."""

from __future__ import annotations

import re

import pytest
import torch

from sargeo.cli import main
from sargeo.models.vit import CheckpointError, create_vit, load_encoder_weights
from tests.test_io import mode_of, umask


class Arbitrary:
    """Stands for any pickled object a downloaded file could carry."""


@pytest.fixture
def lightning_run(tmp_path):
    """A real checkpoint of `sargeo pretrain`'s LightningModule (SARC on) and its module."""
    from tests.pretrain.conftest import TinyData, tiny_module, trainer

    module = tiny_module(sare=False, sarc=True, teacher_model="vit_small_patch16_dinov3",
                         teacher_mode="released", img_size=32, patch_size=16)
    trainer(2, tmp_path / "run", every=2).fit(module, datamodule=TinyData(n=16))
    return module, next((tmp_path / "run").glob("*.ckpt"))


def test_pretrain_export_reads_plain_checkpoints_without_pickle(lightning_run, tmp_path):
    module, ckpt = lightning_run
    out = tmp_path / "sarmae_tiny.pth"
    with umask(0o022):
        assert main(["pretrain-export", str(ckpt), str(out)]) == 0
    assert mode_of(out) == 0o644
    state = torch.load(out, weights_only=True)["model"]
    assert "sar_alignment_ffn.3.weight" in state and "sar_encoder.decoder_embed.weight" in state
    vit = create_vit("tiny", img_size=32, patch_size=16)
    load_encoder_weights(vit, out)
    x = torch.rand(1, 3, 32, 32)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(x),
                                   module.model.encoder.forward_features(x))


def test_pretrain_export_refuses_pickle_unless_allowed(lightning_run, tmp_path, capsys):
    _, ckpt = lightning_run
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["loops"]["custom"] = Arbitrary()
    pickled = tmp_path / "pickled.ckpt"
    torch.save(checkpoint, pickled)
    out = tmp_path / "out.pth"
    assert main(["pretrain-export", str(pickled), str(out)]) == 2
    assert re.search(r"pickled\.ckpt needs pickle.*--allow-pickle", capsys.readouterr().err)
    assert not out.exists()
    assert main(["pretrain-export", str(pickled), str(out), "--allow-pickle"]) == 0
    assert "sar_encoder.blocks.0.attn.qkv.weight" in torch.load(out, weights_only=True)["model"]


def test_pretrain_export_names_a_file_that_is_not_a_pretraining_checkpoint(tmp_path, monkeypatch):
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"net.weight": torch.zeros(1)}}, other)
    monkeypatch.setenv("SARGEO_TRACEBACK", "1")  # the error itself, raised
    with pytest.raises(CheckpointError, match=r"other\.ckpt is not a `sargeo pretrain`"):
        main(["pretrain-export", str(other), str(tmp_path / "o.pth")])
