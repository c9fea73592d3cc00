"""The reproduction harness: published figures, explicit 'not run' reasons, side-by-side
markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from benchmarks import reproduce
from benchmarks.tables import cli


def test_published_figures_are_the_reference_transcription():
    assert reproduce.published("classification")["mstar_30pct"] == 99.61
    assert reproduce.published("oriented_detection", "SARMAE ViT-L")["rsar"] == 72.20
    # the independent transcription of the paper's tables (a copy of the project's shared
    # reference/paper_tables.yaml, kept beside this test so the check runs on every clone)
    reference = Path(__file__).with_name("paper_tables_reference.yaml")
    assert yaml.safe_load(reference.read_text()) == yaml.safe_load(reproduce.PAPER.read_text())


def test_missing_datasets_become_explicit_not_run_cells(tmp_path):
    assert reproduce.main(["--table", "1", "--data-root", str(tmp_path), "--out-dir",
                           str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "table1.json").read_text())
    assert len(result["cells"]) == 5
    assert all(c["not_run"].startswith("no ") for c in result["cells"])
    text = (tmp_path / "out" / "table1.md").read_text()
    assert "| mstar_40shot | 96.70 |" in text and "no mstar | mstar_soc10 | MSTAR folder" in text
    assert result["command"].startswith("python -m benchmarks.reproduce --table 1")


def test_tables_2_and_3_list_every_published_cell_with_a_reason(tmp_path):
    reproduce.main(["--table", "2", "--data-root", str(tmp_path), "--out-dir", str(tmp_path)])
    result = json.loads((tmp_path / "table2.json").read_text())
    assert {c["column"] for c in result["cells"]} == {
        "horizontal_detection/sardet_100k", "horizontal_detection/ssdd",
        "oriented_detection/rsar"}
    assert all("not run" in c["not_run"] for c in result["cells"])


def test_markdown_shows_measured_published_and_difference():
    result = {"table": 1, "metric": "top-1 (%)", "budget": "small", "cells": [
        {"column": "mstar_40shot", "published": 96.70,
         "measured": {"random init": {"mean": 40.0, "std": 1.0}}}]}
    text = reproduce.markdown(result)
    assert "| mstar_40shot | 96.70 | random init | 40.00 +- 1.00 | -56.70 |" in text


# -- Tables 2 and 3 on tiny generated data (real formats, a few steps) ---------------------------

TINY = reproduce.SmallRecipe(img_size=64, pretrain_size=64, pretrain_steps=2, pretrain_batch=4,
                             iters=2, batch_size=2, warmup_iters=1, width=32, rois=32,
                             eval_limit=2)
INITS = {reproduce.RANDOM, reproduce.MAE, reproduce.SARMAE}


def _tiny_ssdd(root):
    """The shared SSDD subset's layout: a 300-image train subset json and the test json."""
    from tests.mm.native_data import write_coco_split

    write_coco_split(root, "annotations/instances_sarship_train_subset300.json",
                     "train_subset300", n=4, seed=1)
    write_coco_split(root, "annotations/instances_sarship_test.json", "test", n=3, seed=2)


def _tiny_sen1floods11(root, size=64):
    """S1Hand (VV, VH in dB, NaN no-data) and LabelHand (1 / 0 / -1) GeoTIFF chips: four usable
    chips with different water fractions, one whose label is all no-data."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    (root / "S1").mkdir(parents=True)
    (root / "Labels").mkdir()
    rng = np.random.default_rng(0)
    profile = dict(driver="GTiff", width=size, height=size, crs="EPSG:4326",
                   transform=from_origin(10.0, 50.0, 9e-5, 9e-5))
    for chip, rows in {"A_1": 40, "B_2": 24, "C_3": 8, "D_4": 0, "E_5": -1}.items():
        label = np.zeros((size, size), np.int16)
        label[:max(rows, 0)] = 1
        label[:, :4] = -1
        if rows < 0:
            label[:] = -1
        db = np.where(label == 1, -22.0, -8.0)[None] + rng.normal(0, 1.5, (2, size, size))
        db[1] -= 7.0
        db[:, -2:, -2:] = np.nan
        with rasterio.open(root / "S1" / f"{chip}_S1Hand.tif", "w", count=2, dtype="float32",
                           nodata=np.nan, **profile) as dst:
            dst.write(db.astype(np.float32))
        with rasterio.open(root / "Labels" / f"{chip}_LabelHand.tif", "w", count=1,
                           dtype="int16", **profile) as dst:
            dst.write(label[None])


@pytest.fixture
def one_thread():
    """One torch thread: on a busy shared CPU, spinning OpenMP threads slow tiny runs down."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cells(result):
    return {c["column"]: c for c in result["cells"]}


def test_sen1floods11_split_is_fixed_and_excludes_unusable_chips(tmp_path):
    _tiny_sen1floods11(tmp_path / "s1f")
    split = reproduce.sen1floods11_split(tmp_path / "s1f")
    assert split["excluded"] == {"E_5": "label all no-data"}
    # sorted by water fraction A > B > C > D; every third from the third goes to test
    assert split["test"] == ["C_3"] and split["train"] == ["A_1", "B_2", "D_4"]
    assert split == reproduce.sen1floods11_split(tmp_path / "s1f")


@pytest.mark.slow
def test_table2_small_budget_runs_ssdd_and_explains_the_rest(tmp_path, one_thread):
    _tiny_ssdd(tmp_path / "data" / "ssdd_coco")
    result = reproduce.table2(tmp_path / "data", None, "small", tmp_path / "work", TINY)
    cells = _cells(result)
    assert set(cells) == {"horizontal_detection/sardet_100k", "horizontal_detection/ssdd",
                          "oriented_detection/rsar"}
    ssdd = cells["horizontal_detection/ssdd"]
    assert ssdd["published"] == 68.10 and "not_run" not in ssdd
    assert set(ssdd["measured"]) == INITS
    for stats in ssdd["measured"].values():
        assert 0.0 <= stats["mean"] <= 100.0 and stats["runs"] == 1
        assert set(stats["details"]) == {"AP50", "train loss"}
    assert ssdd["gap_sarmae_vs_random"] == pytest.approx(
        ssdd["measured"][reproduce.SARMAE]["mean"] - ssdd["measured"][reproduce.RANDOM]["mean"],
        abs=0.011)
    assert "4 images" in ssdd["dataset"] and "3 images" in ssdd["dataset"]
    for column in ("horizontal_detection/sardet_100k", "oriented_detection/rsar"):
        assert cells[column]["not_run"].startswith("not run: no ")
    # both encoders were pretrained by sargeo, exported in the published layout, and loaded
    exported = sorted((tmp_path / "work").glob("ssdd_*_sare*.pth"))
    assert [p.stem[-5:] for p in exported] == ["sare0", "sare1"]
    assert set(ssdd["pretraining_loss"]) == {reproduce.MAE, reproduce.SARMAE}
    assert all(p["steps"] == TINY.pretrain_steps for p in ssdd["pretraining_loss"].values())
    assert set(ssdd["token_diversity"]) == INITS
    assert all(0.0 <= v <= 1.5 for v in ssdd["token_diversity"].values())
    assert result["small_budget_protocol"]["recipe"]["iters"] == 2
    probe = ssdd["linear_probe"]
    assert probe["metric"] == "ship cells, AP (%)" and set(probe["values"]) == INITS
    assert all(0.0 < v <= 100.0 for v in probe["values"].values())
    assert probe["gap_mae_vs_random"] == pytest.approx(
        probe["values"][reproduce.MAE] - probe["values"][reproduce.RANDOM], abs=0.011)
    text = reproduce.markdown(result)
    assert "| horizontal_detection/ssdd | 68.10 | random init |" in text
    assert "encoder token diversity" in text
    assert "Frozen encoders, linear probe" in text
    assert "| horizontal_detection/ssdd | ship cells, AP (%) |" in text
    assert "gap SARMAE - random" in text and "not run: no sardet_100k" in text


@pytest.mark.slow
def test_table3_small_budget_runs_sen1floods11_water_and_explains_the_rest(tmp_path,
                                                                         one_thread):
    _tiny_sen1floods11(tmp_path / "data" / "sen1floods11")
    result = reproduce.table3(tmp_path / "data", None, "small", tmp_path / "work", TINY)
    cells = _cells(result)
    assert len(cells) == 8
    for column in ("industrial_area", "natural_area", "land_use", "water", "housing", "other",
                   "mIoU"):
        assert cells[f"segmentation/{column}"]["not_run"].startswith(
            "not run: no air_polsar_seg")
    water = cells["segmentation/water_binary_IoU"]
    assert water["published"] == 92.31 and water["comparable"] is False
    assert set(water["measured"]) == INITS
    for stats in water["measured"].values():
        assert 0.0 <= stats["mean"] <= 100.0 and set(stats["details"]) == {"mIoU", "train loss"}
    assert "test ['C_3']" in water["dataset"]
    assert set(water["linear_probe"]["values"]) == INITS
    assert all(0.0 < v <= 100.0 for v in water["linear_probe"]["values"].values())
    assert any("excluded E_5 (label all no-data)" in note for note in result["notes"])
    text = reproduce.markdown(result)
    assert "n/a: other data set" in text and "| segmentation/mIoU | 66.53 | |" in text


def test_token_diversity_is_zero_for_collapsed_features_and_not_for_a_random_encoder(
        tmp_path):
    import torch

    from sargeo.models.vit import create_vit

    images = torch.rand(4, 3, 32, 32) * 2 - 1
    random = reproduce.token_diversity(None, images, patch_size=8)
    assert 0.3 < random < 1.5
    # an encoder whose last block writes one learnt vector over every token: collapsed
    model = create_vit("tiny", img_size=32, patch_size=8)
    state = model.state_dict()
    last = "blocks.11.mlp.fc2"
    state[f"{last}.weight"] = torch.zeros_like(state[f"{last}.weight"])
    state[f"{last}.bias"] = torch.full_like(state[f"{last}.bias"], 1e4) * torch.randn(192)
    torch.save({"model": state}, tmp_path / "collapsed.pth")
    assert reproduce.token_diversity(tmp_path / "collapsed.pth", images, patch_size=8) < 0.05


def test_classification_probe_reads_the_fine_tuning_split(tmp_path):
    from sargeo.finetune import FinetuneConfig
    from tests.test_finetune import write_shapes

    write_shapes(tmp_path / "data", n=8)
    cfg = FinetuneConfig(size="tiny", img_size=32, patch_size=16, eval_limit=6)
    # three random encoders with the same seed: equal values, zero gaps
    entry = reproduce.classification_probe(tmp_path / "data", "4shot",
                                           dict.fromkeys(INITS), cfg)
    assert entry["metric"] == "top-1 (%), mean-pooled tokens"
    assert len(set(entry["values"].values())) == 1
    assert 0.0 <= entry[
        "gap_sarmae_vs_random"] == entry["gap_sarmae_vs_mae"] == entry["gap_mae_vs_random"]
    assert reproduce.probe_entry("m", {reproduce.RANDOM: 1.0}) == {
        "metric": "m", "values": {reproduce.RANDOM: 1.0}}


def test_full_budget_cells_say_what_they_need(tmp_path):
    _tiny_ssdd(tmp_path / "ssdd")
    _tiny_sen1floods11(tmp_path / "sen1floods11")
    table2 = _cells(reproduce.table2(tmp_path, None, "full", tmp_path / "w2"))
    assert table2["horizontal_detection/ssdd"]["not_run"] == (
        "not run: the full budget needs --checkpoint (a SARMAE ViT-B/16)")
    table3 = _cells(reproduce.table3(tmp_path, "ckpt.pth", "full", tmp_path / "w3"))
    reason = table3["segmentation/water_binary_IoU"]["not_run"]
    assert reason.startswith("not run: no air_polsar_seg") and "small budget only" in reason


def test_markdown_shows_single_runs_gaps_and_incomparable_cells():
    result = {"table": 3, "metric": "IoU (%)", "budget": "small", "notes": ["split A/B"],
              "cells": [{"column": "segmentation/water_binary_IoU", "published": 92.31,
                         "comparable": False, "gap_sarmae_vs_random": 1.5,
                         "measured": {"random init": {"mean": 50.0, "std": 0.0, "runs": 1,
                                                      "details": {"mIoU": 60.0}}}}]}
    text = reproduce.markdown(result)
    assert ("| segmentation/water_binary_IoU | 92.31 | random init | 50.00 (1 run) | "
            "n/a: other data set | mIoU 60.00 |") in text
    assert "| segmentation/water_binary_IoU | | gap SARMAE - random | +1.50 | | |" in text
    assert "- split A/B" in text


@pytest.mark.parametrize("config", ["mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py",
                                    "mmdet/sarmae_vit-b16_faster-rcnn_sardet100k.py",
                                    "mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar.py",
                                    "mmseg/sarmae_vit-b16_upernet_air-polsar-seg.py",
                                    "mmseg/sarmae_vit-b16_upernet_air-polsar-seg-water.py"])
def test_every_table_config_shrinks_to_the_small_budget_and_builds(config):
    pytest.importorskip("mmcv.ops")
    if "mmrotate" in config:
        pytest.importorskip("mmrotate")
    from sargeo.mm.runner import build_model, load_config

    reproduce.register_mm_extras()
    cfg = load_config(reproduce.CONFIGS / config)
    reproduce.shrink_config(cfg, reproduce.RECIPES[2])
    assert cfg.val_dataloader is None and cfg.train_cfg.max_iters == reproduce.RECIPES[2].iters
    model = build_model(cfg)
    assert model.backbone.embed_dim == 192 and model.backbone.num_layers == 12
    if "rpn_head" in cfg.model:
        assert cfg.model.rpn_head.anchor_generator.scales[0] < 8
    if "faster-rcnn" in config:  # the small budget's CenterNet head, with the border it reads
        assert cfg.model.type == "CenterNet" and "rpn" not in cfg.model.test_cfg
        assert cfg.model.bbox_head.num_classes == (1 if "ssdd" in config else 6)
        steps = [step["type"] for step in cfg.test_dataloader.dataset.pipeline]
        assert steps[-2:] == ["InputBorder", "PackDetInputs"]
        assert "border" in cfg.test_dataloader.dataset.pipeline[-1].meta_keys


def test_small_budget_can_keep_the_configs_faster_rcnn():
    pytest.importorskip("mmcv.ops")
    from dataclasses import replace

    from sargeo.mm.runner import load_config

    cfg = load_config(reproduce.CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py")
    reproduce.shrink_config(cfg, replace(reproduce.RECIPES[2], detector="config"))
    assert cfg.model.type == "FasterRCNN" and cfg.model.roi_head.bbox_head.in_channels == 64
    with pytest.raises(ValueError, match="detector"):
        reproduce.shrink_config(load_config(reproduce.CONFIGS /
                                            "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py"),
                                replace(reproduce.RECIPES[2], detector="yolo"))


def test_seeds_are_averaged_with_their_spread_and_gaps_use_the_means():
    runs = {reproduce.RANDOM: [{"IoU": 40.0, "train loss": 0.5}, {"IoU": 44.0, "train loss": 0.7}],
            reproduce.MAE: [{"IoU": 45.0, "train loss": 0.5}, {"IoU": 45.0, "train loss": 0.5}],
            reproduce.SARMAE: [{"IoU": 50.0, "train loss": 0.4}, {"IoU": 52.0, "train loss": 0.4}]}
    cell = {"column": "segmentation/water", "published": 92.31}
    reproduce.fill_cell(cell, {"measured": runs}, "IoU")
    random = cell["measured"][reproduce.RANDOM]
    assert random["mean"] == 42.0 and random["std"] == pytest.approx(2.83) and random["runs"] == 2
    assert random["values"] == [40.0, 44.0] and random["details"]["train loss"] == 0.6
    assert cell["gap_sarmae_vs_random"] == 9.0 and cell["gap_sarmae_vs_mae"] == 6.0
    text = reproduce.markdown({"table": 3, "metric": "IoU (%)", "cells": [cell]})
    assert "42.00 +- 2.83 (2 runs: 40.00, 44.00)" in text


def test_norm_pix_option_reaches_the_pretraining_and_names_its_encoders(tmp_path, monkeypatch):
    import torch

    import sargeo.pretrain.module as module

    seen = {}
    real = module.SARMAEPretrainModule

    class Spy(real):
        def __init__(self, **kwargs):
            seen.update(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(module, "SARMAEPretrainModule", Spy)
    assert reproduce.SmallRecipe(pretrain_norm_pix=True).tag != reproduce.SmallRecipe().tag
    assert "_normpix_" in reproduce.SmallRecipe(pretrain_norm_pix=True).tag
    data = [{"image": torch.rand(3, 32, 32)} for _ in range(4)]
    reproduce.pretrain_encoder(data, tmp_path / "enc.pth", sare=False, steps=1, img_size=32,
                               patch_size=16, batch_size=2, norm_pix_loss=True)
    assert seen["norm_pix_loss"] is True and (tmp_path / "enc.pth").is_file()


def test_lr_override_reaches_the_fine_tuning_optimiser(tmp_path, monkeypatch):
    seen = {}

    def table2(data_root, checkpoint, budget, work, recipe):
        seen["recipe"] = recipe
        return {"table": 2, "metric": "m", "budget": budget, "cells": []}

    monkeypatch.setattr(cli, "table2", table2)
    reproduce.main(["--table", "2", "--data-root", str(tmp_path), "--out-dir", str(tmp_path),
                    "--lr", "2e-4"])
    assert seen["recipe"].lr == 2e-4 and seen["recipe"].iters == reproduce.RECIPES[2].iters
    _tiny_sen1floods11(tmp_path / "s1f")
    task = reproduce.sen1floods11_task(tmp_path / "s1f", tmp_path / "w")
    assert reproduce.task_config(task, seen["recipe"]).optim_wrapper.optimizer.lr == 2e-4


def _repeat(random: list[float], mae: list[float], sarmae: list[float], probe: float) -> dict:
    """One repeat's table with a single measured cell (as table1/_fill write it)."""
    cell = {"column": "mstar_40shot", "published": 96.7,
            "pretraining_loss": {reproduce.MAE: {"steps": 4, "seconds": 1.0,
                                                 "loss_first_step": 1.0,
                                                 "loss_last_10_steps": 0.5}},
            "token_diversity": {reproduce.RANDOM: 0.2, reproduce.SARMAE: probe / 100}}
    cell["measured"] = {label: {"mean": sum(v) / len(v), "std": 0.0, "runs": len(v),
                                "values": v, "seconds": 10.0, "details": {"train loss": v[0]}}
                        for label, v in ((reproduce.RANDOM, random), (reproduce.MAE, mae),
                                         (reproduce.SARMAE, sarmae))}
    cell.update(reproduce.init_gaps({k: s["mean"] for k, s in cell["measured"].items()}))
    cell["linear_probe"] = reproduce.probe_entry("top-1 (%)", {
        reproduce.RANDOM: 30.0, reproduce.MAE: 30.0, reproduce.SARMAE: probe})
    return {"table": 1, "metric": "top-1 (%)", "budget": "small",
            "small_budget_protocol": {"pretraining": "p", "finetuning": "f"},
            "cells": [{"column": "fusar_ship_40shot", "published": 89.3, "not_run": "no data"},
                      cell]}


def test_repeats_pool_their_runs_and_keep_each_repeats_gaps():
    merged = reproduce.merge_repeats([_repeat([10.0], [20.0], [30.0], 40.0),
                                      _repeat([30.0], [20.0], [20.0], 20.0)], [0, 1])
    absent, cell = merged["cells"]
    assert absent == {"column": "fusar_ship_40shot", "published": 89.3, "not_run": "no data"}
    random = cell["measured"][reproduce.RANDOM]
    assert random["values"] == [10.0, 30.0] and random["runs"] == 2 and random["mean"] == 20.0
    assert random["std"] == pytest.approx(14.14) and random["seconds"] == 20.0
    assert random["details"]["train loss"] == 20.0
    assert cell["gap_sarmae_vs_random"] == 5.0 and cell["gap_sarmae_vs_mae"] == 5.0
    assert cell["repeats"] == {"seeds": [0, 1], "gap_sarmae_vs_random": [20.0, -10.0],
                               "gap_mae_vs_random": [10.0, -10.0],
                               "gap_sarmae_vs_mae": [10.0, 0.0]}
    assert cell["linear_probe"]["values"][reproduce.SARMAE] == 30.0
    assert cell["linear_probe"]["gap_sarmae_vs_random"] == 0.0
    assert [p[reproduce.SARMAE] for p in cell["linear_probe"]["per_repeat"]] == [40.0, 20.0]
    assert cell["token_diversity"][reproduce.SARMAE] == 0.3
    assert len(cell["pretraining_loss_per_repeat"]) == 2
    assert merged["small_budget_protocol"]["repeats"] == [0, 1]
    text = reproduce.markdown(merged)
    assert "20.00 +- 14.14 (2 runs: 10.00, 30.00)" in text
    assert ("- mstar_40shot: 2 repeats of the whole small-budget run (pretraining and "
            "fine-tuning, base seeds 0, 1); per repeat: gap SARMAE - random +20.00, -10.00; "
            "gap MAE - random +10.00, -10.00; gap SARMAE - MAE +10.00, +0.00") in text


def test_repeats_option_runs_each_table_with_its_own_base_seed(tmp_path, monkeypatch):
    seen: dict[str, list] = {"table1": [], "table2": []}

    def table1(data_root, checkpoint, budget, work, runs=1, seed=0):
        seen["table1"].append((runs, seed))
        return _repeat([float(seed)], [1.0], [2.0], 3.0)

    def table2(data_root, checkpoint, budget, work, recipe):
        seen["table2"].append((recipe.seeds, recipe.seed))
        return {"table": 2, "metric": "m", "budget": budget, "cells": []}

    monkeypatch.setattr(cli, "table1", table1)
    monkeypatch.setattr(cli, "table2", table2)
    base = ["--data-root", str(tmp_path), "--out-dir", str(tmp_path)]
    reproduce.main(["--table", "1", *base, "--repeats", "3"])
    assert seen["table1"] == [(1, 0), (1, 1), (1, 2)]
    result = json.loads((tmp_path / "table1.json").read_text())
    assert result["cells"][1]["measured"][reproduce.RANDOM]["values"] == [0.0, 1.0, 2.0]
    reproduce.main(["--table", "2", *base, "--repeats", "2", "--seeds", "3"])
    assert seen["table2"] == [(3, 0), (3, 3)]  # fine-tuning seeds 0-2, then 3-5
    reproduce.main(["--table", "2", *base])
    assert seen["table2"][-1] == (1, 0)
    with pytest.raises(SystemExit):
        reproduce.main(["--table", "2", *base, "--repeats", "2", "--budget", "full"])
    with pytest.raises(SystemExit):
        reproduce.main(["--table", "1", *base, "--repeats", "0"])
