"""SARMAE pretraining on Lightning: losses, schedules, resume, NaN handling, export."""

from __future__ import annotations

import math

import pytest
import torch

from sargeo.models.export import load_sarmae_state_dict, save_sarmae_checkpoint
from sargeo.models.sar_w import db_to_linear, sar_w_weights
from sargeo.models.sarmae import SARMAE, alignment_loss
from sargeo.models.vit import create_vit, load_encoder_weights
from sargeo.pretrain.module import NonFiniteLossError
from sargeo.pretrain.schedules import alignment_weight, warmup_cosine
from tests.pretrain.conftest import SpeckledBlobs, TinyData, tiny_module, trainer


def test_alignment_loss_is_zero_for_identical_features_and_ignores_unpaired():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(4, 6, 16, generator=g)
    assert float(alignment_loss(feats, feats * 3.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.randn(4, 6, 16, generator=g)
    paired = torch.tensor([True, False, True, False])
    mixed = torch.where(paired[:, None, None], feats, other)  # unpaired rows are garbage
    assert float(alignment_loss(feats, mixed, paired)) == pytest.approx(0.0, abs=1e-6)
    assert float(alignment_loss(feats, other, torch.zeros(4, dtype=torch.bool))) == 0.0
    assert float(alignment_loss(feats, other, paired)) > 0.5


def test_unpaired_samples_only_feed_the_mae_loss():
    model = SARMAE("tiny", img_size=32, patch_size=8, decoder_dim=32, decoder_depth=1,
                   decoder_heads=4, teacher_dim=16)
    x = torch.rand(2, 3, 32, 32)
    teacher = torch.randn(2, 16, 16)
    out = model(x, teacher_tokens=teacher, paired=torch.tensor([True, False]), align_weight=0.8,
                generator=torch.Generator().manual_seed(0))
    changed = teacher.clone()
    changed[1] = torch.randn(16, 16)  # the unpaired sample's teacher tokens do not matter
    out2 = model(x, teacher_tokens=changed, paired=torch.tensor([True, False]),
                 align_weight=0.8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.loss, out2.loss)
    torch.testing.assert_close(out.loss, out.loss_mae + 0.8 * out.loss_align)


def test_cosine_loss_schedule_and_lr_schedule():
    # the published formula: 0.1 -> w0 along a half cosine
    assert alignment_weight(0.0, 0.8, "cosine") == pytest.approx(0.1)
    assert alignment_weight(0.5, 0.8, "cosine") == pytest.approx(0.45)
    assert alignment_weight(1.0, 0.8, "cosine") == pytest.approx(0.8)
    values = [alignment_weight(t / 10, 0.8, "cosine") for t in range(11)]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert alignment_weight(0.25, 0.8, "linear") == pytest.approx(0.8 * 0.325)
    assert alignment_weight(0.5, 0.8, "step") == pytest.approx(0.4)
    # what the released code actually ran: constant weights
    assert alignment_weight(0.3, 0.8) == alignment_weight(0.9, 0.8, "constant") == 0.8
    assert warmup_cosine(0, 100, 10) == 0.0 and warmup_cosine(5, 100, 10) == 0.5
    assert warmup_cosine(10, 100, 10) == 1.0 and warmup_cosine(100, 100, 10) == pytest.approx(0)
    with pytest.raises(ValueError, match="unknown loss schedule 'adaptive'"):
        alignment_weight(0.1, 0.8, "adaptive")


def test_sar_w_weights_follow_the_formula():
    power = torch.tensor([[[[0.01, 1.0]], [[0.03, 3.0]]]])  # VV, VH linear; shape (1, 2, 1, 2)
    # SAR-W-MixMAE's w = exp(s (1 - minmax(P))), P averaged over VV, VH (shared_avg, the mode
    # SARMAE's option uses): the darker pixel gets e^s, the brighter 1 (tests/models/test_sar_w.py)
    w = sar_w_weights(power)
    torch.testing.assert_close(w, torch.tensor([[[[math.e, 1.0]]]]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(sar_w_weights(power, scale=2.0),
                               torch.tensor([[[[math.e ** 2, 1.0]]]]), rtol=1e-5, atol=1e-5)
    nodata = torch.tensor([[[[float("nan"), 0.5]], [[0.1, 0.5]]]])
    assert sar_w_weights(nodata)[0, 0, 0, 0] == 0.0
    assert float(db_to_linear(torch.tensor(-10.0))) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="scale must be positive"):
        sar_w_weights(power, scale=0)


def test_sar_w_option_weights_the_reconstruction():
    module = tiny_module(sar_w=True, sare=False)
    batch = {k: torch.stack([SpeckledBlobs()[i][k] for i in range(4)])
             for k in ("image", "power")}
    g = torch.Generator().manual_seed(0)
    weighted = module.compute_losses(batch, g)["loss_mae"]
    module.hparams.sar_w = False
    plain = module.compute_losses(batch, torch.Generator().manual_seed(0))["loss_mae"]
    assert not torch.allclose(weighted, plain)
    with pytest.raises(KeyError, match="power"):
        tiny_module(sar_w=True).compute_losses({"image": batch["image"]}, g)


@pytest.mark.slow
def test_tiny_model_loss_falls_over_a_few_hundred_steps(tmp_path, recorder):
    module = tiny_module(lr=2e-3, warmup_epochs=1)
    trainer(300, tmp_path, recorder).fit(module, datamodule=TinyData(n=128))
    losses = [loss for _, loss in recorder.losses]
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    assert all(math.isfinite(x) for x in losses)
    assert last < 0.8 * first, (first, last)


@pytest.mark.slow
def test_sarc_pretraining_logs_every_term(tmp_path, recorder):
    module = tiny_module(sarc=True, teacher_model="vit_small_patch16_dinov3",
                         teacher_mode="released", img_size=64, patch_size=16)
    assert not any(k.startswith("teacher") for k in module.state_dict())  # kept out of ckpts
    trainer(4, tmp_path, recorder).fit(module, datamodule=TinyData(size=64))
    with pytest.raises(ValueError, match="teacher patch grid"):
        tiny_module(sarc=True, teacher_model="vit_small_patch16_dinov3")  # patch 8 vs 16
    metrics = module.trainer.callback_metrics
    assert float(metrics["train/loss_align"]) > 0
    assert float(metrics["train/align_weight"]) == pytest.approx(0.8)  # released: constant


@pytest.mark.slow
def test_resume_continues_bit_for_bit(tmp_path, recorder):
    from tests.pretrain.conftest import LossRecorder

    trainer(14, tmp_path / "a", recorder, every=3).fit(tiny_module(), datamodule=TinyData())
    resumed = LossRecorder()
    trainer(14, tmp_path / "b", resumed).fit(tiny_module(), datamodule=TinyData(),
                                             ckpt_path=tmp_path / "a" / "step=9.ckpt")
    assert resumed.losses == recorder.losses[9:]  # same steps, same losses, to the last bit


def test_nan_loss_stops_with_step_and_batch_named(tmp_path):
    module = tiny_module(sare=False)
    batch = {"image": torch.full((2, 3, 32, 32), float("nan")), "path": ["a.png", "b.png"]}
    with pytest.raises(NonFiniteLossError, match=r"global step 0 \(batch 7.*a.png"):
        module.training_step(batch, 7)


def test_wrong_channel_count_is_named():
    with pytest.raises(ValueError, match="2 image channels, the model expects 3"):
        tiny_module().compute_losses({"image": torch.rand(2, 2, 32, 32)})


def test_checkpoint_round_trip_in_the_published_layout(tmp_path):
    module = tiny_module(sarc=True, teacher_model="vit_small_patch16_dinov3",
                         teacher_mode="released", img_size=64, patch_size=16)
    path = module.export_encoder(tmp_path / "sarmae_tiny.pth")
    state = torch.load(path, weights_only=True)["model"]
    published = {"patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "decoder_embed.weight",
                 "decoder_blocks.0.mlp.fc1.weight", "decoder_pred.bias", "mask_token",
                 "decoder_pos_embed"}
    assert {"sar_encoder." + k for k in published} <= set(state)
    assert {"sar_alignment_ffn.0.weight", "sar_alignment_ffn.2.weight",
            "sar_alignment_ffn.3.bias"} <= set(state)
    fresh = tiny_module(sarc=True, teacher_model="vit_small_patch16_dinov3",
                        teacher_mode="released", img_size=64, patch_size=16, seed=5)
    torch.manual_seed(9)
    fresh.model.apply(lambda m: [p.data.normal_() for p in m.parameters(recurse=False)])
    load_sarmae_state_dict(fresh.model, state)
    for k, v in module.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[k], v), k
    vit = create_vit("tiny", img_size=64, patch_size=16)
    load_encoder_weights(vit, path)
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(vit.forward_features(x), module.model.encoder.forward_features(x))
    save_sarmae_checkpoint(module.model, path)  # overwriting an export is allowed and atomic
    assert not list(tmp_path.glob(".*part*"))


class CheckShards(__import__("lightning").Callback):
    """Asserts inside every DDP process that the resumable sampler took its rank's share."""

    def on_train_start(self, trainer, pl_module) -> None:
        sampler = trainer.train_dataloader.epoch_sampler
        assert (sampler.rank, sampler.world_size) == (trainer.global_rank, 2)
        other = type(sampler)(sampler.length, sampler.seed, rank=1 - sampler.rank,
                              world_size=2)
        assert set(sampler.indices()).isdisjoint(other.indices())


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_shards_the_data(tmp_path, recorder):
    t = trainer(3, tmp_path, CheckShards(), every=3, strategy="ddp_spawn", devices=2,
                use_distributed_sampler=False)
    t.fit(tiny_module(), datamodule=TinyData())  # a failed check in a rank raises here
    ckpt = torch.load(tmp_path / "step=3.ckpt", weights_only=False)
    assert ckpt["global_step"] == 3 and t.world_size == 2


def test_sare_noises_the_input_but_the_target_stays_clean(monkeypatch):
    module = tiny_module(noise_ratio=1.0, noise_min=0.5, noise_max=0.5)
    seen = {}

    def spy(images, target=None, **kw):
        seen["input"], seen["target"] = images, target
        raise StopIteration

    monkeypatch.setattr(module.model, "forward", spy)
    clean = torch.stack([SpeckledBlobs()[i]["image"] for i in range(4)])
    with pytest.raises(StopIteration):
        module.compute_losses({"image": clean}, torch.Generator().manual_seed(0))
    torch.testing.assert_close(seen["target"], module.normalize(clean))  # clean target
    assert not torch.allclose(seen["input"], seen["target"])  # speckled input


def test_encoder_initialises_from_an_mae_imagenet_checkpoint(tmp_path):
    """mae_pretrain_vit_base.pth's layout: {'model': encoder keys}, no decoder."""
    torch.manual_seed(3)
    source = create_vit("tiny", img_size=32, patch_size=8)
    mae_layout = {k: v for k, v in source.state_dict().items() if not k.startswith("head")}
    torch.save({"model": mae_layout}, tmp_path / "mae_pretrain_vit_tiny.pth")
    module = tiny_module(init_checkpoint=str(tmp_path / "mae_pretrain_vit_tiny.pth"))
    for key in ("patch_embed.proj.weight", "blocks.7.mlp.fc1.weight", "norm.bias"):
        torch.testing.assert_close(module.model.encoder.state_dict()[key], mae_layout[key])


def test_initial_weights_follow_the_seed_not_the_global_rng():
    from sargeo.pretrain.module import SARMAEPretrainModule

    def build(seed: int) -> dict[str, torch.Tensor]:
        return SARMAEPretrainModule(size="tiny", img_size=32, patch_size=8, decoder_dim=32,
                                    decoder_depth=1, decoder_heads=4, seed=seed).state_dict()

    torch.manual_seed(1)
    first = build(3)
    torch.rand(100)  # draws in between must not change what seed 3 builds
    state = torch.random.get_rng_state()
    again = build(3)
    assert torch.equal(torch.random.get_rng_state(), state)  # nor draw from the global RNG
    other = build(4)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_a_module_on_another_device_draws_masks_with_its_cpu_generator(monkeypatch):
    from tests.models.test_mae import strict_rand

    monkeypatch.setattr(torch, "rand", strict_rand(torch.rand))
    module = tiny_module(sare=False).to("meta")  # 'meta' stands in for a GPU
    losses = module.compute_losses({"image": torch.empty(2, 3, 32, 32, device="meta")},
                                   module._rng(0))
    assert module._rng(0).device.type == "cpu"
    assert losses["loss"].device.type == "meta" and losses["noised"].device.type == "meta"


def record_masks(module) -> list[torch.Tensor]:
    """The mask of every forward of ``module``'s SARMAE, in order."""
    masks: list[torch.Tensor] = []
    module.model.register_forward_hook(lambda m, i, out: masks.append(out.mask.clone()))
    return masks


def test_micro_batches_of_one_accumulated_step_draw_their_own_masks(tmp_path):
    module = tiny_module()
    masks = record_masks(module)
    trainer(2, tmp_path, accumulate_grad_batches=2).fit(module, datamodule=TinyData())
    assert len(masks) == 4  # two optimizer steps of two micro-batches
    assert not torch.equal(masks[0], masks[1]) and not torch.equal(masks[2], masks[3])
    assert not torch.equal(masks[0], masks[2])  # and each step its own
    again = tiny_module()
    rerun = record_masks(again)
    trainer(2, tmp_path / "again", accumulate_grad_batches=2).fit(again, datamodule=TinyData())
    assert all(torch.equal(a, b) for a, b in zip(masks, rerun, strict=True))


def test_without_accumulation_the_draws_are_those_of_earlier_versions():
    module = tiny_module(seed=3)  # no trainer: no accumulation
    assert module._rng(5).initial_seed() == 3 * 1_000_003  # seed, step 0, rank 0, micro 0


@pytest.mark.slow
def test_resume_with_gradient_accumulation_continues_bit_for_bit(tmp_path, recorder):
    from tests.pretrain.conftest import LossRecorder

    trainer(5, tmp_path / "a", recorder, every=2, accumulate_grad_batches=2).fit(
        tiny_module(), datamodule=TinyData())
    resumed = LossRecorder()
    trainer(5, tmp_path / "b", resumed, accumulate_grad_batches=2).fit(
        tiny_module(), datamodule=TinyData(), ckpt_path=tmp_path / "a" / "step=2.ckpt")
    assert resumed.losses == recorder.losses[4:]  # micro-batches 4..9, to the last bit


class WarmupProbe(__import__("lightning").Callback):
    """Reads the LR multiplier of the first steps from the scheduler, then stops the run."""

    def __init__(self) -> None:
        self.factors: list[float] = []

    def on_train_start(self, trainer, pl_module) -> None:
        scheduler = trainer.lr_scheduler_configs[0].scheduler
        self.factors = [scheduler.lr_lambdas[0](step) for step in range(12)]
        trainer.should_stop = True


@pytest.mark.parametrize("max_epochs, accumulate, warmup", [(1000, 1, 8), (1000, 2, 4),
                                                            (-1, 1, 8)])
def test_warmup_lasts_one_real_epoch_in_step_limited_runs(tmp_path, max_epochs, accumulate,
                                                          warmup):
    """max_steps 200 with max_epochs 1000 (the demo, Table 1): 64 images in batches of 8 give 8
    batches per epoch, so a warm-up of one epoch is 8 optimizer steps (4 with accumulation 2),
    not 200 // 1000 -> 1."""
    probe = WarmupProbe()
    trainer(200, tmp_path, probe, max_epochs=max_epochs, accumulate_grad_batches=accumulate
            ).fit(tiny_module(warmup_epochs=1.0), datamodule=TinyData(batch_size=8, n=64))
    assert probe.factors[:warmup] == [step / warmup for step in range(warmup)]
    assert probe.factors[warmup] == 1.0 and probe.factors[warmup + 1] < 1.0


def test_warmup_is_capped_by_the_run_and_can_be_a_share_of_it(tmp_path):
    module = tiny_module(warmup_epochs=100.0)  # 800 steps of warm-up asked, 20 in the run
    probe = WarmupProbe()
    trainer(20, tmp_path, probe).fit(module, datamodule=TinyData(batch_size=8, n=64))
    assert module.warmup_steps(20) == 20 and probe.factors[10] == 0.5
    share = tiny_module(warmup_fraction=0.05)
    trainer(200, tmp_path, WarmupProbe(), max_epochs=-1).fit(share, datamodule=TinyData())
    assert share.warmup_steps(200) == 10


def test_defaults_are_the_released_ones():
    module = tiny_module(sarc=True, teacher_model="vit_small_patch16_dinov3", img_size=64,
                         patch_size=16)
    assert module.teacher is not None and module.teacher.mode == "released"
    assert module.hparams.norm_pix_loss is False and module.model.norm_pix_loss is False


def test_seeded_builds_follow_the_seed_and_leave_the_global_rng_alone():
    from sargeo.pretrain.module import seeded

    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = seeded(7, torch.nn.Linear, 3, 2, bias=False)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)
    assert torch.equal(a.weight, torch.nn.Linear(3, 2, bias=False).weight)
