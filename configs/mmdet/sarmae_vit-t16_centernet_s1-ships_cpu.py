# A CPU-sized ship detector for Sentinel-1 VV/VH scenes: SARMAE ViT-Tiny/16 with a CenterNet
# head (Zhou et al. 2019, "Objects as Points"; mmdet's CenterNetHead) on the stride-4 level of
# sargeo's SimpleFeaturePyramid, 128 px tiles. Ships at 10 m are 3-30 px: one heatmap peak per
# ship, no anchors and no NMS. `sargeo demo` pretrains the encoder with `sargeo pretrain`'s module
# on a simulated scene, trains this detector from the scene and its GeoPackage (GeoTileDataset)
# and runs `sargeo infer` with it.
# Why CenterNet here: on the demo's simulated scenes a Faster R-CNN of the same size (slim heads,
# 8 px anchors) after 1,200 CPU iterations still boxed each ship many times (precision 0.09,
# recall 0.59 at score 0.5); this head reached precision 0.78, recall 0.97 at score 0.4 in the
# same iterations, each a third faster. The paper's detectors stay in the ViT-B configs.
_base_ = ['./_base_/datasets/s1_ships_geo.py', './_base_/default_runtime.py',
          './_base_/schedules/adamw_layer-decay.py']
tile_size = 128
width = 64
pretrained = None  # the demo sets the path of its pretrained ViT-Tiny weights
model = dict(
    type='CenterNet',
    # VV/VH are normalised in the pipeline (SARNormalize): nothing to do here but batching
    data_preprocessor=dict(type='DetDataPreprocessor', mean=None, std=None, bgr_to_rgb=False,
                           pad_size_divisor=32),
    backbone=dict(type='SARMAEViT', arch='tiny', img_size=tile_size, patch_size=16,
                  in_channels=2, out_indices=(-1,), drop_path_rate=0.0, with_cls_token=False,
                  pretrained=pretrained),
    neck=dict(type='SimpleFeaturePyramid', in_channels=192, out_channels=width, scales=(4,),
              num_outs=1),
    bbox_head=dict(type='CenterNetHead', num_classes=1, in_channels=width, feat_channels=width,
                   loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
                   loss_wh=dict(type='L1Loss', loss_weight=0.1),
                   loss_offset=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=None,
    test_cfg=dict(topk=100, local_maximum_kernel=3, max_per_img=100))
_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction', 'crs', 'transform', 'instances', 'border')
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='InputBorder'),
    dict(type='mmdet.PackDetInputs', meta_keys=_meta_keys),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(tile_size=tile_size, length=6000))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(tile_size=tile_size, pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=4e-4), paramwise_cfg=dict(decay_rate=0.9))
max_iters = 1200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False, begin=50, end=max_iters),
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False),
                     logger=dict(type='LoggerHook', interval=100))
log_processor = dict(by_epoch=False)
