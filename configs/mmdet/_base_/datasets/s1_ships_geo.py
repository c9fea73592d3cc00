# Ships on Sentinel-1 GRD/RTC scenes (or sargeo's simulated scenes), trained straight from the
# GeoTIFFs and a vector file of ship outlines through sargeo's GeoTileDataset: torchgeo random
# tiles for training, a grid for validation, no tiling to disk. Set data_root to a folder
# holding the scenes (*.tif) and ships.gpkg (layer 'ships', column class_name).
# VV and VH in linear power are normalised by SARNormalize ([-30, 5] dB -> [-1, 1], as sargeo's
# scene pretraining), so the data preprocessor does no mean/std (it cannot for 2 channels).
data_root = 'data/s1_ships/'
classes = ('ship',)
tile_size = 256
_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction', 'crs', 'transform', 'instances')
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='mmdet.PackDetInputs', meta_keys=_meta_keys),
]
train_pipeline = [
    test_pipeline[0],
    dict(type='mmdet.RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    test_pipeline[1],
]
_dataset = dict(type='GeoTileDataset', scenes=data_root, labels=data_root + 'ships.gpkg',
                layer='ships', task='detection', classes=classes, bands=('VV', 'VH'),
                tile_size=tile_size, min_visible=0.5)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, sampler='random', length=2000, seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, sampler='grid', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
# COCO box AP from the tiles' own labels (no annotation file)
val_evaluator = dict(type='CocoMetric', ann_file=None, metric='bbox')
test_evaluator = val_evaluator
