"""Config surgery: a benchmark config pointed at a task's data and shrunk to the small-budget
recipe (ViT-Tiny, slim heads, the CPU ship detector's CenterNet head for horizontal detection)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.mm_registry import register_mm_extras
from benchmarks.tables.published import CONFIGS
from benchmarks.tables.recipe import MMTask, SmallRecipe

#: sargeo's CPU ship detector: where the small-budget CenterNet head is defined
CPU_DETECTOR = CONFIGS / "mmdet/sarmae_vit-t16_centernet_s1-ships_cpu.py"


def shrink_config(cfg: Any, recipe: SmallRecipe) -> None:
    """The small-budget form of a benchmark config (see :class:`SmallRecipe`): ViT-Tiny, slim
    necks and heads, ``img_size`` inputs, an iteration-based schedule without validation (the
    test loop runs once after training), no checkpoints, no data-loading workers."""
    size, width = recipe.img_size, recipe.width
    model = cfg.model
    backbone = model.backbone
    full_size = backbone.img_size if isinstance(backbone.img_size, int) else max(backbone.img_size)
    if len(backbone.get("out_indices", (-1,))) == 4:
        backbone.out_indices = (3, 5, 7, 11)
    backbone.update(arch="tiny", img_size=size, patch_size=recipe.patch_size, with_cp=False,
                    drop_path_rate=0.1)
    model.neck.in_channels = 192
    pre = model.data_preprocessor
    if pre.get("mean") is not None and len(pre.mean) == 3:
        # 8-bit images to [-1, 1]: what the pretraining's 0.5 / 0.5 normalisation feeds
        from sargeo.pretrain.data import INPUT_MEAN, INPUT_STD

        pre.update(mean=[255 * INPUT_MEAN] * 3, std=[255 * INPUT_STD] * 3)
    if model.type == "FasterRCNN" and recipe.detector == "centernet":
        _use_centernet(cfg, width)
    elif recipe.detector not in ("centernet", "config"):
        raise ValueError(f"SmallRecipe.detector: {recipe.detector!r}; use centernet or config")
    if "rpn_head" in model:
        model.neck.out_channels = width
        model.rpn_head.update(in_channels=width, feat_channels=width)
        model.roi_head.bbox_roi_extractor.out_channels = width
        model.roi_head.bbox_head.update(in_channels=width, fc_out_channels=4 * width)
        roi_layer = model.roi_head.bbox_roi_extractor.roi_layer
        if "sampling_ratio" in roi_layer:  # RoIAlign (0: adaptive); RoIAlignRotated has 2
            roi_layer.sampling_ratio = 2
        model.train_cfg.rcnn.sampler.num = recipe.rois
        model.train_cfg.rpn_proposal.update(nms_pre=1000, max_per_img=500)
        # anchors shrink with the input, so objects keep matching them (SSDD: 8 -> 3)
        anchors = model.rpn_head.anchor_generator
        anchors.scales = [max(2, round(s * size / full_size)) for s in anchors.scales]
        # keep weak detections: at this budget the scores are low but their ranking counts
        model.test_cfg.rcnn.score_thr = 0.001
    for head, channels in (("decode_head", width), ("auxiliary_head", width // 2)):
        if head in model:
            ch = model[head].in_channels
            model[head].in_channels = [192] * len(ch) if isinstance(ch, list) else 192
            model[head].channels = channels
    if model.get("test_cfg", {}).get("mode") == "slide":
        model.test_cfg.update(crop_size=(size, size), stride=(size * 3 // 4,) * 2)

    from sargeo.mm.configs import shrink_image_sizes

    shrink_image_sizes(cfg, size)
    cfg.train_dataloader.update(batch_size=recipe.batch_size, num_workers=0,
                                persistent_workers=False,
                                sampler=dict(type="InfiniteSampler", shuffle=True))
    cfg.test_dataloader.update(batch_size=1, num_workers=0, persistent_workers=False)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.optim_wrapper.optimizer.lr = recipe.lr
    cfg.train_cfg = dict(type="IterBasedTrainLoop", max_iters=recipe.iters,
                         val_interval=recipe.iters)
    warmup = min(recipe.warmup_iters, recipe.iters - 1)
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=max(warmup, 1)),
        dict(type="CosineAnnealingLR", eta_min=0.0, by_epoch=False, begin=max(warmup, 1),
             end=max(recipe.iters, warmup + 1))]
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=50, log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=recipe.seed)
    if cfg.get("default_scope") == "mmseg":
        cfg.test_evaluator = dict(type="ClassIoUMetric", iou_metrics=["mIoU"])


def _pack_det_meta_keys() -> tuple[str, ...]:
    """mmdet's ``PackDetInputs`` default ``meta_keys``."""
    import inspect

    from mmdet.datasets.transforms import PackDetInputs

    return inspect.signature(PackDetInputs.__init__).parameters["meta_keys"].default


def _use_centernet(cfg: Any, width: int) -> None:
    """Replace a Faster R-CNN's neck and heads by the CPU ship detector's CenterNet head
    (:data:`CPU_DETECTOR`), keeping the data preprocessor, the backbone and the class count;
    test pipelines get the ``border`` meta the head reads (:class:`sargeo.mm.InputBorder`)."""
    from sargeo.mm.runner import load_config

    ref = load_config(CPU_DETECTOR).model
    model = cfg.model
    classes = model.roi_head.bbox_head.num_classes
    for key in ("neck", "rpn_head", "roi_head", "train_cfg", "test_cfg"):
        model.pop(key, None)
    model.update(type="CenterNet", neck=dict(ref.neck, in_channels=192, out_channels=width),
                 bbox_head=dict(ref.bbox_head, num_classes=classes, in_channels=width,
                                feat_channels=width),
                 train_cfg=None, test_cfg=dict(ref.test_cfg))
    for name in ("val_dataloader", "test_dataloader"):
        loader = cfg.get(name)
        pipeline = loader.dataset.get("pipeline") if loader else None
        if not pipeline or any(step["type"] == "InputBorder" for step in pipeline):
            continue
        pack = next(i for i, step in enumerate(pipeline)
                    if step["type"].endswith("PackDetInputs"))
        keys = pipeline[pack].get("meta_keys")
        keys = _pack_det_meta_keys() if keys is None else keys
        pipeline[pack].meta_keys = (*keys, "border")
        pipeline.insert(pack, dict(type="InputBorder"))


def task_config(task: MMTask, recipe: SmallRecipe | None) -> Any:
    """The task's config pointed at its data; shrunk when ``recipe`` is given."""
    from sargeo.mm.runner import load_config

    register_mm_extras()
    cfg = load_config(task.config)
    task.point(cfg, recipe)
    if recipe is not None:
        shrink_config(cfg, recipe)
    elif cfg.get("default_scope") == "mmseg":
        cfg.test_evaluator = dict(type="ClassIoUMetric", iou_metrics=["mIoU"])
    return cfg
