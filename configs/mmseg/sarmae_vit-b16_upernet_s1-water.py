# SARMAE ViT-B/16 + UPerNet for water on Sentinel-1 VV/VH scenes, trained from GeoTIFFs and a
# GeoPackage of water polygons (sargeo GeoTileDataset, task 'segmentation': classes background
# and water, 255 outside every scene). Loss and schedule as the published AIR-PolSAR-Seg water
# recipe (class weights 0.3 / 3.0, Dice 1.5, layer decay 0.9), shortened to 20k iterations.
_base_ = [
    './_base_/upernet_sarmae-vit-b16.py',
    './_base_/schedule_80k.py',
    './_base_/default_runtime.py',
]
data_root = 'data/s1_water/'
classes = ('background', 'water')
tile_size = 256
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'crs',
              'transform', 'reduce_zero_label')
train_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs', meta_keys=_meta_keys),
]
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='PackSegInputs', meta_keys=_meta_keys),
]
_dataset = dict(type='GeoTileDataset', scenes=data_root, labels=data_root + 'water.gpkg',
                layer='water', task='segmentation', classes=classes, bands=('VV', 'VH'),
                tile_size=tile_size, background=0, ignore_index=255)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**_dataset, sampler='random', length=4000, seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, sampler='grid', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
class_weight = [0.3, 3.0]
model = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False, size=(tile_size, tile_size)),
    backbone=dict(img_size=tile_size, in_channels=2, pretrained=pretrained),
    decode_head=dict(num_classes=2, loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
             class_weight=class_weight),
        dict(type='DiceLoss', naive_dice=False, loss_weight=1.5)]),
    auxiliary_head=dict(num_classes=2, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4, class_weight=class_weight)),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(optimizer=dict(lr=8e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=1000, end=20000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=2000)
