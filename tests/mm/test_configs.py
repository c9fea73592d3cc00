"""Every config in configs/ builds; each benchmark family trains a few iterations and evaluates
with its benchmark metric on tiny data in its native format (COCO json, DOTA txt, PNG masks),
with the encoder shrunk to ViT-Tiny and images to 128 px so this runs on a CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mmcv.ops")

from sargeo.mm.configs import shrink_image_sizes  # noqa: E402
from tests.mm.native_data import write_coco_split, write_dota_split, write_seg_split  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ALL = sorted(p for p in CONFIGS.glob("mm*/*.py"))


def _load(path: Path):
    from sargeo.mm.runner import load_config

    return load_config(path)


@pytest.mark.parametrize("path", ALL, ids=[f"{p.parent.name}/{p.stem}" for p in ALL])
def test_every_config_builds(path):
    from sargeo.mm.runner import build_model

    cfg = _load(path)
    cfg.model.backbone.pretrained = None
    model = build_model(cfg)
    large = "vit-l16" in path.name
    assert model.backbone.num_layers == (24 if large else 12)
    assert cfg.optim_wrapper.constructor == "SARMAELayerDecayConstructor"


def test_shared_changes_are_taken_not_left_as_keys():
    """The ViT-L and Sentinel-1 ship changes live once in a _base_ file under their own name;
    each config takes them with ``_base_.pop(name)``, so the name is no key of the config."""
    names = ("vit_l16_changes", "s1_ships_changes")
    users = {n: [p for p in ALL if f"_base_.pop('{n}')" in p.read_text()] for n in names}
    assert [len(users[n]) for n in names] == [2, 2]
    for path in ALL:
        cfg = _load(path)
        assert not set(names) & set(cfg), path
    assert _load(users["vit_l16_changes"][0]).model.backbone.arch == "large"


def shrink(cfg, size: int = 128) -> None:
    """ViT-Tiny, ``size`` px images, two iterations, no workers: the same pipeline shapes."""
    backbone = cfg.model.backbone
    if len(backbone.get("out_indices", (-1,))) == 4:
        backbone.out_indices = (3, 5, 7, 11)
    backbone.update(arch="tiny", img_size=size, pretrained=None, with_cp=False)
    cfg.model.neck.in_channels = 192
    if "rpn_head" in cfg.model:  # slimmer heads: the same structure at a tenth of the cost
        width = 64
        cfg.model.neck.out_channels = width
        cfg.model.rpn_head.update(in_channels=width, feat_channels=width)
        cfg.model.roi_head.bbox_roi_extractor.out_channels = width
        cfg.model.roi_head.bbox_head.update(in_channels=width, fc_out_channels=256)
        cfg.model.train_cfg.rcnn.sampler.num = 128
    for head in ("decode_head", "auxiliary_head"):
        if head in cfg.model:
            ch = cfg.model[head].in_channels
            cfg.model[head].in_channels = [192] * len(ch) if isinstance(ch, list) else 192
            cfg.model[head].channels = 32
    if cfg.model.get("test_cfg", {}).get("mode") == "slide":
        cfg.model.test_cfg.update(crop_size=(size, size), stride=(size * 3 // 4,) * 2)

    shrink_image_sizes(cfg, size)
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[name].update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=2, val_interval=2)
    cfg.param_scheduler = [dict(type="ConstantLR", factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=2, by_epoch=False)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=1)
    cfg.log_processor = dict(by_epoch=False)


def _point_data(cfg, root: Path, ann: dict[str, str] | None = None) -> None:
    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[name].dataset.data_root = str(root) + "/"
    for name in ("val_evaluator", "test_evaluator"):
        if ann and "ann_file" in cfg[name]:
            cfg[name].ann_file = str(root / ann[name])


def _train_and_validate(cfg, work_dir: Path) -> dict:
    from mmengine.runner import Runner

    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.val()


FAMILIES = {
    "mmdet/sarmae_vit-b16_faster-rcnn_ssdd": "coco/bbox_mAP",
    "mmdet/sarmae_vit-l16_faster-rcnn_ssdd": "coco/bbox_mAP",
    "mmdet/sarmae_vit-b16_faster-rcnn_sardet100k": "coco/bbox_mAP",
    "mmdet/sarmae_vit-l16_faster-rcnn_sardet100k": "coco/bbox_mAP",
    "mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar": "dota/mAP",
    "mmrotate/sarmae_vit-l16_oriented-rcnn-le90_rsar": "dota/mAP",
    "mmseg/sarmae_vit-b16_upernet_air-polsar-seg": "mIoU",
    "mmseg/sarmae_vit-l16_upernet_air-polsar-seg": "mIoU",
    "mmseg/sarmae_vit-b16_upernet_air-polsar-seg-water": "mIoU",
    "mmseg/sarmae_vit-l16_upernet_air-polsar-seg-water": "mIoU",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_benchmark_config_trains_and_reports_its_metric(name, tmp_path, capsys):
    cfg = _load(CONFIGS / f"{name}.py")
    shrink(cfg)
    root = tmp_path / "data"
    if "ssdd" in name:
        write_coco_split(root, "annotations/instances_sarship_train.json", "train", seed=1)
        write_coco_split(root, "annotations/instances_sarship_test.json", "test", seed=2)
        _point_data(cfg, root, {"val_evaluator": "annotations/instances_sarship_test.json",
                                "test_evaluator": "annotations/instances_sarship_test.json"})
    elif "sardet" in name:
        classes = tuple(cfg.metainfo.classes)
        for i, split in enumerate(("train", "val", "test")):
            write_coco_split(root, f"Annotations/{split}.json", f"JPEGImages/{split}",
                             classes=classes, seed=i, first_category_id=1)
        _point_data(cfg, root, {"val_evaluator": "Annotations/val.json",
                                "test_evaluator": "Annotations/test.json"})
    elif "rsar" in name:
        for i, split in enumerate(("train", "val", "test")):
            write_dota_split(root, split, classes=("ship", "car"), seed=i)
        _point_data(cfg, root)
    else:
        water = "water" in name
        n_cls = 2 if water else 6
        for split in ("train_set", "test_set"):
            ann = f"{split}_water/annotations" if water else f"{split}/annotations"
            write_seg_split(root, f"{split}/images", ann, num_classes=n_cls,
                            seed=len(split))
        _point_data(cfg, root)
    metrics = _train_and_validate(cfg, tmp_path / "work")
    key = FAMILIES[name]
    assert key in metrics, metrics
    assert 0.0 <= metrics[key] <= 100.0
    assert (tmp_path / "work" / "iter_2.pth").is_file()


def test_missing_data_and_wrong_annotation_formats_are_named(tmp_path):
    from sargeo.mm.runner import DatasetError, check_datasets

    cfg = _load(CONFIGS / "mmdet/sarmae_vit-b16_faster-rcnn_ssdd.py")
    _point_data(cfg, tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        check_datasets(cfg)
    root = tmp_path / "ssdd"
    write_coco_split(root, "annotations/instances_sarship_train.json", "train")
    write_coco_split(root, "annotations/instances_sarship_test.json", "test")
    (root / "annotations/instances_sarship_test.json").write_text('{"images": []}')
    _point_data(cfg, root)
    with pytest.raises(DatasetError, match="instances_sarship_test.json.*missing.*annotations"):
        check_datasets(cfg)
    rsar = _load(CONFIGS / "mmrotate/sarmae_vit-b16_oriented-rcnn-le90_rsar.py")
    for split in ("train", "val", "test"):
        write_dota_split(tmp_path / "rsar", split)
    (tmp_path / "rsar/train/annfiles/0.txt").write_text("10 10 20 20 ship\n")
    _point_data(rsar, tmp_path / "rsar")
    with pytest.raises(DatasetError, match=r"0.txt:1: expected DOTA"):
        check_datasets(rsar)


def test_shrink_image_sizes_reaches_every_pipeline_size_and_keeps_smaller_ones():
    cfg = _load(CONFIGS / "mmseg/sarmae_vit-b16_upernet_air-polsar-seg.py")
    shrink_image_sizes(cfg, 128)
    steps = {s["type"]: s for s in cfg.train_dataloader.dataset.pipeline}
    assert steps["RandomResize"]["scale"] == (128, 128)
    assert steps["RandomCrop"]["crop_size"] == (128, 128)
    assert cfg.model.data_preprocessor.size == (128, 128)
    assert cfg.model.test_cfg.stride == (384, 384)  # not a size key: left alone
    small = {"pipeline": [{"type": "Resize", "scale": (64, 96)}]}
    assert shrink_image_sizes(small, 128)["pipeline"][0]["scale"] == (64, 96)
