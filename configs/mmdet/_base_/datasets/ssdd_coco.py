# SSDD (Zhang et al., Remote Sensing 2021, "SAR Ship Detection Dataset (SSDD): Official Release
# and Comprehensive Data Analysis") in COCO format: 1,160 images, one class.
# Layout of the common COCO release (data_root set by the user or --cfg-options):
#   annotations/instances_sarship_{train,test}.json, train/*.jpg, test/*.jpg
# Input size 608 x 608 without keeping the ratio, random flip and photometric distortion:
# the published SARMAE SSDD config (MiliLab/SARMAE Detection/.../ssdd); its AutoAugment
# multi-scale crop branch is left out here (documented in docs/published_code_facts.md section 9).
dataset_type = 'CocoDataset'
data_root = 'data/ssdd/'
metainfo = dict(classes=('ship',), palette=[(220, 20, 60)])
img_scale = (608, 608)
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=35, contrast_range=(0.5, 1.5),
         saturation_range=(0.5, 1.5), hue_delta=18),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_sarship_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True, min_size=0),
                 pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_sarship_test.json',
                 data_prefix=dict(img='test/'), test_mode=True, pipeline=test_pipeline,
                 backend_args=backend_args))
test_dataloader = val_dataloader
# COCO box AP, as the paper's Table 2 reports for SSDD
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_sarship_test.json',
                     metric='bbox', format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
