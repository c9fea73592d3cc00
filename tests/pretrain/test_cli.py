"""`sargeo pretrain` (LightningCLI) with the shipped configs, and `sargeo pretrain-export`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch.cli import LightningCLI

from sargeo.cli import main
from sargeo.models.vit import create_vit, load_encoder_weights
from sargeo.pretrain.datamodule import PretrainDataModule
from sargeo.pretrain.module import SARMAEPretrainModule
from tests.pretrain.test_data import write_scene

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "pretrain"


@pytest.mark.slow
def test_pretrain_command_runs_checkpoints_and_exports(tmp_path, monkeypatch, capsys):
    write_scene(tmp_path / "scene.tif", size=300)
    out = tmp_path / "run"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    argv = ["pretrain", "--config", str(CONFIGS / "sarmae_tiny_cpu.yaml"),
            "--data.scenes", f"[{tmp_path / 'scene.tif'}]", "--data.scene_chips", "64",
            "--trainer.max_steps", "6", "--out", str(out),
            "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1"]
    assert main(argv) == 0
    assert f"sargeo pretrain: writing to {out.resolve()}" in capsys.readouterr().err
    assert list(cwd.iterdir()) == []  # nothing lands in the current folder
    last = out / "checkpoints" / "last.ckpt"
    assert last.is_file()
    metrics = next(out.rglob("metrics.csv")).read_text()
    assert "train/loss_mae" in metrics and "train/loss_align" in metrics
    exported = tmp_path / "sarmae_tiny.pth"
    assert main(["pretrain-export", str(last), str(exported)]) == 0
    vit = create_vit("tiny", img_size=64)
    load_encoder_weights(vit, exported)
    module = SARMAEPretrainModule.load_from_checkpoint(last, weights_only=False)
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(vit.forward_features(x), module.model.encoder.forward_features(x))
    # the Lightning checkpoint converts straight to a timm file too
    assert main(["convert", str(last), "--to", "timm", str(tmp_path / "timm.pth")]) == 0
    plain = create_vit("tiny", img_size=64)
    plain.load_state_dict(torch.load(tmp_path / "timm.pth", weights_only=True), strict=False)
    torch.testing.assert_close(plain.forward_features(x), vit.forward_features(x))


@pytest.mark.slow
@pytest.mark.parametrize("name, size, depth", [("sarmae_vit_b16.yaml", 768, 12),
                                               ("sarmae_vit_l16.yaml", 1024, 24)])
def test_published_recipe_configs_build(name, size, depth, tmp_path):
    cli = LightningCLI(SARMAEPretrainModule, PretrainDataModule, run=False, args=[
        "--config", str(CONFIGS / name), "--trainer.accelerator", "cpu",
        "--trainer.devices", "1", "--trainer.strategy", "auto", "--data.data_root",
        str(tmp_path), "--trainer.default_root_dir", str(tmp_path),
        "--trainer.logger.init_args.save_dir", str(tmp_path)],
        auto_configure_optimizers=False, save_config_callback=None)
    model = cli.model
    assert model.model.encoder.embed_dim == size and len(model.model.encoder.blocks) == depth
    assert model.teacher is not None and model.teacher.mode == "released"
    hp = model.hparams
    assert (hp.mask_ratio, hp.noise_ratio, hp.noise_max, hp.alignment_loss_weight) == (
        0.75, 0.5, 0.7, 0.8)
    assert hp.blr * 4096 / 256 == pytest.approx(1e-4)  # lr 1e-4 at the published batch 4096
    assert cli.trainer.gradient_clip_val == 1.0 and cli.datamodule.batch_size == 512


def _pretrain_cli(*args: str):
    import sys

    from sargeo.pretrain.cli import PretrainCLI

    sys.argv[1:] = []  # LightningCLI warns when it sees pytest's arguments beside `args`
    return PretrainCLI(SARMAEPretrainModule, PretrainDataModule, run=False, args=[
        "--config", str(CONFIGS / "sarmae_tiny_cpu.yaml"), "--data.scenes", "[none.tif]",
        *args], auto_configure_optimizers=False, save_config_callback=None)


def test_pretrain_outputs_go_under_out_or_a_named_runs_folder(tmp_path):
    cli = _pretrain_cli("--out", str(tmp_path / "run"))
    assert cli.trainer.default_root_dir == str(tmp_path / "run")
    assert cli.trainer.logger.save_dir == str(tmp_path / "run")
    assert Path(cli.trainer.checkpoint_callback.dirpath) == (tmp_path / "run" / "checkpoints"
                                                            ).resolve()
    cli = _pretrain_cli()  # the config's own folder, named, not `output/`
    assert cli.trainer.default_root_dir == "sargeo_runs/sarmae_tiny_cpu"
    assert cli.trainer.logger.save_dir == "sargeo_runs/sarmae_tiny_cpu"
    assert cli.trainer.checkpoint_callback.dirpath.endswith(
        "sargeo_runs/sarmae_tiny_cpu/checkpoints")


def test_pretrain_threads_option_sets_torch_threads(monkeypatch):
    before = torch.get_num_threads()
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SARGEO_THREADS"):
        monkeypatch.delenv(key, raising=False)
    try:
        _pretrain_cli("--threads", "1")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_every_shipped_pretrain_config_writes_under_a_named_runs_folder():
    import yaml

    for path in sorted(CONFIGS.glob("*.yaml")):
        trainer = yaml.safe_load(path.read_text())["trainer"]
        assert trainer["default_root_dir"] == f"sargeo_runs/{path.stem}", path.name
        assert trainer["logger"]["init_args"]["save_dir"] == f"sargeo_runs/{path.stem}"
