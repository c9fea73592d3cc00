"""`sargeo mm train/test`: mmengine's Runner trains, checkpoints, resumes (under torch's
weights_only default, thanks to sargeo.mm.compat) and evaluates an mmdet config."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mmcv.ops")

from sargeo.cli import main  # noqa: E402
from tests.mm.coco_data import write_coco  # noqa: E402


def faster_rcnn_config(tmp_path, data_root) -> str:
    pipeline = """[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='PackDetInputs')]"""
    test_pipeline = """[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(64, 64), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                               'scale_factor'))]"""
    text = f"""
        _base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
        model = dict(backbone=dict(depth=18, init_cfg=None),
                     neck=dict(in_channels=[64, 128, 256, 512]),
                     roi_head=dict(bbox_head=dict(num_classes=1)))
        metainfo = dict(classes=('ship',))
        data = dict(data_root='{data_root}/', metainfo=metainfo, ann_file='ann.json',
                    data_prefix=dict(img='images/'))
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                                dataset=dict(**data, pipeline={pipeline}))
        val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                              dataset=dict(**data, test_mode=True, pipeline={test_pipeline}))
        test_dataloader = val_dataloader
        val_evaluator = dict(ann_file='{data_root}/ann.json')
        test_evaluator = val_evaluator
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2, val_interval=2)
        param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
        optim_wrapper = dict(optimizer=dict(lr=0.002))
        default_hooks = dict(checkpoint=dict(interval=2, by_epoch=False),
                             logger=dict(interval=1))
        log_processor = dict(by_epoch=False)
    """
    path = tmp_path / "faster_rcnn_tiny.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.mark.slow
def test_train_checkpoint_resume_and_test_an_mmdet_config(tmp_path, capsys):
    write_coco(tmp_path / "data")
    config = faster_rcnn_config(tmp_path, tmp_path / "data")
    work = tmp_path / "work"
    assert main(["mm", "train", config, "--work-dir", str(work)]) == 0
    assert (work / "iter_2.pth").is_file()
    # resume from the last checkpoint (mmengine's own file, with message-hub buffers)
    assert main(["mm", "train", config, "--work-dir", str(work), "--resume",
                 "--cfg-options", "train_cfg.max_iters=4"]) == 0
    assert (work / "iter_4.pth").is_file()
    logs = "\n".join(p.read_text() for p in work.rglob("*.log"))
    assert "Resumed" in logs or "resumed" in logs
    assert main(["mm", "test", config, str(work / "iter_4.pth"), "--work-dir",
                 str(work)]) == 0
    logs = "\n".join(p.read_text() for p in work.rglob("*.log"))
    assert "coco/bbox_mAP" in logs


def test_missing_config_and_checkpoint_are_named(tmp_path, capsys):
    assert main(["mm", "train", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sargeo mm: error: ") and "nope.py" in err
    write_coco(tmp_path / "data")
    config = faster_rcnn_config(tmp_path, tmp_path / "data")
    assert main(["mm", "test", config, str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth" in capsys.readouterr().err


CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SSDD = CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py"


def test_max_iters_turns_epoch_and_iteration_loops_into_n_iterations():
    from sargeo.mm.runner import limit_iterations, load_config

    cfg = load_config(SSDD)
    assert cfg.train_cfg.type == "EpochBasedTrainLoop"
    limit_iterations(cfg, 3)
    assert dict(cfg.train_cfg) == dict(type="IterBasedTrainLoop", max_iters=3, val_interval=3)
    assert (cfg.default_hooks.checkpoint.by_epoch, cfg.default_hooks.checkpoint.interval) == (
        False, 3)
    assert cfg.default_hooks.logger.interval == 3 and cfg.log_processor.by_epoch is False
    seg = load_config(CONFIGS / "mmseg/sarmae_vit-b16_upernet_air-polsar-seg.py")
    limit_iterations(seg, 10)
    assert dict(seg.train_cfg) == dict(type="IterBasedTrainLoop", max_iters=10,
                                       val_interval=10)
    assert seg.default_hooks.checkpoint.interval == 10
    assert seg.default_hooks.checkpoint.save_best == "mIoU"  # other settings kept
    with pytest.raises(ValueError, match="max_iters must be a whole number >= 1, got 0"):
        limit_iterations(seg, 0)


@pytest.mark.slow
def test_max_iters_trains_the_epoch_based_ssdd_config_for_n_iterations(tmp_path):
    import copy

    from sargeo.mm.runner import load_config
    from tests.mm.native_data import write_coco_split
    from tests.mm.test_configs import _point_data, shrink

    cfg = load_config(SSDD)
    keep = {k: copy.deepcopy(cfg[k]) for k in ("train_cfg", "param_scheduler",
                                                "default_hooks", "log_processor")}
    shrink(cfg)  # ViT-Tiny, 128 px, slim heads ...
    for key, value in keep.items():  # ... with the config's own 36-epoch loop and schedule
        cfg[key] = value
    root = tmp_path / "ssdd"
    write_coco_split(root, "annotations/instances_sarship_train.json", "train", seed=1)
    write_coco_split(root, "annotations/instances_sarship_test.json", "test", seed=2)
    _point_data(cfg, root, {"val_evaluator": "annotations/instances_sarship_test.json",
                            "test_evaluator": "annotations/instances_sarship_test.json"})
    small = tmp_path / "ssdd_small.py"
    cfg.dump(str(small))
    work = tmp_path / "work"
    assert main(["mm", "train", str(small), "--max-iters", "2", "--work-dir", str(work)]) == 0
    saved = sorted(p.name for p in work.glob("*.pth"))  # and the best one (save_best='auto')
    assert saved == ["best_coco_bbox_mAP_iter_2.pth", "iter_2.pth"]
    logs = "\n".join(p.read_text() for p in work.rglob("*.log"))
    assert "Iter(train) [2/2]" in logs and "coco/bbox_mAP" in logs


def test_coco_images_missing_from_the_image_folder_are_named_and_counted(tmp_path):
    from sargeo.mm.runner import DatasetError, check_datasets, load_config
    from tests.mm.native_data import write_coco_split
    from tests.mm.test_configs import _point_data

    cfg = load_config(SSDD)
    root = tmp_path / "ssdd"
    write_coco_split(root, "annotations/instances_sarship_train.json", "train", n=8)
    write_coco_split(root, "annotations/instances_sarship_test.json", "test")
    _point_data(cfg, root)
    check_datasets(cfg)  # complete: passes
    for i in range(7):
        (root / "train" / f"{i}.jpg").unlink()
    with pytest.raises(DatasetError, match=r"train_dataloader: 7 of the 8 images listed in "
                       r".*instances_sarship_train.json are not in .*ssdd/train: 0.jpg, 1.jpg, "
                       r"2.jpg, 3.jpg, 4.jpg, \.\.\."):
        check_datasets(cfg)


def test_dota_images_missing_for_annotation_files_are_named(tmp_path):
    from sargeo.mm.runner import DatasetError, check_datasets, load_config
    from tests.mm.native_data import write_dota_split
    from tests.mm.test_configs import _point_data

    cfg = load_config(CONFIGS / "mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar.py")
    for split in ("train", "val", "test"):
        write_dota_split(tmp_path / "rsar", split)
    _point_data(cfg, tmp_path / "rsar")
    check_datasets(cfg)
    image = next((tmp_path / "rsar/val/images").iterdir())
    image.unlink()
    with pytest.raises(DatasetError, match=rf"val_dataloader: 1 of the 3 images listed in "
                       rf".*val/annfiles are not in .*val/images: {image.name} \(check"):
        check_datasets(cfg)
