# RSAR (Zhang et al., CVPR 2025, "RSAR: Restricted State Angle Resolver and Rotated SAR
# Benchmark"): 95,842 SAR images with oriented boxes of six classes, DOTA-format text labels
# (`x1 y1 x2 y2 x3 y3 x4 y4 class difficulty` per line). Layout as distributed:
#   train/{images,annfiles}, val/{images,annfiles}, test/{images,annfiles}
# mmrotate_dev ships SSDD/HRSID/RSDD/SRSDD bases but none for RSAR: this is sargeo's.
# Augmentation as the published SARMAE RSAR config: resize to 800 (ratio kept), flips
# (horizontal, vertical, diagonal, 0.25 each), random rotation (p 0.5, +-180 degrees; class 3,
# tank, only by right angles), padding to a multiple of 32. Metric: DOTA-style VOC mAP@0.5.
dataset_type = 'DOTADataset'
data_root = 'data/RSAR/'
metainfo = dict(classes=('ship', 'aircraft', 'car', 'tank', 'bridge', 'harbor'))
img_scale = (800, 800)
img_suffix = 'png'
backend_args = None
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile', backend_args=backend_args),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomRotate', prob=0.5, angle_range=180, rect_obj_labels=[3]),
    dict(type='mmdet.PackDetInputs'),
]
test_pipeline = [
    dict(type='mmdet.LoadImageFromFile', backend_args=backend_args),
    dict(type='mmdet.Resize', scale=img_scale, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='train/annfiles/', data_prefix=dict(img_path='train/images/'),
                 img_suffix=img_suffix, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='val/annfiles/', data_prefix=dict(img_path='val/images/'),
                 img_suffix=img_suffix, test_mode=True, pipeline=test_pipeline))
# the test split: the validation loader on test/annfiles/ and test/images/
test_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'], ann_file='test/annfiles/',
    data_prefix=dict(img_path='test/images/')))
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = val_evaluator
