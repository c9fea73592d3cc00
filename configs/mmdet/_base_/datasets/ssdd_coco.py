# SSDD (Zhang et al., Remote Sensing 2021, "SAR Ship Detection Dataset (SSDD): Official Release
# and Comprehensive Data Analysis") in COCO format: 1,160 images, one class.
# Layout of the common COCO release (data_root set by the user or --cfg-options):
#   annotations/instances_sarship_{train,test}.json, train/*.jpg, test/*.jpg
# Input size 608 x 608 without keeping the ratio, random flip and photometric distortion:
# the published SARMAE SSDD config (MiliLab/SARMAE Detection/.../ssdd); its AutoAugment
# multi-scale crop branch is left out here (documented in docs/published_code_facts.md section 9).
_base_ = './coco_detection.py'
backend_args = None
data_root = 'data/ssdd/'
metainfo = dict(classes=('ship',), palette=[(220, 20, 60)])
img_scale = (608, 608)
train_pipeline = _base_.train_pipeline + [  # after loading the image and its boxes
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
train_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_sarship_train.json',
    data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_sarship_test.json',
    data_prefix=dict(img='test/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
# COCO box AP, as the paper's Table 2 reports for SSDD
val_evaluator = dict(ann_file=data_root + 'annotations/instances_sarship_test.json',
                     format_only=False)
test_evaluator = val_evaluator
