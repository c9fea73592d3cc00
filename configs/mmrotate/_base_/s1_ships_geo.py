# Oriented ships on Sentinel-1 scenes from GeoTIFFs + a GeoPackage of ship outlines (sargeo
# GeoTileDataset, task 'rotated_detection': le90 boxes from each outline's minimum rotated
# rectangle in the tile's pixel grid). The mmdet scene data (same scenes, tiles and
# normalisation) with diagonal flips too, no 'instances' in the meta keys and DOTA mAP.
_base_ = '../../mmdet/_base_/datasets/s1_ships_geo.py'
_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
              'flip_direction', 'crs', 'transform')
test_pipeline = [
    dict(type='SARNormalize', to_db=True, mean=(-12.5,), std=(17.5,), clip=(-1.0, 1.0)),
    dict(type='mmdet.PackDetInputs', meta_keys=_meta_keys),
]
train_pipeline = [
    test_pipeline[0],
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    test_pipeline[1],
]
_dataset = dict(task='rotated_detection')
train_dataloader = dict(dataset=dict(task='rotated_detection', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(task='rotated_detection', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
