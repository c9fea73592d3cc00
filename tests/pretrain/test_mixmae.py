"""SAR-W-MixMAE pretraining through sargeo's pretraining module, data module and command."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from sargeo.models.mixmae_export import load_mixmae_state_dict
from sargeo.models.sar_w import sar_w_weights
from sargeo.models.vit import read_checkpoint
from sargeo.pretrain.mixmae import MixMAEPretrainModule
from sargeo.pretrain.schedules import warmup_cosine

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"


def module(**kwargs) -> MixMAEPretrainModule:
    args = dict(img_size=64, decoder_dim=32, decoder_depth=1, decoder_heads=4, flips=False)
    return MixMAEPretrainModule("tiny", **dict(args, **kwargs))


def power_batch(b: int = 4, size: int = 64) -> torch.Tensor:
    """Linear (VV, VH) power: VV around 0.1, VH around 0.01, with Gamma speckle."""
    g = torch.Generator().manual_seed(0)
    speckle = torch._standard_gamma(torch.full((b, 2, size, size), 4.0), generator=g) / 4.0
    return speckle * torch.tensor([0.1, 0.01]).view(1, 2, 1, 1)


def test_inputs_are_vh_vv_db_normalised_with_nodata_at_the_mean():
    m = module()
    power = torch.tensor([0.1, 0.01]).view(1, 2, 1, 1).expand(2, 2, 64, 64).clone()
    power[0, 0, 3, 4] = float("nan")  # VV nodata
    power[1, 1, 5, 6] = 0.0           # VH nodata
    x, db, valid = m.inputs(power)
    assert float(db[1, 0, 0, 0]) == pytest.approx(-20.0, abs=1e-5)  # channel 0: VH
    assert float(db[1, 1, 0, 0]) == pytest.approx(-10.0, abs=1e-5)
    assert float(x[1, 0, 0, 0]) == pytest.approx((-20.0 + 19.1966) / 5.4501, abs=1e-5)
    assert not valid[0, 1, 3, 4] and not valid[1, 0, 5, 6] and int((~valid).sum()) == 2
    assert float(x[0, 1, 3, 4]) == 0.0 and float(x[1, 0, 5, 6]) == 0.0
    flipped, _, _ = module(flips=True).inputs(power_batch(), torch.Generator().manual_seed(1))
    plain, _, _ = m.inputs(power_batch())
    assert any(torch.equal(flipped[i], plain[i].flip(-1)) or
               torch.equal(flipped[i], plain[i].flip(-2)) for i in range(4))


def test_losses_with_and_without_sar_w():
    batch = {"image": torch.zeros(4, 2, 64, 64), "power": power_batch()}
    loss = {}
    for name, kwargs in (("plain", dict(sar_w=False)), ("db", dict(sar_w=True)),
                         ("shared", dict(sar_w_mode="shared_avg")),
                         ("normalized", dict(sar_w_from="normalized"))):
        m = module(**kwargs)
        loss[name] = m.compute_losses(batch, torch.Generator().manual_seed(0))
    m = module(sar_w=False)
    x, db, valid = m.inputs(batch["power"])
    expected = m.model(x, valid.float(), generator=torch.Generator().manual_seed(0)).loss
    torch.testing.assert_close(loss["plain"]["loss"], expected)
    weighted = module().model(x, sar_w_weights(10 ** (db / 10), 1.0, "per_channel"),
                              generator=torch.Generator().manual_seed(0)).loss
    torch.testing.assert_close(loss["db"]["loss"], weighted)
    assert len({round(float(v["loss"]), 5) for v in loss.values()}) == 4
    assert 1.0 < float(loss["db"]["weight_mean"]) < math.e


def test_bad_batches_and_arguments_are_named():
    m = module()
    with pytest.raises(KeyError, match="needs linear backscatter 'power' in each batch"):
        m.compute_losses({"image": torch.zeros(2, 2, 64, 64)})
    with pytest.raises(ValueError, match="power is 32 x 32 px, the model takes 64"):
        m.compute_losses({"power": power_batch(2, 32)})
    with pytest.raises(ValueError, match=r"has no bands \[1, 0\]"):
        m.compute_losses({"power": power_batch(2)[:, :1]})
    with pytest.raises(ValueError, match="sar_w_mode 'mean'; choose one of"):
        module(sar_w_mode="mean")
    with pytest.raises(ValueError, match="sar_w_from 'linear'; choose one of"):
        module(sar_w_from="linear")


def _chips(n: int = 8) -> list[dict]:
    power = power_batch(n)
    return [{"image": torch.zeros(2, 64, 64), "power": power[i]} for i in range(n)]


def test_schedule_epochs_stretches_the_cosine_past_the_run():
    from sargeo.pretrain.quick import fit_quick

    lrs = {}
    for planned in (None, 10):
        m = module(lr=1e-3, warmup_epochs=0.5, schedule_epochs=planned)
        fit_quick(m, _chips(8), steps=4, batch_size=2, max_epochs=1)  # 4 steps = 1 epoch
        lrs[planned] = m.trainer.optimizers[0].param_groups[0]["lr"]
    assert lrs[None] == pytest.approx(1e-3 * warmup_cosine(4, 4, 2))  # cosine ended: 0
    assert lrs[10] == pytest.approx(1e-3 * warmup_cosine(4, 40, 2))   # 40 planned steps
    assert lrs[10] > 0.99e-3


@pytest.mark.slow
def test_pretrain_command_on_real_patches_and_export_in_the_published_layout(
        shared_data, tmp_path, monkeypatch):
    from sargeo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["pretrain", "--config", str(CONFIGS / "sar_w_mixmae_tiny_cpu.yaml"),
                 "--data.bigearthnet", str(shared_data / "bigearthnet_s1"),
                 "--data.batch_size", "2", "--trainer.max_steps", "3",
                 "--trainer.enable_progress_bar", "false", "--out", str(tmp_path / "run")]) == 0
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    hparams = read_checkpoint(ckpt)["hyper_parameters"]
    assert hparams["size"] == "tiny" and hparams["sar_w"] is True
    assert main(["pretrain-export", str(ckpt), str(tmp_path / "out.pth")]) == 0
    state = read_checkpoint(tmp_path / "out.pth")
    assert "layers.0.blocks.0.attn.relative_position_index" in state["model"]
    from sargeo.models.mixmae import MixMAE

    model = MixMAE("tiny", img_size=128, decoder_dim=64, decoder_depth=1, decoder_heads=4)
    load_mixmae_state_dict(model, state)



@pytest.mark.slow
def test_published_recipe_config_builds_mixmim_base(tmp_path):
    import sys

    from sargeo.pretrain.cli import PretrainCLI
    from sargeo.pretrain.datamodule import PretrainDataModule
    from sargeo.pretrain.module import SARMAEPretrainModule

    sys.argv[1:] = []  # LightningCLI warns when it sees pytest's arguments beside `args`
    cli = PretrainCLI(SARMAEPretrainModule, PretrainDataModule, run=False, args=[
        "--config", str(CONFIGS / "sar_w_mixmae_base.yaml"), "--trainer.accelerator", "cpu",
        "--trainer.devices", "1", "--trainer.strategy", "auto", "--trainer.precision",
        "32-true", "--data.bigearthnet", str(tmp_path), "--out", str(tmp_path)],
        auto_configure_optimizers=False, save_config_callback=None, subclass_mode_model=True)
    model = cli.model
    assert isinstance(model, MixMAEPretrainModule)
    encoder = model.model.encoder
    assert [len(s.blocks) for s in encoder.layers] == [2, 2, 18, 2]
    assert encoder.embed_dim == 128 and encoder.grid == (32, 32) and model.model.stride == 32
    hp = model.hparams
    assert (hp.mask_ratio, hp.sar_w, hp.sar_w_mode, hp.sar_w_scale) == (0.5, True,
                                                                        "per_channel", 1.0)
    assert hp.blr * 2048 / 256 == pytest.approx(8e-3)  # 8 GPUs x 256, blr 1e-3
    assert (hp.warmup_epochs, hp.schedule_epochs, cli.trainer.max_epochs) == (40, 1024, 64)
    assert cli.datamodule.batch_size == 256 and cli.trainer.gradient_clip_val is None
