# AIR-PolSAR-Seg (Wang et al., IEEE JSTARS 2022, "AIR-PolSAR-Seg: A Large-Scale Data Set for
# Terrain Segmentation in Complex-Scene PolSAR Images"): Gaofen-3 C-band quad-polarimetric SAR,
# 512 x 512 patches, six classes. Layout of the SARMAE release:
#   train_set/{images,annotations}, test_set/{images,annotations} (PNG; labels 0-5, 255 ignore)
# Classes in the published index order (SARMAE airseg.py). Augmentation as published: random
# resize (ratio 0.75-1.25), random crop 512 (cat_max_ratio 0.75), horizontal and vertical flips,
# random rotation (p 0.5, +-15 degrees). Metric: mIoU.
dataset_type = 'BaseSegDataset'
data_root = 'data/AIR-PolSAR-Seg/'
metainfo = dict(
    classes=('Industrial', 'Natural', 'Water', 'Land_Use', 'Housing', 'Other'),
    palette=[[128, 0, 0], [0, 128, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255],
             [128, 128, 128]])
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(512, 512), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotate', prob=0.5, degree=15, pad_val=0, seg_pad_val=255),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
_dataset = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, img_suffix='.png',
                seg_map_suffix='.png', reduce_zero_label=False, ignore_index=255)
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**_dataset, data_prefix=dict(img_path='train_set/images',
                                              seg_map_path='train_set/annotations'),
                 pipeline=train_pipeline))
# validation: the training loader on the test set, one image at a time, in order, test pipeline
val_dataloader = dict(
    train_dataloader, batch_size=1, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, data_prefix=dict(img_path='test_set/images',
                                              seg_map_path='test_set/annotations'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
