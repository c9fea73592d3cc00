# SARDet-100K (Li et al., NeurIPS 2024, "SARDet-100K: Towards Open-Source Benchmark and ToolKit
# for Large-Scale SAR Object Detection"): 116,598 images from 10 SAR datasets, six classes, COCO
# annotations. Layout as distributed:
#   Annotations/{train,val,test}.json, JPEGImages/{train,val,test}/*
# Input 1024 x 1024 (ratio kept, padded), random flip: the published SARMAE SARDet-100k config.
_base_ = './coco_detection.py'
backend_args = None
data_root = 'data/SARDet_100K/'
metainfo = dict(classes=('ship', 'aircraft', 'car', 'tank', 'bridge', 'harbor'))
img_scale = (1024, 1024)
train_pipeline = _base_.train_pipeline + [  # after loading the image and its boxes
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


def split(name: str, pipeline: list) -> dict:
    """The loader of one split: Annotations/<name>.json, images in JPEGImages/<name>/."""
    return dict(dataset=dict(
        data_root=data_root, metainfo=metainfo, ann_file=f'Annotations/{name}.json',
        data_prefix=dict(img=f'JPEGImages/{name}/'), pipeline=pipeline))


# (mmengine leaves functions out of the config: `split` is no key of it)
train_dataloader = split('train', train_pipeline)
val_dataloader = split('val', test_pipeline)
test_dataloader = split('test', test_pipeline)
# COCO box AP (mAP@[.5:.95]), class-wise, as reported in the paper's Table 2
val_evaluator = dict(ann_file=data_root + 'Annotations/val.json', classwise=True)
test_evaluator = dict(ann_file=data_root + 'Annotations/test.json', classwise=True)
