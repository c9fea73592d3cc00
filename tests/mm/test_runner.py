"""`sargeo mm train/test`: mmengine's Runner trains, checkpoints, resumes (under torch's
weights_only default, thanks to sargeo.mm.compat) and evaluates an mmdet config."""

from __future__ import annotations

import textwrap

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


def test_missing_config_and_checkpoint_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        main(["mm", "train", str(tmp_path / "nope.py")])
    write_coco(tmp_path / "data")
    config = faster_rcnn_config(tmp_path, tmp_path / "data")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        main(["mm", "test", config, str(tmp_path / "missing.pth")])
