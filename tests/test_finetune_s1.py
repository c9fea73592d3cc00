"""`sargeo finetune --dataset bigearthnet-s1 | sen12flood`: the MixMIM classifier, the release's
layer decay, multi-label metrics, splits by patch / sequence."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from sargeo.finetune_s1 import (
    S1FinetuneConfig,
    config_from_args,
    finetune_s1,
    load_s1_dataset,
    mixmim_layer_id,
    mixmim_param_groups,
    multilabel_metrics,
)
from sargeo.models.swin import create_mixmim
from tests.datasets.test_sen12flood import make_sen12flood


def _ap(scores: list[float], truth: list[int]) -> float:
    """Average precision by definition: mean precision at each positive, by falling score."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, precisions = 0, []
    for rank, i in enumerate(order, 1):
        if truth[i]:
            hits += 1
            precisions.append(hits / rank)
    return sum(precisions) / len(precisions)


def test_metrics_match_the_definitions_and_skip_absent_labels_in_the_macro():
    probs = torch.tensor([[0.9, 0.25, 0.1], [0.6, 0.7, 0.3], [0.45, 0.8, 0.2],
                          [0.15, 0.35, 0.4]])  # no ties
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    m = multilabel_metrics(probs, targets)
    ap0, ap1 = _ap(probs[:, 0].tolist(), [1, 0, 1, 0]), _ap(probs[:, 1].tolist(), [0, 1, 1, 0])
    assert m["map_macro"] == pytest.approx(100 * (ap0 + ap1) / 2, abs=1e-4)
    assert m["map_macro_all"] == pytest.approx(100 * (ap0 + ap1) / 3, abs=1e-4)  # as released
    micro = _ap(probs.flatten().tolist(), targets.flatten().tolist())
    assert m["map_micro"] == pytest.approx(100 * micro, abs=1e-4)
    from torchmetrics.functional.classification import multilabel_average_precision

    released = multilabel_average_precision(probs, targets, 3, average="micro")  # the release's
    assert m["map_micro"] == pytest.approx(100 * float(released), abs=1e-4)
    # threshold 0.5: predicted (0,0), (1,0), (1,1), (2,1): 3 true positives of 4; 4 positives
    assert m["precision_micro"] == pytest.approx(75.0) and m["recall_micro"] == pytest.approx(75.0)
    assert m["f1_micro"] == pytest.approx(75.0)
    assert m["labels_evaluated"] == 2 and m["images"] == 4
    flood = multilabel_metrics(torch.tensor([[0.8], [0.3], [0.6]]), torch.tensor([[1], [0], [0]]))
    assert flood["accuracy"] == pytest.approx(100 * 2 / 3)


def test_layer_ids_and_lr_scales_follow_the_release():
    depths = [2, 2, 18, 2]
    ids = {name: mixmim_layer_id(name, depths) for name in (
        "absolute_pos_embed", "patch_embed.proj.weight", "layers.0.blocks.0.norm1.weight",
        "layers.0.blocks.1.attn.qkv.weight", "layers.0.downsample.reduction.weight",
        "layers.1.blocks.0.mlp.fc1.weight", "layers.2.blocks.17.norm2.bias",
        "layers.3.blocks.1.mlp.fc2.weight", "norm.weight", "head.weight")}
    assert ids == {"absolute_pos_embed": 0, "patch_embed.proj.weight": 0,
                   "layers.0.blocks.0.norm1.weight": 1, "layers.0.blocks.1.attn.qkv.weight": 2,
                   "layers.0.downsample.reduction.weight": 3,
                   "layers.1.blocks.0.mlp.fc1.weight": 3, "layers.2.blocks.17.norm2.bias": 22,
                   "layers.3.blocks.1.mlp.fc2.weight": 24, "norm.weight": 24,
                   "head.weight": 24}
    model = create_mixmim("tiny", img_size=64, num_classes=4)  # depths 1, 1, 2, 1
    groups = mixmim_param_groups(model, 0.05, 0.75)
    head = next(g for g in groups if any(p is model.head.weight for p in g["params"]))
    bias = next(g for g in groups if any(p is model.head.bias for p in g["params"]))
    embed = next(g for g in groups if any(p is model.patch_embed.proj.weight for p in g["params"]))
    assert head["lr_scale"] == pytest.approx(0.75) and head["weight_decay"] == 0.05
    assert bias["weight_decay"] == 0.0
    assert embed["lr_scale"] == pytest.approx(0.75 ** 6)
    assert sum(len(g["params"]) for g in groups) == sum(
        1 for p in model.parameters() if p.requires_grad)


def test_sen12flood_splits_keep_sequences_apart_and_fine_tuning_runs(tmp_path):
    root = make_sen12flood(tmp_path / "sen12")
    train, test, labels = load_s1_dataset("sen12flood", root, "50pct", seed=0, img_size=64)
    base = train.base
    assert labels == ["flooded"] and len(train) + len(test) == 5
    assert {base.sequences[i] for i in train.indices}.isdisjoint(
        base.sequences[i] for i in test.indices)
    x, y = train[0]
    assert x.shape == (2, 64, 64) and y.shape == (1,)
    (root / "train.csv").write_text("0001\n")
    (root / "test.csv").write_text("0002,extra column\n")
    tr, te, _ = load_s1_dataset("sen12flood", root, "predefined", seed=0, img_size=64)
    assert (len(tr), len(te)) == (3, 2)
    cfg = S1FinetuneConfig(size="tiny", img_size=64, epochs=1, batch_size=2)
    result = finetune_s1(root, "predefined", dataset="sen12flood", cfg=cfg, progress=False)
    last = result["runs"][0]["last"]
    assert last["images"] == 2 and last["labels_evaluated"] == 0  # sequence 0002: no flood
    assert "accuracy" in last


def test_bad_splits_and_small_training_sets_are_named(tmp_path):
    root = make_sen12flood(tmp_path / "sen12")
    with pytest.raises(ValueError, match="k-shot splits are single-label"):
        load_s1_dataset("sen12flood", root, "40shot", 0, 64)
    with pytest.raises(FileNotFoundError, match="split file not found: .*train.csv"):
        load_s1_dataset("sen12flood", root, "predefined", 0, 64)
    cfg = S1FinetuneConfig(size="tiny", img_size=64, epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="training images are fewer than one batch \\(8\\): "
                                         "lower --batch-size"):
        finetune_s1(root, "50pct", dataset="sen12flood", cfg=cfg, progress=False)
    with pytest.raises(ValueError, match="unknown Sentinel-1 dataset 'mstar'"):
        finetune_s1(root, "50pct", dataset="mstar", cfg=cfg, progress=False)


def test_shared_options_left_at_sarmae_defaults_take_the_s1_protocol():
    from sargeo.finetune import FinetuneConfig, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--dataset", "bigearthnet-s1", "--data-root", "x", "--split",
                              "50pct", "--epochs", "3", "--size", "tiny"])
    cfg = config_from_args(args)
    assert args.img_size == FinetuneConfig().img_size == 224
    assert (cfg.img_size, cfg.patch_size, cfg.batch_size) == (128, 4, 32)  # S1 defaults
    assert (cfg.epochs, cfg.size) == (3, "tiny")  # given


@pytest.mark.slow
def test_finetune_command_on_the_shared_bigearthnet_sample_reports_map(shared_data, tmp_path,
                                                                        capsys):
    from sargeo.cli import main

    out = tmp_path / "ben.json"
    assert main(["finetune", "--dataset", "bigearthnet-s1", "--data-root",
                 str(shared_data / "bigearthnet_s1"), "--split", "50pct", "--runs", "1",
                 "--size", "tiny", "--epochs", "2", "--batch-size", "3", "--quiet",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bigearthnet-s1 50pct: mAP macro " in printed and "micro" in printed
    result = json.loads(out.read_text())
    last = result["runs"][0]["last"]
    assert len(result["labels"]) == 19 and last["images"] == 3 and last["epoch"] == 2
    assert 0.0 <= last["map_macro"] <= 100.0 and 0.0 <= last["map_micro"] <= 100.0
    assert result["last"]["map_macro"]["mean"] == pytest.approx(last["map_macro"])
