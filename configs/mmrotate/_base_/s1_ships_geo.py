# Oriented ships on Sentinel-1 scenes from GeoTIFFs + a GeoPackage of ship outlines (sargeo
# GeoTileDataset, task 'rotated_detection': le90 boxes from each outline's minimum rotated
# rectangle in the tile's pixel grid). See configs/mmdet/_base_/datasets/s1_ships_geo.py.
data_root = 'data/s1_ships/'
classes = ('ship',)
tile_size = 256
_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction', 'crs', 'transform')
train_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='mmdet.PackDetInputs', meta_keys=_meta_keys),
]
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='mmdet.PackDetInputs', meta_keys=_meta_keys),
]
_dataset = dict(type='GeoTileDataset', scenes=data_root, labels=data_root + 'ships.gpkg',
                layer='ships', task='rotated_detection', classes=classes, bands=('VV', 'VH'),
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
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
