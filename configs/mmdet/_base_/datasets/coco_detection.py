# The COCO-format loaders of sargeo's mmdet data sets (SSDD, SARDet-100K): mmdet's CocoDataset,
# 2 training images per GPU grouped by aspect ratio, images without boxes skipped in training,
# 1 image per GPU in evaluation, COCO box AP. Each data set's file sets data_root, metainfo,
# annotation files, image folders and pipelines (its training steps after the loading ones here).
dataset_type = 'CocoDataset'
backend_args = None
# the first steps of every training pipeline: the image, then its boxes
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, filter_cfg=dict(filter_empty_gt=True, min_size=0),
                 backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, test_mode=True, backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', metric='bbox', backend_args=backend_args)
test_evaluator = val_evaluator
