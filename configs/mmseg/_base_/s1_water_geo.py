# Water on Sentinel-1 VV/VH scenes from GeoTIFFs and a GeoPackage of water polygons (sargeo
# GeoTileDataset, task 'segmentation': classes background and water, 255 outside every scene).
# VV and VH in linear power are normalised by SARNormalize ([-30, 5] dB -> [-1, 1]), as the
# ship scenes (configs/mmdet/_base_/datasets/s1_ships_geo.py). Metric: mIoU.
data_root = 'data/s1_water/'
classes = ('background', 'water')
tile_size = 256
_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'flip', 'flip_direction', 'crs',
              'transform', 'reduce_zero_label')
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='PackSegInputs', meta_keys=_meta_keys),
]
train_pipeline = [
    test_pipeline[0],
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    test_pipeline[1],
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
