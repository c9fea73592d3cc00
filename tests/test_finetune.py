"""Fine-tuning: layer-wise lr decay and a tiny end-to-end run that beats chance."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sargeo.cli import main
from sargeo.finetune import FinetuneConfig, finetune
from sargeo.models.layer_decay import layer_decay_param_groups, vit_layer_id
from sargeo.models.vit import create_vit


def test_layer_ids_and_learning_rates_follow_the_decay():
    model = create_vit("tiny", img_size=32, num_classes=3)
    groups = layer_decay_param_groups(model, lr=1.0, weight_decay=0.05, decay=0.5,
                                      num_blocks=12)
    by_name = {n: g for g in groups for n in g["names"]}
    assert by_name["patch_embed.proj.weight"]["lr"] == pytest.approx(0.5 ** 13)
    assert by_name["blocks.0.attn.qkv.weight"]["lr"] == pytest.approx(0.5 ** 12)
    assert by_name["blocks.11.mlp.fc2.weight"]["lr"] == pytest.approx(0.5 ** 1)
    assert by_name["head.weight"]["lr"] == pytest.approx(1.0)
    assert by_name["pos_embed"]["weight_decay"] == by_name["blocks.3.norm1.weight"][
        "weight_decay"] == by_name["head.bias"]["weight_decay"] == 0.0
    assert by_name["blocks.3.attn.proj.weight"]["weight_decay"] == 0.05
    assert vit_layer_id("backbone.vit.blocks.4.attn.qkv.weight", 12, "backbone.vit.") == 5


def write_shapes(root, n=24, size=32):
    """Three separable classes: a bright square in one of three places, on speckle."""
    rng = np.random.default_rng(0)
    for c, (r, col) in enumerate([(2, 2), (2, 18), (18, 10)]):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(n):
            img = rng.gamma(4.0, 12.0, (size, size))
            img[r:r + 12, col:col + 12] += 150
            Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(
                root / f"class{c}" / f"{i}.png")


@pytest.mark.slow
def test_tiny_finetune_beats_chance_and_reports_mean_and_std(tmp_path):
    write_shapes(tmp_path / "data")
    cfg = FinetuneConfig(size="tiny", img_size=32, epochs=15, batch_size=4, blr=0.005,
                         warmup_epochs=1, drop_path=0.0, layer_decay=0.9)
    result = finetune(tmp_path / "data", "10shot", runs=2, cfg=cfg, progress=False)
    assert len(result["runs"]) == 2
    assert result["best_top1"]["mean"] > 60.0  # chance is 33 %; measured 75 +- 1.7
    assert result["best_top1"]["std"] >= 0.0
    assert all(len(r["history"]) == 15 for r in result["runs"])


@pytest.mark.slow
def test_finetune_command_writes_json(tmp_path, capsys):
    write_shapes(tmp_path / "data", n=10)
    out = tmp_path / "res.json"
    assert main(["finetune", "--data-root", str(tmp_path / "data"), "--split", "4shot",
                 "--runs", "1", "--size", "tiny", "--img-size", "32", "--epochs", "1",
                 "--batch-size", "4", "--out", str(out), "--quiet"]) == 0
    assert "top-1 best" in capsys.readouterr().out and out.is_file()


def test_bf16_fine_tuning_runs_under_autocast_and_evaluates_every_n_epochs(tmp_path,
                                                                           monkeypatch):
    import torch

    import sargeo.finetune as ft

    write_shapes(tmp_path / "data", n=6)
    dtypes: list[torch.dtype] = []
    build = ft.build_classifier

    def watched(*args, **kwargs):  # records the head's output dtype in training
        model = build(*args, **kwargs)
        model.head.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype) and None)
        return model

    monkeypatch.setattr(ft, "build_classifier", watched)
    cfg = FinetuneConfig(size="tiny", img_size=32, epochs=5, batch_size=4, warmup_epochs=1,
                         drop_path=0.0, eval_every=2, precision="bf16")
    result = finetune(tmp_path / "data", "4shot", runs=1, cfg=cfg, progress=False)
    run = result["runs"][0]
    assert run["epochs"] == [2, 4, 5] and len(run["history"]) == 3  # every 2nd, and the last
    assert set(dtypes) == {torch.bfloat16}
    assert run["last_top1"] == run["history"][-1]
    with pytest.raises(ValueError, match="precision must be.*'fp8'"):
        finetune(tmp_path / "data", "4shot", runs=1, progress=False,
                 cfg=FinetuneConfig(size="tiny", img_size=32, precision="fp8"))
    with pytest.raises(ValueError, match="eval_every must be >= 1"):
        finetune(tmp_path / "data", "4shot", runs=1, progress=False,
                 cfg=FinetuneConfig(size="tiny", img_size=32, eval_every=0))


@pytest.mark.parametrize("input_norm, low, high", [("pretraining", -1.0, 1.0), ("none", 0.0, 1.0),
                                                   (None, 0.0, 1.0)])
def test_inputs_are_normalised_as_the_pretraining_saw_them(tmp_path, monkeypatch, input_norm,
                                                           low, high):
    """``input_norm=None``: the default, [0, 1] as the released main_finetune.py."""
    import torch

    import sargeo.finetune as ft

    write_shapes(tmp_path / "data", n=6)
    seen: list[torch.Tensor] = []
    build = ft.build_classifier

    def watched(*args, **kwargs):  # records what the patch embedding receives
        model = build(*args, **kwargs)
        model.patch_embed.register_forward_hook(lambda m, i, o: seen.append(i[0]) and None)
        return model

    monkeypatch.setattr(ft, "build_classifier", watched)
    cfg = FinetuneConfig(size="tiny", img_size=32, epochs=1, batch_size=4, warmup_epochs=0,
                         drop_path=0.0, **({} if input_norm is None else
                                           {"input_norm": input_norm}))
    finetune(tmp_path / "data", "4shot", runs=1, cfg=cfg, progress=False)
    values = torch.cat([x.flatten() for x in seen])
    assert len(seen) >= 2  # training and evaluation batches
    assert values.min() >= low and values.max() <= high
    assert values.min() < low + 0.3 and values.max() > high - 0.3  # the full range is used
    with pytest.raises(ValueError, match="input_norm 'imagenet'"):
        finetune(tmp_path / "data", "4shot", runs=1, progress=False,
                 cfg=FinetuneConfig(size="tiny", img_size=32, input_norm="imagenet"))


def test_evaluation_subset_is_stratified_and_deterministic(tmp_path):
    from sargeo.datasets.classification import load_classification
    from sargeo.finetune import subsample

    write_shapes(tmp_path / "data", n=30)
    _, test, _ = load_classification(tmp_path / "data", "5shot")
    a, b = subsample(test, 30, seed=1), subsample(test, 30, seed=1)
    assert a.files == b.files and len(a) == 30
    assert sorted(a.labels) == [0] * 10 + [1] * 10 + [2] * 10


def test_finetune_command_offers_the_input_norms_and_precisions(capsys):
    for option, value in (("--input-norm", "imagenet"), ("--precision", "fp8")):
        with pytest.raises(SystemExit):
            main(["finetune", "--data-root", "x", "--split", "4shot", option, value])
        assert "invalid choice" in capsys.readouterr().err


def test_first_seed_shifts_the_runs_and_their_splits(tmp_path, monkeypatch):
    import sargeo.finetune as ft

    write_shapes(tmp_path / "data", n=10)
    seen: list[tuple[int, list]] = []

    def fake_once(train_set, test_set, num_classes, cfg, checkpoint, seed, progress=True):
        seen.append((seed, sorted(str(f) for f in train_set.files)))
        return ft.RunResult(seed, float(seed), float(seed), [float(seed)], [1])

    monkeypatch.setattr(ft, "finetune_once", fake_once)
    result = finetune(tmp_path / "data", "4shot", runs=2, first_seed=3, progress=False)
    assert [r["seed"] for r in result["runs"]] == [3, 4] and [s for s, _ in seen] == [3, 4]
    assert result["best_top1"]["mean"] == 3.5
    seen.clear()
    finetune(tmp_path / "data", "4shot", runs=4, progress=False)
    assert [s for s, _ in seen] == [0, 1, 2, 3]
    assert seen[3][1] != seen[0][1]  # each seed draws its own 4-shot split


def test_finetune_command_reports_batch_progress_on_stderr_unless_quiet(tmp_path, capsys):
    write_shapes(tmp_path / "data", n=6)
    argv = ["finetune", "--data-root", str(tmp_path / "data"), "--split", "4shot", "--runs",
            "1", "--size", "tiny", "--img-size", "32", "--epochs", "1", "--batch-size", "4"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    # 4 shots x 3 classes = 12 images: 3 batches of 4; lines after batch 1 and the last
    assert "seed 0 epoch 1/1 batch 1/3: loss " in err and " s/batch" in err
    assert "seed 0 epoch 1/1 batch 3/3: loss " in err
    assert "seed 0 epoch 1/1 batch 2/3" not in err
    assert "seed 0 epoch 1/1: evaluating on 6 test images" in err
    assert main([*argv, "--quiet"]) == 0
    assert "seed 0 epoch" not in capsys.readouterr().err


def test_defaults_are_the_released_main_finetune_protocol():
    """reference/sarmae_code_facts.md: batch 8, 30 epochs, blr 1e-3, layer decay 0.75, weight
    decay 0.05, 5 warm-up epochs, min lr 1e-6, drop path 0.1, label smoothing 0.1, [0, 1]."""
    cfg = FinetuneConfig()
    assert (cfg.batch_size, cfg.epochs, cfg.blr, cfg.layer_decay, cfg.weight_decay,
            cfg.warmup_epochs, cfg.min_lr, cfg.drop_path, cfg.label_smoothing,
            cfg.input_norm) == (8, 30, 1e-3, 0.75, 0.05, 5.0, 1e-6, 0.1, 0.1, "none")
